import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import {
  type ConsultationPublic,
  consultationsAccessCode,
  consultationsGet,
  consultationsHistory,
  consultationsMessagesCreate,
  consultationsMessagesList,
  consultationsTransition,
  servicesList,
  surveysAnswer,
  surveysGet,
} from "../../../client";
import {
  ErrorSummary,
  type Errors,
  TextAreaField,
  validateLength,
} from "../../../components/forms";
import {
  CopyField,
  Deadline,
  LoadError,
  Loading,
  Notice,
  PageHeader,
  StatusTag,
} from "../../../components/ui";
import { useAction } from "../../../lib/action";
import { announce } from "../../../lib/announcer";
import { formatDateTime } from "../../../lib/format";
import { t } from "../../../lib/i18n";
import { ApiError, problemToErrors, unwrap } from "../../../lib/problem";

export const Route = createFileRoute("/_app/consultas/$id")({ component: ConsultationPage });

function useConsultation(id: string) {
  return useQuery({
    queryKey: ["consultation", id],
    queryFn: () => unwrap(consultationsGet({ path: { consultation_id: id } })),
    // The stream refreshes it at once; this is the fallback while the page stays open.
    refetchInterval: (query) => (query.state.data?.status === "closed" ? false : 15_000),
  });
}

function ConsultationPage() {
  const { id } = Route.useParams();
  const c = useConsultation(id);
  const messages = useQuery({
    queryKey: ["consultation", id, "messages", c.data?.version],
    queryFn: async () =>
      (
        await unwrap(
          consultationsMessagesList({ path: { consultation_id: id }, query: { limit: 200 } }),
        )
      ).items,
  });
  const history = useQuery({
    queryKey: ["consultation", id, "history", c.data?.version],
    queryFn: async () =>
      (await unwrap(consultationsHistory({ path: { consultation_id: id }, query: { limit: 200 } })))
        .items,
  });
  const services = useQuery({
    queryKey: ["services"],
    queryFn: async () => (await unwrap(servicesList({ query: { limit: 200 } }))).items,
    staleTime: 600_000,
  });

  if (c.isPending) return <Loading />;
  if (c.isError) {
    if (c.error instanceof ApiError && c.error.status === 404) {
      return (
        <>
          <PageHeader title={t.notFound} />
          <p>{t.notFoundBody}</p>
        </>
      );
    }
    return <LoadError onRetry={() => c.refetch()} />;
  }
  const data = c.data;
  const service = services.data?.find((s) => s.id === data.service_id);
  const publicMessages = (messages.data ?? []).filter((m) => m.visibility === "public");

  return (
    <>
      <p>
        <Link to="/consultas">← {t.consultations.title}</Link>
      </p>
      <PageHeader title={data.subject}>
        <p className="mono">{data.reference}</p>
      </PageHeader>
      <dl className="summary-list">
        <div>
          <dt>{t.consultation.status}</dt>
          <dd>
            <StatusTag status={data.status} />
          </dd>
        </div>
        <div>
          <dt>{t.consultation.resolution}</dt>
          <dd>
            <Deadline
              due={data.resolution_due_at}
              paused={data.status === "waiting_on_municipality"}
              met={data.status === "answered" || data.status === "closed"}
            />
          </dd>
        </div>
        <div>
          <dt>{t.consultation.service}</dt>
          <dd>{service?.name ?? t.none}</dd>
        </div>
        <div>
          <dt>{t.consultation.priority}</dt>
          <dd>{t.priority[data.priority]}</dd>
        </div>
        <div>
          <dt>{t.consultation.receivedAt}</dt>
          <dd>
            {formatDateTime(data.received_at)} · {t.channel[data.channel]}
          </dd>
        </div>
      </dl>

      {data.status === "waiting_on_municipality" ? (
        <div className="panel panel--warning">
          <h2 className="h3">{t.consultation.waitingTitle}</h2>
          {data.waiting_reason ? <p>{t.consultation.waitingBody(data.waiting_reason)}</p> : null}
          <ReplyForm consultation={data} waiting />
        </div>
      ) : null}

      <section aria-labelledby="thread-title">
        <h2 id="thread-title">{t.consultation.thread}</h2>
        <div className="message message--own">
          <p className="message__meta">
            {t.consultation.fromYou} · {formatDateTime(data.received_at)}
          </p>
          <p className="message__body">{data.body}</p>
        </div>
        {messages.isError ? <LoadError onRetry={() => messages.refetch()} /> : null}
        <ol className="thread" data-testid="thread">
          {publicMessages.map((m) => (
            <li
              key={m.id}
              className={`message${m.from_office ? " message--office" : " message--own"}`}
            >
              <p className="message__meta">
                {m.from_office ? t.consultation.fromOffice : t.consultation.fromYou}
                {m.author_label ? ` (${m.author_label})` : ""} · {formatDateTime(m.created_at)}
              </p>
              <p className="message__body">{m.body}</p>
            </li>
          ))}
        </ol>
        {publicMessages.length === 0 && messages.isSuccess ? (
          <p className="muted">{t.consultation.threadEmpty}</p>
        ) : null}
      </section>

      {data.status !== "waiting_on_municipality" && data.status !== "closed" ? (
        <ReplyForm consultation={data} />
      ) : null}
      <Actions consultation={data} />
      {data.status === "closed" ? <Survey id={data.id} /> : null}
      <Share consultation={data} />

      <section aria-labelledby="history-title">
        <h2 id="history-title">{t.consultation.history}</h2>
        {history.isPending ? <Loading /> : null}
        <ol className="timeline">
          {(history.data ?? []).map((h) => (
            <li key={h.id}>
              <p className="timeline__date">{formatDateTime(h.occurred_at)}</p>
              <p>
                {h.from_status && h.to_status
                  ? t.consultation.historyChange(
                      t.consultationStatus[h.from_status] ?? h.from_status,
                      t.consultationStatus[h.to_status] ?? h.to_status,
                    )
                  : h.to_status
                    ? (t.consultationStatus[h.to_status] ?? h.to_status)
                    : (t.consultation.historyKinds[h.kind] ?? t.consultation.historyCreated)}
                {h.actor_label ? <span className="muted"> · {h.actor_label}</span> : null}
              </p>
            </li>
          ))}
        </ol>
      </section>
    </>
  );
}

