// A sensor's events, newest first (GET /v1/sensors/{id}/events): what fired, what was refused or
// failed and why, and the runs they started.
import { useInfiniteQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, unwrap } from "../api/client";
import { retryUnlessMissing, sensorKeys } from "../lib/scheduleQueries";
import { eventDetail } from "../lib/sensor";
import { ErrorNote } from "./common";
import { when } from "./StatusBadge";

export function SensorEvents({ sensorId }: { sensorId: string }) {
  const events = useInfiniteQuery({
    queryKey: sensorKeys.events(sensorId),
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(await api.GET("/v1/sensors/{sensor_id}/events", { params: { path: { sensor_id: sensorId }, query: { limit: 20, next_token: pageParam } } })),
    getNextPageParam: (page) => page.next_token ?? undefined,
    refetchInterval: (query) => ((query.state.data?.pages.length ?? 0) > 1 ? false : 10_000),
    retry: retryUnlessMissing,
  });
  const items = events.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <section aria-labelledby="sensor-events-title">
      <h2 id="sensor-events-title">Events</h2>
      <ErrorNote error={events.error} />
      {events.isPending && <p aria-busy="true">Loading events…</p>}
      {events.isSuccess && items.length === 0 && (
        <p role="status">No events yet. Use Test sensor to fire it once and see the run it starts.</p>
      )}
      {items.length > 0 && (
        <div className="sch-scroll">
          <table className="sensor-events">
            <caption className="visually-hidden">Events of the sensor, newest first</caption>
            <thead>
              <tr><th scope="col">Time</th><th scope="col">Outcome</th><th scope="col">Run</th><th scope="col">Detail</th><th scope="col">Payload digest</th></tr>
            </thead>
            <tbody aria-live="polite">
              {items.map((event) => (
                <tr key={event.event_id}>
                  <td><time dateTime={event.time}>{when(event.time)}</time></td>
                  <td><span className={`badge outcome-${event.outcome}`}>{event.outcome}</span></td>
                  <td>{event.run_id ? <Link to={`/runs/${event.run_id}`}>{event.run_id}</Link> : "—"}</td>
                  <td className="sensor-detail">{eventDetail(event) || "—"}</td>
                  <td><code title={event.payload_digest}>{event.payload_digest.slice(0, 12)}…</code></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {events.hasNextPage && (
        <button type="button" className="button" onClick={() => void events.fetchNextPage()} disabled={events.isFetchingNextPage}>
          Load more events
        </button>
      )}
    </section>
  );
}
