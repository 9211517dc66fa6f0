import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, session, unwrap, type Schemas } from "../api/client";
import { ConfirmButton, CopyButton, ErrorNote } from "../components/common";
import { RunDag } from "../components/RunDag";
import { RunError } from "../components/RunError";
import { RunLogs } from "../components/RunLogs";
import { RunNodeTable } from "../components/RunNodeTable";
import { RunTimeline } from "../components/RunTimeline";
import { RunValue } from "../components/RunValue";
import { StatusBadge, when } from "../components/StatusBadge";
import { elapsedSeconds, formatDuration, isActive, isLive } from "../lib/runsFormat";
import { useFlowVersion } from "../lib/runsQueries";
import { DEFAULT_OPTIONS, triggerBody, type ExecutionMode, type Trigger } from "../lib/runsTrigger";
import "./runs.css";

type Run = Schemas["RunRead"];
type Task = Schemas["NodeRunRead"];

const NO_TASKS: Task[] = [];
/** How often a live run and its node runs are read again. */
const POLL_MS = 1000;

export function RunPage() {
  const { runId = "" } = useParams();
  const run = useQuery({
    queryKey: ["run", session.orgId(), runId],
    queryFn: async () => unwrap(await api.GET("/v1/runs/{run_id}", { params: { path: { run_id: runId } } })),
    refetchInterval: (query) => (query.state.data && isActive(query.state.data.status) ? POLL_MS : false),
  });
  if (run.isPending) return <p aria-busy="true">Loading the run…</p>;
  if (run.isError) {
    return (
      <section aria-labelledby="run-title">
        <h1 id="run-title">Run {runId}</h1>
        <ErrorNote error={run.error} />
        <p><Link to="/runs">All runs</Link></p>
      </section>
    );
  }
  return <RunDetail run={run.data} />;
}

function RunDetail({ run }: { run: Run }) {
  const live = isActive(run.status); // queued or running: the run and its node runs change
  const tasks = useQuery({
    queryKey: ["run", session.orgId(), run.run_id, "tasks"],
    queryFn: async () => unwrap(await api.GET("/v1/runs/{run_id}/tasks", { params: { path: { run_id: run.run_id } } })),
    refetchInterval: live ? POLL_MS : false,
  });
  // The node runs' last changes land with the run's end: read them once more when it ends.
  const wasLive = useRef(live);
  useEffect(() => {
    if (wasLive.current && !live) void tasks.refetch();
    wasLive.current = live;
  }, [live, tasks.refetch]);
  // The spec never changes for a version: read once, not on every tick.
  const version = useFlowVersion(run.flow_name, run.flow_version);
  const [view, setView] = useState<"table" | "timeline">("table");
  const items = tasks.data?.items ?? NO_TASKS;
  // Durations of nodes still running count to the last poll (which every second moves on).
  const now = tasks.dataUpdatedAt;

  return (
    <section aria-labelledby="run-title" className="run-page">
      <p className="run-crumbs"><Link to="/runs">Runs</Link> / <Link to={`/runs?flow_name=${encodeURIComponent(run.flow_name)}`}>{run.flow_name}</Link></p>
      <div className="page-head">
        <h1 id="run-title">
          {run.flow_name} <small className="muted">{run.run_slug}</small>
        </h1>
        <span role="status" aria-live="polite" aria-label="Run status">
          <span className="visually-hidden">Status: </span>
          <StatusBadge status={run.status} />
        </span>
        <RunActions run={run} />
      </div>
      {run.status_detail && <p className="run-note" role="status">{run.status_detail}</p>}
      <RunFacts run={run} />

      {run.error && (
        <section aria-labelledby="run-error-title" className="card run-error-card">
          <h2 id="run-error-title">Error</h2>
          <RunError error={run.error} />
        </section>
      )}

      <section aria-labelledby="graph-title">
        <h2 id="graph-title">Graph</h2>
        {version.isError && <ErrorNote error={version.error} />}
        {tasks.isError && <ErrorNote error={tasks.error} />}
        {version.isPending ? <p aria-busy="true">Loading the graph…</p> : <RunDag spec={version.data?.flow_spec} tasks={items} />}
      </section>

      <section aria-labelledby="nodes-title" className="run-nodes-section">
        <div className="run-section-head">
          <h2 id="nodes-title">Node runs</h2>
          <div className="run-segmented" role="group" aria-label="Show node runs as">
            <button type="button" className="button small" aria-pressed={view === "table"} onClick={() => setView("table")}>Table</button>
            <button type="button" className="button small" aria-pressed={view === "timeline"} onClick={() => setView("timeline")}>Timeline</button>
          </div>
        </div>
        {tasks.isPending ? <p aria-busy="true">Loading node runs…</p> : view === "table" ? <RunNodeTable tasks={items} now={now} /> : <RunTimeline tasks={items} now={now} />}
      </section>

      <div className="run-io">
        <section aria-labelledby="params-title">
          <h2 id="params-title">Parameters</h2>
          {Object.keys(run.parameters).length === 0 ? <p className="muted">No parameters.</p> : <RunValue value={run.parameters} label="Parameters" />}
        </section>
        <section aria-labelledby="output-title">
          <h2 id="output-title">Output</h2>
          {run.output === null || run.output === undefined ? (
            <p className="muted">{isLive(run.status) ? "The output appears when the run completes." : "No output."}</p>
          ) : (
            <RunValue value={run.output} label="Output" />
          )}
        </section>
      </div>

      {run.status === "pending" ? (
        <section aria-labelledby="logs-title">
          <h2 id="logs-title">Logs</h2>
          <p className="muted">This run was recorded without starting (<code>execute: false</code>): it has no logs.</p>
        </section>
      ) : (
        <RunLogs key={run.run_id} runId={run.run_id} />
      )}
    </section>
  );
}

