import { useQuery } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import type { ReactNode } from "react";
import { announcementsList, consultationsList, eventsList, expedientesSummary } from "../../client";
import { Deadline, LoadError, Loading, PageHeader, StatusTag, Tag } from "../../components/ui";
import {
  addDays,
  formatDate,
  formatDateTime,
  formatLongDate,
  madridDay,
  madridMidnight,
} from "../../lib/format";
import { t } from "../../lib/i18n";
import { unwrap } from "../../lib/problem";
import { useMe } from "../../lib/queries";

export const Route = createFileRoute("/_app/")({ component: HomePage });

function Section({ title, id, children }: { title: string; id: string; children: ReactNode }) {
  return (
    <section className="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

function State<T>({
  query,
  empty,
  children,
}: {
  query: { data?: T[] | undefined; isPending: boolean; isError: boolean; refetch: () => unknown };
  empty: string;
  children: (items: T[]) => ReactNode;
}) {
  if (query.isPending) return <Loading />;
  if (query.isError) return <LoadError onRetry={() => query.refetch()} />;
  if (!query.data || query.data.length === 0) return <p className="muted">{empty}</p>;
  return <>{children(query.data)}</>;
}

function HomePage() {
  const me = useMe();
  const today = madridDay(new Date());
  const waiting = useQuery({
    queryKey: ["consultations", "home", "waiting"],
    queryFn: async () =>
      (
        await unwrap(
          consultationsList({ query: { status: ["waiting_on_municipality"], limit: 10 } }),
        )
      ).items,
  });
  const open = useQuery({
    queryKey: ["consultations", "home", "open"],
    queryFn: async () =>
      (
        await unwrap(
          consultationsList({
            query: { open_only: true, sort: "resolution_due_at", limit: 5 },
          }),
        )
      ).items.filter((c) => c.status !== "waiting_on_municipality"),
  });
  const municipalityId = me.data?.municipality?.id;
  const expedientes = useQuery({
    queryKey: ["expedientes", "home", municipalityId],
    enabled: Boolean(municipalityId),
    queryFn: async () => {
      const s = await unwrap(
        expedientesSummary({ query: { municipality_id: municipalityId ?? "" } }),
      );
      return s.next_deadlines
        .slice()
        .sort((a, b) => Number(b.stalled) - Number(a.stalled))
        .slice(0, 5);
    },
  });
  const calls = useQuery({
    queryKey: ["events", "home", "calls", today],
    queryFn: async () => {
      const r = await unwrap(
        eventsList({
          query: {
            from: madridMidnight(today),
            to: madridMidnight(addDays(today, 60)),
            kind: "grant_call",
          },
        }),
      );
      const limit = addDays(today, 30);
      const seen = new Set<string>();
      return r.items.filter((e) => {
        const closes = e.application_closes_on;
        if (!closes || closes < today || closes > limit || seen.has(e.entry_id)) return false;
        seen.add(e.entry_id);
        return true;
      });
    },
  });
  const unread = useQuery({
    queryKey: ["announcements", "home", "unread"],
    queryFn: async () =>
      (await unwrap(announcementsList({ query: { unread_only: true, limit: 5 } }))).items,
  });
  const myEvents = useQuery({
    queryKey: ["events", "home", "registered", today],
    queryFn: async () =>
      (
        await unwrap(
          eventsList({
            query: {
              from: madridMidnight(today),
              to: madridMidnight(addDays(today, 90)),
              kind: "event",
              registered: true,
            },
          }),
        )
      ).items,
  });

  return (
    <>
      <PageHeader title={t.home.title}>
        {me.data?.full_name ? <p className="lead">{t.home.greeting(me.data.full_name)}</p> : null}
      </PageHeader>
      <p>
        <Link to="/consultas/nueva" className="button">
          {t.home.newConsultation}
        </Link>
      </p>
      <h2 className="visually-hidden">{t.home.needsAttention}</h2>
      <div className="grid">
        <Section title={t.home.waitingOnYou} id="home-waiting">
          <State query={waiting} empty={t.home.waitingOnYouNone}>
            {(items) => (
              <ul className="list">
                {items.map((c) => (
                  <li key={c.id}>
                    <Link to="/consultas/$id" params={{ id: c.id }}>
                      {c.subject}
                    </Link>{" "}
                    <span className="muted">{c.reference}</span>
                    <br />
                    <Deadline due={c.resolution_due_at} paused />
                  </li>
                ))}
              </ul>
            )}
          </State>
        </Section>
        <Section title={t.home.openConsultations} id="home-open">
          <State query={open} empty={t.home.openNone}>
            {(items) => (
              <ul className="list">
                {items.map((c) => (
                  <li key={c.id}>
                    <Link to="/consultas/$id" params={{ id: c.id }}>
                      {c.subject}
                    </Link>{" "}
                    <StatusTag status={c.status} />
                    <br />
                    <Deadline due={c.resolution_due_at} met={c.status === "answered"} />
                  </li>
                ))}
              </ul>
            )}
          </State>
        </Section>
        <Section title={t.home.expedientes} id="home-expedientes">
          <State query={expedientes} empty={t.home.expedientesNone}>
            {(items) => (
              <ul className="list">
                {items.map((x) => (
                  <li key={x.id}>
                    <Link to="/expedientes/$id" params={{ id: x.id }}>
                      {x.title}
                    </Link>{" "}
                    {x.stalled ? <Tag tone="danger">{t.expedientes.stalled}</Tag> : null}
                    <br />
                    <Deadline due={x.deadline_date ?? x.stage_due_at} />
                  </li>
                ))}
              </ul>
            )}
          </State>
        </Section>
        <Section title={t.home.calls} id="home-calls">
          <State query={calls} empty={t.home.callsNone}>
            {(items) => (
              <ul className="list">
                {items.map((e) => (
                  <li key={`${e.entry_id}|${e.occurrence_start}`}>
                    <Link to="/calendario/$id" params={{ id: e.entry_id }}>
                      {e.title}
                    </Link>
                    <br />
                    <Deadline due={e.application_closes_on} />
                  </li>
                ))}
              </ul>
            )}
          </State>
        </Section>
        <Section title={t.home.unreadAnnouncements} id="home-announcements">
          <State query={unread} empty={t.home.unreadNone}>
            {(items) => (
              <ul className="list">
                {items.map((a) => (
                  <li key={a.id}>
                    <Link to="/comunicados/$id" params={{ id: a.id }}>
                      {a.title}
                    </Link>
                    {a.published_at ? (
                      <span className="muted"> · {formatDate(a.published_at)}</span>
                    ) : null}
                  </li>
                ))}
              </ul>
            )}
          </State>
        </Section>
        <Section title={t.home.myEvents} id="home-events">
          <State query={myEvents} empty={t.home.myEventsNone}>
            {(items) => (
              <ul className="list">
                {items.map((e) => (
                  <li key={`${e.entry_id}|${e.occurrence_start}`}>
                    <Link to="/calendario/$id" params={{ id: e.entry_id }}>
                      {e.title}
                    </Link>
                    <br />
                    <span className="muted">
                      {e.all_day
                        ? formatLongDate(e.occurrence_start)
                        : formatDateTime(e.occurrence_start)}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </State>
        </Section>
      </div>
    </>
  );
}
