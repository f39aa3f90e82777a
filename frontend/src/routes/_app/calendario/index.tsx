import { useQuery } from "@tanstack/react-query";
import { createFileRoute, Link, useNavigate } from "@tanstack/react-router";
import { type KeyboardEvent, useEffect, useMemo, useRef, useState } from "react";
import { areasList, type EntryKind, eventsList, type OccurrencePublic } from "../../../client";
import { Field } from "../../../components/forms";
import { LoadError, Loading, PageHeader, Tag } from "../../../components/ui";
import {
  addDays,
  formatLongDate,
  formatMonth,
  formatTime,
  madridDay,
  madridMidnight,
  weekday,
} from "../../../lib/format";
import { t } from "../../../lib/i18n";
import { unwrap } from "../../../lib/problem";

const KINDS = ["event", "grant_call", "participation", "announcement"] as const;
const MODALITIES = ["in_person", "online", "hybrid"] as const;

interface Search {
  vista?: "mes";
  mes?: string;
  tipo?: EntryKind;
  area?: string;
  modalidad?: string;
  dia?: string;
}

export const Route = createFileRoute("/_app/calendario/")({
  validateSearch: (s: Record<string, unknown>): Search => ({
    ...(s.vista === "mes" ? { vista: "mes" as const } : {}),
    ...(typeof s.mes === "string" && /^\d{4}-\d{2}$/.test(s.mes) ? { mes: s.mes } : {}),
    ...(typeof s.tipo === "string" && (KINDS as readonly string[]).includes(s.tipo)
      ? { tipo: s.tipo as EntryKind }
      : {}),
    ...(typeof s.area === "string" && s.area ? { area: s.area } : {}),
    ...(typeof s.modalidad === "string" && (MODALITIES as readonly string[]).includes(s.modalidad)
      ? { modalidad: s.modalidad }
      : {}),
    ...(typeof s.dia === "string" && /^\d{4}-\d{2}-\d{2}$/.test(s.dia) ? { dia: s.dia } : {}),
  }),
  component: CalendarPage,
});

function monthRange(mes: string) {
  const first = `${mes}-01`;
  const [y, m] = mes.split("-").map(Number);
  const nextMonth =
    m === 12 ? `${(y ?? 0) + 1}-01` : `${y}-${String((m ?? 0) + 1).padStart(2, "0")}`;
  return { first, next: `${nextMonth}-01` };
}

