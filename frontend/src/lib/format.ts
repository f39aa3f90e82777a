import { t } from "./i18n";

export const TIME_ZONE = "Europe/Madrid";
const LOCALE = "es-ES";

const dayKeyFormat = new Intl.DateTimeFormat("en-CA", {
  timeZone: TIME_ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
});

/** The calendar day (YYYY-MM-DD) of an instant in Madrid. */
export function madridDay(value: Date | string): string {
  const d = typeof value === "string" ? new Date(value) : value;
  return dayKeyFormat.format(d);
}

function fromDayKey(key: string): Date {
  const [y, m, d] = key.split("-").map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1, 12));
}

function parse(value: string): Date {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? fromDayKey(value) : new Date(value);
}

const longDate = new Intl.DateTimeFormat(LOCALE, {
  timeZone: TIME_ZONE,
  weekday: "long",
  day: "numeric",
  month: "long",
});
const longDateYear = new Intl.DateTimeFormat(LOCALE, {
  timeZone: TIME_ZONE,
  weekday: "long",
  day: "numeric",
  month: "long",
  year: "numeric",
});
const shortDate = new Intl.DateTimeFormat(LOCALE, {
  timeZone: TIME_ZONE,
  day: "numeric",
  month: "short",
  year: "numeric",
});
const dateTime = new Intl.DateTimeFormat(LOCALE, {
  timeZone: TIME_ZONE,
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const timeOnly = new Intl.DateTimeFormat(LOCALE, {
  timeZone: TIME_ZONE,
  hour: "2-digit",
  minute: "2-digit",
});
const monthYear = new Intl.DateTimeFormat(LOCALE, {
  timeZone: "UTC",
  month: "long",
  year: "numeric",
});

/** "jueves, 17 de diciembre" (the year only when it is not the current one). */
export function formatLongDate(value: string, now: Date = new Date()): string {
  const d = parse(value);
  const sameYear = madridDay(d).slice(0, 4) === madridDay(now).slice(0, 4);
  return (sameYear ? longDate : longDateYear).format(d).replace(",", "");
}
export const formatDate = (value: string) => shortDate.format(parse(value));
export const formatDateTime = (value: string) => dateTime.format(new Date(value));
export const formatTime = (value: string) => timeOnly.format(new Date(value));
export const formatMonth = (dayKey: string) => monthYear.format(fromDayKey(dayKey));
export const formatNumber = (n: number) => new Intl.NumberFormat(LOCALE).format(n);

export function addDays(dayKey: string, n: number): string {
  const d = fromDayKey(dayKey);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export function weekday(dayKey: string): number {
  // 0 = Monday … 6 = Sunday
  return (fromDayKey(dayKey).getUTCDay() + 6) % 7;
}

export function isWorkingDay(dayKey: string, holidays: ReadonlySet<string>): boolean {
  return weekday(dayKey) < 5 && !holidays.has(dayKey);
}

/** Working days after `fromKey` up to and including `toKey` (negative when `toKey` is earlier). */
export function workingDaysBetween(
  fromKey: string,
  toKey: string,
  holidays: ReadonlySet<string> = new Set(),
): number {
  if (fromKey === toKey) return 0;
  const forward = fromKey < toKey;
  let count = 0;
  let cursor = fromKey;
  while (cursor !== toKey) {
    cursor = addDays(cursor, forward ? 1 : -1);
    const counted = forward ? cursor : addDays(cursor, 1);
    if (isWorkingDay(counted, holidays)) count += 1;
  }
  return forward ? count : -count;
}

export type DeadlineTone = "ok" | "warning" | "danger" | "neutral";
export interface DeadlineWords {
  text: string;
  tone: DeadlineTone;
}

/** A deadline in words: "vence el jueves 17 de diciembre — quedan 3 días hábiles". */
export function deadlineWords(
  due: string | null | undefined,
  opts: {
    paused?: boolean;
    met?: boolean;
    now?: Date;
    holidays?: ReadonlySet<string>;
    warningDays?: number;
  } = {},
): DeadlineWords {
  if (opts.paused) return { text: t.deadline.paused, tone: "neutral" };
  if (opts.met) return { text: t.deadline.met, tone: "ok" };
  if (!due) return { text: t.deadline.none, tone: "neutral" };
  const now = opts.now ?? new Date();
  const today = madridDay(now);
  const dueDay = /^\d{4}-\d{2}-\d{2}$/.test(due) ? due : madridDay(due);
  const label = formatLongDate(due, now);
  if (dueDay === today) return { text: t.deadline.dueToday(label), tone: "warning" };
  const n = workingDaysBetween(today, dueDay, opts.holidays);
  if (dueDay < today) {
    return { text: t.deadline.overdue(label, Math.max(1, -n)), tone: "danger" };
  }
  const tone = n <= (opts.warningDays ?? 3) ? "warning" : "ok";
  return { text: t.deadline.dueIn(label, n), tone };
}

/** Three separate inputs (day, month, year) to an ISO date, or null when not a real date. */
export function isoFromParts(day: string, month: string, year: string): string | null {
  const d = Number(day);
  const m = Number(month);
  const y = Number(year);
  if (!Number.isInteger(d) || !Number.isInteger(m) || !Number.isInteger(y)) return null;
  if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1) return null;
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCMonth() !== m - 1) return null;
  return date.toISOString().slice(0, 10);
}

const offsetFormat = new Intl.DateTimeFormat("en-US", {
  timeZone: TIME_ZONE,
  timeZoneName: "longOffset",
});

/** Midnight of a Madrid calendar day as an ISO instant with its offset (for range filters). */
export function madridMidnight(dayKey: string): string {
  const name =
    offsetFormat.formatToParts(fromDayKey(dayKey)).find((p) => p.type === "timeZoneName")?.value ??
    "GMT+01:00";
  const offset = name === "GMT" ? "+00:00" : name.replace("GMT", "");
  return `${dayKey}T00:00:00${offset}`;
}
