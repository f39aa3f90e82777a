import { useQuery } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { type FormEvent, useEffect, useRef, useState } from "react";
import {
  type MunicipalityPublic,
  municipalitiesList,
  type PlazoPublic,
  plazosCompute,
  type SlaUnit,
  type StartKind,
} from "../client";
import { DateInput, ErrorSummary, type Errors, Field } from "../components/forms";
import { Layout } from "../components/Layout";
import { LiveRegion } from "../components/LiveRegion";
import { Notice, PageHeader, Tag } from "../components/ui";
import { announce } from "../lib/announcer";
import { getSession, refreshSession, useSession } from "../lib/auth";
import { isoFromParts } from "../lib/format";
import { t, termUnits } from "../lib/i18n";
import { problemToErrors, unwrap } from "../lib/problem";
import { useMe } from "../lib/queries";

// Public: anyone may compute a plazo. Signed-in people see it inside their application, with
// their own municipality preselected; others in a plain page with a way to sign in.
export const Route = createFileRoute("/plazos")({
  beforeLoad: async () => {
    if (getSession().state === "unknown") await refreshSession();
  },
  component: PlazosRoute,
});

function PlazosRoute() {
  const session = useSession();
  return session.state === "signed-in" ? <SignedInPlazos /> : <PublicPlazos />;
}

function SignedInPlazos() {
  const me = useMe();
  return (
    <Layout>
      <PlazosPage own={me.data?.municipality?.id ?? ""} />
    </Layout>
  );
}

function PublicPlazos() {
  return (
    <div className="app app--plain">
      <a className="skip-link" href="#main">
        {t.skipToContent}
      </a>
      <header className="header">
        <div className="header__inner">
          <p className="brand">
            <span className="brand__org">{t.org}</span>
            <span className="brand__office">{t.office}</span>
          </p>
          <div className="header__tools">
            <Link to="/login" className="button button--inverse">
              {t.plazos.signIn}
            </Link>
          </div>
        </div>
      </header>
      <main id="main" className="main" tabIndex={-1}>
        <PlazosPage own="" />
      </main>
      <footer className="footer">
        <p>{t.footer.rights}</p>
      </footer>
      <LiveRegion />
    </div>
  );
}

const FORM = "plazo";
const ORDER = ["start", "start_kind", "term", "unit", "municipality_id"];
const UNITS: SlaUnit[] = ["working_days", "natural_days", "months", "working_hours"];

