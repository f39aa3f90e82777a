import { useSyncExternalStore } from "react";
import { authLogout, authRefresh, authToken } from "../client";
import { client } from "../client/client.gen";
import { ApiError, type ProblemDocument } from "./problem";

// The access token lives in this module only: never in localStorage, sessionStorage or a
// cookie readable by scripts. The refresh token is an httpOnly cookie set by the API.

export type SessionState = "unknown" | "signed-in" | "signed-out" | "expired";

interface Session {
  state: SessionState;
  token: string | null;
  expiresAt: number;
}

const REFRESH_MARGIN_MS = 60_000;

let session: Session = { state: "unknown", token: null, expiresAt: 0 };
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<() => void>();

function set(next: Session) {
  session = next;
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export const getSession = () => session;
export const getAccessToken = () => session.token;
export const useSession = () => useSyncExternalStore(subscribe, getSession, getSession);
export const onSessionChange = subscribe;

function accept(token: string, expiresIn: number) {
  const expiresAt = Date.now() + expiresIn * 1000;
  set({ state: "signed-in", token, expiresAt });
  clearTimeout(refreshTimer);
  const delay = Math.max(expiresIn * 1000 - REFRESH_MARGIN_MS, 5_000);
  refreshTimer = setTimeout(() => void refreshSession(), delay);
}

function drop(state: SessionState) {
  clearTimeout(refreshTimer);
  set({ state, token: null, expiresAt: 0 });
}

/** Password login; the API keeps the refresh token in an httpOnly, SameSite cookie. */
export async function login(username: string, password: string): Promise<void> {
  const result = await authToken({
    body: { grant_type: "password", username, password },
    query: { refresh_transport: "cookie" },
  }).catch(() => ({ data: undefined, error: {}, response: undefined }));
  if (!result.data || !result.response?.ok) {
    throw new ApiError(result.response?.status ?? 0, (result.error ?? {}) as ProblemDocument);
  }
  accept(result.data.access_token, result.data.expires_in);
}

/** Exchanges the refresh cookie for a new access token; concurrent callers share one request. */
export function refreshSession(): Promise<boolean> {
  if (refreshing) return refreshing;
  const wasSignedIn = session.state === "signed-in";
  refreshing = authRefresh({})
    .then((result) => {
      if (result.data && result.response.ok) {
        accept(result.data.access_token, result.data.expires_in);
        return true;
      }
      drop(wasSignedIn ? "expired" : "signed-out");
      return false;
    })
    .catch(() => {
      // A network failure is not a logout: keep the state and let the next call retry.
      if (!wasSignedIn) drop("signed-out");
      return false;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export async function logout(): Promise<void> {
  try {
    await authLogout({});
  } finally {
    drop("signed-out");
  }
}

function isAuthEndpoint(url: string) {
  return url.includes("/api/v1/auth/");
}

/** fetch for the generated client: on 401, refresh once and retry with the new token. */
export async function authFetch(request: Request): Promise<Response> {
  const retry = request.clone();
  const response = await fetch(request);
  if (response.status !== 401 || isAuthEndpoint(request.url) || session.state !== "signed-in") {
    return response;
  }
  const refreshed = await refreshSession();
  if (!refreshed || !session.token) return response;
  retry.headers.set("Authorization", `Bearer ${session.token}`);
  return fetch(retry);
}

export function configureClient() {
  client.setConfig({
    baseUrl: "",
    credentials: "same-origin",
    auth: () => session.token ?? undefined,
    fetch: ((input: RequestInfo | URL, init?: RequestInit) =>
      authFetch(
        input instanceof Request && !init ? input : new Request(input, init),
      )) as typeof fetch,
  });
}
