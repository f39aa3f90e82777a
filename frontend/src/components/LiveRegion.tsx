import { useAnnouncement } from "../lib/announcer";

/** The application's polite live region: new notifications, saved forms, copied codes. */
export function LiveRegion() {
  const message = useAnnouncement();
  return (
    <div className="visually-hidden" role="status" aria-live="polite" data-testid="live-region">
      {message}
    </div>
  );
}
