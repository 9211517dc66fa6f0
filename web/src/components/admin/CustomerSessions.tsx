import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import { ConfirmButton, EmptyState, ErrorNote } from "../common";
import { when } from "../StatusBadge";

/** Members signed in right now; revoking ends every live session of one of them at once. */
export function CustomerSessions({ orgId }: { orgId: string }) {
  const queries = useQueryClient();
  const sessions = useQuery({
    queryKey: ["admin", "customer", orgId, "sessions"],
    queryFn: async () => unwrap(await api.GET("/v1/admin/customers/{org_id}/sessions", { params: { path: { org_id: orgId } } })),
  });
  return (
    <section aria-labelledby="sessions-title" className="admin-section">
      <h2 id="sessions-title">Active sessions</h2>
      <ErrorNote error={sessions.error} />
      {sessions.isPending && <p aria-busy="true">Loading sessions…</p>}
      {sessions.isSuccess && sessions.data.items.length === 0 && (
        <EmptyState title="Nobody is signed in">
          <p>Members appear here while they have a live login session. API keys are not sessions; the org's owners manage them.</p>
        </EmptyState>
      )}
      {sessions.isSuccess && sessions.data.items.length > 0 && (
        <table aria-labelledby="sessions-title">
          <thead>
            <tr>
              <th scope="col">Member</th><th scope="col">Last sign-in</th><th scope="col">Newest token issued</th>
              <th scope="col"><span className="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {sessions.data.items.map((s) => (
              <tr key={s.user_email}>
                <td>{s.user_email}</td>
                <td>{when(s.last_login_at)}</td>
                <td>{when(s.current_token_issued_at)}</td>
                <td>
                  <ConfirmButton
                    label={`Revoke sessions of ${s.user_email}`}
                    confirmLabel="Revoke sessions"
                    danger
                    question={<p>Sign <strong>{s.user_email}</strong> out everywhere? Their tokens stop working at once; they can sign in again.</p>}
                    onConfirm={async () => {
                      unwrap(
                        await api.DELETE("/v1/admin/customers/{org_id}/sessions/{user_email}", {
                          params: { path: { org_id: orgId, user_email: s.user_email } },
                        }),
                      );
                      await queries.invalidateQueries({ queryKey: ["admin", "customer", orgId] });
                    }}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
