import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { useEffect } from "react";
import { announcementsGet, announcementsMarkRead } from "../../../client";
import { LoadError, Loading, PageHeader } from "../../../components/ui";
import { formatLongDate } from "../../../lib/format";
import { t } from "../../../lib/i18n";
import { unwrap } from "../../../lib/problem";

export const Route = createFileRoute("/_app/comunicados/$id")({ component: AnnouncementPage });

function AnnouncementPage() {
  const { id } = Route.useParams();
  const queryClient = useQueryClient();
  const a = useQuery({
    queryKey: ["announcement", id],
    queryFn: () => unwrap(announcementsGet({ path: { announcement_id: id } })),
  });
  const unread = a.data && !a.data.read_at;
  useEffect(() => {
    if (!unread) return;
    void unwrap(announcementsMarkRead({ path: { announcement_id: id } }))
      .then(() => {
        void queryClient.invalidateQueries({ queryKey: ["unread", "announcements"] });
        void queryClient.invalidateQueries({ queryKey: ["announcements"] });
      })
      .catch(() => undefined);
  }, [unread, id, queryClient]);
  if (a.isPending) return <Loading />;
  if (a.isError) return <LoadError onRetry={() => a.refetch()} />;
  return (
    <>
      <p>
        <Link to="/comunicados">← {t.announcements.title}</Link>
      </p>
      <PageHeader title={a.data.title}>
        {a.data.published_at ? (
          <p className="muted">{t.announcements.published(formatLongDate(a.data.published_at))}</p>
        ) : null}
      </PageHeader>
      <div className="prose">
        {a.data.body.split(/\n{2,}/).map((para) => (
          <p key={para.slice(0, 40)}>{para}</p>
        ))}
      </div>
    </>
  );
}
