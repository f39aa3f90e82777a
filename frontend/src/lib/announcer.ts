import { useSyncExternalStore } from "react";

// One polite live region for the whole application (new notifications, saved forms).
let message = "";
const listeners = new Set<() => void>();

export function announce(text: string) {
  // Clearing first makes screen readers repeat an identical message.
  message = "";
  for (const l of listeners) l();
  setTimeout(() => {
    message = text;
    for (const l of listeners) l();
  }, 50);
}

export function useAnnouncement() {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => message,
    () => message,
  );
}
