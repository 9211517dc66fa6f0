import { useQuery } from "@tanstack/react-query";
import { NavLink, Route, Routes, useLocation } from "react-router";
import { EmptyState, ErrorNote } from "../../components/common";
import { meQuery } from "../../lib/admin";
import { NotFound } from "../NotFound";
import { CustomerDetail } from "./CustomerDetail";
import { Customers } from "./Customers";
import { Exceptions } from "./Exceptions";
import "../../components/admin/admin.css";

/** The super-admin console (`/admin/*`): customers, one customer, exception traces. Anyone else
 * is told it is not for them (every `/v1/admin/*` route would answer them 403 anyway). */
export function Admin() {
  const me = useQuery(meQuery);
  const { pathname } = useLocation();
  if (me.isPending) return <p aria-busy="true">Loading…</p>;
  if (me.isError) return <ErrorNote error={me.error} />;
  if (!me.data.super_admin) {
    return (
      <section aria-labelledby="admin-title">
        <h1 id="admin-title">Admin console</h1>
        <EmptyState title="The admin console is not available to you">
          <p>
            It is for the super admins who run this Dagy installation (the emails in <code>DAGY_SUPERADMIN_EMAILS</code>). To manage your
            own organization, open <NavLink to="/settings">Settings</NavLink>.
          </p>
        </EmptyState>
      </section>
    );
  }
  return (
    <div className="admin">
      <nav aria-label="Admin sections" className="admin-tabs">
        {/* Current on the list and on one customer's page, not on the exceptions page. */}
        <NavLink to="/admin" end className={({ isActive }) => (isActive || pathname.startsWith("/admin/customers/") ? "active" : "")}>
          Customers
        </NavLink>
        <NavLink to="/admin/exceptions">Exceptions</NavLink>
      </nav>
      <Routes>
        <Route index element={<Customers />} />
        <Route path="customers/:orgId" element={<CustomerDetail />} />
        <Route path="exceptions" element={<Exceptions />} />
        <Route path="*" element={<NotFound />} />
      </Routes>
    </div>
  );
}
