import { useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../../api/client";
import { ErrorNote } from "../common";
import { formatComputeSeconds, formatCount, formatUsd } from "../../lib/admin";

type Period = Schemas["UsagePeriod"];

/** What the org used, per month (this one and the two before) and per day over 30 days. */
export function CustomerUsage({ orgId }: { orgId: string }) {
  const usage = useQuery({
    queryKey: ["admin", "customer", orgId, "usage"],
    queryFn: async () => unwrap(await api.GET("/v1/admin/customers/{org_id}/usage", { params: { path: { org_id: orgId } } })),
  });
  const activeDays = usage.data?.daily.filter((d) => d.run_count || d.task_count || d.api_call_count || d.error_count) ?? [];
  return (
    <section aria-labelledby="usage-title" className="admin-section">
      <h2 id="usage-title">Usage</h2>
      <ErrorNote error={usage.error} />
      {usage.isPending && <p aria-busy="true">Loading usage…</p>}
      {usage.isSuccess && (
        <>
          <UsageTable label="Usage per month" periods={usage.data.items} />
          <details>
            <summary>Per day, last 30 days ({activeDays.length} with activity)</summary>
            {activeDays.length ? <UsageTable label="Usage per day" periods={activeDays} /> : <p className="note">No activity in the last 30 days.</p>}
          </details>
        </>
      )}
    </section>
  );
}

function UsageTable({ label, periods }: { label: string; periods: Period[] }) {
  return (
    <table aria-label={label}>
      <thead>
        <tr>
          <th scope="col">Period</th><th scope="col" className="numeric">Runs</th><th scope="col" className="numeric">Tasks</th>
          <th scope="col" className="numeric">Compute</th><th scope="col" className="numeric">API calls</th>
          <th scope="col" className="numeric">Errors</th><th scope="col" className="numeric">Estimated cost</th>
        </tr>
      </thead>
      <tbody>
        {periods.map((p) => (
          <tr key={p.period}>
            <th scope="row">{p.period}</th>
            <td className="numeric">{formatCount(p.run_count)}</td>
            <td className="numeric">{formatCount(p.task_count)}</td>
            <td className="numeric">{formatComputeSeconds(p.compute_seconds)}</td>
            <td className="numeric">{formatCount(p.api_call_count)}</td>
            <td className="numeric">{formatCount(p.error_count)}</td>
            <td className="numeric">{formatUsd(p.estimated_cost_usd)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
