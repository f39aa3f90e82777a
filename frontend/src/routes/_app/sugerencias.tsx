import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { type SuggestionKind, suggestionsCreate, suggestionsList } from "../../client";
import {
  ErrorSummary,
  type Errors,
  Field,
  TextAreaField,
  validateLength,
} from "../../components/forms";
import { LoadError, Loading, Notice, PageHeader, Tag } from "../../components/ui";
import { announce } from "../../lib/announcer";
import { formatLongDate } from "../../lib/format";
import { t } from "../../lib/i18n";
import { problemToErrors, unwrap } from "../../lib/problem";

export const Route = createFileRoute("/_app/sugerencias")({ component: SuggestionsPage });

function SuggestionsPage() {
  const queryClient = useQueryClient();
  const list = useQuery({
    queryKey: ["suggestions"],
    queryFn: async () => (await unwrap(suggestionsList({ query: { limit: 100 } }))).items,
  });
  const [kind, setKind] = useState<SuggestionKind>("suggestion");
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string>();
  const [sent, setSent] = useState(false);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const next: Errors = {};
    validateLength(next, "title", t.suggestions.titleLabel, title, 3, 300);
    validateLength(next, "body", t.suggestions.body, body, 3, 20000);
    setErrors(next);
    setFormError(undefined);
    setSent(false);
    if (Object.keys(next).length > 0) return;
    setBusy(true);
    try {
      await unwrap(suggestionsCreate({ body: { kind, title: title.trim(), body: body.trim() } }));
      setTitle("");
      setBody("");
      setSent(true);
      announce(t.suggestions.sent);
      void queryClient.invalidateQueries({ queryKey: ["suggestions"] });
    } catch (error) {
      const mapped = problemToErrors(error);
      setErrors(mapped.fields);
      setFormError(mapped.form);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <PageHeader title={t.suggestions.title} />
      <p className="lead">{t.suggestions.intro}</p>
      <form onSubmit={submit} noValidate className="form">
        <ErrorSummary
          form="sug"
          errors={errors}
          order={["kind", "title", "body"]}
          message={formError}
        />
        {sent ? <Notice tone="success">{t.suggestions.sent}</Notice> : null}
        <fieldset className="field radios">
          <legend className="field__label">{t.suggestions.kind}</legend>
          {(
            [
              ["suggestion", t.suggestions.kindSuggestion],
              ["new_service", t.suggestions.kindNewService],
            ] as const
          ).map(([value, label], i) => (
            <div className="radio" key={value}>
              <input
                type="radio"
                name="sug-kind"
                id={i === 0 ? "sug-kind" : `sug-kind-${value}`}
                checked={kind === value}
                onChange={() => setKind(value)}
              />
              <label htmlFor={i === 0 ? "sug-kind" : `sug-kind-${value}`}>{label}</label>
            </div>
          ))}
        </fieldset>
        <Field form="sug" name="title" label={t.suggestions.titleLabel} error={errors.title}>
          {(p) => (
            <input
              {...p}
              className="input"
              value={title}
              onChange={(e) => setTitle(e.target.value)}
            />
          )}
        </Field>
        <TextAreaField
          form="sug"
          name="body"
          label={t.suggestions.body}
          error={errors.body}
          rows={5}
          value={body}
          onChange={setBody}
        />
        <button type="submit" className="button" disabled={busy}>
          {busy ? t.saving : t.suggestions.submit}
        </button>
      </form>
      <section aria-labelledby="sug-mine">
        <h2 id="sug-mine">{t.suggestions.mine}</h2>
        {list.isPending ? <Loading /> : null}
        {list.isError ? <LoadError onRetry={() => list.refetch()} /> : null}
        {list.data?.length === 0 ? <p>{t.suggestions.empty}</p> : null}
        <ul className="cards">
          {(list.data ?? []).map((s) => (
            <li key={s.id} className="card">
              <h3>{s.title}</h3>
              <p>
                <Tag tone="info">{t.suggestions.status[s.status] ?? s.status}</Tag>{" "}
                <span className="muted">{formatLongDate(s.created_at)}</span>
              </p>
              <p>{s.body}</p>
              {s.public_answer ? (
                <p>
                  <strong>{t.suggestions.answer}:</strong> {s.public_answer}
                </p>
              ) : null}
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}
