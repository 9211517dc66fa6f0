// What a sensor's row and page offer: turn it on or off, and fire it once with a test event.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, unwrap } from "../api/client";
import { sensorKeys } from "../lib/scheduleQueries";
import { ErrorNote } from "./common";
import { EnabledSwitch } from "./ScheduleSwitch";

/** PATCH `enabled`: a disabled sensor is not checked, and its webhook answers 404. */
export function SensorEnabledSwitch({ sensorId, name, enabled }: { sensorId: string; name: string; enabled: boolean }) {
  const queries = useQueryClient();
  const toggle = useMutation({
    mutationFn: async (next: boolean) =>
      unwrap(await api.PATCH("/v1/sensors/{sensor_id}", { params: { path: { sensor_id: sensorId } }, body: { enabled: next } })),
    // Awaited, so the switch shows the new state until the lists have it too.
    onSuccess: (updated) => {
      queries.setQueryData(sensorKeys.one(sensorId), updated);
      return queries.invalidateQueries({ queryKey: sensorKeys.all });
    },
  });
  return (
    <span className="sch-inline">
      <EnabledSwitch
        label={`Enable ${name}`}
        checked={toggle.isPending && toggle.variables !== undefined ? toggle.variables : enabled}
        busy={toggle.isPending}
        onChange={(next) => toggle.mutate(next)}
      />
      <ErrorNote error={toggle.error} />
    </span>
  );
}

/** POST .../test: the flow runs once with a test event (an s3 or polling source is read first). */
export function SensorTestButton({ sensorId }: { sensorId: string }) {
  const queries = useQueryClient();
  const test = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/sensors/{sensor_id}/test", { params: { path: { sensor_id: sensorId } } })),
    onSettled: () => {
      void queries.invalidateQueries({ queryKey: sensorKeys.events(sensorId) });
      void queries.invalidateQueries({ queryKey: ["runs"] });
    },
  });
  return (
    <div className="sensor-test">
      <button type="button" className="button" disabled={test.isPending} onClick={() => test.mutate()}>
        {test.isPending ? "Testing…" : "Test sensor"}
      </button>
      <div aria-live="polite" className="sensor-test-result">
        {test.data && (
          <p className="sensor-ok">
            {test.data.message}
            {test.data.run_id && (
              <>
                {" "}
                <Link to={`/runs/${test.data.run_id}`}>View the test run</Link>
              </>
            )}
          </p>
        )}
      </div>
      <ErrorNote error={test.error} />
    </div>
  );
}
