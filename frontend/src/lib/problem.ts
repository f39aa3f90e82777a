import { t } from "./i18n";

export interface FieldError {
  loc: Array<string | number>;
  pointer: string;
  message: string;
  code: string;
}

export interface ProblemDocument {
  type?: string;
  title?: string;
  status?: number;
  detail?: string | null;
  code?: string;
  errors?: FieldError[] | null;
}

/** An API failure: the RFC 9457 problem document when there is one. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: ProblemDocument;

  constructor(status: number, problem: ProblemDocument) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export interface Result<T> {
  data?: T;
  error?: unknown;
  response?: Response;
}

/** Awaits a generated-client call and returns its data, or throws an ApiError. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await call;
  } catch {
    throw new ApiError(0, { title: t.errors.network, detail: t.errors.network });
  }
  if (result.error !== undefined || !result.response?.ok) {
    const status = result.response?.status ?? 0;
    const problem =
      typeof result.error === "object" && result.error !== null
        ? (result.error as ProblemDocument)
        : { title: String(result.error ?? "") };
    throw new ApiError(status, problem);
  }
  return result.data as T;
}

/** The field a problem's error points at: the last named segment of its location. */
export function fieldOf(error: FieldError): string {
  const named = error.loc.filter((part): part is string => typeof part === "string");
  return named[named.length - 1] ?? "";
}

/** Field errors of a failed request keyed by field name, and the message for the summary. */
export function problemToErrors(error: unknown): { fields: Record<string, string>; form?: string } {
  if (!(error instanceof ApiError)) return { fields: {}, form: t.errors.generic };
  const fields: Record<string, string> = {};
  for (const e of error.problem.errors ?? []) {
    const name = fieldOf(e);
    if (name && !fields[name]) fields[name] = e.message;
  }
  if (Object.keys(fields).length > 0) return { fields };
  if (error.status === 0) return { fields, form: t.errors.network };
  return { fields, form: error.problem.detail ?? error.problem.title ?? t.errors.generic };
}

/** Why a request failed, in one sentence: its problem's detail or field error, else a generic one. */
export function failureMessage(error: unknown): string {
  const mapped = problemToErrors(error);
  return mapped.form ?? Object.values(mapped.fields)[0] ?? t.errors.generic;
}
