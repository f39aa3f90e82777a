import { useInfiniteQuery } from "@tanstack/react-query";
import { createFileRoute, Link, useNavigate } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { type ConsultationStatus, consultationsList } from "../../../client";
import { DateInput, ErrorSummary, type Errors, Field } from "../../../components/forms";
import { Deadline, LoadError, Loading, PageHeader, StatusTag } from "../../../components/ui";
import { formatDate, isoFromParts, madridMidnight } from "../../../lib/format";
import { t } from "../../../lib/i18n";
import { unwrap } from "../../../lib/problem";

const STATUSES = [
  "received",
  "in_progress",
  "forwarded",
  "waiting_on_municipality",
  "answered",
  "closed",
] as const;

interface Search {
  q?: string;
  estado?: ConsultationStatus;
  abiertas?: boolean;
  desde?: string;
}

export const Route = createFileRoute("/_app/consultas/")({
  validateSearch: (s: Record<string, unknown>): Search => ({
    ...(typeof s.q === "string" && s.q ? { q: s.q } : {}),
    ...(typeof s.estado === "string" && (STATUSES as readonly string[]).includes(s.estado)
      ? { estado: s.estado as ConsultationStatus }
      : {}),
    ...(s.abiertas === true || s.abiertas === "true" ? { abiertas: true } : {}),
    ...(typeof s.desde === "string" && /^\d{4}-\d{2}-\d{2}$/.test(s.desde)
      ? { desde: s.desde }
      : {}),
  }),
  component: ConsultationsPage,
});

function splitDate(iso?: string) {
  if (!iso) return { day: "", month: "", year: "" };
  const [y, m, d] = iso.split("-");
  return { day: String(Number(d)), month: String(Number(m)), year: y ?? "" };
}

function ConsultationsPage() {
  const search = Route.useSearch();
  const navigate = useNavigate({ from: Route.fullPath });
  const [q, setQ] = useState(search.q ?? "");
  const [estado, setEstado] = useState<string>(search.estado ?? "");
  const [abiertas, setAbiertas] = useState(search.abiertas ?? false);
  const [desde, setDesde] = useState(splitDate(search.desde));
  const [errors, setErrors] = useState<Errors>({});

  const list = useInfiniteQuery({
    queryKey: ["consultations", "list", search],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        consultationsList({
          query: {
            limit: 25,
            ...(pageParam ? { cursor: pageParam } : {}),
            ...(search.q ? { q: search.q } : {}),
            ...(search.estado ? { status: [search.estado] } : {}),
            ...(search.abiertas ? { open_only: true } : {}),
            ...(search.desde ? { received_from: madridMidnight(search.desde) } : {}),
          },
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? null,
  });

  function apply(e: FormEvent) {
    e.preventDefault();
    const next: Errors = {};
    let from: string | undefined;
    if (desde.day || desde.month || desde.year) {
      const iso = isoFromParts(desde.day, desde.month, desde.year);
      if (!iso) next.desde = t.errors.invalidDate(t.consultations.receivedFrom);
      else from = iso;
    }
    if (q.length > 200) next.q = t.errors.maxLength(t.consultations.search, 200);
    setErrors(next);
    if (Object.keys(next).length > 0) return;
    void navigate({
      search: {
        ...(q.trim() ? { q: q.trim() } : {}),
        ...(estado ? { estado: estado as ConsultationStatus } : {}),
        ...(abiertas ? { abiertas: true } : {}),
        ...(from ? { desde: from } : {}),
      },
    });
  }

  const items = list.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <>
      <PageHeader title={t.consultations.title}>
        <Link to="/consultas/nueva" className="button">
          {t.consultations.new}
        </Link>
      </PageHeader>
      <form className="filters" onSubmit={apply} noValidate aria-label={t.consultations.filters}>
        <h2 className="h3">{t.consultations.filters}</h2>
        <ErrorSummary form="cfilter" errors={errors} order={["q", "desde"]} />
        <div className="filters__row">
          <Field form="cfilter" name="q" label={t.consultations.search} error={errors.q}>
            {(p) => (
              <input
                {...p}
                type="search"
                className="input"
                value={q}
                onChange={(e) => setQ(e.target.value)}
              />
            )}
          </Field>
          <Field form="cfilter" name="estado" label={t.consultations.status}>
            {(p) => (
              <select
                {...p}
                className="input"
                value={estado}
                onChange={(e) => setEstado(e.target.value)}
              >
                <option value="">{t.consultations.anyStatus}</option>
                {STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {t.consultationStatus[s]}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <DateInput
          form="cfilter"
          name="desde"
          legend={t.consultations.receivedFrom}
          hint="Por ejemplo, 27 3 2026"
          error={errors.desde}
          value={desde}
          onChange={setDesde}
        />
        <div className="checkbox">
          <input
            id="cfilter-abiertas"
            type="checkbox"
            checked={abiertas}
            onChange={(e) => setAbiertas(e.target.checked)}
          />
          <label htmlFor="cfilter-abiertas">{t.consultations.openOnly}</label>
        </div>
        <div className="button-row">
          <button type="submit" className="button">
            {t.consultations.apply}
          </button>
          <Link
            to="/consultas"
            search={{}}
            className="button button--secondary"
            onClick={() => {
              setQ("");
              setEstado("");
              setAbiertas(false);
              setDesde(splitDate());
            }}
          >
            {t.consultations.clear}
          </Link>
        </div>
      </form>
      {list.isPending ? <Loading /> : null}
      {list.isError ? <LoadError onRetry={() => list.refetch()} /> : null}
      {list.isSuccess ? (
        <>
          <p role="status" className="muted">
            {items.length === 0
              ? t.consultations.empty
              : t.consultations.count(items.length, list.hasNextPage)}
          </p>
          {items.length > 0 ? (
            <div className="table-wrap">
              <table className="table">
                <caption className="visually-hidden">{t.consultations.tableCaption}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t.consultations.subject}</th>
                    <th scope="col">{t.consultations.reference}</th>
                    <th scope="col">{t.consultations.status}</th>
                    <th scope="col">{t.consultations.received}</th>
                    <th scope="col">{t.consultations.deadline}</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((c) => (
                    <tr key={c.id}>
                      <td data-label={t.consultations.subject}>
                        <Link to="/consultas/$id" params={{ id: c.id }}>
                          {c.subject}
                        </Link>
                      </td>
                      <td data-label={t.consultations.reference} className="mono">
                        {c.reference}
                      </td>
                      <td data-label={t.consultations.status}>
                        <StatusTag status={c.status} />
                      </td>
                      <td data-label={t.consultations.received}>{formatDate(c.received_at)}</td>
                      <td data-label={t.consultations.deadline}>
                        <Deadline
                          due={c.resolution_due_at}
                          paused={c.status === "waiting_on_municipality"}
                          met={c.status === "answered" || c.status === "closed"}
                        />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
          {list.hasNextPage ? (
            <button
              type="button"
              className="button button--secondary"
              disabled={list.isFetchingNextPage}
              onClick={() => list.fetchNextPage()}
            >
              {list.isFetchingNextPage ? t.loading : t.consultations.loadMore}
            </button>
          ) : null}
        </>
      ) : null}
    </>
  );
}
