import { Link } from "react-router";
import type { Schemas } from "../../api/client";
import { otherLimits, quotaGauges, type Gauge } from "../../lib/usage";

const STATE_TEXT = { ok: "", warning: "Near the limit", over: "Limit reached", unlimited: "Unlimited" } as const;

/** The plan's limits against this month's usage (`GET /v1/usage/quota`), with the API's own
 * warning (a limit at 80 % or more) and over-limit flags as a banner. */
export function QuotaGauges({ quota }: { quota: Schemas["UsageQuota"] }) {
  const gauges = quotaGauges(quota);
  const others = otherLimits(quota);
  const reset = new Date(quota.reset_at).toLocaleDateString(undefined, { month: "long", day: "numeric", timeZone: "UTC" });
  return (
    <section aria-labelledby="quota-title">
      <h2 id="quota-title">Quota</h2>
      <p className="hint">
        Plan <strong>{quota.plan}</strong>; monthly counts start again on {reset} (UTC). <Link to="/settings/billing">Plans and billing</Link>
      </p>
      {quota.over_limit ? (
        <p className="quota-banner over" role="alert">
          A limit is reached. New runs may be refused until it resets; upgrade your plan on the <Link to="/settings/billing">billing page</Link>.
        </p>
      ) : quota.warning ? (
        <p className="quota-banner warning" role="status">A limit is at 80 % or more of your plan's allowance.</p>
      ) : null}
      <ul className="gauges">
        {gauges.map((gauge) => <GaugeItem key={gauge.key} gauge={gauge} />)}
      </ul>
      {others.length > 0 && (
        <dl className="facts">
          {others.map((limit) => (
            <div key={limit.key} style={{ display: "contents" }}>
              <dt>{limit.label}</dt>
              <dd>{limit.limit === null ? "Unlimited" : limit.key.endsWith("_seconds") ? `${limit.limit.toLocaleString()} s` : limit.limit.toLocaleString()}</dd>
            </div>
          ))}
        </dl>
      )}
    </section>
  );
}

function GaugeItem({ gauge }: { gauge: Gauge }) {
  const id = `gauge-${gauge.key}`;
  const shown = gauge.percent === null ? 0 : Math.min(100, gauge.percent);
  const text =
    gauge.limit === null ? `${gauge.used.toLocaleString()} used, no limit` : `${gauge.used.toLocaleString()} of ${gauge.limit.toLocaleString()} (${gauge.percent}%)`;
  return (
    <li className={`card gauge gauge-${gauge.state}`}>
      <span id={id} className="gauge-label">{gauge.label}</span>
      <div
        role="meter"
        aria-labelledby={id}
        aria-valuemin={0}
        aria-valuemax={gauge.limit ?? Math.max(gauge.used, 1)}
        aria-valuenow={gauge.used}
        aria-valuetext={`${text}${STATE_TEXT[gauge.state] ? `, ${STATE_TEXT[gauge.state].toLowerCase()}` : ""}`}
        className="gauge-track"
      >
        <div className="gauge-fill" style={{ width: `${shown}%` }} />
      </div>
      <span className="gauge-value">{text}</span>
      {STATE_TEXT[gauge.state] && <span className="gauge-state">{STATE_TEXT[gauge.state]}</span>}
    </li>
  );
}