function RunFacts({ run }: { run: Run }) {
  const seconds = run.duration_seconds ?? elapsedSeconds(run.started_at, run.completed_at, Date.now());
  return (
    <dl className="facts run-facts">
      <dt>Run ID</dt>
      <dd><code>{run.run_id}</code> <CopyButton value={run.run_id} label="Copy run ID" /></dd>
      <dt>Flow</dt>
      <dd><Link to={`/flows/${encodeURIComponent(run.flow_name)}`}>{run.flow_name}</Link>, version {run.flow_version}{run.deployment_name && <>, deployment <code>{run.deployment_name}</code></>}</dd>
      <dt>Trigger</dt>
      <dd><TriggerText run={run} /></dd>
      <dt>Created</dt>
      <dd>{when(run.created_at)}</dd>
      <dt>Started</dt>
      <dd>{when(run.started_at)}</dd>
      <dt>Completed</dt>
      <dd>{when(run.completed_at)}</dd>
      <dt>Duration</dt>
      <dd>{formatDuration(seconds)}{!run.completed_at && run.started_at && " so far"}</dd>
      <dt>Attempt</dt>
      <dd>{run.attempt}{run.retry_count > 0 && ` (${run.retry_count} ${run.retry_count === 1 ? "retry" : "retries"})`}</dd>
      <dt>Executor</dt>
      <dd><code>{run.executor}</code>, {run.execution_mode} mode{run.worker_id && <>, worker <code>{run.worker_id}</code></>}</dd>
      {run.tags.length > 0 && (
        <>
          <dt>Tags</dt>
          <dd>{run.tags.map((tag) => <span key={tag} className="run-tag">{tag}</span>)}</dd>
        </>
      )}
    </dl>
  );
}

function TriggerText({ run }: { run: Run }) {
  if (run.schedule_id) {
    return (
      <>
        schedule <Link to={`/schedules/${encodeURIComponent(run.schedule_id)}`}>{run.schedule_id}</Link>
        {run.scheduled_for && <>, for {when(run.scheduled_for)}</>}
      </>
    );
  }
  if (run.sensor_id) {
    return <>{run.trigger} sensor <Link to={`/sensors/${encodeURIComponent(run.sensor_id)}`}>{run.sensor_id}</Link></>;
  }
  return <>{run.trigger === "api_key" ? "API key" : run.trigger}</>;
}

/** Cancel (while the run may still run) and re-run: at once, or with changes on the trigger page. */
function RunActions({ run }: { run: Run }) {
  const queries = useQueryClient();
  const navigate = useNavigate();
  const cancel = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/runs/{run_id}/cancel", { params: { path: { run_id: run.run_id } } })),
    onSuccess: () => {
      // The run is read by its id or by its slug (the URL's): refresh either.
      void queries.invalidateQueries({ queryKey: ["run", session.orgId()] });
      void queries.invalidateQueries({ queryKey: ["runs"] });
    },
  });
  const rerun = useMutation({
    // The same version, parameters, executor and mode; a fresh run (its own retries and priority).
    mutationFn: async () => {
      const options = { ...DEFAULT_OPTIONS, executor: run.executor, execution_mode: run.execution_mode as ExecutionMode };
      const body = triggerBody({ flow: run.flow_name, version: run.flow_version, deployment: "" }, run.parameters, options);
      return unwrap(await api.POST("/v1/runs", { body: body as Trigger }));
    },
    onSuccess: (created) => {
      void queries.invalidateQueries({ queryKey: ["runs"] });
      navigate(`/runs/${created.run_id}`);
    },
  });
  const changes = new URLSearchParams({ flow: run.flow_name, version: run.flow_version, from: run.run_id });
  return (
    <>
      <div className="actions run-actions">
        {isLive(run.status) && (
          <ConfirmButton
            label="Cancel run"
            confirmLabel="Yes, cancel the run"
            danger
            question={
              <p>
                Cancel run <code>{run.run_slug}</code>? {run.status === "running" ? "Its worker stops it within a few seconds." : "It will not start."} A
                cancelled run cannot be resumed.
              </p>
            }
            onConfirm={() => cancel.mutateAsync()}
          />
        )}
        <button type="button" className="button primary" onClick={() => rerun.mutate()} disabled={rerun.isPending}>
          {rerun.isPending ? "Starting…" : "Re-run"}
        </button>
        <Link className="button" to={`/runs/new?${changes}`}>Re-run with changes</Link>
      </div>
      {rerun.isError && <div className="run-actions-error"><ErrorNote error={rerun.error} /></div>}
    </>
  );
}
