import { Link, useNavigate } from "@tanstack/react-router";
import { lazy, type ReactNode, Suspense, useState } from "react";
import { logout } from "../lib/auth";
import { t } from "../lib/i18n";
import { useNotificationStream } from "../lib/live";
import { useMe, useUnreadCounts } from "../lib/queries";
import { LiveRegion } from "./LiveRegion";

const AssistantPanel = lazy(() => import("./AssistantPanel"));

function Count({ n, label }: { n: number; label: string }) {
  if (n <= 0) return null;
  return (
    <span className="badge">
      <span aria-hidden="true">{n}</span>
      <span className="visually-hidden">, {label}</span>
    </span>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const me = useMe();
  const counts = useUnreadCounts(true);
  const stream = useNotificationStream(true);
  const navigate = useNavigate();
  const [assistantOpen, setAssistantOpen] = useState(false);
  const [menuOpen, setMenuOpen] = useState(false);

  const links: Array<{ to: string; label: string; count?: number; countLabel?: string }> = [
    { to: "/", label: t.nav.home },
    { to: "/consultas", label: t.nav.consultations },
    { to: "/expedientes", label: t.nav.expedientes },
    { to: "/calendario", label: t.nav.calendar },
    {
      to: "/comunicados",
      label: t.nav.announcements,
      count: counts.announcements,
      countLabel: t.nav.unread(counts.announcements),
    },
    {
      to: "/notificaciones",
      label: t.nav.notifications,
      count: counts.notifications,
      countLabel: t.notifications.unreadBadge(counts.notifications),
    },
    { to: "/sugerencias", label: t.nav.suggestions },
    { to: "/formacion", label: t.nav.trainings },
    { to: "/plazos", label: t.nav.plazos },
    { to: "/perfil", label: t.nav.profile },
  ];

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        {t.skipToContent}
      </a>
      <header className="header">
        <div className="header__inner">
          <Link to="/" className="brand">
            <span className="brand__org">{t.org}</span>
            <span className="brand__office">{t.office}</span>
          </Link>
          <div className="header__tools">
            {me.data ? (
              <p className="header__user">
                {me.data.full_name}
                {me.data.municipality ? ` · ${me.data.municipality.name}` : ""}
              </p>
            ) : null}
            <button
              type="button"
              className="button button--inverse"
              aria-haspopup="dialog"
              onClick={() => setAssistantOpen(true)}
            >
              {t.assistant.open}
            </button>
            <button
              type="button"
              className="button button--inverse"
              onClick={async () => {
                await logout();
                await navigate({ to: "/login", search: { motivo: "salida" } });
              }}
            >
              {t.nav.logout}
            </button>
          </div>
        </div>
        <nav className="nav" aria-label={t.nav.label}>
          <button
            type="button"
            className="nav__toggle button button--inverse"
            aria-expanded={menuOpen}
            aria-controls="nav-list"
            onClick={() => setMenuOpen((o) => !o)}
          >
            {t.nav.menu}
          </button>
          <ul id="nav-list" className={`nav__list${menuOpen ? " nav__list--open" : ""}`}>
            {links.map((l) => (
              <li key={l.to}>
                <Link
                  to={l.to}
                  className="nav__link"
                  activeOptions={{ exact: l.to === "/" }}
                  activeProps={{ "aria-current": "page", className: "nav__link nav__link--active" }}
                  onClick={() => setMenuOpen(false)}
                >
                  {l.label}
                  {l.count !== undefined ? <Count n={l.count} label={l.countLabel ?? ""} /> : null}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      {stream === "retrying" ? (
        <p className="connection-banner">{t.notifications.reconnecting}</p>
      ) : null}
      <main id="main" tabIndex={-1} className="main">
        {children}
      </main>
      <footer className="footer">
        <p>{t.footer.rights}</p>
      </footer>
      <LiveRegion />
      {assistantOpen ? (
        <Suspense fallback={null}>
          <AssistantPanel onClose={() => setAssistantOpen(false)} />
        </Suspense>
      ) : null}
    </div>
  );
}
