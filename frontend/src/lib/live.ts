import { type QueryClient, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { notificationsList, notificationsStreamTicket } from "../client";
import { announce } from "./announcer";
import { t } from "./i18n";
import { unwrap } from "./problem";

const LONG_DISCONNECTION_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;

export interface LiveNotification {
  id: number;
  kind: string;
  title: string;
  entity_type: string;
  entity_id: string;
  link: string | null;
}

function refreshViews(queryClient: QueryClient, n: LiveNotification | null) {
  if (n === null) {
    void queryClient.invalidateQueries();
    return;
  }
  void queryClient.invalidateQueries({ queryKey: ["notifications"] });
  void queryClient.invalidateQueries({ queryKey: ["unread"] });
  if (n.entity_type === "consultation") {
    void queryClient.invalidateQueries({ queryKey: ["consultation", n.entity_id] });
    void queryClient.invalidateQueries({ queryKey: ["consultations"] });
  } else {
    void queryClient.invalidateQueries({ refetchType: "active" });
  }
}

/**
 * The live notification stream through the browser's EventSource, on the same origin.
 * Each connection uses a fresh single-use ticket; after a drop it reconnects from the last
 * event's resume token (the `since` equivalent of Last-Event-ID: it also covers notifications
 * committed out of order meanwhile) and, after a long disconnection, refetches every view.
 */
export function useNotificationStream(enabled: boolean): "connecting" | "open" | "retrying" {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<"connecting" | "open" | "retrying">("connecting");

  useEffect(() => {
    if (!enabled || typeof EventSource === "undefined") return;
    let source: EventSource | null = null;
    let stopped = false;
    // The first page's newest id, then the last event's opaque resume token.
    let resumeFrom: string | null = null;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let lostAt: number | null = null;

    async function connect() {
      if (stopped) return;
      try {
        if (resumeFrom === null) {
          const page = await unwrap(notificationsList({ query: { limit: 1 } }));
          resumeFrom = String(page.items[0]?.id ?? 0);
        }
        const { ticket } = await unwrap(notificationsStreamTicket());
        if (stopped) return;
        const params = new URLSearchParams({ ticket, since: resumeFrom });
        source = new EventSource(`/api/v1/notifications/stream?${params}`);
      } catch {
        scheduleRetry();
        return;
      }
      source.onopen = () => {
        attempt = 0;
        setStatus("open");
        if (lostAt !== null && Date.now() - lostAt > LONG_DISCONNECTION_MS) {
          refreshViews(queryClient, null);
        }
        lostAt = null;
      };
      source.addEventListener("notification", (event) => {
        const message = event as MessageEvent<string>;
        if (message.lastEventId) resumeFrom = message.lastEventId;
        const n = JSON.parse(message.data) as LiveNotification;
        refreshViews(queryClient, n);
        announce(t.notifications.live(n.title));
      });
      source.onerror = () => {
        // The ticket is spent: the browser's own retry would be refused, so reconnect here.
        source?.close();
        source = null;
        lostAt ??= Date.now();
        scheduleRetry();
      };
    }

    function scheduleRetry() {
      if (stopped) return;
      setStatus("retrying");
      attempt += 1;
      const delay = Math.min(1000 * 2 ** (attempt - 1), MAX_BACKOFF_MS);
      timer = setTimeout(() => void connect(), delay);
    }

    void connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      source?.close();
    };
  }, [enabled, queryClient]);

  return status;
}
