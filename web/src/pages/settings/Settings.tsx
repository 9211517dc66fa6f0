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
  // A section the role does not open (typed or bookmarked): say so rather than show a 403. The
  // open section waits for the list, so it never asks for what the role cannot read.
  const atIndex = pathname.replace(/\/+$/, "") === "/settings";
  const closed = config.isSuccess && !atIndex && !links.some((link) => pathname.startsWith(link.to));
  return (
    <div className="settings">
      <nav aria-label="Settings" className="settings-nav">
        <p className="settings-nav-head">Settings</p>
        {config.isPending && <p aria-busy="true">Loading…</p>}
        <ErrorNote error={config.error} />
        <ul>
          {links.map((link) => <li key={link.id}><SectionLink link={link} /></li>)}
        </ul>
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
  return (
    <NavLink to={link.to}>
      <span className="settings-nav-title">{link.title}</span>
      <small>{link.description}</small>
    </NavLink>
  );
}
