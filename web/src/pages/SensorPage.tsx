import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams } from "react-router";
import { api, RequestFailed, unwrap, type ApiError, type Schemas } from "../api/client";
import { ConfirmButton, ErrorNote } from "../components/common";
import { SensorEnabledSwitch, SensorTestButton } from "../components/SensorActions";
import { SensorEvents } from "../components/SensorEvents";
import { SensorForm } from "../components/SensorForm";
import { SensorWebhook } from "../components/SensorWebhook";
import { when } from "../components/StatusBadge";
import { retryUnlessMissing, sensorKeys } from "../lib/scheduleQueries";
import { sensorTypeLabel } from "../lib/sensor";
import "./schedules.css";
import "./sensors.css";

export function SensorPage() {
  const { sensorId = "" } = useParams();
  const sensor = useQuery({
    queryKey: sensorKeys.one(sensorId),
    queryFn: async () => unwrap(await api.GET("/v1/sensors/{sensor_id}", { params: { path: { sensor_id: sensorId } } })),
    refetchInterval: 30_000,
    retry: retryUnlessMissing,
  });
  if (sensor.isPending) return <p aria-busy="true">Loading sensor…</p>;
  if (sensor.isError) {
    return (
      <section aria-labelledby="sensor-title">
        <h1 id="sensor-title">Sensor</h1>
        <ErrorNote error={sensor.error} />
        <p><Link to="/sensors">All sensors</Link></p>
      </section>
    );
  }
  return <SensorDetail sensor={sensor.data} />;
}

function SensorDetail({ sensor }: { sensor: Schemas["SensorRead"] }) {
  const navigate = useNavigate();
  const queries = useQueryClient();
  const remove = useMutation({
    mutationFn: async () => {
      const result = await api.DELETE("/v1/sensors/{sensor_id}", { params: { path: { sensor_id: sensor.sensor_id } } });
      if (!result.response.ok) throw new RequestFailed(result.response.status, result.error as ApiError | undefined);
    },
    onSuccess: () => {
      // Marked stale, not refetched now: this page's own queries would ask for what is gone.
      void queries.invalidateQueries({ queryKey: sensorKeys.all, refetchType: "none" });
      navigate("/sensors");
    },
  });
  const checked = sensor.sensor_type !== "webhook";
  return (
    <section aria-labelledby="sensor-title" className="sensors">
      <p className="sch-crumbs"><Link to="/sensors">Sensors</Link> /</p>
      <div className="page-head">
        <h1 id="sensor-title">{sensor.name}</h1>
        <span className="badge sensor-type">{sensorTypeLabel(sensor.sensor_type)}</span>
        <SensorEnabledSwitch sensorId={sensor.sensor_id} name={sensor.name} enabled={sensor.enabled} />
        <ConfirmButton
          label="Delete sensor"
          danger
          question={
            <p>
              Delete the sensor <strong>{sensor.name}</strong>? Its events go with it{sensor.sensor_type === "webhook" ? " and its URL stops working" : ""};
              the runs it started stay.
            </p>
          }
          confirmLabel="Delete"
          onConfirm={() => remove.mutateAsync()}
        />
      </div>
      <dl className="facts">
        <dt>Flow</dt>
        <dd><Link to={`/flows/${encodeURIComponent(sensor.flow_name)}`}>{sensor.flow_name}</Link> (its latest version)</dd>
        <dt>Last fired</dt>
        <dd>{sensor.last_fired_at ? when(sensor.last_fired_at) : "never"}</dd>
        {checked && (
          <>
            <dt>Next check</dt>
            <dd>{sensor.enabled ? when(sensor.next_check_at) : "none (disabled)"}</dd>
          </>
        )}
        <dt>Runs</dt>
        <dd><Link to={`/runs?sensor_id=${encodeURIComponent(sensor.sensor_id)}`}>Runs started by this sensor</Link></dd>
        <dt>ID</dt>
        <dd><code>{sensor.sensor_id}</code></dd>
      </dl>

      {sensor.sensor_type === "webhook" && sensor.webhook_token && <SensorWebhook token={sensor.webhook_token} enabled={sensor.enabled} />}

      <section aria-labelledby="sensor-test-title">
        <h2 id="sensor-test-title">Test</h2>
        <p className="sch-hint">
          Runs the flow once with a test event{checked ? `, after reading the ${sensor.sensor_type === "s3" ? "bucket" : "URL"} once` : ""}. The run is tagged test.
        </p>
        <SensorTestButton sensorId={sensor.sensor_id} />
      </section>

      <SensorEvents sensorId={sensor.sensor_id} />

      <section aria-labelledby="edit-sensor-title">
        <h2 id="edit-sensor-title">Edit</h2>
        <SensorForm key={sensor.sensor_id} sensor={sensor} />
      </section>
    </section>
  );
}
