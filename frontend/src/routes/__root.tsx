import type { QueryClient } from "@tanstack/react-query";
import { createRootRouteWithContext, Link, Outlet } from "@tanstack/react-router";
import { PageHeader } from "../components/ui";
import { t } from "../lib/i18n";

function NotFound() {
  return (
    <main id="main" className="main" tabIndex={-1}>
      <PageHeader title={t.notFound} />
      <p>{t.notFoundBody}</p>
      <Link to="/">{t.goHome}</Link>
    </main>
  );
}

export const Route = createRootRouteWithContext<{ queryClient: QueryClient }>()({
  component: Outlet,
  notFoundComponent: NotFound,
});
