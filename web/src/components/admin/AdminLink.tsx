import { useQuery } from "@tanstack/react-query";
import { NavLink } from "react-router";
import { meQuery } from "../../lib/admin";

/** The header's link to the super-admin console, for super admins only (the console's routes
 * refuse everyone else anyway; this keeps the link from being a dead end). */
export function AdminLink() {
  const me = useQuery(meQuery);
  if (!me.data?.super_admin) return null;
  return <NavLink to="/admin">Admin</NavLink>;
}
