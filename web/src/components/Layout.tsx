import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { NavLink, Outlet, useNavigate } from "react-router";
import { api, session, unwrap, type Schemas } from "../api/client";
import { applyTheme, storedTheme, type Theme } from "../theme";
import { ErrorNote } from "./common";
import { AdminLink } from "./admin/AdminLink";
import { ImpersonationBanner } from "./admin/ImpersonationBanner";

// The pages this app has: a navigation entry of /v1/ui/navigation that leads elsewhere in the app
// (a section whose page is not built yet) is left out rather than shown as a dead end.
const PAGES = ["/dashboard", "/runs", "/flows", "/builder", "/ai-studio", "/environments", "/schedules", "/sensors", "/secrets", "/usage", "/audit", "/settings", "/admin"];
const hasPage = (href: string) => href.startsWith("/v1") || PAGES.some((page) => href === page || href.startsWith(`${page}/`));

/** A signed-in user who belongs to no org yet creates one (they become its owner). */
function FirstOrg() {
  const queries = useQueryClient();
  const [name, setName] = useState("");
  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/orgs", { body: { org_name: name } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["orgs"] }), // the layout switches to it
  });
  return (
    <section aria-labelledby="first-org" className="first-org">
      <h1 id="first-org">Create your organization</h1>
      <p>Flows, runs, secrets and members belong to an organization. You will be its owner and can invite others.</p>
      <form className="stack" onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
        <label>
          Organization name
          <input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <ErrorNote error={create.error} />
        <div><button type="submit" className="button primary" disabled={create.isPending}>Create organization</button></div>
      </form>
    </section>
  );
}

type Org = Schemas["OrgListItem"];

function OrgSwitcher({ orgs, current, onSwitch }: { orgs: Org[]; current: string | null; onSwitch: (orgId: string) => void }) {
  return (
    <div className="org-switcher">
      <label htmlFor="org-switcher">Organization</label>
      <select id="org-switcher" value={current ?? ""} onChange={(e) => onSwitch(e.target.value)}>
        {orgs.map((org) => (
          <option key={org.org_id} value={org.org_id}>{org.org_name} ({org.role})</option>
        ))}
      </select>
    </div>
  );
}

function ThemeSwitch() {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  return (
    <div className="theme-switch">
      <label htmlFor="theme-switch">Theme</label>
      <select id="theme-switch" value={theme} onChange={(e) => { const t = e.target.value as Theme; setTheme(t); applyTheme(t); }}>
        <option value="system">System</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </div>
  );
}

export function Layout() {
  const navigate = useNavigate();
  const queries = useQueryClient();
  const orgs = useQuery({ queryKey: ["orgs"], queryFn: async () => unwrap(await api.GET("/v1/orgs")) });
  const orgless = orgs.data?.items.length === 0;
  const [orgId, setOrgId] = useState(session.orgId());
  // Another org: what was read in the one before is dropped and the page mounts again (its
  // queries run anew with the new X-Org-Id rather than showing the old org's data meanwhile).
  function switchOrg(next: string) {
    session.setOrg(next);
    queries.removeQueries({ predicate: (q) => q.queryKey[0] !== "orgs" });
    setOrgId(next);
  }
  useEffect(() => {
    // No org chosen yet, or one the caller is not in (another user's, from this browser): the
    // first one the caller belongs to.
    const items = orgs.data?.items ?? [];
    if (items.length && !items.some((org) => org.org_id === orgId)) switchOrg(items[0].org_id);
  });
  const nav = useQuery({
    queryKey: ["ui", "navigation", orgId],
    enabled: orgs.data !== undefined && !orgless,
    queryFn: async () => unwrap(await api.GET("/v1/ui/navigation")),
  });
  async function signOut() {
    await api.POST("/v1/auth/logout");
    session.signOut();
    queries.clear();
    navigate("/login");
  }
  return (
    <div className="shell">
      <a className="skip" href="#content">Skip to content</a>
      <ImpersonationBanner />
      <header className="topbar">
        <NavLink to="/dashboard" className="brand">Dagy</NavLink>
        <nav aria-label="Main">
          {nav.data?.main_nav.filter((item) => hasPage(item.href)).map((item) =>
            item.href.startsWith("/v1") ? <a key={item.nav_id} href={item.href}>{item.label}</a> : <NavLink key={item.nav_id} to={item.href}>{item.label}</NavLink>,
          )}
          <AdminLink />
        </nav>
        {orgs.data && !orgless && <OrgSwitcher orgs={orgs.data.items} current={orgId} onSwitch={switchOrg} />}
        <ThemeSwitch />
        <button type="button" className="button" onClick={signOut}>Sign out</button>
      </header>
      <div className="body">
        <nav aria-label="Sections" className="sidebar">
          <ul>
            {nav.data?.sidebar_nav.filter((item) => hasPage(item.href)).map((item) => (
              <li key={item.nav_id}><NavLink to={item.href}>{item.label}</NavLink></li>
            ))}
          </ul>
        </nav>
        {/* The keyed wrapper, not <main>, mounts again on another org: focus moved to the
            content by "Skip to content" stays there when the first org is chosen meanwhile. */}
        <main id="content" tabIndex={-1}>
          <div key={orgId ?? ""}>{orgless ? <FirstOrg /> : <Outlet />}</div>
        </main>
      </div>
      <footer>
        <nav aria-label="Footer">
          {nav.data?.footer_nav.map((item) => <a key={item.nav_id} href={item.href}>{item.label}</a>)}
        </nav>
      </footer>
    </div>
  );
}
