import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { type FormEvent, useEffect, useMemo, useState } from "react";
import {
  type AskResponse,
  areasList,
  assistantAsk,
  type ConsultationCreated,
  consultationsCreate,
  type Priority,
  servicesList,
  slaPoliciesList,
} from "../../../client";
import {
  ErrorSummary,
  type Errors,
  Field,
  TextAreaField,
  validateLength,
} from "../../../components/forms";
import { CopyField, PageHeader } from "../../../components/ui";
import { t } from "../../../lib/i18n";
import { problemToErrors, unwrap } from "../../../lib/problem";

interface Search {
  pregunta?: string;
  asistente?: string;
}

export const Route = createFileRoute("/_app/consultas/nueva")({
  validateSearch: (s: Record<string, unknown>): Search => ({
    ...(typeof s.pregunta === "string" ? { pregunta: s.pregunta.slice(0, 500) } : {}),
    ...(typeof s.asistente === "string" ? { asistente: s.asistente } : {}),
  }),
  component: NewConsultationPage,
});

const FORM = "new";
const ORDER = ["service_id", "subject", "body", "priority"];

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setV(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return v;
}

function NewConsultationPage() {
  const search = Route.useSearch();
  const queryClient = useQueryClient();
  const [serviceId, setServiceId] = useState("");
  const [subject, setSubject] = useState(search.pregunta?.slice(0, 300) ?? "");
  const [body, setBody] = useState(search.pregunta ?? "");
  const [priority, setPriority] = useState<Priority>("normal");
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<ConsultationCreated | null>(null);

  const services = useQuery({
    queryKey: ["services"],
    queryFn: async () => (await unwrap(servicesList({ query: { limit: 200 } }))).items,
    staleTime: 600_000,
  });
  const areas = useQuery({
    queryKey: ["areas"],
    queryFn: async () => (await unwrap(areasList({ query: { limit: 200 } }))).items,
    staleTime: 600_000,
  });
  const policies = useQuery({
    queryKey: ["sla-policies"],
    queryFn: async () => (await unwrap(slaPoliciesList({ query: { limit: 200 } }))).items,
    staleTime: 600_000,
  });

  const grouped = useMemo(() => {
    const byArea = new Map<string, { name: string; items: typeof services.data }>();
    for (const s of services.data ?? []) {
      const name = areas.data?.find((a) => a.id === s.area_id)?.name ?? "";
      const group = byArea.get(s.area_id) ?? { name, items: [] };
      group.items?.push(s);
      byArea.set(s.area_id, group);
    }
    return [...byArea.values()].sort((a, b) => a.name.localeCompare(b.name, "es"));
  }, [services.data, areas.data]);

  const expected = useMemo(() => {
    const list = (policies.data ?? []).filter((p) => p.is_active);
    const service = services.data?.find((s) => s.id === serviceId);
    return (
      list.find((p) => serviceId && p.service_id === serviceId && p.priority === priority) ??
      list.find((p) => serviceId && p.service_id === serviceId && !p.priority) ??
      list.find((p) => service?.default_sla_policy_id === p.id) ??
      list.find((p) => !p.service_id && p.priority === priority) ??
      list.find((p) => p.is_default)
    );
  }, [policies.data, services.data, serviceId, priority]);

  const typed = useDebounced(subject.trim().length >= 8 ? subject.trim() : "", 700);
  const suggestions = useQuery({
    queryKey: ["assistant", "suggest", typed],
    enabled: typed.length >= 8 && !created,
    queryFn: () => unwrap(assistantAsk({ body: { question: typed.slice(0, 500) } })),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const suggestion: AskResponse | undefined = suggestions.data;

  async function submit(e: FormEvent) {
    e.preventDefault();
    const next: Errors = {};
    validateLength(next, "subject", t.newConsultation.subject, subject, 3, 300);
    validateLength(next, "body", t.newConsultation.body, body, 3, 20000);
    setErrors(next);
    setFormError(undefined);
    if (Object.keys(next).length > 0) return;
    setBusy(true);
    try {
      const assistantQueryId = search.asistente ?? suggestion?.query_id;
      const result = await unwrap(
        consultationsCreate({
          body: {
            subject: subject.trim(),
            body: body.trim(),
            priority,
            ...(serviceId ? { service_id: serviceId } : {}),
            ...(assistantQueryId ? { assistant_query_id: assistantQueryId } : {}),
          },
        }),
      );
      setCreated(result);
      void queryClient.invalidateQueries({ queryKey: ["consultations"] });
    } catch (error) {
      const mapped = problemToErrors(error);
      setErrors(mapped.fields);
      setFormError(mapped.form);
    } finally {
      setBusy(false);
    }
  }

  if (created) {
    return (
      <>
        <PageHeader title={t.newConsultation.createdTitle} />
        <div className="panel panel--success">
          <p>{t.newConsultation.createdBody}</p>
          <CopyField
            id="created-reference"
            label={t.consultations.reference}
            value={created.reference}
          />
          <CopyField
            id="created-code"
            label={t.newConsultation.accessCode}
            value={created.access_code}
          />
          <p className="field__hint">{t.newConsultation.accessCodeOnce}</p>
        </div>
        <div className="button-row">
          <Link to="/consultas/$id" params={{ id: created.id }} className="button">
            {t.newConsultation.goToConsultation}
          </Link>
          <Link to="/consultas" className="button button--secondary">
            {t.newConsultation.goToList}
          </Link>
        </div>
      </>
    );
  }

  return (
    <>
      <PageHeader title={t.newConsultation.title} />
      <p className="lead">{t.newConsultation.intro}</p>
      <div className="two-columns">
        <form onSubmit={submit} noValidate className="form">
          <ErrorSummary form={FORM} errors={errors} order={ORDER} message={formError} />
          <Field
            form={FORM}
            name="service_id"
            label={t.newConsultation.service}
            hint={t.newConsultation.serviceHint}
            error={errors.service_id}
          >
            {(p) => (
              <select
                {...p}
                className="input"
                value={serviceId}
                onChange={(e) => setServiceId(e.target.value)}
              >
                <option value="">{t.newConsultation.serviceNone}</option>
                {grouped.map((g) => (
                  <optgroup key={g.name} label={g.name}>
                    {(g.items ?? []).map((s) => (
                      <option key={s.id} value={s.id}>
                        {s.name}
                      </option>
                    ))}
                  </optgroup>
                ))}
              </select>
            )}
          </Field>
          {expected ? (
            <p className="field__hint" aria-live="polite">
              {t.newConsultation.expected(
                expected.resolution_target,
                expected.unit ?? "working_days",
              )}
            </p>
          ) : null}
          <Field
            form={FORM}
            name="subject"
            label={t.newConsultation.subject}
            hint={t.newConsultation.subjectHint}
            error={errors.subject}
          >
            {(p) => (
              <input
                {...p}
                className="input"
                maxLength={300}
                value={subject}
                onChange={(e) => setSubject(e.target.value)}
              />
            )}
          </Field>
          <TextAreaField
            form={FORM}
            name="body"
            label={t.newConsultation.body}
            hint={t.newConsultation.bodyHint}
            error={errors.body}
            rows={8}
            value={body}
            onChange={setBody}
          />
          <Field
            form={FORM}
            name="priority"
            label={t.newConsultation.priority}
            error={errors.priority}
          >
            {(p) => (
              <select
                {...p}
                className="input input--w10"
                value={priority}
                onChange={(e) => setPriority(e.target.value as Priority)}
              >
                {(["low", "normal", "high", "urgent"] as const).map((v) => (
                  <option key={v} value={v}>
                    {t.priority[v]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <button type="submit" className="button" disabled={busy}>
            {busy ? t.saving : t.newConsultation.submit}
          </button>
        </form>
        <aside className="suggestions" aria-labelledby="suggestions-title" aria-live="polite">
          {suggestion && suggestion.answers.length > 0 ? (
            <>
              <h2 id="suggestions-title" className="h3">
                {t.newConsultation.suggestionsTitle}
              </h2>
              <p>{t.newConsultation.suggestionsIntro}</p>
              {suggestion.answers.slice(0, 3).map((a) => (
                <details key={a.faq_id} className="details">
                  <summary>{a.question}</summary>
                  <p>{a.answer}</p>
                </details>
              ))}
            </>
          ) : (
            <h2 id="suggestions-title" className="visually-hidden">
              {t.newConsultation.suggestionsTitle}
            </h2>
          )}
        </aside>
      </div>
    </>
  );
}
