import { useInfiniteQuery } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { Link, useNavigate } from "react-router";
import { useSearchParam } from "../lib/searchParams";
import { api, unwrap } from "../api/client";
import { EmptyState, ErrorNote } from "../components/common";
import { SensorEnabledSwitch } from "../components/SensorActions";
import { SensorForm } from "../components/SensorForm";
import { when } from "../components/StatusBadge";
import { SENSOR_TYPES, sensorTypeLabel, type SensorType } from "../lib/sensor";
import { sensorKeys } from "../lib/scheduleQueries";
import "./schedules.css";
import "./sensors.css";

export function Sensors() {
  const [params, setParam] = useSearchParam();
  const navigate = useNavigate();
  const creating = params.has("new");
  const type = (params.get("sensor_type") ?? "") as SensorType | "";
  const flowName = params.get("flow_name") ?? "";
  const sensors = useInfiniteQuery({
    queryKey: [...sensorKeys.list(), type, flowName],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET("/v1/sensors", {
          params: { query: { limit: 100, next_token: pageParam, sensor_type: type || undefined, flow_name: flowName || undefined } },
        }),
      ),
    getNextPageParam: (page) => page.next_token ?? undefined,
    refetchInterval: 30_000,
  });
  const items = sensors.data?.pages.flatMap((page) => page.items) ?? [];
  const filtered = Boolean(type || flowName);
  const newHeading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (creating) newHeading.current?.focus();
  }, [creating]);

  return (
    <section aria-labelledby="sensors-title" className="sensors">
      <div className="page-head">
        <h1 id="sensors-title">Sensors</h1>
        {!creating && (
          <button type="button" className="button primary" onClick={() => setParam("new", "1")}>
            New sensor
          </button>
        )}
      </div>

      {creating && (
        <section aria-labelledby="new-sensor-title" className="card sch-create">
          <h2 id="new-sensor-title" tabIndex={-1} ref={newHeading}>New sensor</h2>
          <SensorForm onSaved={(saved) => navigate(`/sensors/${saved.sensor_id}`)} onCancel={() => setParam("new", "")} />
        </section>
      )}

      <div className="sch-filters" role="group" aria-label="Filter sensors">
        <label>
          <span>Type</span>
          <select value={type} onChange={(e) => setParam("sensor_type", e.target.value)}>
            <option value="">Any</option>
            {SENSOR_TYPES.map((t) => <option key={t.value} value={t.value}>{t.label}</option>)}
          </select>
        </label>
        {flowName && (
          <span>
            Flow <code>{flowName}</code>{" "}
            <button type="button" className="button sch-link" onClick={() => setParam("flow_name", "")}>Show all flows</button>
          </span>
        )}
      </div>

      {sensors.isPending && <p aria-busy="true">Loading sensors…</p>}
      <ErrorNote error={sensors.error} />
      {sensors.isSuccess && items.length === 0 && !filtered && (
        <EmptyState title="No sensors yet">
          <p>
            A sensor runs a flow when something happens outside Dagy: a system POSTs to a webhook URL, a new object lands in an S3 bucket
            (or in Dagy's own object store), or a polled URL's answer changes.
          </p>
          <p>
            <button type="button" className="button primary" onClick={() => setParam("new", "1")}>New sensor</button>
          </p>
        </EmptyState>
      )}
      {sensors.isSuccess && items.length === 0 && filtered && <p role="status">No sensor matches these filters.</p>}
      {items.length > 0 && (
        <div className="sch-scroll">
          <table>
            <caption className="visually-hidden">Sensors, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Sensor</th>
                <th scope="col">Type</th>
                <th scope="col">Flow</th>
                <th scope="col">Enabled</th>
                <th scope="col">Last fired</th>
                <th scope="col">Next check</th>
              </tr>
            </thead>
            <tbody>
              {items.map((sensor) => (
                <tr key={sensor.sensor_id}>
                  <th scope="row"><Link to={`/sensors/${sensor.sensor_id}`}>{sensor.name}</Link></th>
                  <td>{sensorTypeLabel(sensor.sensor_type)}</td>
                  <td><Link to={`/flows/${encodeURIComponent(sensor.flow_name)}`}>{sensor.flow_name}</Link></td>
                  <td><SensorEnabledSwitch sensorId={sensor.sensor_id} name={sensor.name} enabled={sensor.enabled} /></td>
                  <td>{sensor.last_fired_at ? when(sensor.last_fired_at) : "never"}</td>
                  <td>{sensor.sensor_type === "webhook" ? "on each request" : sensor.enabled ? when(sensor.next_check_at) : "off"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {sensors.hasNextPage && (
        <button type="button" className="button" onClick={() => void sensors.fetchNextPage()} disabled={sensors.isFetchingNextPage}>
          Load more
        </button>
      )}
    </section>
  );
}
