import type { Schemas } from "../../api/client";
import { duration, usd } from "../../lib/usage";

const day = (value: string) => new Date(value).toLocaleDateString(undefined, { month: "short", day: "numeric", year: "numeric", timeZone: "UTC" });

/** The current billing period's totals (`GET /v1/usage/summary`). */
export function UsageSummary({ summary }: { summary: Schemas["UsageSummary"] }) {
  const facts: [string, string][] = [
    ["Estimated cost", usd(summary.estimated_cost_usd)],
    ["Runs", summary.run_count.toLocaleString()],
    ["Tasks", summary.task_count.toLocaleString()],
    ["Compute", duration(summary.compute_seconds)],
    ["API calls", summary.api_call_count.toLocaleString()],
    ["Errors", summary.error_count.toLocaleString()],
  ];
  return (
    <section aria-labelledby="usage-summary-title">
      <h2 id="usage-summary-title">This billing period</h2>
      <p className="hint">{day(summary.period_start)} – {day(summary.period_end)} (UTC)</p>
      <dl className="usage-stats">
        {facts.map(([label, value]) => (
          <div key={label} className="card">
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
