import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import { EmptyState, ErrorNote } from "../common";
import { when } from "../StatusBadge";

/** Who is in the org, with their role and whether they accepted their invitation. */
export function CustomerMembers({ orgId }: { orgId: string }) {
  const members = useQuery({
    queryKey: ["admin", "customer", orgId, "members"],
    queryFn: async () => unwrap(await api.GET("/v1/admin/customers/{org_id}/members", { params: { path: { org_id: orgId } } })),
  });
  return (
    <section aria-labelledby="members-title" className="admin-section">
      <h2 id="members-title">Members</h2>
      <ErrorNote error={members.error} />
      {members.isPending && <p aria-busy="true">Loading members…</p>}
      {members.isSuccess && members.data.items.length === 0 && (
        <EmptyState title="No members">
          <p>An organization without members can only be reached by super admins (impersonation).</p>
        </EmptyState>
      )}
      {members.isSuccess && members.data.items.length > 0 && (
        <table aria-labelledby="members-title">
          <thead>
            <tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Joined</th></tr>
          </thead>
          <tbody>
            {members.data.items.map((m) => (
              <tr key={m.user_email}><td>{m.user_email}</td><td>{m.role}</td><td>{m.status}</td><td>{when(m.joined_at)}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
