import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams } from "react-router";
import { api, RequestFailed, unwrap, type ApiError, type Schemas } from "../api/client";
import { ConfirmButton, ErrorNote } from "../components/common";
import { RunNowButton, ScheduleEnabledSwitch } from "../components/ScheduleActions";
import { ScheduleForm } from "../components/ScheduleForm";
import { StatusBadge, when } from "../components/StatusBadge";
import { formatInZone, localZone } from "../lib/cronZone";
import { modeLabel, scheduleTiming } from "../lib/schedule";
import { retryUnlessMissing, scheduleKeys } from "../lib/scheduleQueries";
import "./schedules.css";

export function SchedulePage() {
  const { scheduleId = "" } = useParams();
  const schedule = useQuery({
    queryKey: scheduleKeys.one(scheduleId),
    queryFn: async () => unwrap(await api.GET("/v1/schedules/{schedule_id}", { params: { path: { schedule_id: scheduleId } } })),
    refetchInterval: 30_000,
    retry: retryUnlessMissing,
  });
  if (schedule.isPending) return <p aria-busy="true">Loading schedule…</p>;
  if (schedule.isError) {
    return (
      <section aria-labelledby="schedule-title">
        <h1 id="schedule-title">Schedule {scheduleId}</h1>
        <ErrorNote error={schedule.error} />
        <p><Link to="/schedules">All schedules</Link></p>
      </section>
    );
  }
  return <ScheduleDetail schedule={schedule.data} />;
}

function ScheduleDetail({ schedule }: { schedule: Schemas["ScheduleRead"] }) {
  const navigate = useNavigate();
  const queries = useQueryClient();
  const remove = useMutation({
    mutationFn: async () => {
      const result = await api.DELETE("/v1/schedules/{schedule_id}", { params: { path: { schedule_id: schedule.schedule_id } } });
      if (!result.response.ok) throw new RequestFailed(result.response.status, result.error as ApiError | undefined);
    },
    onSuccess: () => {
      // Marked stale, not refetched now: this page's own queries would ask for what is gone.
      void queries.invalidateQueries({ queryKey: scheduleKeys.all, refetchType: "none" });
      navigate("/schedules");
    },
  });
  const timing = scheduleTiming(schedule);
  const local = localZone();
  const instant = (value: string | null) =>
    value ? (
      <time dateTime={value}>
        {formatInZone(Date.parse(value), schedule.timezone)}
        {schedule.timezone !== local && <span className="sch-muted"> · {formatInZone(Date.parse(value), local)} your time</span>}
      </time>
    ) : (
      "—"
    );
  return (
    <section aria-labelledby="schedule-title" className="schedules">
      <p className="sch-crumbs"><Link to="/schedules">Schedules</Link> /</p>
      <div className="page-head">
        <h1 id="schedule-title">{schedule.schedule_id}</h1>
        <ScheduleEnabledSwitch schedule={schedule} />
        <RunNowButton scheduleId={schedule.schedule_id} />
        <ConfirmButton
          label="Delete schedule"
          danger
          disabled={Boolean(schedule.deployment_name)}
          question={
            <p>
              Delete the schedule <strong>{schedule.schedule_id}</strong>? Its future runs are cancelled; the runs it already
              started stay. Deleting a schedule takes the owner role.
            </p>
          }
          confirmLabel="Delete"
          onConfirm={() => remove.mutateAsync()}
        />
      </div>
      {schedule.deployment_name && (
        <p className="sch-hint">
          It belongs to the deployment {schedule.deployment_name}: remove it by setting the deployment's schedule to "" (
          <code>dagy deployments settings {schedule.deployment_name} --schedule ""</code>).
        </p>
      )}
      <dl className="facts">
        <dt>Flow</dt>
        <dd>
          <Link to={`/flows/${encodeURIComponent(schedule.flow_name)}`}>{schedule.flow_name}</Link>
          {schedule.deployment_name
            ? ` (deployment ${schedule.deployment_name})`
            : schedule.environment
              ? ` (its deployment in ${schedule.environment})`
              : ` (${schedule.flow_version ? `version ${schedule.flow_version}` : "latest version"})`}
        </dd>
        <dt>Mode</dt>
        <dd>
          {modeLabel(schedule.mode)}
          {timing.code && <>: <code>{timing.code}</code></>}
          {timing.words && <> ({timing.words})</>}
        </dd>
        <dt>Time zone</dt>
        <dd>{schedule.timezone}</dd>
        <dt>Next run</dt>
        <dd aria-live="polite">{schedule.next_run_at ? instant(schedule.next_run_at) : schedule.enabled ? "none left" : "none (disabled)"}</dd>
        <dt>Last run</dt>
        <dd>
          {schedule.last_run_id ? <Link to={`/runs/${schedule.last_run_id}`}>{when(schedule.last_run_at)}</Link> : "never"}
        </dd>
        {(schedule.start_at || schedule.end_at) && (
          <>
            <dt>Window</dt>
            <dd>
              {schedule.start_at ? <>from {instant(schedule.start_at)} </> : null}
              {schedule.end_at ? <>until {instant(schedule.end_at)}</> : null}
            </dd>
          </>
        )}
        {schedule.description && (
          <>
            <dt>Description</dt>
            <dd>{schedule.description}</dd>
          </>
        )}
        <dt>Updated</dt>
        <dd>{when(schedule.updated_at)}</dd>
      </dl>

      <ScheduleRuns scheduleId={schedule.schedule_id} />

      <section aria-labelledby="edit-schedule-title">
        <h2 id="edit-schedule-title">Edit</h2>
        <ScheduleForm key={schedule.schedule_id} schedule={schedule} />
      </section>
    </section>
  );
}

function ScheduleRuns({ scheduleId }: { scheduleId: string }) {
  const runs = useQuery({
    queryKey: scheduleKeys.runs(scheduleId),
    queryFn: async () =>
      unwrap(await api.GET("/v1/schedules/{schedule_id}/runs", { params: { path: { schedule_id: scheduleId }, query: { limit: 20 } } })),
    refetchInterval: 10_000,
  });
  return (
    <section aria-labelledby="schedule-runs-title">
      <h2 id="schedule-runs-title">Recent runs</h2>
      <ErrorNote error={runs.error} />
      {runs.isPending && <p aria-busy="true">Loading runs…</p>}
      {runs.data && runs.data.items.length === 0 && <p>No runs yet. Use Run now to start one.</p>}
      {runs.data && runs.data.items.length > 0 && (
        <table>
          <caption className="visually-hidden">The schedule's runs, newest first</caption>
          <thead>
            <tr><th scope="col">Run</th><th scope="col">Status</th><th scope="col">Started by</th><th scope="col">Fire time</th><th scope="col">Created</th></tr>
          </thead>
          <tbody aria-live="polite">
            {runs.data.items.map((run) => (
              <tr key={run.run_id}>
                <td><Link to={`/runs/${run.run_id}`}>{run.run_slug}</Link></td>
                <td><StatusBadge status={run.status} /></td>
                <td>{run.tags.includes("manual") ? "Run now" : "the clock"}</td>
                <td>{when(run.scheduled_for)}</td>
                <td>{when(run.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {runs.data && runs.data.items.length > 0 && (
        <p><Link to={`/runs?schedule_id=${encodeURIComponent(scheduleId)}`}>All runs of this schedule</Link></p>
      )}
    </section>
  );
}
