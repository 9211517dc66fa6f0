import { useMutation, useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, session, unwrap, type Schemas } from "../../api/client";
import { BillingError } from "../../components/billing/BillingError";
import { PlanCards } from "../../components/billing/PlanCards";
import { ErrorNote } from "../../components/common";
import { usd } from "../../lib/usage";
import "../../components/billing/billing.css";

const day = (value: string) => new Date(value).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });

/** Where Stripe sends the browser back to: this page, saying how the checkout ended. */
const backHere = (outcome?: string) => `${window.location.origin}/settings/billing${outcome ? `?checkout=${outcome}` : ""}`;

/** /settings/billing: the org's plan and subscription, the plans, Stripe checkout and portal. */
export function Billing() {
  const orgId = session.orgId();
  const [params] = useSearchParams();
  const subscription = useQuery({
    queryKey: ["billing", orgId, "subscription"],
    queryFn: async () => unwrap(await api.GET("/v1/billing/subscription")),
  });
  const plans = useQuery({ queryKey: ["billing", "plans"], queryFn: async () => unwrap(await api.GET("/v1/billing/plans")) });
  // Both answer a Stripe URL to leave for; the plan itself changes when Stripe's webhook reports
  // the payment, not here.
  const checkout = useMutation({
    mutationFn: async (plan: string) =>
      unwrap(await api.POST("/v1/billing/checkout", { body: { plan, success_url: backHere("success"), cancel_url: backHere("cancelled") } })),
    onSuccess: (created) => window.location.assign(created.url),
  });
  const portal = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/billing/portal", { body: { return_url: backHere() } })),
    onSuccess: (created) => window.location.assign(created.url),
  });
  const current = subscription.data?.plan;
  const currentPlan = plans.data?.items.find((plan) => plan.plan_id === current);
  const outcome = params.get("checkout");

  return (
    <section aria-labelledby="billing-title">
      <h1 id="billing-title">Billing</h1>
      <p className="lead">
        Your organization's plan sets its monthly run and task allowances and how many runs may run at once. See what you
        use against them on the <Link to="/usage">Usage</Link> page.
      </p>
      {outcome === "success" && (
        <p className="notice" role="status">Checkout complete. Your plan changes as soon as the payment provider confirms it; reload in a moment.</p>
      )}
      {outcome === "cancelled" && <p className="notice" role="status">Checkout cancelled; your plan is unchanged.</p>}

      <h2 id="subscription-title">Current plan</h2>
      {subscription.isPending && <p aria-busy="true">Loading…</p>}
      <ErrorNote error={subscription.error} />
      {subscription.data && (
        <div className="card subscription" aria-labelledby="subscription-title">
          <Subscription subscription={subscription.data} planName={currentPlan?.name} />
          <div className="actions start">
            <button type="button" className="button" disabled={portal.isPending} onClick={() => portal.mutate()}>
              {portal.isPending ? "Opening…" : "Manage billing"}
            </button>
          </div>
          <BillingError error={portal.error} />
        </div>
      )}

      <h2 id="plans-title">Plans</h2>
      {plans.isPending && <p aria-busy="true">Loading…</p>}
      <ErrorNote error={plans.error} />
      {plans.data && current && currentPlan && (
        <PlanCards
          plans={plans.data.items}
          current={current}
          action={(plan) =>
            plan.monthly_cost_usd === 0 ? (
              <p className="hint">To move to {plan.name}, cancel your subscription under Manage billing.</p>
            ) : (
              <button
                type="button"
                className={plan.monthly_cost_usd > currentPlan.monthly_cost_usd ? "button primary" : "button"}
                disabled={checkout.isPending}
                onClick={() => checkout.mutate(plan.plan_id)}
              >
                {plan.monthly_cost_usd > currentPlan.monthly_cost_usd ? `Upgrade to ${plan.name}` : `Switch to ${plan.name}`}
              </button>
            )
          }
        />
      )}
      {plans.data && current && !currentPlan && <ErrorNote error={`Your plan "${current}" is not one of the plans offered; ask the server's operator.`} />}
      <BillingError error={checkout.error} />
    </section>
  );
}

function Subscription({ subscription: s, planName }: { subscription: Schemas["SubscriptionRead"]; planName?: string }) {
  const card = s.payment_method;
  return (
    <dl className="facts">
      <dt>Plan</dt>
      <dd><strong>{planName ?? s.plan}</strong> ({usd(s.monthly_cost_usd)} / month)</dd>
      <dt>Status</dt>
      <dd><span className={`badge subscription-${s.status}`}>{s.status.replace(/_/g, " ")}</span></dd>
      <dt>Billing period</dt>
      <dd>{day(s.billing_cycle_start)} – {day(s.billing_cycle_end)}</dd>
      <dt>Billing email</dt>
      <dd>{s.billing_email}</dd>
      {card && (
        <>
          <dt>Payment method</dt>
          <dd>
            {card.type}
            {card.last_four && ` ending ${card.last_four}`}
            {card.expiry_month && card.expiry_year && `, expires ${String(card.expiry_month).padStart(2, "0")}/${card.expiry_year}`}
          </dd>
        </>
      )}
      {s.subscription_id && (
        <>
          <dt>Subscription</dt>
          <dd><code>{s.subscription_id}</code></dd>
        </>
      )}
    </dl>
  );
}
