import { createFileRoute, useNavigate } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { ErrorSummary, type Errors, Field } from "../components/forms";
import { Notice, PageHeader } from "../components/ui";
import { login } from "../lib/auth";
import { t } from "../lib/i18n";
import { ApiError } from "../lib/problem";

interface LoginSearch {
  redirect?: string;
  motivo?: "caducada" | "salida";
}

export const Route = createFileRoute("/login")({
  validateSearch: (search: Record<string, unknown>): LoginSearch => ({
    ...(typeof search.redirect === "string" && search.redirect.startsWith("/")
      ? { redirect: search.redirect }
      : {}),
    ...(search.motivo === "caducada" || search.motivo === "salida"
      ? { motivo: search.motivo }
      : {}),
  }),
  component: LoginPage,
});

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

function LoginPage() {
  const { redirect, motivo } = Route.useSearch();
  const navigate = useNavigate();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const next: Errors = {};
    if (!email.trim()) next.username = t.login.emailRequired;
    else if (!EMAIL.test(email.trim())) next.username = t.login.emailInvalid;
    if (!password) next.password = t.login.passwordRequired;
    setErrors(next);
    setFormError(undefined);
    if (Object.keys(next).length > 0) return;
    setBusy(true);
    try {
      await login(email.trim(), password);
      await navigate({ to: redirect ?? "/", replace: true });
    } catch (error) {
      const status = error instanceof ApiError ? error.status : 0;
      setFormError(
        status === 429 ? t.login.tooMany : status === 0 ? t.errors.network : t.login.invalid,
      );
      setBusy(false);
    }
  }

  return (
    <div className="app app--plain">
      <header className="header">
        <div className="header__inner">
          <p className="brand">
            <span className="brand__org">{t.org}</span>
            <span className="brand__office">{t.office}</span>
          </p>
        </div>
      </header>
      <main id="main" className="main main--narrow" tabIndex={-1}>
        <PageHeader title={t.login.title} />
        {motivo === "caducada" ? <Notice tone="warning">{t.login.expired}</Notice> : null}
        {motivo === "salida" ? <Notice>{t.login.loggedOut}</Notice> : null}
        <p>{t.login.intro}</p>
        <form onSubmit={submit} noValidate>
          <ErrorSummary
            form="login"
            errors={errors}
            order={["username", "password"]}
            message={formError}
          />
          <Field form="login" name="username" label={t.login.email} error={errors.username}>
            {(p) => (
              <input
                {...p}
                className="input"
                type="email"
                autoComplete="username"
                spellCheck={false}
                value={email}
                onChange={(e) => setEmail(e.target.value)}
              />
            )}
          </Field>
          <Field form="login" name="password" label={t.login.password} error={errors.password}>
            {(p) => (
              <input
                {...p}
                className="input"
                type="password"
                autoComplete="current-password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            )}
          </Field>
          <button type="submit" className="button" disabled={busy}>
            {busy ? t.saving : t.login.submit}
          </button>
        </form>
      </main>
    </div>
  );
}
