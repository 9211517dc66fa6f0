// Single sign-on (docs/authentication.md, "Single sign-on"): the sign-in page links to the
// server's `GET /v1/auth/oidc/login`, which sends the browser to the identity provider; the
// provider sends it back to the server's callback, which redirects to
// `/login#access_token=...&expires_at=...&return_to=...`. The token travels in the fragment, which
// the browser never sends to a server nor puts in a Referer; the page stores it as it stores a
// password sign-in's token and replaces the URL, so it leaves the history too.

export const SSO_LOGIN = "/v1/auth/oidc/login";
const HOME = "/dashboard";

/** A path of this web app, never another site's URL (`//host`, `/\host` or `https:` are not). */
export function safeReturnTo(value: string | null | undefined): string {
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.includes("\\")) return HOME;
  return value;
}

/** The link that starts single sign-on and comes back to `from`. */
export function ssoLoginHref(from: string): string {
  const target = safeReturnTo(from);
  return target === HOME ? SSO_LOGIN : `${SSO_LOGIN}?return_to=${encodeURIComponent(target)}`;
}

/** The token and the page to open that the server's callback put in the URL fragment, if any. */
export function parseSsoFragment(hash: string): { token: string; returnTo: string } | null {
  const params = new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash);
  const token = params.get("access_token");
  if (!token) return null;
  return { token, returnTo: safeReturnTo(params.get("return_to")) };
}