function ReplyForm({
  consultation,
  waiting,
}: {
  consultation: ConsultationPublic;
  waiting?: boolean;
}) {
  const queryClient = useQueryClient();
  const [body, setBody] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);
  const form = waiting ? "waiting" : "reply";
  const label = waiting ? t.consultation.waitingAnswer : t.consultation.replyLabel;

  async function submit(e: FormEvent) {
    e.preventDefault();
    const next: Errors = {};
    validateLength(next, "body", label, body, 1, 20000);
    setErrors(next);
    setFormError(undefined);
    setSent(false);
    if (Object.keys(next).length > 0) return;
    setBusy(true);
    try {
      await unwrap(
        consultationsMessagesCreate({
          path: { consultation_id: consultation.id },
          body: { body: body.trim(), visibility: "public" },
        }),
      );
      setBody("");
      setSent(true);
      announce(t.consultation.replySent);
      await queryClient.invalidateQueries({ queryKey: ["consultation", consultation.id] });
      void queryClient.invalidateQueries({ queryKey: ["consultations"] });
    } catch (error) {
      const mapped = problemToErrors(error);
      setErrors(mapped.fields);
      setFormError(mapped.form);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate className="form" aria-labelledby={`${form}-title`}>
      <h2 id={`${form}-title`} className={waiting ? "visually-hidden" : undefined}>
        {waiting ? t.consultation.waitingAnswer : t.consultation.reply}
      </h2>
      <ErrorSummary form={form} errors={errors} order={["body"]} message={formError} />
      {sent ? <Notice tone="success">{t.consultation.replySent}</Notice> : null}
      <TextAreaField
        form={form}
        name="body"
        label={label}
        error={errors.body}
        rows={5}
        value={body}
        onChange={setBody}
      />
      <button type="submit" className="button" disabled={busy}>
        {busy ? t.saving : waiting ? t.consultation.waitingSubmit : t.consultation.replySubmit}
      </button>
    </form>
  );
}

function Actions({ consultation }: { consultation: ConsultationPublic }) {
  const queryClient = useQueryClient();
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string>();

  async function move(to: "closed" | "in_progress", e?: FormEvent) {
    e?.preventDefault();
    const next: Errors = {};
    if (to === "in_progress")
      validateLength(next, "reason", t.consultation.reopenReason, reason, 3, 1000);
    setErrors(next);
    setFormError(undefined);
    if (Object.keys(next).length > 0) return;
    setBusy(true);
    try {
      await unwrap(
        consultationsTransition({
          path: { consultation_id: consultation.id },
          headers: { "If-Match": `"${consultation.version}"` },
          body: { to, ...(to === "in_progress" ? { reason: reason.trim() } : {}) },
        }),
      );
      const message = to === "closed" ? t.consultation.closed : t.consultation.reopened;
      setDone(message);
      announce(message);
      setReason("");
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) setFormError(t.errors.conflict);
      else {
        const mapped = problemToErrors(error);
        setErrors(mapped.fields);
        setFormError(mapped.form);
      }
    } finally {
      setBusy(false);
      void queryClient.invalidateQueries({ queryKey: ["consultation", consultation.id] });
      void queryClient.invalidateQueries({ queryKey: ["consultations"] });
    }
  }

  if (consultation.status === "answered") {
    return (
      <section className="form" aria-labelledby="close-title">
        <h2 id="close-title">{t.consultation.close}</h2>
        <p>{t.consultation.closeConfirm}</p>
        <ErrorSummary form="close" errors={{}} order={[]} message={formError} />
        <button type="button" className="button" disabled={busy} onClick={() => move("closed")}>
          {t.consultation.close}
        </button>
      </section>
    );
  }
  if (consultation.status === "closed") {
    return (
      <form
        className="form"
        onSubmit={(e) => move("in_progress", e)}
        noValidate
        aria-labelledby="reopen-title"
      >
        {done ? <Notice tone="success">{done}</Notice> : null}
        <h2 id="reopen-title">{t.consultation.reopen}</h2>
        <ErrorSummary form="reopen" errors={errors} order={["reason"]} message={formError} />
        <TextAreaField
          form="reopen"
          name="reason"
          label={t.consultation.reopenReason}
          error={errors.reason}
          rows={3}
          value={reason}
          onChange={setReason}
        />
        <button type="submit" className="button button--secondary" disabled={busy}>
          {t.consultation.reopen}
        </button>
      </form>
    );
  }
  return done ? <Notice tone="success">{done}</Notice> : null;
}

