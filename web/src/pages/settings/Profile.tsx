import { useQuery } from "@tanstack/react-query";
import { useSyncExternalStore } from "react";
import { api, session, unwrap } from "../../api/client";
import { EmptyState, ErrorNote } from "../../components/common";
import { when } from "../../components/StatusBadge";
import { storedTheme } from "../../theme";
import { useSettingsConfig } from "./queries";

const SIGN_IN_MODES: Record<string, string> = { email: "Email only", password: "Email and password", oidc: "Single sign-on (OIDC)" };
const THEMES = { system: "Same as the system", light: "Light", dark: "Dark" };

/** The top bar's theme menu sets <html data-theme> (theme.ts): follow it while this page is open. */
function subscribeToTheme(changed: () => void) {
  const observer = new MutationObserver(changed);
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  return () => observer.disconnect();
}
const themeSnapshot = () => `${storedTheme()} ${document.documentElement.dataset.theme ?? ""}`;

export function Profile() {
  const config = useSettingsConfig();
  const me = useQuery({ queryKey: ["users-me", session.orgId()], queryFn: async () => unwrap(await api.GET("/v1/users/me")) });
  const orgs = useQuery({ queryKey: ["orgs"], queryFn: async () => unwrap(await api.GET("/v1/orgs")) });
  const [theme, shown] = useSyncExternalStore(subscribeToTheme, themeSnapshot).split(" ");
  const prefs = config.data?.preferences;
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return (
    <section aria-labelledby="profile-title">
      <h1 id="profile-title">Profile</h1>
      {(config.isPending || me.isPending) && <p aria-busy="true">Loading…</p>}
      <ErrorNote error={config.error ?? me.error} />
      {prefs && me.data && (
        <dl className="facts">
          <dt>Email</dt>
          <dd>{me.data.user_email}</dd>
          {me.data.super_admin && (
            <>
              <dt>Platform</dt>
              <dd>Super admin of this server</dd>
            </>
          )}
          <dt>Organization in use</dt>
          <dd>{prefs.org_name ? <>{prefs.org_name} <small><code>{prefs.org_id}</code></small></> : "None"}</dd>
          <dt>Your role there</dt>
          <dd>{prefs.role ?? "—"}</dd>
          <dt>Sign-in</dt>
          <dd>{SIGN_IN_MODES[prefs.auth_mode] ?? prefs.auth_mode}</dd>
          <dt>Times</dt>
          <dd>Shown in your browser's time zone ({browserZone}); the server keeps them in {prefs.timezone}.</dd>
          <dt>Theme</dt>
          <dd>
            {THEMES[theme as keyof typeof THEMES] ?? theme}
            {theme === "system" && shown && ` (${shown} now)`}. Change it with the Theme menu in the top bar.
          </dd>
        </dl>
      )}

      <h2 id="orgs-title">Your organizations</h2>
      <ErrorNote error={orgs.error} />
      {orgs.data?.items.length === 0 && (
        <EmptyState title="You are not in any organization yet">
          <p>
            Ask an owner or admin to add you, or create one: <code>POST /v1/orgs {"{"}"org_name": "My team"{"}"}</code> (see the{" "}
            <a href="/v1/docs#/Organizations%20%26%20Team">API reference</a>). You become its owner.
          </p>
        </EmptyState>
      )}
      {orgs.data && orgs.data.items.length > 0 && (
        <table aria-labelledby="orgs-title">
          <thead>
            <tr><th scope="col">Organization</th><th scope="col">Your role</th><th scope="col">Plan</th><th scope="col">Created</th></tr>
          </thead>
          <tbody>
            {orgs.data.items.map((org) => (
              <tr key={org.org_id} aria-current={org.org_id === prefs?.org_id ? "true" : undefined}>
                <td>
                  {org.org_name} {org.org_id === prefs?.org_id && <span className="badge">in use</span>}
                  <br /><small><code>{org.org_id}</code></small>
                </td>
                <td>{org.role}</td>
                <td>{org.plan}</td>
                <td>{when(org.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {orgs.data && orgs.data.items.length > 1 && <p className="hint">Switch organization with the Organization menu in the top bar.</p>}
    </section>
  );
}
