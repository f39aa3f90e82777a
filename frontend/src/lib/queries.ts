import { useQuery } from "@tanstack/react-query";
import { announcementsUnreadCount, authMe, notificationsUnreadCount } from "../client";
import { unwrap } from "./problem";

export const meQuery = { queryKey: ["me"], queryFn: () => unwrap(authMe()), staleTime: 300_000 };

export function useMe() {
  return useQuery(meQuery);
}

export function useUnreadCounts(enabled: boolean) {
  const notifications = useQuery({
    queryKey: ["unread", "notifications"],
    queryFn: () => unwrap(notificationsUnreadCount()),
    enabled,
  });
  const announcements = useQuery({
    queryKey: ["unread", "announcements"],
    queryFn: () => unwrap(announcementsUnreadCount()),
    enabled,
  });
  return {
    notifications: notifications.data?.unread ?? 0,
    announcements: announcements.data?.unread ?? 0,
  };
}