async function allMunicipalities(): Promise<MunicipalityPublic[]> {
  const out: MunicipalityPublic[] = [];
  let cursor: string | null | undefined;
  do {
    const page = await unwrap(
      municipalitiesList({ query: { limit: 200, ...(cursor ? { cursor } : {}) } }),
    );
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return out.sort((a, b) => a.name.localeCompare(b.name, "es"));
}

function dayInWords(day: string): string {
  return new Intl.DateTimeFormat("es-ES", {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  }).format(new Date(`${day}T00:00:00Z`));
}

function PlazosPage({ own }: { own: string }) {
  const places = useQuery({ queryKey: ["municipalities", "all"], queryFn: allMunicipalities });
  const [start, setStart] = useState({ day: "", month: "", year: "" });
  const [startKind, setStartKind] = useState<StartKind>("notification");
  const [term, setTerm] = useState("");
  const [unit, setUnit] = useState<SlaUnit>("working_days");
  const [municipalityId, setMunicipalityId] = useState<string>();
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<PlazoPublic>();
  const resultRef = useRef<HTMLHeadingElement>(null);

  // The user's own municipality, until they choose another.
  const selected = municipalityId ?? own;

  useEffect(() => {
    if (result) resultRef.current?.focus();
  }, [result]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const next: Errors = {};
    const day = isoFromParts(start.day, start.month, start.year);
    if (!day) next.start = t.errors.invalidDate(t.plazos.start);
    const n = Number(term);
    if (!/^\d+$/.test(term.trim()) || n < 1) next.term = t.plazos.invalidTerm;
    setErrors(next);
    setFormError(undefined);
    if (Object.keys(next).length > 0 || !day) return;
    setBusy(true);
    try {
      const body = await unwrap(
        plazosCompute({
          query: {
            start: day,
            term: n,
            unit,
            start_kind: startKind,
            ...(selected ? { municipality_id: selected } : {}),
          },
        }),
      );
      setResult(body);
      announce(t.plazos.dueAnnouncement(body.due_in_words));
    } catch (error) {
      const mapped = problemToErrors(error);
      setErrors(mapped.fields);
      setFormError(mapped.form);
      setResult(undefined);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <PageHeader title={t.plazos.title} />
      <p className="lead">{t.plazos.intro}</p>
      <form onSubmit={submit} noValidate className="form">
        <ErrorSummary form={FORM} errors={errors} order={ORDER} message={formError} />
        <DateInput
          form={FORM}
          name="start"
          legend={t.plazos.start}
          hint={t.plazos.startHint}
          error={errors.start}
          value={start}
          onChange={setStart}
        />
        <fieldset className={`field radios${errors.start_kind ? " field--error" : ""}`}>
          <legend className="field__label">{t.plazos.startKind}</legend>
          {(
            [
              ["notification", t.plazos.startKindNotification],
              ["submission", t.plazos.startKindSubmission],
            ] as const
          ).map(([value, label], i) => (
            <div className="radio" key={value}>
              <input
                type="radio"
                name={`${FORM}-start-kind`}
                id={i === 0 ? `${FORM}-start_kind` : `${FORM}-start_kind-${value}`}
                checked={startKind === value}
                onChange={() => setStartKind(value)}
              />
              <label htmlFor={i === 0 ? `${FORM}-start_kind` : `${FORM}-start_kind-${value}`}>
                {label}
              </label>
            </div>
          ))}
        </fieldset>
        <Field
          form={FORM}
          name="term"
          label={t.plazos.term}
          hint={t.plazos.termHint}
          error={errors.term}
        >
          {(p) => (
            <input
              {...p}
              className="input input--w4"
              inputMode="numeric"
              autoComplete="off"
              value={term}
              onChange={(e) => setTerm(e.target.value)}
            />
          )}
        </Field>
        <Field form={FORM} name="unit" label={t.plazos.unit} error={errors.unit}>
          {(p) => (
            <select
              {...p}
              className="input input--w10"
              value={unit}
              onChange={(e) => setUnit(e.target.value as SlaUnit)}
            >
              {UNITS.map((u) => (
                <option key={u} value={u}>
                  {termUnits[u]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field
          form={FORM}
          name="municipality_id"
          label={t.plazos.municipality}
          error={errors.municipality_id}
        >
          {(p) => (
            <select
              {...p}
              className="input"
              value={selected}
              onChange={(e) => setMunicipalityId(e.target.value)}
            >
              <option value="">{t.plazos.municipalityNone}</option>
              {(places.data ?? []).map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" className="button" disabled={busy}>
          {busy ? t.plazos.computing : t.plazos.submit}
        </button>
      </form>
      {result ? <PlazoResult result={result} headingRef={resultRef} /> : null}
    </>
  );
}

function PlazoResult({
  result,
  headingRef,
}: {
  result: PlazoPublic;
  headingRef: React.RefObject<HTMLHeadingElement | null>;
}) {
  return (
    <section aria-labelledby="plazo-result" className="card plazo-result">
      <h2 id="plazo-result" ref={headingRef} tabIndex={-1}>
        {t.plazos.result}
      </h2>
      {result.warnings.length > 0 ? (
        <Notice tone="warning">
          <strong>{t.plazos.warnings}</strong>
          <ul>
            {result.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </Notice>
      ) : null}
      <p className="plazo-result__due">
        {t.plazos.due} <strong>{result.due_in_words}</strong>
      </p>
      <p>
        {t.plazos.deemedStart}: {dayInWords(result.deemed_start.slice(0, 10))}
        {result.deemed_start_moved ? ` (${t.plazos.deemedStartMoved})` : ""}.
      </p>
      <p className="muted">
        {t.plazos.place(result.municipality?.name ?? null, result.seat?.name ?? null)}
      </p>
      <h3>{t.plazos.skipped}</h3>
      {result.skipped.length === 0 ? <p>{t.plazos.noSkipped}</p> : null}
      <ul className="plazo-result__days">
        {result.skipped.map((s) => (
          <li key={s.day}>
            <span>{dayInWords(s.day)}</span>{" "}
            <Tag tone={s.kind === "weekend" ? "neutral" : "info"}>
              {t.plazos.kinds[s.kind] ?? s.kind}
            </Tag>
            {s.kind === "weekend" ? null : <span className="muted"> {s.description}</span>}
          </li>
        ))}
      </ul>
      <h3>{t.plazos.basis}</h3>
      <ul>
        {result.legal_basis.map((b) => (
          <li key={b}>{b}</li>
        ))}
      </ul>
    </section>
  );
}
