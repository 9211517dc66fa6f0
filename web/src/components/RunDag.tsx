import { Handle, Position, type NodeProps, type NodeTypes } from "@xyflow/react";
import { memo, useEffect, useMemo, useRef } from "react";
import {
  graphNodes,
  layoutCache,
  nodeStatuses,
  readSpec,
  statusCounts,
  statusWords,
  withStatuses,
  NODE_HEIGHT,
  type Layout,
  type RunNode,
  type TaskLike,
} from "../lib/runsGraph";
import "../pages/runs.css";
import { StaticGraph } from "./StaticGraph";

/** One node: its id, and its status and type in words (colour is never the only cue). */
const RunNodeView = memo(function RunNodeView({ data }: NodeProps<RunNode>) {
  return (
    <>
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <span className="run-node-label" title={data.label}>{data.label}</span>
      <span className="run-node-meta">
        {statusWords(data.status)}
        {data.nodeType && <> · {data.nodeType}</>}
      </span>
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </>
  );
});

const nodeTypes: NodeTypes = { run: RunNodeView };

/** The box's height: the graph's own at zoom 1 plus room for the controls, within 200-640 px. */
function graphHeight(layout: Layout): number {
  const bottom = Math.max(0, ...layout.nodes.map((n) => n.position.y + NODE_HEIGHT));
  return Math.round(Math.min(640, Math.max(200, bottom * 1.2 + 80)));
}

/**
 * The flow's DAG laid out by dagre, each node coloured by its latest node run. `tasks={[]}` draws a
 * flow's spec with every node "not run"; a code flow (no nodes in its spec) draws the tasks it
 * reported. The layout is computed again only when the graph's shape changes; a status change
 * replaces only the changed nodes' objects.
 */
export function RunDag({ spec, tasks }: { spec: unknown; tasks: readonly TaskLike[] }) {
  const parsed = useMemo(() => readSpec(spec), [spec]);
  const layoutOf = useMemo(layoutCache, []);
  const layout = layoutOf(graphNodes(parsed, tasks), parsed.edges);
  const statuses = useMemo(() => nodeStatuses(tasks), [tasks]);
  const previous = useRef(new Map<string, RunNode>());
  const nodes = useMemo(() => withStatuses(layout.nodes, statuses, previous.current), [layout, statuses]);
  useEffect(() => {
    previous.current = new Map(nodes.map((n) => [n.id, n]));
  }, [nodes]);
  const counts = statusCounts(layout.nodes, statuses);
  const height = useMemo(() => graphHeight(layout), [layout]);

  if (layout.nodes.length === 0) return <p className="muted">No tasks reported yet.</p>;
  return (
    <figure className="run-dag">
      <StaticGraph nodes={nodes} edges={layout.edges} nodeTypes={nodeTypes} shape={layout.key} height={height} />
      <figcaption>
        <span className="visually-hidden">Graph of {layout.nodes.length} nodes: </span>
        <ul className="run-dag-legend">
          {counts.map(([status, count]) => (
            <li key={status} className={`status-${status}`}>
              <span aria-hidden="true" className="run-dot" /> {count} {statusWords(status)}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
