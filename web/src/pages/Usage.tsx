import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, session, unwrap } from "../api/client";
import { EmptyState, ErrorNote } from "../components/common";
import { CostBreakdown } from "../components/usage/CostBreakdown";
import { QuotaGauges } from "../components/usage/QuotaGauges";
import { METRICS, UsageOverTime, type Metric } from "../components/usage/UsageOverTime";
import { UsageSummary } from "../components/usage/UsageSummary";
import "../components/usage/usage.css";
import { useSearchParam } from "../lib/searchParams";
import { GRANULARITIES, hasUsage, isGranularity, isPeriod, PERIODS, periodRange, type Granularity, type Period } from "../lib/usage";

const isMetric = (value: string | null): value is Metric => value !== null && value in METRICS;

/** /usage: this billing period's totals, the quota, usage over a chosen period and its costs. The
 * period, granularity and metric live in the URL, so a view can be bookmarked or shared. */
export function Usage() {
  const orgId = session.orgId();
  const [params, setParam] = useSearchParam();
  const period: Period = isPeriod(params.get("period")) ? (params.get("period") as Period) : "30d";
  const granularity: Granularity = isGranularity(params.get("by")) ? (params.get("by") as Granularity) : "day";
  const metric: Metric = isMetric(params.get("metric")) ? (params.get("metric") as Metric) : "cost_usd";
  const range = periodRange(period);

  const summary = useQuery({ queryKey: ["usage", orgId, "summary"], queryFn: async () => unwrap(await api.GET("/v1/usage/summary")) });
  const quota = useQuery({ queryKey: ["usage", orgId, "quota"], queryFn: async () => unwrap(await api.GET("/v1/usage/quota")) });
  const series = useQuery({
    queryKey: ["usage", orgId, "timeseries", range],
    queryFn: async () => unwrap(await api.GET("/v1/usage/timeseries", { params: { query: range } })),
  });
  const costs = useQuery({
    queryKey: ["usage", orgId, "costs", range],
    queryFn: async () => unwrap(await api.GET("/v1/usage/costs", { params: { query: range } })),
  });
  const days = series.data?.items ?? [];
  const empty = series.isSuccess && !hasUsage(days);

  return (
    <section aria-labelledby="usage-title">
      <h1 id="usage-title">Usage</h1>
      <p className="lead">
        What your organization's runs used and what it costs: runs, tasks (node runs), compute time and API calls, priced
        by execution mode. Days are UTC; today's numbers are live.
      </p>

      <ErrorNote error={summary.error} />
      {summary.data && <UsageSummary summary={summary.data} />}

      <ErrorNote error={quota.error} />
      {quota.data && <QuotaGauges quota={quota.data} />}

      <h2 id="over-time-title">Over time</h2>
      <form className="usage-controls" aria-labelledby="over-time-title" onSubmit={(e) => e.preventDefault()}>
        <label>
          Period
          <select value={period} onChange={(e) => setParam("period", e.target.value)}>
            {Object.entries(PERIODS).map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
        </label>
        <label>
          Granularity
          <select value={granularity} onChange={(e) => setParam("by", e.target.value)}>
            {Object.entries(GRANULARITIES).map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
        </label>
        <label>
          Show
          <select value={metric} onChange={(e) => setParam("metric", e.target.value)}>
            {Object.entries(METRICS).map(([value, m]) => <option key={value} value={value}>{m.label}</option>)}
          </select>
        </label>
      </form>
      {series.isPending && <p aria-busy="true">Loading…</p>}
      <ErrorNote error={series.error} />
      {empty && (
        <EmptyState title={`No usage ${PERIODS[period].toLowerCase().replace("last", "in the last")}`}>
          <p>
            Usage appears here once a flow runs. <Link to="/runs/new">Trigger a run</Link> of one of your{" "}
            <Link to="/flows">flows</Link> (or register one first: the Flows page shows how), then come back
            {period === "7d" || period === "month" ? ", or choose a longer period" : ""}.
          </p>
        </EmptyState>
      )}
      {series.data && !empty && <UsageOverTime days={days} period={period} granularity={granularity} metric={metric} />}

      <ErrorNote error={costs.error} />
      {costs.data && !empty && <CostBreakdown costs={costs.data} periodLabel={PERIODS[period]} />}
    </section>
  );
}
