import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import {
  calendarFeedTokensCreate,
  calendarFeedTokensList,
  calendarFeedTokensRevoke,
} from "../../../client";
import { ErrorSummary, type Errors, Field } from "../../../components/forms";
import { CopyField, Loading, Notice, PageHeader } from "../../../components/ui";
import { useAction } from "../../../lib/action";
import { announce } from "../../../lib/announcer";
import { formatDate } from "../../../lib/format";
import { t } from "../../../lib/i18n";
import { problemToErrors, unwrap } from "../../../lib/problem";

export const Route = createFileRoute("/_app/calendario/suscripcion")({
  component: SubscriptionPage,
});

function Steps({ title, steps }: { title: string; steps: string[] }) {
  return (
    <section className="card">
      <h3>{title}</h3>
      <ol>
        {steps.map((s) => (
          <li key={s}>{s}</li>
        ))}
      </ol>
    </section>
  );
}

function SubscriptionPage() {
  const queryClient = useQueryClient();
  const tokens = useQuery({
    queryKey: ["feed-tokens"],
    queryFn: () => unwrap(calendarFeedTokensList()),
  });
  const [label, setLabel] = useState("");
  const [url, setUrl] = useState<string>();
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const revoking = useAction();

  async function create(e: FormEvent) {
    e.preventDefault();
    const next: Errors = {};
    if (label.length > 200) next.label = t.errors.maxLength("El nombre", 200);
    setErrors(next);
    setFormError(undefined);
    if (Object.keys(next).length > 0) return;
    try {
      const r = await unwrap(
        calendarFeedTokensCreate({ body: label.trim() ? { label: label.trim() } : {} }),
      );
      setUrl(r.url);
      setLabel("");
      announce(t.subscription.urlOnce);
      void queryClient.invalidateQueries({ queryKey: ["feed-tokens"] });
    } catch (error) {
      const mapped = problemToErrors(error);
      setErrors(mapped.fields);
      setFormError(mapped.form);
    }
  }

  async function revoke(tokenId: string) {
    setNotice(undefined);
    const revoked = await revoking.run(
      () => unwrap(calendarFeedTokensRevoke({ path: { token_id: tokenId } })),
      t.subscription.revoked,
    );
    if (revoked) setNotice(t.subscription.revoked);
    void queryClient.invalidateQueries({ queryKey: ["feed-tokens"] });
  }

  const active = (tokens.data ?? []).filter((x) => !x.revoked_at);
  return (
    <>
      <p>
        <Link to="/calendario">← {t.calendar.title}</Link>
      </p>
      <PageHeader title={t.subscription.title} />
      <p className="lead">{t.subscription.intro}</p>
      <Notice tone="warning">{t.subscription.private}</Notice>
      {url ? (
        <div className="panel panel--success">
          <CopyField id="feed-url" label={t.subscription.url} value={url} />
          <p className="field__hint">{t.subscription.urlOnce}</p>
        </div>
      ) : null}
      <form onSubmit={create} noValidate className="form">
        <ErrorSummary form="feed" errors={errors} order={["label"]} message={formError} />
        <Field
          form="feed"
          name="label"
          label={`${t.subscription.label} ${t.optional}`}
          error={errors.label}
        >
          {(p) => (
            <input
              {...p}
              className="input"
              value={label}
              onChange={(e) => setLabel(e.target.value)}
            />
          )}
        </Field>
        <button type="submit" className="button">
          {t.subscription.create}
        </button>
      </form>
      <h2>Cómo añadirla a su calendario</h2>
      <div className="grid">
        <Steps title={t.subscription.outlook} steps={t.subscription.outlookSteps} />
        <Steps title={t.subscription.google} steps={t.subscription.googleSteps} />
        <Steps title={t.subscription.thunderbird} steps={t.subscription.thunderbirdSteps} />
      </div>
      <section aria-labelledby="tokens-title">
        <h2 id="tokens-title">{t.subscription.existing}</h2>
        {notice ? <Notice tone="success">{notice}</Notice> : null}
        {revoking.failure ? <Notice tone="error">{revoking.failure}</Notice> : null}
        {tokens.isPending ? <Loading /> : null}
        <ul className="list">
          {active.map((x) => (
            <li key={x.id}>
              {x.label ?? formatDate(x.created_at)}{" "}
              <span className="muted">
                ·{" "}
                {x.last_used_at
                  ? t.subscription.lastUsed(formatDate(x.last_used_at))
                  : t.subscription.neverUsed}
              </span>{" "}
              <button
                type="button"
                className="button button--link"
                onClick={() => void revoke(x.id)}
              >
                {t.subscription.revoke}
                <span className="visually-hidden"> {x.label ?? formatDate(x.created_at)}</span>
              </button>
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}
