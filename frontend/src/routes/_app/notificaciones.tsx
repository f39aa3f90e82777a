import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { type FormEvent, useEffect, useState } from "react";
import {
  type NotificationPublic,
  notificationsList,
  notificationsMarkAllRead,
  notificationsMarkRead,
  notificationsPreferencesGet,
  notificationsPreferencesSet,
  type PreferenceItem,
} from "../../client";
import { LoadError, Loading, Notice, PageHeader } from "../../components/ui";
import { useAction } from "../../lib/action";
import { announce } from "../../lib/announcer";
import { formatDateTime } from "../../lib/format";
import { t } from "../../lib/i18n";
import { failureMessage, unwrap } from "../../lib/problem";

export const Route = createFileRoute("/_app/notificaciones")({ component: NotificationsPage });

/** Where a notification leads inside the application. */
function target(n: NotificationPublic): { to: string; params?: Record<string, string> } | null {
  const routes: Record<string, string> = {
    consultation: "/consultas/$id",
    expediente: "/expedientes/$id",
    announcement: "/comunicados/$id",
    calendar_entry: "/calendario/$id",
    event: "/calendario/$id",
  };
  const to = routes[n.entity_type];
  return to ? { to, params: { id: n.entity_id } } : null;
}

function NotificationsPage() {
  const queryClient = useQueryClient();
  const list = useQuery({
    queryKey: ["notifications", "list"],
    queryFn: async () => (await unwrap(notificationsList({ query: { limit: 100 } }))).items,
  });
  const marking = useAction();
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["notifications"] });
    void queryClient.invalidateQueries({ queryKey: ["unread"] });
  };
  async function mark(request: () => Promise<unknown>, success?: string) {
    await marking.run(request, success);
    refresh();
  }
  return (
    <>
      <PageHeader title={t.notifications.title} />
      <div className="button-row">
        <button
          type="button"
          className="button button--secondary"
          onClick={() =>
            void mark(() => unwrap(notificationsMarkAllRead()), t.notifications.allRead)
          }
        >
          {t.notifications.markAllRead}
        </button>
      </div>
      {marking.failure ? <Notice tone="error">{marking.failure}</Notice> : null}
      {list.isPending ? <Loading /> : null}
      {list.isError ? <LoadError onRetry={() => list.refetch()} /> : null}
      {list.data?.length === 0 ? <p role="status">{t.notifications.empty}</p> : null}
      <ul className="cards" data-testid="notifications">
        {(list.data ?? []).map((n) => {
          const to = target(n);
          return (
            <li key={n.id} className={`card${n.read_at ? "" : " card--unread"}`}>
              <h2 className="h3">
                {to ? (
                  <Link to={to.to} params={to.params}>
                    {n.title}
                  </Link>
                ) : (
                  n.title
                )}
              </h2>
              <p className="muted">
                {t.notifications.kinds[n.kind] ?? n.kind} · {formatDateTime(n.occurred_at)}
                {n.read_at ? "" : ` · ${t.announcements.unread}`}
              </p>
              <p>{n.body}</p>
              {n.read_at ? null : (
                <button
                  type="button"
                  className="button button--link"
                  onClick={() =>
                    void mark(() =>
                      unwrap(notificationsMarkRead({ path: { notification_id: n.id } })),
                    )
                  }
                >
                  {t.notifications.markRead}
                  <span className="visually-hidden">: {n.title}</span>
                </button>
              )}
            </li>
          );
        })}
      </ul>
      <Preferences />
    </>
  );
}

function Preferences() {
  const prefs = useQuery({
    queryKey: ["notifications", "preferences"],
    queryFn: async () => (await unwrap(notificationsPreferencesGet())).items,
  });
  const [items, setItems] = useState<PreferenceItem[]>([]);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (prefs.data) setItems(prefs.data);
  }, [prefs.data]);

  async function save(e: FormEvent) {
    e.preventDefault();
    setSaved(false);
    setError(undefined);
    try {
      await unwrap(notificationsPreferencesSet({ body: items }));
      setSaved(true);
      announce(t.notifications.prefSaved);
    } catch (error) {
      setError(failureMessage(error));
    }
  }

  return (
    <section aria-labelledby="prefs-title" className="panel">
      <h2 id="prefs-title">{t.notifications.preferences}</h2>
      {prefs.isPending ? <Loading /> : null}
      <form onSubmit={save} noValidate>
        {saved ? <Notice tone="success">{t.notifications.prefSaved}</Notice> : null}
        {error ? <Notice tone="error">{error}</Notice> : null}
        {items.map((item, i) => (
          <fieldset key={item.kind} className="field">
            <legend className="field__label">
              {t.notifications.kinds[item.kind] ?? item.kind}
            </legend>
            {(["in_app", "email"] as const).map((channel) => (
              <div className="checkbox" key={channel}>
                <input
                  id={`pref-${i}-${channel}`}
                  type="checkbox"
                  checked={item[channel] ?? true}
                  onChange={(e) =>
                    setItems((prev) =>
                      prev.map((x, j) => (j === i ? { ...x, [channel]: e.target.checked } : x)),
                    )
                  }
                />
                <label htmlFor={`pref-${i}-${channel}`}>
                  {channel === "in_app" ? t.notifications.prefInApp : t.notifications.prefEmail}
                </label>
              </div>
            ))}
          </fieldset>
        ))}
        <button type="submit" className="button">
          {t.notifications.prefSave}
        </button>
      </form>
    </section>
  );
}
