// The latest runs of a flow, refreshed while the page is open.
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, unwrap } from "../api/client";
import { keys } from "../lib/flowsQueries";
import { EmptyState, ErrorNote } from "./common";
import { StatusBadge, when } from "./StatusBadge";

const SHOWN = 10;

export function FlowRecentRuns({ flowName }: { flowName: string }) {
  const runs = useQuery({
    queryKey: keys.flowRuns(flowName),
    queryFn: async () => unwrap(await api.GET("/v1/runs", { params: { query: { flow_name: flowName, limit: SHOWN } } })),
    refetchInterval: 10_000,
  });
  if (runs.isPending) return <p aria-busy="true">Loading runs…</p>;
  if (runs.isError) return <ErrorNote error={runs.error} />;
  if (runs.data.items.length === 0) {
    return (
      <EmptyState title="No runs yet">
        <p>
          <Link to={`/runs/new?flow=${encodeURIComponent(flowName)}`}>Run this flow</Link> now, or give it a schedule on the{" "}
          <Link to="/schedules">Schedules</Link> page.
        </p>
      </EmptyState>
    );
  }
  return (
    <>
      <table>
        <caption className="visually-hidden">The {SHOWN} latest runs of {flowName}</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Version</th>
            <th scope="col">Status</th>
            <th scope="col">Trigger</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {runs.data.items.map((run) => (
            <tr key={run.run_id}>
              <td><Link to={`/runs/${run.run_id}`}>{run.run_slug}</Link></td>
              <td>{run.flow_version}</td>
              <td><StatusBadge status={run.status} /></td>
              <td>{run.trigger}</td>
              <td>{when(run.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p><Link to={`/runs?flow_name=${encodeURIComponent(flowName)}`}>All runs of {flowName}</Link></p>
    </>
  );
}
