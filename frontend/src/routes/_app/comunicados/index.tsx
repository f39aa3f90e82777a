import { useQuery } from "@tanstack/react-query";
import { createFileRoute, Link, useNavigate } from "@tanstack/react-router";
import { announcementsList } from "../../../client";
import { LoadError, Loading, PageHeader, Tag } from "../../../components/ui";
import { formatLongDate } from "../../../lib/format";
import { t } from "../../../lib/i18n";
import { unwrap } from "../../../lib/problem";

export const Route = createFileRoute("/_app/comunicados/")({
  validateSearch: (s: Record<string, unknown>): { sinLeer?: boolean } =>
    s.sinLeer === true || s.sinLeer === "true" ? { sinLeer: true } : {},
  component: AnnouncementsPage,
});

function AnnouncementsPage() {
  const { sinLeer } = Route.useSearch();
  const navigate = useNavigate({ from: Route.fullPath });
  const list = useQuery({
    queryKey: ["announcements", "list", Boolean(sinLeer)],
    queryFn: async () =>
      (
        await unwrap(
          announcementsList({ query: { limit: 100, ...(sinLeer ? { unread_only: true } : {}) } }),
        )
      ).items,
  });
  return (
    <>
      <PageHeader title={t.announcements.title} />
      <div className="checkbox">
        <input
          id="ann-unread"
          type="checkbox"
          checked={Boolean(sinLeer)}
          onChange={(e) => navigate({ search: e.target.checked ? { sinLeer: true } : {} })}
        />
        <label htmlFor="ann-unread">{t.announcements.unreadOnly}</label>
      </div>
      {list.isPending ? <Loading /> : null}
      {list.isError ? <LoadError onRetry={() => list.refetch()} /> : null}
      {list.data?.length === 0 ? <p role="status">{t.announcements.empty}</p> : null}
      <ul className="cards">
        {(list.data ?? []).map((a) => (
          <li key={a.id} className={`card${a.read_at ? "" : " card--unread"}`}>
            <h2 className="h3">
              <Link to="/comunicados/$id" params={{ id: a.id }}>
                {a.title}
              </Link>
            </h2>
            <p>
              {a.read_at ? (
                <Tag>{t.announcements.read}</Tag>
              ) : (
                <Tag tone="info">{t.announcements.unread}</Tag>
              )}{" "}
              {a.published_at ? (
                <span className="muted">
                  {t.announcements.published(formatLongDate(a.published_at))}
                </span>
              ) : null}
            </p>
          </li>
        ))}
      </ul>
    </>
  );
}
