import { useQuery } from "@tanstack/react-query";
import { createFileRoute } from "@tanstack/react-router";
import { trainingsAttendanceList, trainingsList } from "../../client";
import { LoadError, Loading, PageHeader } from "../../components/ui";
import { formatLongDate } from "../../lib/format";
import { t } from "../../lib/i18n";
import { unwrap } from "../../lib/problem";
import { useMe } from "../../lib/queries";

export const Route = createFileRoute("/_app/formacion")({ component: TrainingsPage });

function Attendance({ id, municipalityId }: { id: string; municipalityId: string | undefined }) {
  const q = useQuery({
    queryKey: ["trainings", id, "attendance"],
    queryFn: async () =>
      (await unwrap(trainingsAttendanceList({ path: { training_id: id }, query: { limit: 200 } })))
        .items,
  });
  const mine = (q.data ?? []).filter(
    (a) => !municipalityId || a.municipality_id === municipalityId,
  );
  if (q.isPending) return <Loading />;
  if (q.isError) return null;
  return mine.length === 0 ? (
    <p className="muted">{t.trainings.attendanceNone}</p>
  ) : (
    <ul className="list">
      {mine.map((a) => (
        <li key={a.id}>{t.trainings.attendee(a.name ?? t.none, a.role, a.attended_hours)}</li>
      ))}
    </ul>
  );
}

function TrainingsPage() {
  const me = useMe();
  const list = useQuery({
    queryKey: ["trainings"],
    queryFn: async () => (await unwrap(trainingsList({ query: { limit: 100 } }))).items,
  });
  return (
    <>
      <PageHeader title={t.trainings.title} />
      <p className="lead">{t.trainings.intro}</p>
      {list.isPending ? <Loading /> : null}
      {list.isError ? <LoadError onRetry={() => list.refetch()} /> : null}
      {list.data?.length === 0 ? <p>{t.trainings.empty}</p> : null}
      <ul className="cards">
        {(list.data ?? []).map((x) => (
          <li key={x.id} className="card">
            <h2 className="h3">{x.title}</h2>
            <p className="muted">
              {t.trainings.hours(x.hours)} · {t.calendar.modalities[x.modality] ?? x.modality}
              {x.starts_on ? ` · ${t.trainings.starts(formatLongDate(x.starts_on))}` : ""}
            </p>
            <p>
              <strong>{t.trainings.audience}:</strong> {x.audience}
            </p>
            {x.description ? <p>{x.description}</p> : null}
            <h3 className="h4">{t.trainings.attendance}</h3>
            <Attendance id={x.id} municipalityId={me.data?.municipality?.id} />
          </li>
        ))}
      </ul>
    </>
  );
}
