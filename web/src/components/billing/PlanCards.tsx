import type { Schemas } from "../../api/client";
import { usd } from "../../lib/usage";

type Plan = Schemas["PlanRead"];

const LIMITS: Record<string, string> = {
  monthly_runs: "Runs per month",
  monthly_tasks: "Tasks per month",
  concurrent_runs: "Concurrent runs",
  max_run_duration_seconds: "Longest run",
};

const limitText = (key: string, value: number | null) =>
  value === null ? "Unlimited" : key.endsWith("_seconds") ? `${(value / 3600).toLocaleString()} h` : value.toLocaleString();

/** The plans (`GET /v1/billing/plans`) side by side, the org's own marked; `action` renders each
 * other plan's button. */
export function PlanCards({ plans, current, action }: { plans: Plan[]; current: string; action: (plan: Plan) => React.ReactNode }) {
  return (
    <ul className="cards plans" aria-label="Plans">
      {plans.map((plan) => {
        const mine = plan.plan_id === current;
        return (
          <li key={plan.plan_id} className={mine ? "card highlighted" : "card"} aria-current={mine ? "true" : undefined} aria-labelledby={`plan-${plan.plan_id}`}>
            <h3 id={`plan-${plan.plan_id}`}>{plan.name}</h3>
            <p className="big">{usd(plan.monthly_cost_usd)}<span className="hint"> / month</span></p>
            <dl className="facts">
              {Object.entries(plan.limits).map(([key, value]) => (
                <div key={key} style={{ display: "contents" }}>
                  <dt>{LIMITS[key] ?? key}</dt>
                  <dd>{limitText(key, value)}</dd>
                </div>
              ))}
            </dl>
            <div className="plan-action">{mine ? <strong>Your current plan</strong> : action(plan)}</div>
          </li>
        );
      })}
    </ul>
  );
}
