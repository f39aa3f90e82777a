import { type ReactNode, useEffect, useId, useRef } from "react";
import { t } from "../lib/i18n";

export type Errors = Record<string, string | undefined>;

export function fieldId(form: string, name: string) {
  return `${form}-${name}`;
}

/** GOV.UK error summary: focused when it appears, each error links to its field. An error the
 * API gives for a field this form does not show (one the page sends by itself) is listed too,
 * after a sentence saying the request was not completed, so that no refusal goes unsaid. */
export function ErrorSummary({
  form,
  errors,
  order,
  message,
}: {
  form: string;
  errors: Errors;
  order: string[];
  message?: string | undefined;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const entries = order.filter((name) => errors[name]);
  const unshown = Object.keys(errors).filter((name) => errors[name] && !order.includes(name));
  const visible = entries.length > 0 || unshown.length > 0 || Boolean(message);
  const signature = `${message ?? ""}|${[...entries, ...unshown].map((n) => errors[n]).join("|")}`;
  // biome-ignore lint/correctness/useExhaustiveDependencies: focus again whenever the errors change
  useEffect(() => {
    if (visible) ref.current?.focus();
  }, [visible, signature]);
  if (!visible) return null;
  return (
    <div
      className="error-summary"
      ref={ref}
      tabIndex={-1}
      role="alert"
      aria-labelledby={`${form}-error-title`}
    >
      <h2 id={`${form}-error-title`} className="error-summary__title">
        {t.errors.summaryTitle}
      </h2>
      <ul>
        {message ? <li>{message}</li> : null}
        {unshown.length > 0 && !message ? <li>{t.errors.generic}</li> : null}
        {unshown.map((name) => (
          <li key={name}>{errors[name]}</li>
        ))}
        {entries.map((name) => (
          <li key={name}>
            <a
              href={`#${fieldId(form, name)}`}
              onClick={(e) => {
                e.preventDefault();
                document.getElementById(fieldId(form, name))?.focus();
              }}
            >
              {errors[name]}
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}

interface FieldProps {
  form: string;
  name: string;
  label: string;
  hint?: string | undefined;
  error?: string | undefined;
  children: (props: {
    id: string;
    "aria-describedby"?: string;
    "aria-invalid"?: true;
  }) => ReactNode;
}

/** One labelled field with its hint and error message (one question per field). */
export function Field({ form, name, label, hint, error, children }: FieldProps) {
  const id = fieldId(form, name);
  const described = [hint ? `${id}-hint` : null, error ? `${id}-error` : null]
    .filter(Boolean)
    .join(" ");
  return (
    <div className={`field${error ? " field--error" : ""}`}>
      <label htmlFor={id} className="field__label">
        {label}
      </label>
      {hint ? (
        <p id={`${id}-hint`} className="field__hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="field__error">
          <span className="visually-hidden">Error: </span>
          {error}
        </p>
      ) : null}
      {children({
        id,
        ...(described ? { "aria-describedby": described } : {}),
        ...(error ? { "aria-invalid": true as const } : {}),
      })}
    </div>
  );
}

/** A labelled multi-line text field: the label, hint and error of `Field` around a textarea. */
export function TextAreaField({
  rows,
  value,
  onChange,
  ...field
}: Omit<FieldProps, "children"> & {
  rows: number;
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <Field {...field}>
      {(p) => (
        <textarea
          {...p}
          className="input"
          rows={rows}
          value={value}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
    </Field>
  );
}

/** A date as three inputs (day, month, year), as GOV.UK recommends for known dates. */
export function DateInput({
  form,
  name,
  legend,
  hint,
  error,
  value,
  onChange,
}: {
  form: string;
  name: string;
  legend: string;
  hint?: string;
  error?: string | undefined;
  value: { day: string; month: string; year: string };
  onChange: (v: { day: string; month: string; year: string }) => void;
}) {
  const id = fieldId(form, name);
  const hintId = useId();
  return (
    <fieldset
      className={`field date-input${error ? " field--error" : ""}`}
      aria-describedby={
        [hint ? hintId : null, error ? `${id}-error` : null].filter(Boolean).join(" ") || undefined
      }
    >
      <legend className="field__label">{legend}</legend>
      {hint ? (
        <p id={hintId} className="field__hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="field__error">
          <span className="visually-hidden">Error: </span>
          {error}
        </p>
      ) : null}
      <div className="date-input__items">
        {(
          [
            ["day", "Día", 2],
            ["month", "Mes", 2],
            ["year", "Año", 4],
          ] as const
        ).map(([part, label, width]) => (
          <div key={part} className="date-input__item">
            <label htmlFor={part === "day" ? id : `${id}-${part}`}>{label}</label>
            <input
              id={part === "day" ? id : `${id}-${part}`}
              className={`input input--w${width}`}
              inputMode="numeric"
              autoComplete="off"
              maxLength={width}
              aria-invalid={error ? true : undefined}
              value={value[part]}
              onChange={(e) => onChange({ ...value, [part]: e.target.value.replace(/\D/g, "") })}
            />
          </div>
        ))}
      </div>
    </fieldset>
  );
}

export function validateLength(
  errors: Errors,
  name: string,
  label: string,
  value: string,
  min: number,
  max: number,
) {
  const v = value.trim();
  if (v.length === 0 && min > 0) errors[name] = t.errors.requiredField(label);
  else if (v.length < min) errors[name] = t.errors.minLength(label, min);
  else if (value.length > max) errors[name] = t.errors.maxLength(label, max);
}
