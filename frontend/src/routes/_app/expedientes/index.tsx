import { useInfiniteQuery } from "@tanstack/react-query";
import { createFileRoute, Link, useNavigate } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { type ExpedienteStatus, expedientesList } from "../../../client";
import { Field } from "../../../components/forms";
import { Deadline, LoadError, Loading, PageHeader, Tag } from "../../../components/ui";
import { formatDate } from "../../../lib/format";
import { t } from "../../../lib/i18n";
import { expedienteStatusLabel } from "../../../lib/labels";
import { unwrap } from "../../../lib/problem";

interface Search {
  q?: string;
  estado?: ExpedienteStatus;
  parados?: boolean;
}

const STATUSES = ["open", "resolved", "archived"] as const;
const statusLabel = expedienteStatusLabel;

export const Route = createFileRoute("/_app/expedientes/")({
  validateSearch: (s: Record<string, unknown>): Search => ({
    ...(typeof s.q === "string" && s.q ? { q: s.q } : {}),
    ...(typeof s.estado === "string" && (STATUSES as readonly string[]).includes(s.estado)
      ? { estado: s.estado as ExpedienteStatus }
      : {}),
    ...(s.parados === true || s.parados === "true" ? { parados: true } : {}),
  }),
  component: ExpedientesPage,
});

function ExpedientesPage() {
  const search = Route.useSearch();
  const navigate = useNavigate({ from: Route.fullPath });
  const [q, setQ] = useState(search.q ?? "");
  const [estado, setEstado] = useState<string>(search.estado ?? "");
  const [parados, setParados] = useState(search.parados ?? false);
  const list = useInfiniteQuery({
    queryKey: ["expedientes", "list", search],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        expedientesList({
          query: {
            limit: 25,
            ...(pageParam ? { cursor: pageParam } : {}),
            ...(search.q ? { q: search.q } : {}),
            ...(search.estado ? { status: [search.estado] } : {}),
            ...(search.parados ? { stalled: true } : {}),
          },
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? null,
  });
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];

  function apply(e: FormEvent) {
    e.preventDefault();
    void navigate({
      search: {
        ...(q.trim() ? { q: q.trim().slice(0, 200) } : {}),
        ...(estado ? { estado: estado as ExpedienteStatus } : {}),
        ...(parados ? { parados: true } : {}),
      },
    });
  }

  return (
    <>
      <PageHeader title={t.expedientes.title} />
      <form className="filters" onSubmit={apply} noValidate aria-label={t.expedientes.filters}>
        <h2 className="h3">{t.expedientes.filters}</h2>
        <div className="filters__row">
          <Field form="xfilter" name="q" label={t.expedientes.search}>
            {(p) => (
              <input
                {...p}
                type="search"
                className="input"
                maxLength={200}
                value={q}
                onChange={(e) => setQ(e.target.value)}
              />
            )}
          </Field>
          <Field form="xfilter" name="estado" label={t.expedientes.status}>
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
                    {statusLabel(s)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <div className="checkbox">
          <input
            id="xfilter-parados"
            type="checkbox"
            checked={parados}
            onChange={(e) => setParados(e.target.checked)}
          />
          <label htmlFor="xfilter-parados">{t.expedientes.stalledOnly}</label>
        </div>
        <button type="submit" className="button">
          {t.consultations.apply}
        </button>
      </form>
      {list.isPending ? <Loading /> : null}
      {list.isError ? <LoadError onRetry={() => list.refetch()} /> : null}
      {list.isSuccess && items.length === 0 ? <p role="status">{t.expedientes.empty}</p> : null}
      {items.length > 0 ? (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">{t.expedientes.tableCaption}</caption>
            <thead>
              <tr>
                <th scope="col">{t.consultations.subject}</th>
                <th scope="col">{t.expedientes.status}</th>
                <th scope="col">{t.expedientes.opened}</th>
                <th scope="col">{t.expedientes.deadline}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((x) => (
                <tr key={x.id}>
                  <td data-label={t.consultations.subject}>
                    <Link to="/expedientes/$id" params={{ id: x.id }}>
                      {x.title}
                    </Link>
                    <br />
                    <span className="muted mono">{x.external_ref}</span>
                  </td>
                  <td data-label={t.expedientes.status}>
                    {statusLabel(x.status)}{" "}
                    {x.stalled ? <Tag tone="danger">{t.expedientes.stalled}</Tag> : null}
                  </td>
                  <td data-label={t.expedientes.opened}>{formatDate(x.opened_at)}</td>
                  <td data-label={t.expedientes.deadline}>
                    {x.status === "open" ? (
                      <Deadline due={x.deadline_date ?? x.stage_due_at} />
                    ) : (
                      t.none
                    )}
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
          onClick={() => list.fetchNextPage()}
        >
          {t.more}
        </button>
      ) : null}
    </>
  );
}
