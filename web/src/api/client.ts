// The typed API client: openapi-fetch over the schema openapi-typescript generated from
// `/v1/openapi.json` (`npm run gen:api`). The session token and the org in force live in
// localStorage; every request carries them, a 401 signs the browser out.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

const TOKEN = "dagy.token";
const ORG = "dagy.org";

export const session = {
  token: () => localStorage.getItem(TOKEN),
  orgId: () => localStorage.getItem(ORG),
  signIn(token: string) {
    localStorage.setItem(TOKEN, token);
  },
  setOrg(orgId: string) {
    localStorage.setItem(ORG, orgId);
  },
  signOut() {
    localStorage.removeItem(TOKEN);
    localStorage.removeItem(ORG);
  },
};

const auth: Middleware = {
  onRequest({ request }) {
    const token = session.token();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    const org = session.orgId();
    if (org) request.headers.set("X-Org-Id", org);
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !request.url.endsWith("/v1/auth/login") && session.token()) {
      session.signOut();
      window.location.assign("/login");
    }
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "" });
api.use(auth);

/** The error body every failing route answers: `{error, message, details}`. */
export type ApiError = { error: string; message: string; details?: Record<string, unknown> };

export class RequestFailed extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiError | undefined,
  ) {
    super(body?.message ?? `Request failed (${status})`);
  }
}

/** The data of an openapi-fetch answer, or a thrown `RequestFailed` (for TanStack Query). A
 * success without a body (204 of a DELETE) is `undefined`. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (!result.response.ok) throw new RequestFailed(result.response.status, result.error as ApiError);
  return result.data as T;
}

/** TanStack Query's retry rule: a request the server refused (4xx) is not asked again. */
export function retryTransient(failures: number, error: unknown): boolean {
  if (error instanceof RequestFailed && error.status >= 400 && error.status < 500) return false;
  return failures < 1;
}
