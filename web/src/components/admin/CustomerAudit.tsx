import { useInfiniteQuery } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import { EmptyState, ErrorNote } from "../common";
import { when } from "../StatusBadge";

const PAGE = 20;

/** The org's audit trail, newest first; a super admin's impersonated changes are marked. */
export function CustomerAudit({ orgId }: { orgId: string }) {
  const audit = useInfiniteQuery({
    queryKey: ["admin", "customer", orgId, "audit"],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(await api.GET("/v1/admin/customers/{org_id}/audit", { params: { path: { org_id: orgId }, query: { limit: PAGE, next_token: pageParam } } })),
    getNextPageParam: (page) => page.next_token ?? undefined,
  });
  const items = audit.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <section aria-labelledby="audit-title" className="admin-section">
      <h2 id="audit-title">Recent audit</h2>
      <ErrorNote error={audit.error} />
      {audit.isPending && <p aria-busy="true">Loading the audit log…</p>}
      {audit.isSuccess && items.length === 0 && (
        <EmptyState title="Nothing recorded yet">
          <p>Changes in the org (and yours to it, from this console) are listed here as they happen.</p>
        </EmptyState>
      )}
      {items.length > 0 && (
        <table aria-labelledby="audit-title">
          <thead>
            <tr><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Resource</th><th scope="col">Changes</th></tr>
          </thead>
          <tbody>
            {items.map((entry, i) => {
              const { impersonating, ...changes } = entry.metadata;
              return (
                <tr key={`${entry.event_time}-${i}`}>
                  <td>{when(entry.event_time)}</td>
                  <td>
                    {entry.actor_email ?? "—"}
                    {impersonating === true && <> <span className="badge">impersonating</span></>}
                  </td>
                  <td>{entry.action}</td>
                  <td>{entry.resource_type} <code>{entry.resource_id}</code></td>
                  <td className="admin-changes">{Object.keys(changes).length ? JSON.stringify(changes) : "—"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {audit.hasNextPage && (
        <button type="button" className="button" onClick={() => void audit.fetchNextPage()} disabled={audit.isFetchingNextPage}>
          Load more
        </button>
      )}
    </section>
  );
}
