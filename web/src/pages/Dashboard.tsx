import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, session, unwrap, type Schemas } from "../api/client";
import { EmptyState, ErrorNote } from "../components/common";
import { StatusBadge, when } from "../components/StatusBadge";

type Period = "24h" | "7d" | "30d";

export function Dashboard() {
  const [period, setPeriod] = useState<Period>("7d");
  const dashboard = useQuery({
    queryKey: ["ui", "dashboard", session.orgId(), period],
    queryFn: async () => unwrap(await api.GET("/v1/ui/dashboard", { params: { query: { period } } })),
    refetchInterval: 10_000,
  });
  return (
    <section aria-labelledby="dashboard-title">
      <div className="page-head">
        <h1 id="dashboard-title">Dashboard</h1>
        <label htmlFor="dashboard-period">Period</label>
        <select id="dashboard-period" value={period} onChange={(e) => setPeriod(e.target.value as Period)}>
            <option value="24h">Last 24 hours</option>
            <option value="7d">Last 7 days</option>
            <option value="30d">Last 30 days</option>
        </select>
      </div>
      {dashboard.isPending && <p aria-busy="true">Loading…</p>}
      <ErrorNote error={dashboard.error} />
      {dashboard.data && dashboard.data.recent_activity.length === 0 && <GetStarted />}
      {dashboard.data && <Widgets data={dashboard.data} />}
    </section>
  );
}

/** An org that has never run anything: the three steps to a first scheduled run. */
function GetStarted() {
  return (
    <EmptyState title="Get started">
      <ol>
        <li><Link to="/flows">Register a flow</Link>: the Flows page shows how, with the <code>dagy</code> CLI, the Python SDK or the API.</li>
        <li><Link to="/runs/new">Trigger a run</Link> and watch its graph and logs live.</li>
        <li><Link to="/schedules">Schedule it</Link> on a cron or an interval, or start it from a webhook with a <Link to="/sensors">sensor</Link>.</li>
      </ol>
    </EmptyState>
  );
}

function Widgets({ data }: { data: Schemas["DashboardRead"] }) {
  const { stats, recent_activity } = data;
  return (
    <div className="widgets">
      {data.widgets.map((widget) => (
        <article key={widget.widget_id} className="card widget" aria-labelledby={`w-${widget.widget_id}`}>
          <h2 id={`w-${widget.widget_id}`}>{widget.title}</h2>
          {widget.kind === "status_counts" && (
            <>
              <p className="big">{stats.run_count} runs</p>
              <p>Success rate: {stats.success_rate === null ? "—" : `${stats.success_rate}%`} · active now: {stats.active_runs}</p>
              <ul className="counts">
                {Object.entries(stats.runs_by_status).map(([status, count]) => (
                  <li key={status}><StatusBadge status={status} /> {count}</li>
                ))}
              </ul>
            </>
          )}
          {widget.kind === "run_list" && (
            <ul className="plain">
              {recent_activity.length === 0 && <li>No runs yet.</li>}
              {recent_activity.map((run) => (
                <li key={run.run_id}>
                  <Link to={`/runs/${run.run_id}`}>{run.flow_name}</Link> <StatusBadge status={run.status} /> <small>{when(run.created_at)}</small>
                </li>
              ))}
            </ul>
          )}
          {widget.kind === "flow_list" && (
            <ul className="plain">
              {stats.failing_flows.length === 0 && <li>No failures in this period.</li>}
              {stats.failing_flows.map((flow) => (
                <li key={flow.flow_name}>
                  <Link to={`/runs?flow_name=${encodeURIComponent(flow.flow_name)}&status=failed`}>{flow.flow_name}</Link>: {flow.failed_count} of {flow.run_count} failed
                </li>
              ))}
            </ul>
          )}
          {widget.kind === "quota" && stats.quota && (
            <ul className="plain">
              <li>Plan: {stats.quota.plan}</li>
              {Object.entries(stats.quota.current_usage).map(([key, used]) => {
                const limit = stats.quota!.limits[key];
                const percent = stats.quota!.percentages[key];
                return (
                  <li key={key}>
                    <label>
                      {key.replaceAll("_", " ")}: {used} / {limit ?? "∞"}
                      {percent !== null && percent !== undefined && <meter min={0} max={100} value={percent} />}
                    </label>
                  </li>
                );
              })}
            </ul>
          )}
        </article>
      ))}
    </div>
  );
}
