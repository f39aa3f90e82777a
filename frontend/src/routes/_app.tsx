import { createFileRoute, Outlet, redirect } from "@tanstack/react-router";
import { Layout } from "../components/Layout";
import { Notice } from "../components/ui";
import { getSession, refreshSession } from "../lib/auth";
import { t } from "../lib/i18n";
import { useMe } from "../lib/queries";

export const Route = createFileRoute("/_app")({
  beforeLoad: async ({ location }) => {
    if (getSession().state === "signed-in") return;
    const ok = await refreshSession();
    if (!ok) {
      const expired = getSession().state === "expired";
      throw redirect({
        to: "/login",
        search: { redirect: location.href, ...(expired ? { motivo: "caducada" as const } : {}) },
      });
    }
  },
  component: AppShell,
});

function AppShell() {
  const me = useMe();
  const allowed = !me.data || me.data.role === "municipal_user" || me.data.role === "admin";
  return (
    <Layout>
      {allowed ? <Outlet /> : <Notice tone="warning">{t.login.onlyMunicipal}</Notice>}
    </Layout>
  );
}
