import { useInfiniteQuery } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { Link, useNavigate } from "react-router";
import { useSearchParam } from "../lib/searchParams";
import { api, unwrap, type Schemas } from "../api/client";
import { EmptyState, ErrorNote } from "../components/common";
import { RunNowButton, ScheduleEnabledSwitch } from "../components/ScheduleActions";
import { ScheduleForm } from "../components/ScheduleForm";
import { formatInZone } from "../lib/cronZone";
import { MODES, modeLabel, scheduleTiming } from "../lib/schedule";
import { scheduleKeys } from "../lib/scheduleQueries";
import "./schedules.css";

export function Schedules() {
  const [params, setParam] = useSearchParam();
  const navigate = useNavigate();
  const creating = params.has("new");
  const flowName = params.get("flow_name") ?? "";
  const mode = params.get("mode") ?? "";
  const state = params.get("enabled") ?? "";
  const schedules = useInfiniteQuery({
    queryKey: [...scheduleKeys.list(), flowName, mode, state],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET("/v1/schedules", {
          params: {
            query: { limit: 100, next_token: pageParam, flow_name: flowName || undefined, mode: mode || undefined, enabled: state ? state === "true" : undefined },
          },
        }),
      ),
    getNextPageParam: (page) => page.next_token ?? undefined,
    refetchInterval: 30_000,
  });
  const items = schedules.data?.pages.flatMap((page) => page.items) ?? [];
  const filtered = Boolean(flowName || mode || state);
  const newHeading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (creating) newHeading.current?.focus();
  }, [creating]);

  return (
    <section aria-labelledby="schedules-title" className="schedules">
      <div className="page-head">
        <h1 id="schedules-title">Schedules</h1>
        {!creating && (
          <button type="button" className="button primary" onClick={() => setParam("new", "1")}>
            New schedule
          </button>
        )}
      </div>

      {creating && (
        <section aria-labelledby="new-schedule-title" className="card sch-create">
          <h2 id="new-schedule-title" tabIndex={-1} ref={newHeading}>New schedule</h2>
          <ScheduleForm onSaved={(saved) => navigate(`/schedules/${encodeURIComponent(saved.schedule_id)}`)} onCancel={() => setParam("new", "")} />
        </section>
      )}

      <div className="sch-filters" role="group" aria-label="Filter schedules">
        <label>
          <span>Mode</span>
          <select value={mode} onChange={(e) => setParam("mode", e.target.value)}>
            <option value="">Any</option>
            {MODES.map((m) => <option key={m.value} value={m.value}>{m.label}</option>)}
          </select>
        </label>
        <label>
          <span>State</span>
          <select value={state} onChange={(e) => setParam("enabled", e.target.value)}>
            <option value="">Any</option>
            <option value="true">Enabled</option>
            <option value="false">Disabled</option>
          </select>
        </label>
        {flowName && (
          <span>
            Flow <code>{flowName}</code>{" "}
            <button type="button" className="button sch-link" onClick={() => setParam("flow_name", "")}>Show all flows</button>
          </span>
        )}
      </div>

      {schedules.isPending && <p aria-busy="true">Loading schedules…</p>}
      <ErrorNote error={schedules.error} />
      {schedules.isSuccess && items.length === 0 && !filtered && (
        <EmptyState title="No schedules yet">
          <p>A schedule runs a flow by the clock: on a cron expression, at a fixed interval, once, or only when you press Run now.</p>
          <p>
            <button type="button" className="button primary" onClick={() => setParam("new", "1")}>New schedule</button>{" "}
            or give a deployment a schedule: <code>dagy deploy --schedule "0 9 * * 1-5"</code>.
          </p>
        </EmptyState>
      )}
      {schedules.isSuccess && items.length === 0 && filtered && <p role="status">No schedule matches these filters.</p>}
      {items.length > 0 && (
        <div className="sch-scroll">
          <table className="schedule-table">
            <caption className="visually-hidden">Schedules, by ID</caption>
            <thead>
              <tr>
                <th scope="col">Schedule</th>
                <th scope="col">Flow</th>
                <th scope="col">Mode</th>
                <th scope="col">When</th>
                <th scope="col">Time zone</th>
                <th scope="col">Next run</th>
                <th scope="col">Enabled</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((schedule) => (
                <ScheduleRow key={schedule.schedule_id} schedule={schedule} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {schedules.hasNextPage && (
        <button type="button" className="button" onClick={() => void schedules.fetchNextPage()} disabled={schedules.isFetchingNextPage}>
          Load more
        </button>
      )}
    </section>
  );
}

function ScheduleRow({ schedule }: { schedule: Schemas["ScheduleRead"] }) {
  const timing = scheduleTiming(schedule);
  const href = `/schedules/${encodeURIComponent(schedule.schedule_id)}`;
  return (
    <tr>
      <th scope="row">
        <Link to={href}>{schedule.schedule_id}</Link>
        {schedule.deployment_name && <small className="sch-block sch-muted">deployment {schedule.deployment_name}</small>}
        {schedule.description && <small className="sch-block sch-muted">{schedule.description}</small>}
      </th>
      <td><Link to={`/flows/${encodeURIComponent(schedule.flow_name)}`}>{schedule.flow_name}</Link></td>
      <td>{modeLabel(schedule.mode)}</td>
      <td>
        {timing.code && <code>{timing.code}</code>}
        {timing.words && <small className="sch-block">{timing.words}</small>}
      </td>
      <td>{schedule.timezone}</td>
      <td>
        {schedule.next_run_at ? (
          <time dateTime={schedule.next_run_at} title={new Date(schedule.next_run_at).toLocaleString()}>
            {formatInZone(Date.parse(schedule.next_run_at), schedule.timezone)}
          </time>
        ) : (
          <span className="sch-muted">{schedule.enabled ? "none" : "off"}</span>
        )}
      </td>
      <td><ScheduleEnabledSwitch schedule={schedule} /></td>
      <td>
        <div className="sch-row-actions">
          <RunNowButton scheduleId={schedule.schedule_id} />
          <Link to={href} className="button">Edit</Link>
        </div>
      </td>
    </tr>
  );
}
