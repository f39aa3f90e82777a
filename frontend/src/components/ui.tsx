import { useQuery } from "@tanstack/react-query";
import { type ReactNode, useEffect, useRef, useState } from "react";
import { holidaysList } from "../client";
import { announce } from "../lib/announcer";
import { deadlineWords } from "../lib/format";
import { t } from "../lib/i18n";
import { unwrap } from "../lib/problem";

let firstPage = true;

/** The page's title and its single h1, focused after navigation (not on the first load, so
 * the skip link stays the first stop of the keyboard). */
export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = t.pageOf(title);
    if (firstPage) {
      firstPage = false;
      return;
    }
    if (document.activeElement === document.body || document.activeElement?.id === "main") {
      ref.current?.focus({ preventScroll: true });
    }
  }, [title]);
  return (
    <div className="page-header">
      <h1 ref={ref} tabIndex={-1}>
        {title}
      </h1>
      {children}
    </div>
  );
}

export function Loading() {
  return (
    <p className="muted" role="status">
      {t.loading}
    </p>
  );
}

export function LoadError({ onRetry }: { onRetry?: () => void }) {
  return (
    <div className="notice notice--error" role="alert">
      <p>{t.loadError}</p>
      {onRetry ? (
        <button type="button" className="button button--secondary" onClick={onRetry}>
          {t.retry}
        </button>
      ) : null}
    </div>
  );
}

export function Tag({ tone = "neutral", children }: { tone?: string; children: ReactNode }) {
  return <span className={`tag tag--${tone}`}>{children}</span>;
}

const statusTone: Record<string, string> = {
  received: "info",
  in_progress: "info",
  forwarded: "info",
  waiting_on_municipality: "warning",
  answered: "ok",
  closed: "neutral",
};

export function StatusTag({ status }: { status: string }) {
  return <Tag tone={statusTone[status] ?? "neutral"}>{t.consultationStatus[status] ?? status}</Tag>;
}

function useHolidays() {
  const year = new Date().getFullYear();
  const { data } = useQuery({
    queryKey: ["holidays", year],
    queryFn: async () => {
      const [a, b] = await Promise.all([
        unwrap(holidaysList({ query: { year } })),
        unwrap(holidaysList({ query: { year: year + 1 } })),
      ]);
      return new Set([...a, ...b].filter((h) => h.is_holiday).map((h) => h.day));
    },
    staleTime: 24 * 3600_000,
  });
  return data ?? new Set<string>();
}

/** A deadline in words, with colour only as a second signal. */
export function Deadline({
  due,
  paused,
  met,
}: {
  due: string | null | undefined;
  paused?: boolean;
  met?: boolean;
}) {
  const holidays = useHolidays();
  const words = deadlineWords(due, {
    holidays,
    ...(paused !== undefined ? { paused } : {}),
    ...(met !== undefined ? { met } : {}),
  });
  return <span className={`deadline deadline--${words.tone}`}>{words.text}</span>;
}

export function CopyField({ label, value, id }: { label: string; value: string; id: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="copy-field">
      <label htmlFor={id} className="field__label">
        {label}
      </label>
      <div className="copy-field__row">
        <input id={id} className="input input--mono" readOnly value={value} />
        <button
          type="button"
          className="button button--secondary"
          onClick={async () => {
            const timeout = new Promise<boolean>((resolve) => setTimeout(resolve, 1500, false));
            const copy = navigator.clipboard?.writeText(value).then(() => true) ?? false;
            const ok = await Promise.race([copy, timeout]).catch(() => false);
            if (!ok) {
              // Where the clipboard is refused, leave the text selected for Ctrl+C.
              (document.getElementById(id) as HTMLInputElement | null)?.select();
            }
            setCopied(ok);
            announce(ok ? t.copied : t.copySelected);
          }}
        >
          {t.copy}
          <span className="visually-hidden"> {label.toLowerCase()}</span>
        </button>
      </div>
      {copied ? <p className="field__hint">{t.copied}</p> : null}
    </div>
  );
}

export function Notice({
  tone = "info",
  children,
  focus,
}: {
  tone?: "info" | "success" | "error" | "warning";
  children: ReactNode;
  focus?: boolean;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (focus) ref.current?.focus();
  }, [focus]);
  return (
    <div
      ref={ref}
      tabIndex={focus ? -1 : undefined}
      className={`notice notice--${tone}`}
      role={tone === "error" ? "alert" : "status"}
    >
      {children}
    </div>
  );
}