function Survey({ id }: { id: string }) {
  const queryClient = useQueryClient();
  const survey = useQuery({
    queryKey: ["consultation", id, "survey"],
    queryFn: async () => {
      try {
        return await unwrap(surveysGet({ path: { consultation_id: id } }));
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }
    },
  });
  const [values, setValues] = useState({ attention: "", process: "", resolution: "" });
  const [comment, setComment] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const dims = [
    ["attention", t.consultation.surveyAttention],
    ["process", t.consultation.surveyProcess],
    ["resolution", t.consultation.surveyResolution],
  ] as const;

  if (survey.isPending) return null;
  if (survey.data) {
    return (
      <section aria-labelledby="survey-title" className="panel">
        <h2 id="survey-title">{t.consultation.survey}</h2>
        <p>
          {t.consultation.surveyDone(
            survey.data.attention,
            survey.data.process,
            survey.data.resolution,
          )}
        </p>
      </section>
    );
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    const next: Errors = {};
    for (const [name, label] of dims) if (!values[name]) next[name] = t.errors.chooseOne(label);
    if (comment.length > 4000)
      next.comment = t.errors.maxLength(t.consultation.surveyComment, 4000);
    setErrors(next);
    setFormError(undefined);
    if (Object.keys(next).length > 0) return;
    setBusy(true);
    try {
      await unwrap(
        surveysAnswer({
          path: { consultation_id: id },
          body: {
            attention: Number(values.attention),
            process: Number(values.process),
            resolution: Number(values.resolution),
            ...(comment.trim() ? { comment: comment.trim() } : {}),
          },
        }),
      );
      announce(t.consultation.surveyThanks);
      await queryClient.invalidateQueries({ queryKey: ["consultation", id, "survey"] });
    } catch (error) {
      const mapped = problemToErrors(error);
      setErrors(mapped.fields);
      setFormError(mapped.form);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate className="form panel" aria-labelledby="survey-title">
      <h2 id="survey-title">{t.consultation.survey}</h2>
      <p>{t.consultation.surveyIntro}</p>
      <ErrorSummary
        form="survey"
        errors={errors}
        order={["attention", "process", "resolution", "comment"]}
        message={formError}
      />
      {dims.map(([name, label]) => (
        <fieldset key={name} className={`field radios${errors[name] ? " field--error" : ""}`}>
          <legend className="field__label">{label}</legend>
          {errors[name] ? (
            <p className="field__error">
              <span className="visually-hidden">Error: </span>
              {errors[name]}
            </p>
          ) : null}
          <div className="radios__row">
            {["1", "2", "3", "4", "5"].map((v, i) => (
              <div key={v} className="radio">
                <input
                  type="radio"
                  id={i === 0 ? `survey-${name}` : `survey-${name}-${v}`}
                  name={`survey-${name}`}
                  value={v}
                  checked={values[name] === v}
                  onChange={() => setValues((prev) => ({ ...prev, [name]: v }))}
                />
                <label htmlFor={i === 0 ? `survey-${name}` : `survey-${name}-${v}`}>{v}</label>
              </div>
            ))}
          </div>
        </fieldset>
      ))}
      <TextAreaField
        form="survey"
        name="comment"
        label={`${t.consultation.surveyComment} ${t.optional}`}
        error={errors.comment}
        rows={3}
        value={comment}
        onChange={setComment}
      />
      <button type="submit" className="button" disabled={busy}>
        {t.consultation.surveySubmit}
      </button>
    </form>
  );
}

function Share({ consultation }: { consultation: ConsultationPublic }) {
  const [code, setCode] = useState<string>();
  const issuing = useAction();
  return (
    <section aria-labelledby="share-title" className="panel">
      <h2 id="share-title">{t.consultation.share}</h2>
      <p>{t.consultation.shareBody}</p>
      <CopyField
        id="share-reference"
        label={t.consultations.reference}
        value={consultation.reference}
      />
      {code ? (
        <>
          <CopyField id="share-code" label={t.newConsultation.accessCode} value={code} />
          <p className="field__hint">{t.consultation.newCodeDone}</p>
        </>
      ) : null}
      {issuing.failure ? <Notice tone="error">{issuing.failure}</Notice> : null}
      <button
        type="button"
        className="button button--secondary"
        onClick={() =>
          void issuing.run(async () => {
            const r = await unwrap(
              consultationsAccessCode({ path: { consultation_id: consultation.id } }),
            );
            setCode(r.access_code);
          }, t.consultation.newCodeDone)
        }
      >
        {t.consultation.newCode}
      </button>
    </section>
  );
}