function shiftMonth(mes: string, delta: number) {
  const [y, m] = mes.split("-").map(Number);
  const index = (y ?? 0) * 12 + (m ?? 1) - 1 + delta;
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, "0")}`;
}

function occurrenceDay(o: OccurrencePublic) {
  return o.all_day ? o.occurrence_start.slice(0, 10) : madridDay(o.occurrence_start);
}

function ItemLine({ o }: { o: OccurrencePublic }) {
  return (
    <>
      <Link to="/calendario/$id" params={{ id: o.entry_id }}>
        {o.title}
      </Link>{" "}
      <Tag tone={o.kind === "grant_call" ? "warning" : "info"}>
        {t.calendar.kinds[o.kind] ?? o.kind}
      </Tag>
      <br />
      <span className="muted">
        {o.all_day
          ? t.calendar.allDay
          : `${formatTime(o.occurrence_start)}–${formatTime(o.occurrence_end)}`}
        {o.modality ? ` · ${t.calendar.modalities[o.modality] ?? o.modality}` : ""}
        {o.application_opens_on && o.application_closes_on
          ? ` · ${t.calendar.applicationWindow(formatLongDate(o.application_opens_on), formatLongDate(o.application_closes_on))}`
          : ""}
      </span>
    </>
  );
}

function CalendarPage() {
  const search = Route.useSearch();
  const navigate = useNavigate({ from: Route.fullPath });
  const today = madridDay(new Date());
  const mes = search.mes ?? today.slice(0, 7);
  const { first, next } = monthRange(mes);
  const areas = useQuery({
    queryKey: ["areas"],
    queryFn: async () => (await unwrap(areasList({ query: { limit: 200 } }))).items,
    staleTime: 600_000,
  });
  const events = useQuery({
    queryKey: ["events", "calendar", mes, search.tipo, search.area],
    queryFn: () =>
      unwrap(
        eventsList({
          query: {
            from: madridMidnight(first),
            to: madridMidnight(next),
            ...(search.tipo ? { kind: search.tipo } : {}),
            ...(search.area ? { area_id: search.area } : {}),
          },
        }),
      ),
  });
  const items = useMemo(
    () =>
      (events.data?.items ?? []).filter(
        (o) => !search.modalidad || o.modality === search.modalidad,
      ),
    [events.data, search.modalidad],
  );
  const byDay = useMemo(() => {
    const map = new Map<string, OccurrencePublic[]>();
    for (const o of items) {
      const d = occurrenceDay(o);
      map.set(d, [...(map.get(d) ?? []), o]);
    }
    return map;
  }, [items]);
  const days = [...byDay.keys()].sort();

  const setSearch = (patch: Partial<Search>) =>
    navigate({ search: (prev) => ({ ...prev, ...patch }), replace: true });

  return (
    <>
      <PageHeader title={t.calendar.title}>
        <p className="lead">{t.calendar.subtitle}</p>
        <Link to="/calendario/suscripcion" className="button button--secondary">
          {t.calendar.subscribe}
        </Link>
      </PageHeader>
      <form
        className="filters"
        aria-label={t.calendar.filters}
        onSubmit={(e) => e.preventDefault()}
      >
        <h2 className="h3">{t.calendar.filters}</h2>
        <div className="filters__row">
          <Field form="calfilter" name="tipo" label={t.calendar.kind}>
            {(p) => (
              <select
                {...p}
                className="input"
                value={search.tipo ?? ""}
                onChange={(e) =>
                  setSearch({ tipo: (e.target.value || undefined) as EntryKind | undefined })
                }
              >
                <option value="">{t.calendar.anyKind}</option>
                {KINDS.map((k) => (
                  <option key={k} value={k}>
                    {t.calendar.kinds[k]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field form="calfilter" name="area" label={t.calendar.area}>
            {(p) => (
              <select
                {...p}
                className="input"
                value={search.area ?? ""}
                onChange={(e) => setSearch({ area: e.target.value || undefined })}
              >
                <option value="">{t.calendar.anyArea}</option>
                {(areas.data ?? []).map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field form="calfilter" name="modalidad" label={t.calendar.modality}>
            {(p) => (
              <select
                {...p}
                className="input"
                value={search.modalidad ?? ""}
                onChange={(e) => setSearch({ modalidad: e.target.value || undefined })}
              >
                <option value="">{t.calendar.anyModality}</option>
                {MODALITIES.map((m) => (
                  <option key={m} value={m}>
                    {t.calendar.modalities[m]}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
      </form>
      <div className="toolbar">
        <fieldset className="button-row view-switch">
          <legend className="visually-hidden">{t.calendar.view}</legend>
          <button
            type="button"
            className="button button--secondary"
            aria-pressed={!search.vista}
            onClick={() => setSearch({ vista: undefined })}
          >
            {t.calendar.agenda}
          </button>
          <button
            type="button"
            className="button button--secondary"
            aria-pressed={search.vista === "mes"}
            onClick={() => setSearch({ vista: "mes" })}
          >
            {t.calendar.month}
          </button>
        </fieldset>
        <div className="button-row month-nav">
          <Link
            to="."
            search={(prev: Search) => ({ ...prev, mes: shiftMonth(mes, -1), dia: undefined })}
            className="button button--secondary"
          >
            ← <span className="visually-hidden">{t.calendar.previous}</span>
            <span aria-hidden="true">{formatMonth(`${shiftMonth(mes, -1)}-01`)}</span>
          </Link>
          <h2 className="h3 month-nav__title" aria-live="polite">
            {formatMonth(first)}
          </h2>
          <Link
            to="."
            search={(prev: Search) => ({ ...prev, mes: shiftMonth(mes, 1), dia: undefined })}
            className="button button--secondary"
          >
            <span className="visually-hidden">{t.calendar.next}</span>
            <span aria-hidden="true">{formatMonth(`${shiftMonth(mes, 1)}-01`)}</span> →
          </Link>
        </div>
      </div>
      {events.isPending ? <Loading /> : null}
      {events.isError ? <LoadError onRetry={() => events.refetch()} /> : null}
      {events.isSuccess && search.vista !== "mes" ? (
        days.length === 0 ? (
          <p role="status">{t.calendar.empty}</p>
        ) : (
          <ol className="agenda">
            {days.map((d) => (
              <li key={d} className="agenda__day">
                <h3 className="agenda__date">{formatLongDate(d)}</h3>
                <ul className="list">
                  {(byDay.get(d) ?? []).map((o) => (
                    <li key={`${o.entry_id}|${o.occurrence_start}`}>
                      <ItemLine o={o} />
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ol>
        )
      ) : null}
      {events.isSuccess && search.vista === "mes" ? (
        <MonthGrid
          first={first}
          next={next}
          byDay={byDay}
          selected={search.dia}
          today={today}
          onSelect={(dia) => setSearch({ dia })}
        />
      ) : null}
    </>
  );
}

const WEEKDAYS = [
  ["L", "lunes"],
  ["M", "martes"],
  ["X", "miércoles"],
  ["J", "jueves"],
  ["V", "viernes"],
  ["S", "sábado"],
  ["D", "domingo"],
] as const;

function MonthGrid({
  first,
  next,
  byDay,
  selected,
  today,
  onSelect,
}: {
  first: string;
  next: string;
  byDay: Map<string, OccurrencePublic[]>;
  selected: string | undefined;
  today: string;
  onSelect: (day: string) => void;
}) {
  const monthDays: string[] = [];
  for (let d = first; d < next; d = addDays(d, 1)) monthDays.push(d);
  const lead = weekday(first);
  const cells: Array<{ key: string; day: string | null }> = [
    ...Array.from({ length: lead }, (_, i) => ({ key: `before-${i}`, day: null })),
    ...monthDays.map((day) => ({ key: day, day })),
  ];
  while (cells.length % 7 !== 0) cells.push({ key: `after-${cells.length}`, day: null });
  const weeks: Array<Array<{ key: string; day: string | null }>> = [];
  for (let i = 0; i < cells.length; i += 7) weeks.push(cells.slice(i, i + 7));

  const initial =
    selected && selected >= first && selected < next
      ? selected
      : today >= first && today < next
        ? today
        : first;
  const [focused, setFocused] = useState(initial);
  const refs = useRef(new Map<string, HTMLButtonElement>());
  const moved = useRef(false);
  useEffect(() => {
    if (moved.current) refs.current.get(focused)?.focus();
  }, [focused]);

  function onKeyDown(e: KeyboardEvent<HTMLButtonElement>, day: string) {
    const deltas: Record<string, number> = {
      ArrowLeft: -1,
      ArrowRight: 1,
      ArrowUp: -7,
      ArrowDown: 7,
    };
    let target: string | null = null;
    if (e.key in deltas) target = addDays(day, deltas[e.key] ?? 0);
    else if (e.key === "Home") target = addDays(day, -weekday(day));
    else if (e.key === "End") target = addDays(day, 6 - weekday(day));
    if (target === null) return;
    e.preventDefault();
    if (target < first) target = first;
    if (target >= next) target = addDays(next, -1);
    moved.current = true;
    setFocused(target);
  }

  const selectedItems = selected ? (byDay.get(selected) ?? []) : [];
  return (
    <>
      <p className="field__hint" id="grid-help">
        {t.calendar.gridHelp}
      </p>
      <div className="table-wrap">
        <table className="month" aria-describedby="grid-help">
          <caption className="visually-hidden">{formatMonth(first)}</caption>
          <thead>
            <tr>
              {WEEKDAYS.map(([short, long]) => (
                <th key={short} scope="col">
                  <abbr title={long}>{short}</abbr>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {weeks.map((week) => (
              <tr key={week[0]?.key}>
                {week.map(({ key, day }) => {
                  if (!day) return <td key={key} className="month__empty" />;
                  const list = byDay.get(day) ?? [];
                  const label = `${formatLongDate(day)}${list.length ? `, ${t.calendar.itemsOn(list.length)}` : ""}`;
                  return (
                    <td
                      key={day}
                      className={`month__cell${day === today ? " month__cell--today" : ""}${day === selected ? " month__cell--selected" : ""}`}
                    >
                      <button
                        type="button"
                        className="month__day"
                        tabIndex={day === focused ? 0 : -1}
                        aria-label={label}
                        aria-pressed={day === selected}
                        ref={(el) => {
                          if (el) refs.current.set(day, el);
                          else refs.current.delete(day);
                        }}
                        onFocus={() => setFocused(day)}
                        onKeyDown={(e) => onKeyDown(e, day)}
                        onClick={() => onSelect(day)}
                      >
                        {Number(day.slice(8))}
                      </button>
                      <ul className="month__items" aria-hidden="true">
                        {list.slice(0, 3).map((o) => (
                          <li
                            key={`${o.entry_id}|${o.occurrence_start}`}
                            className={`month__item month__item--${o.kind}`}
                          >
                            {o.title}
                          </li>
                        ))}
                        {list.length > 3 ? (
                          <li className="month__item">+{list.length - 3}</li>
                        ) : null}
                      </ul>
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {selected ? (
        <section aria-labelledby="day-title" className="panel">
          <h3 id="day-title">{formatLongDate(selected)}</h3>
          {selectedItems.length === 0 ? <p>{t.calendar.empty}</p> : null}
          <ul className="list">
            {selectedItems.map((o) => (
              <li key={`${o.entry_id}|${o.occurrence_start}`}>
                <ItemLine o={o} />
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </>
  );
}
