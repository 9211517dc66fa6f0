import { useInfiniteQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, unwrap } from "../../api/client";
import { when } from "../StatusBadge";
import { ErrorNote } from "../common";
import { alertKeys } from "./queries";

/** A rule's messages for real run events (`GET /v1/alert-rules/{id}/deliveries`), newest first:
 * each one's channel, status, attempts and why the last attempt failed. Refreshed while open, as
 * pending ones are retried. */
export function Deliveries({ ruleId, ruleName, channelName }: { ruleId: string; ruleName: string; channelName: (id: string) => string }) {
  const deliveries = useInfiniteQuery({
    queryKey: alertKeys.deliveries(ruleId),
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(await api.GET("/v1/alert-rules/{rule_id}/deliveries", { params: { path: { rule_id: ruleId }, query: { limit: 20, next_token: pageParam } } })),
    getNextPageParam: (page) => page.next_token ?? undefined,
    refetchInterval: 10_000,
  });
  const items = deliveries.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <>
      <h4 className="detail-title">Deliveries of {ruleName}</h4>
      {deliveries.isPending && <p aria-busy="true">Loading…</p>}
      <ErrorNote error={deliveries.error} />
      {deliveries.isSuccess && items.length === 0 && <p className="hint">No deliveries yet: one is written each time a run matches this rule.</p>}
      {items.length > 0 && (
        <table aria-label={`Deliveries of ${ruleName}`}>
          <thead>
            <tr>
              <th scope="col">Event at</th><th scope="col">Event</th><th scope="col">Run</th><th scope="col">Channel</th>
              <th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <tr key={d.delivery_id}>
                <td>{when(d.time)}</td>
                <td>{d.event}</td>
                <td><Link to={`/runs/${encodeURIComponent(d.run_id)}`}><code>{d.run_id}</code></Link></td>
                <td>{channelName(d.channel_id)} <span className="hint">({d.channel_type})</span></td>
                <td>
                  <span className={`badge delivery-${d.status}`}>{d.status}</span>
                  {d.status === "sent" && d.sent_at && <span className="hint"> {when(d.sent_at)}</span>}
                  {d.status === "pending" && d.next_attempt_at && <span className="hint"> next try {when(d.next_attempt_at)}</span>}
                </td>
                <td>{d.attempts}</td>
                <td>{d.last_error ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {deliveries.hasNextPage && (
        <button type="button" className="button" onClick={() => void deliveries.fetchNextPage()} disabled={deliveries.isFetchingNextPage}>Load more</button>
      )}
    </>
  );
}
