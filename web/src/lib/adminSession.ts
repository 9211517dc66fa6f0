// Impersonation: a super admin acts in a customer's org as its owner by sending
// `X-Impersonate-Org: <org_id>` on each request (docs/admin.md); the server keeps no
// impersonation session, so the browser does. The record lives in sessionStorage: it is this
// tab's only and ends with the tab. The super admin's token (client.ts) is never touched; the org
// in force becomes the customer's (so pages naming it in `/orgs/{org_id}/...` name the right one,
// and GET /v1/orgs lists that org alone while impersonating) and the super admin's own org is kept
// in the record, to go back to.
import { api, session } from "../api/client";

const KEY = "dagy.impersonation";
export const IMPERSONATE_HEADER = "X-Impersonate-Org";

export type Impersonation = {
  orgId: string;
  orgName: string;
  /** The token it was started under: another sign-in in this tab must not inherit it. */
  token: string;
  /** The super admin's own org in force before, restored on stop (null: none was chosen). */
  returnOrgId: string | null;
};

/** The stored record when it is well formed and was started under `token`, else null. */
export function parseImpersonation(raw: string | null, token: string | null): Impersonation | null {
  if (!raw || !token) return null;
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== "object" || value === null) return null;
    const { orgId, orgName, token: startedUnder, returnOrgId } = value as Record<string, unknown>;
    if (typeof orgId !== "string" || !orgId || typeof orgName !== "string" || startedUnder !== token) return null;
    return { orgId, orgName, token: startedUnder, returnOrgId: typeof returnOrgId === "string" && returnOrgId ? returnOrgId : null };
  } catch {
    return null;
  }
}

/** Whether a request to `pathname` acts in the impersonated org. The console's own `/v1/admin/*`
 * calls stay the super admin's (not audited as the customer's owner), and signing in or out is
 * about the super admin's own session. */
export function actsInImpersonatedOrg(pathname: string): boolean {
  return !pathname.startsWith("/v1/admin/") && !pathname.startsWith("/v1/auth/");
}

/** The impersonation in force in this tab, if any; a record left by another sign-in is dropped. */
export function impersonation(): Impersonation | null {
  const raw = sessionStorage.getItem(KEY);
  const found = parseImpersonation(raw, session.token());
  if (raw && !found) sessionStorage.removeItem(KEY);
  return found;
}

export function startImpersonation(orgId: string, orgName: string): void {
  const token = session.token();
  if (!token) return;
  // Started again from an impersonated tab: the super admin's own org stays the one to go back to.
  const returnOrgId = impersonation()?.returnOrgId ?? session.orgId();
  sessionStorage.setItem(KEY, JSON.stringify({ orgId, orgName, token, returnOrgId } satisfies Impersonation));
  session.setOrg(orgId);
}

export function stopImpersonation(): void {
  const current = impersonation();
  sessionStorage.removeItem(KEY);
  if (current?.returnOrgId) session.setOrg(current.returnOrgId);
}

// Registered once, when the layout first imports this module (before any page's request).
api.use({
  onRequest({ request }) {
    const current = impersonation();
    if (!current) return request;
    if (actsInImpersonatedOrg(new URL(request.url, window.location.href).pathname)) {
      request.headers.set(IMPERSONATE_HEADER, current.orgId);
    } else if (current.returnOrgId) {
      // The console's calls are the super admin's own: their org, not one they are no member of
      // (which the API refuses in X-Org-Id).
      request.headers.set("X-Org-Id", current.returnOrgId);
    } else {
      request.headers.delete("X-Org-Id");
    }
    return request;
  },
});
