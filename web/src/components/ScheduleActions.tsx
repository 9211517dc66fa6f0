// What a schedule's row and page both offer: turn it on or off, and run it now.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { scheduleKeys } from "../lib/scheduleQueries";
import { ErrorNote } from "./common";
import { EnabledSwitch } from "./ScheduleSwitch";

/** PATCH `enabled`; a disabled schedule has no next run. */
export function ScheduleEnabledSwitch({ schedule }: { schedule: Schemas["ScheduleRead"] }) {
  const queries = useQueryClient();
  const toggle = useMutation({
    mutationFn: async (enabled: boolean) =>
      unwrap(await api.PATCH("/v1/schedules/{schedule_id}", { params: { path: { schedule_id: schedule.schedule_id } }, body: { enabled } })),
    // Awaited, so the switch shows the new state until the lists have it too.
    onSuccess: (updated) => {
      queries.setQueryData(scheduleKeys.one(updated.schedule_id), updated);
      return queries.invalidateQueries({ queryKey: scheduleKeys.all });
    },
  });
  return (
    <span className="sch-inline">
      <EnabledSwitch
        label={`Enable ${schedule.schedule_id}`}
        checked={toggle.isPending && toggle.variables !== undefined ? toggle.variables : schedule.enabled}
        busy={toggle.isPending}
        onChange={(next) => toggle.mutate(next)}
      />
      <ErrorNote error={toggle.error} />
    </span>
  );
}

/** POST .../trigger, then a link to the run it queued. */
export function RunNowButton({ scheduleId }: { scheduleId: string }) {
  const queries = useQueryClient();
  const trigger = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/schedules/{schedule_id}/trigger", { params: { path: { schedule_id: scheduleId } }, body: {} })),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: scheduleKeys.all });
      void queries.invalidateQueries({ queryKey: ["runs"] });
    },
  });
  return (
    <span className="sch-inline">
      <button type="button" className="button" disabled={trigger.isPending} onClick={() => trigger.mutate()}>
        {trigger.isPending ? "Starting…" : "Run now"}
      </button>
      <span aria-live="polite">
        {trigger.data && (
          <>
            Run queued: <Link to={`/runs/${trigger.data.run_id}`} title={trigger.data.run_slug}>view run</Link>
          </>
        )}
      </span>
      <ErrorNote error={trigger.error} />
    </span>
  );
}
