import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import {
  eventsGet,
  eventsGetIcs,
  eventsRegister,
  eventsRegistrationCancel,
  eventsRegistrations,
} from "../../../client";
import { ErrorSummary, type Errors, Field, validateLength } from "../../../components/forms";
import { Deadline, LoadError, Loading, Notice, PageHeader, Tag } from "../../../components/ui";
import { useAction } from "../../../lib/action";
import { announce } from "../../../lib/announcer";
import { formatDateTime, formatLongDate } from "../../../lib/format";
import { t } from "../../../lib/i18n";
import { problemToErrors, unwrap } from "../../../lib/problem";

export const Route = createFileRoute("/_app/calendario/$id")({ component: EntryPage });

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

function EntryPage() {
  const { id } = Route.useParams();
  const queryClient = useQueryClient();
  const entry = useQuery({
    queryKey: ["event", id],
    queryFn: () => unwrap(eventsGet({ path: { entry_id: id } })),
  });
  const registrations = useQuery({
    queryKey: ["event", id, "registrations"],
    enabled: Boolean(entry.data?.registration_required),
    queryFn: () => unwrap(eventsRegistrations({ path: { entry_id: id } })),
  });
  const [form, setForm] = useState({ attendee_name: "", attendee_role: "", attendee_email: "" });
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string>();
  const [done, setDone] = useState<string>();
  const cancelling = useAction();
  const downloading = useAction();
  const [busy, setBusy] = useState(false);

  if (entry.isPending) return <Loading />;
  if (entry.isError) return <LoadError onRetry={() => entry.refetch()} />;
  const e = entry.data;
  const active = (registrations.data ?? []).filter((r) => r.status !== "cancelled");
  const full = e.remaining != null && e.remaining <= 0;

  async function download() {
    let blob: unknown;
    const fetched = await downloading.run(async () => {
      blob = await unwrap(eventsGetIcs({ path: { entry_id: id }, parseAs: "blob" }));
    });
    if (!fetched || !(blob instanceof Blob)) return;
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `${e.title.replace(/[^\p{L}\p{N}]+/gu, "-").slice(0, 60)}.ics`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  async function register(ev: FormEvent) {
    ev.preventDefault();
    const next: Errors = {};
    validateLength(next, "attendee_name", t.calendar.attendeeName, form.attendee_name, 2, 200);
    if (form.attendee_role.length > 200)
      next.attendee_role = t.errors.maxLength(t.calendar.attendeeRole, 200);
    if (form.attendee_email && !EMAIL.test(form.attendee_email.trim()))
      next.attendee_email = t.errors.invalidEmail;
    setErrors(next);
    setFormError(undefined);
    setDone(undefined);
    if (Object.keys(next).length > 0) return;
    setBusy(true);
    try {
      await unwrap(
        eventsRegister({
          path: { entry_id: id },
          body: {
            attendee_name: form.attendee_name.trim(),
            ...(form.attendee_role.trim() ? { attendee_role: form.attendee_role.trim() } : {}),
            ...(form.attendee_email.trim() ? { attendee_email: form.attendee_email.trim() } : {}),
            ...(e.occurrence_start ? { occurrence_start: e.occurrence_start } : {}),
          },
        }),
      );
      setForm({ attendee_name: "", attendee_role: "", attendee_email: "" });
      setDone(t.calendar.registered);
      announce(t.calendar.registered);
      void queryClient.invalidateQueries({ queryKey: ["event", id] });
      void queryClient.invalidateQueries({ queryKey: ["events"] });
    } catch (error) {
      const mapped = problemToErrors(error);
      setErrors(mapped.fields);
      setFormError(mapped.form);
    } finally {
      setBusy(false);
    }
  }

  async function cancel(registrationId: string) {
    setDone(undefined);
    const cancelled = await cancelling.run(
      () =>
        unwrap(
          eventsRegistrationCancel({ path: { entry_id: id, registration_id: registrationId } }),
        ),
      t.calendar.cancelled,
    );
    if (!cancelled) return;
    setDone(t.calendar.cancelled);
    void queryClient.invalidateQueries({ queryKey: ["event", id] });
    void queryClient.invalidateQueries({ queryKey: ["events"] });
  }

  return (
    <>
      <p>
        <Link to="/calendario">← {t.calendar.title}</Link>
      </p>
      <PageHeader title={e.title}>
        <p>
          <Tag tone="info">{t.calendar.kinds[e.kind] ?? e.kind}</Tag>
          {e.status === "cancelled" ? <Tag tone="danger">Cancelado</Tag> : null}
        </p>
      </PageHeader>
      <dl className="summary-list">
        <div>
          <dt>Fecha</dt>
          <dd>
            {e.all_day
              ? formatLongDate(e.starts_at)
              : `${formatDateTime(e.starts_at)} – ${formatDateTime(e.ends_at)}`}
          </dd>
        </div>
        {e.modality ? (
          <div>
            <dt>{t.calendar.modality}</dt>
            <dd>{t.calendar.modalities[e.modality] ?? e.modality}</dd>
          </div>
        ) : null}
        {e.location ? (
          <div>
            <dt>{t.calendar.where}</dt>
            <dd>{e.location}</dd>
          </div>
        ) : null}
        {e.online_url ? (
          <div>
            <dt>{t.calendar.online}</dt>
            <dd>
              <a href={e.online_url}>{e.online_url}</a>
            </dd>
          </div>
        ) : null}
        {e.application_opens_on && e.application_closes_on ? (
          <div>
            <dt>Solicitudes</dt>
            <dd>
              {t.calendar.applicationWindow(
                formatLongDate(e.application_opens_on),
                formatLongDate(e.application_closes_on),
              )}
              <br />
              <Deadline due={e.application_closes_on} />
            </dd>
          </div>
        ) : null}
        {e.budget ? (
          <div>
            <dt>{t.calendar.budget}</dt>
            <dd>
              {new Intl.NumberFormat("es-ES", { style: "currency", currency: "EUR" }).format(
                Number(e.budget),
              )}
            </dd>
          </div>
        ) : null}
        {e.beneficiaries ? (
          <div>
            <dt>{t.calendar.beneficiaries}</dt>
            <dd>{e.beneficiaries}</dd>
          </div>
        ) : null}
        {e.registration_deadline ? (
          <div>
            <dt>{t.calendar.registrationDeadline}</dt>
            <dd>{formatDateTime(e.registration_deadline)}</dd>
          </div>
        ) : null}
      </dl>
      {e.description ? <p className="prose">{e.description}</p> : null}
      {e.bulletin_url ? (
        <p>
          <a href={e.bulletin_url}>{t.calendar.bulletin}</a>
        </p>
      ) : null}
      <p>
        <button type="button" className="button button--secondary" onClick={download}>
          {t.calendar.addToCalendar}
        </button>
      </p>
      {downloading.failure ? <Notice tone="error">{downloading.failure}</Notice> : null}

      {e.registration_required ? (
        <section aria-labelledby="reg-title" className="panel">
          <h2 id="reg-title">{t.calendar.registerTitle}</h2>
          {e.capacity !== null ? (
            <p>{full ? t.calendar.full : t.calendar.places(e.remaining ?? 0, e.capacity)}</p>
          ) : null}
          {done ? <Notice tone="success">{done}</Notice> : null}
          {cancelling.failure ? <Notice tone="error">{cancelling.failure}</Notice> : null}
          {active.length > 0 ? (
            <>
              <h3>{t.calendar.registrations}</h3>
              <ul className="list">
                {active.map((r) => (
                  <li key={r.id}>
                    {r.attendee_name}
                    {r.attendee_role ? ` (${r.attendee_role})` : ""}{" "}
                    <button
                      type="button"
                      className="button button--link"
                      onClick={() => void cancel(r.id)}
                    >
                      {t.calendar.cancelRegistration}
                      <span className="visually-hidden"> de {r.attendee_name}</span>
                    </button>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
          {!full && e.status !== "cancelled" ? (
            <form onSubmit={register} noValidate className="form">
              <ErrorSummary
                form="reg"
                errors={errors}
                order={["attendee_name", "attendee_role", "attendee_email"]}
                message={formError}
              />
              <Field
                form="reg"
                name="attendee_name"
                label={t.calendar.attendeeName}
                error={errors.attendee_name}
              >
                {(p) => (
                  <input
                    {...p}
                    className="input"
                    autoComplete="name"
                    value={form.attendee_name}
                    onChange={(ev) => setForm({ ...form, attendee_name: ev.target.value })}
                  />
                )}
              </Field>
              <Field
                form="reg"
                name="attendee_role"
                label={`${t.calendar.attendeeRole} ${t.optional}`}
                error={errors.attendee_role}
              >
                {(p) => (
                  <input
                    {...p}
                    className="input"
                    autoComplete="organization-title"
                    value={form.attendee_role}
                    onChange={(ev) => setForm({ ...form, attendee_role: ev.target.value })}
                  />
                )}
              </Field>
              <Field
                form="reg"
                name="attendee_email"
                label={`${t.calendar.attendeeEmail} ${t.optional}`}
                error={errors.attendee_email}
              >
                {(p) => (
                  <input
                    {...p}
                    className="input"
                    type="email"
                    autoComplete="email"
                    value={form.attendee_email}
                    onChange={(ev) => setForm({ ...form, attendee_email: ev.target.value })}
                  />
                )}
              </Field>
              <button type="submit" className="button" disabled={busy}>
                {busy ? t.saving : t.calendar.register}
              </button>
            </form>
          ) : null}
        </section>
      ) : null}
    </>
  );
}
