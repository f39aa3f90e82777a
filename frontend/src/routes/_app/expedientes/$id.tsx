import { useQuery } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { areasList, expedientesGet, procedureTypesList } from "../../../client";
import { Deadline, LoadError, Loading, PageHeader, Tag } from "../../../components/ui";
import { formatDate, formatLongDate, madridDay, workingDaysBetween } from "../../../lib/format";
import { t } from "../../../lib/i18n";
import { expedienteStatusLabel as statusLabel } from "../../../lib/labels";
import { unwrap } from "../../../lib/problem";

export const Route = createFileRoute("/_app/expedientes/$id")({ component: ExpedientePage });

function ExpedientePage() {
  const { id } = Route.useParams();
  const x = useQuery({
    queryKey: ["expediente", id],
    queryFn: () => unwrap(expedientesGet({ path: { expediente_id: id } })),
  });
  const types = useQuery({
    queryKey: ["procedure-types"],
    queryFn: async () => (await unwrap(procedureTypesList({ query: { limit: 200 } }))).items,
    staleTime: 600_000,
  });
  const areas = useQuery({
    queryKey: ["areas"],
    queryFn: async () => (await unwrap(areasList({ query: { limit: 200 } }))).items,
    staleTime: 600_000,
  });
  if (x.isPending) return <Loading />;
  if (x.isError) return <LoadError onRetry={() => x.refetch()} />;
  const e = x.data;
  const type = types.data?.find((p) => p.id === e.procedure_type_id);
  const area = areas.data?.find((a) => a.id === e.area_id);
  const today = madridDay(new Date());

  return (
    <>
      <p>
        <Link to="/expedientes">← {t.expedientes.title}</Link>
      </p>
      <PageHeader title={e.title}>
        <p className="mono">
          {t.expedientes.externalRef}: {e.external_ref}
        </p>
      </PageHeader>
      <dl className="summary-list">
        <div>
          <dt>{t.expedientes.status}</dt>
          <dd>
            {statusLabel(e.status)}{" "}
            {e.stalled ? (
              <Tag tone="danger">
                {t.expedientes.stalled}
                {e.stalled_since
                  ? ` — ${t.expedientes.stalledSince(formatDate(e.stalled_since))}`
                  : ""}
              </Tag>
            ) : null}
          </dd>
        </div>
        <div>
          <dt>{t.calendar.area}</dt>
          <dd>{area?.name ?? t.none}</dd>
        </div>
        <div>
          <dt>{t.expedientes.stage}</dt>
          <dd>
            {type?.name ?? ""}
            {e.current_stage_code
              ? ` · ${type?.stages.find((s) => s.code === e.current_stage_code)?.name ?? e.current_stage_code}`
              : ""}
          </dd>
        </div>
        <div>
          <dt>{t.expedientes.deadline}</dt>
          <dd>
            {e.status === "open" ? <Deadline due={e.deadline_date ?? e.stage_due_at} /> : t.none}
            {e.deadline_is_legal ? ` (${t.expedientes.legal})` : ""}
          </dd>
        </div>
        <div>
          <dt>{t.expedientes.opened}</dt>
          <dd>{formatLongDate(e.opened_at)}</dd>
        </div>
      </dl>
      {e.description ? <p>{e.description}</p> : null}

      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">{t.expedientes.timeline}</h2>
        <ol className="timeline timeline--stages">
          {e.timeline.map((s) => {
            const def = type?.stages.find((d) => d.code === s.stage_code);
            const end = s.left_at ? madridDay(s.left_at) : today;
            const took = Math.max(0, workingDaysBetween(madridDay(s.entered_at), end));
            const over = def?.expected_working_days != null && took > def.expected_working_days;
            return (
              <li
                key={s.id}
                className={`timeline__item${s.left_at ? "" : " timeline__item--current"}`}
              >
                <h3 className="h4">
                  {s.stage_name}
                  {s.left_at ? "" : <Tag tone="info">{t.expedientes.current}</Tag>}
                </h3>
                <p>
                  {t.expedientes.entered}: {formatDate(s.entered_at)}
                  {s.left_at ? ` · ${t.expedientes.left}: ${formatDate(s.left_at)}` : ""}
                </p>
                <p>
                  {t.expedientes.took(took)}
                  {def?.expected_working_days != null
                    ? ` (${t.expedientes.expected(def.expected_working_days)})`
                    : ""}
                  {over ? <Tag tone="warning">{t.expedientes.over}</Tag> : null}
                </p>
                {s.actor_label ? <p className="muted">{t.expedientes.by(s.actor_label)}</p> : null}
                {s.comment ? <p>{s.comment}</p> : null}
              </li>
            );
          })}
        </ol>
      </section>

      <section aria-labelledby="docs-title">
        <h2 id="docs-title">{t.expedientes.documents}</h2>
        {e.documents.length === 0 ? <p className="muted">{t.expedientes.documentsNone}</p> : null}
        <ul className="list">
          {e.documents.map((d) => (
            <li key={d.id}>
              <a href={d.url} rel="noopener noreferrer" target="_blank">
                {d.title}
                <span className="visually-hidden"> (se abre en una ventana nueva)</span>
              </a>
              {d.verification_code ? (
                <p className="muted">
                  {t.expedientes.csv}: <span className="mono">{d.verification_code}</span>
                </p>
              ) : null}
            </li>
          ))}
        </ul>
      </section>

      <section aria-labelledby="related-title">
        <h2 id="related-title">{t.expedientes.related}</h2>
        {e.consultation_ids.length === 0 ? (
          <p className="muted">{t.expedientes.relatedNone}</p>
        ) : null}
        <ul className="list">
          {e.consultation_ids.map((cid) => (
            <li key={cid}>
              <Link to="/consultas/$id" params={{ id: cid }}>
                {t.nav.consultations} {cid.slice(0, 8)}
              </Link>
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}
