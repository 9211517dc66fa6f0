import { useInfiniteQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, session, unwrap, type Schemas } from "../api/client";
import { EmptyState, ErrorNote } from "../components/common";
import { RunFilters } from "../components/RunFilters";
import { StatusBadge, when } from "../components/StatusBadge";
import {
  hasFilters,
  readFilters,
  serverQuery,
  withFilters,
  type RunFilters as Filters,
} from "../lib/runsFilters";
import { elapsedSeconds, formatDuration, isActive, relativeTime, versionLabel } from "../lib/runsFormat";
import { useFlowNames } from "../lib/runsQueries";
import "./runs.css";

type RunItem = Schemas["RunListItem"];

const PAGE = 50;

export function Runs() {
  const [params, setParams] = useSearchParams();
  const filters = readFilters(params);
  const flowNames = useFlowNames();
  const runs = useInfiniteQuery({
    queryKey: ["runs", session.orgId(), filters],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(await api.GET("/v1/runs", { params: { query: { ...serverQuery(filters, Date.now()), limit: PAGE, next_token: pageParam } } })),
    getNextPageParam: (page) => page.next_token ?? undefined,
    // Only the first page refreshes itself (quicker while a run in it is live): refreshing many
    // loaded pages would read them all again.
    refetchInterval: (q) => {
      const pages = q.state.data?.pages ?? [];
      if (pages.length > 1) return false;
      return pages[0]?.items.some((run) => isActive(run.status)) ? 3000 : 10_000;
    },
  });
  const items = runs.data?.pages.flatMap((page) => page.items) ?? [];
  const change = (changes: Partial<Filters>) => setParams(withFilters(params, changes), { replace: true });

  return (
    <section aria-labelledby="runs-title" className="runs-page">
      <div className="page-head">
        <h1 id="runs-title">Runs</h1>
        <Link className="button primary" to={filters.flow_name ? `/runs/new?flow=${encodeURIComponent(filters.flow_name)}` : "/runs/new"}>
          Trigger a run
        </Link>
      </div>
      <RunFilters filters={filters} flowNames={flowNames.data ?? []} onChange={change} />
      <ScopeChips filters={filters} onChange={change} />
      {flowNames.isError && <ErrorNote error={flowNames.error} />}
      {runs.isError && <ErrorNote error={runs.error} />}
      {runs.isPending && <p aria-busy="true">Loading runs…</p>}
      {runs.isSuccess && items.length === 0 && <NoRuns filtered={hasFilters(filters)} onClear={() => setParams(new URLSearchParams())} />}
      {items.length > 0 && <RunTable items={items} />}
      {runs.hasNextPage && (
        <div className="runs-more">
          <button type="button" className="button" onClick={() => void runs.fetchNextPage()} disabled={runs.isFetchingNextPage}>
            {runs.isFetchingNextPage ? "Loading…" : "Load more runs"}
          </button>
        </div>
      )}
    </section>
  );
}

/** The schedule or sensor the list is narrowed to (links from their pages), each removable. */
function ScopeChips({ filters, onChange }: { filters: Filters; onChange: (changes: Partial<Filters>) => void }) {
  const chips = [
    filters.schedule_id && { key: "schedule_id" as const, words: "Schedule", value: filters.schedule_id },
    filters.sensor_id && { key: "sensor_id" as const, words: "Sensor", value: filters.sensor_id },
  ].filter(Boolean) as { key: "schedule_id" | "sensor_id"; words: string; value: string }[];
  if (chips.length === 0) return null;
  return (
    <ul className="run-chips" aria-label="Other filters">
      {chips.map((chip) => (
        <li key={chip.key}>
          {chip.words}: <code>{chip.value}</code>{" "}
          <button type="button" className="button small" onClick={() => onChange({ [chip.key]: "" })} aria-label={`Remove the ${chip.words.toLowerCase()} filter`}>
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}

function NoRuns({ filtered, onClear }: { filtered: boolean; onClear: () => void }) {
  if (filtered) {
    return (
      <EmptyState title="No runs match these filters">
        <p>Try another status, flow or time range.</p>
        <button type="button" className="button" onClick={onClear}>Clear filters</button>
      </EmptyState>
    );
  }
  return (
    <EmptyState title="No runs yet">
      <p>
        A run is one execution of a flow. <Link to="/runs/new">Trigger a run</Link> here, start one from the command line with{" "}
        <code>dagy runs trigger &lt;flow&gt;</code>, or let a <Link to="/schedules">schedule</Link> or a <Link to="/sensors">sensor</Link> start them.
      </p>
      <p>No flow yet? <Link to="/flows">Register one first</Link>.</p>
    </EmptyState>
  );
}

function RunTable({ items }: { items: RunItem[] }) {
  const now = Date.now();
  return (
    <table className="runs-table">
      <caption className="visually-hidden">Runs, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Flow</th>
          <th scope="col">Status</th>
          <th scope="col">Trigger</th>
          <th scope="col">Created</th>
          <th scope="col">Duration</th>
        </tr>
      </thead>
      <tbody>
        {items.map((run) => (
          <tr key={run.run_id}>
            <th scope="row"><Link to={`/runs/${run.run_id}`}>{run.run_slug}</Link></th>
            <td>
              <Link to={`/flows/${encodeURIComponent(run.flow_name)}`}>{run.flow_name}</Link> <small className="muted">{versionLabel(run.flow_version)}</small>
            </td>
            <td><StatusBadge status={run.status} /></td>
            <td><Trigger run={run} /></td>
            <td><time dateTime={run.created_at} title={when(run.created_at)}>{relativeTime(run.created_at, now)}</time></td>
            <td>
              {run.duration_seconds !== null
                ? formatDuration(run.duration_seconds)
                : isActive(run.status) && run.started_at
                  ? `${formatDuration(elapsedSeconds(run.started_at, null, now))} so far`
                  : "—"}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Trigger({ run }: { run: RunItem }) {
  if (run.schedule_id) return <>schedule <Link to={`/schedules/${encodeURIComponent(run.schedule_id)}`}>{run.schedule_id}</Link></>;
  if (run.sensor_id) return <>{run.trigger} <Link to={`/sensors/${encodeURIComponent(run.sensor_id)}`}>{run.sensor_id}</Link></>;
  return <>{run.trigger === "api_key" ? "API key" : run.trigger}</>;
}
