import { Link, NavLink, Outlet, useLocation } from "react-router";
import { EmptyState, ErrorNote } from "../../components/common";
import { settingsLinks, type SettingsLink } from "../../lib/settings";
import { useSettingsConfig } from "./queries";
import "./settings.css";

/** /settings: the sections the caller's role opens (`GET /v1/ui/settings`) beside the open one. */
export function Settings() {
  const config = useSettingsConfig();
  const { pathname } = useLocation();
  const links = config.data ? settingsLinks(config.data.sections) : [];
  const pages = links.filter((link) => link.kind === "page");
  const references = links.filter((link) => link.kind === "reference");
  // A section the role does not open (typed or bookmarked): say so rather than show a 403. The
  // open section waits for the list, so it never asks for what the role cannot read.
  const atIndex = pathname.replace(/\/+$/, "") === "/settings";
  const closed = config.isSuccess && !atIndex && !pages.some((link) => pathname.startsWith(link.to));
  return (
    <div className="settings">
      <nav aria-label="Settings" className="settings-nav">
        <p className="settings-nav-head">Settings</p>
        {config.isPending && <p aria-busy="true">Loading…</p>}
        <ErrorNote error={config.error} />
        <ul>
          {pages.map((link) => <li key={link.id}><SectionLink link={link} /></li>)}
        </ul>
        {references.length > 0 && (
          <>
            <p id="settings-api-only" className="settings-nav-head">In the API reference</p>
            <ul aria-labelledby="settings-api-only">
              {references.map((link) => <li key={link.id}><SectionLink link={link} /></li>)}
            </ul>
          </>
        )}
      </nav>
      <div className="settings-page">
        {config.isPending ? null : closed ? (
          <EmptyState title="This section is not open to your role">
            <p>Ask an owner or admin of the organization for a role that includes it, or go back to <Link to="/settings/profile">your profile</Link>.</p>
          </EmptyState>
        ) : (
          <Outlet />
        )}
      </div>
    </div>
  );
}

function SectionLink({ link }: { link: SettingsLink }) {
  const body = (
    <>
      <span className="settings-nav-title">{link.title}</span>
      <small>{link.description}</small>
    </>
  );
  return link.kind === "page" ? <NavLink to={link.to}>{body}</NavLink> : <a href={link.href}>{body}</a>;
}
