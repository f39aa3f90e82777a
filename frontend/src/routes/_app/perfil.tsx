import { createFileRoute } from "@tanstack/react-router";
import { LoadError, Loading, PageHeader } from "../../components/ui";
import { t } from "../../lib/i18n";
import { useMe } from "../../lib/queries";

export const Route = createFileRoute("/_app/perfil")({ component: ProfilePage });

function ProfilePage() {
  const me = useMe();
  if (me.isPending) return <Loading />;
  if (me.isError) return <LoadError onRetry={() => me.refetch()} />;
  const m = me.data;
  return (
    <>
      <PageHeader title={t.profile.title} />
      <dl className="summary-list">
        <div>
          <dt>{t.profile.name}</dt>
          <dd>{m.full_name ?? t.none}</dd>
        </div>
        <div>
          <dt>{t.profile.email}</dt>
          <dd>{m.email ?? t.none}</dd>
        </div>
        <div>
          <dt>{t.profile.role}</dt>
          <dd>{t.profile.roles[m.role] ?? m.role}</dd>
        </div>
        <div>
          <dt>{t.profile.municipality}</dt>
          <dd>
            {m.municipality
              ? `${m.municipality.name}${m.municipality.code ? ` (${m.municipality.code})` : ""}`
              : t.none}
          </dd>
        </div>
      </dl>
      <h2>{t.profile.security}</h2>
      <p>{t.profile.securityBody}</p>
    </>
  );
}
