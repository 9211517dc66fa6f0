// A run's graph: the flow spec laid out once per shape, and each node's status from the node runs
// the worker reported. Laying out is the expensive part (dagre), so it depends only on the graph's
// shape; a status change replaces only the node objects whose status changed.
import dagre from "@dagrejs/dagre";
import type { Edge, Node } from "@xyflow/react";

export type Spec = { nodes: { id: string; type: string }[]; edges: { source: string; target: string }[] };
export type TaskLike = { node_id: string; node_type: string; status: string; attempt: number };
type GraphNode = { id: string; type: string };
type GraphEdge = { source: string; target: string };

/** A node no node run mentions: the run has not reached it (or the graph is a flow's, not a run's). */
export const NOT_RUN = "not-run";

export const NODE_WIDTH = 180;
export const NODE_HEIGHT = 52;
const GRID_GAP = 24;
const GRID_MAX_COLUMNS = 6;

export type RunNodeData = { label: string; nodeType: string; status: string };
export type RunNode = Node<RunNodeData, "run">;

export type Layout = {
  /** Differs exactly when the graph's shape does. */
  key: string;
  nodes: RunNode[];
  edges: Edge[];
};

/**
 * The nodes and edges of a stored `flow_spec` (`{nodes: [{id, type, ...}], edges: [{source,
 * target, ...}]}`); a code flow's spec (`{entrypoint}`) has neither. Anything malformed is left out.
 */
export function readSpec(value: unknown): Spec {
  const spec = (value ?? {}) as { nodes?: unknown; edges?: unknown };
  const nodes = Array.isArray(spec.nodes) ? spec.nodes : [];
  const edges = Array.isArray(spec.edges) ? spec.edges : [];
  return {
    nodes: nodes
      .filter((n): n is { id: string; type?: unknown } => typeof n?.id === "string")
      .map((n) => ({ id: n.id, type: typeof n.type === "string" ? n.type : "" })),
    edges: edges
      .filter((e): e is GraphEdge => typeof e?.source === "string" && typeof e?.target === "string")
      .map((e) => ({ source: e.source, target: e.target })),
  };
}

/** Each node's row of its latest attempt (a re-queued run reports its nodes again). */
export function latestByNode<T extends TaskLike>(tasks: readonly T[]): Map<string, T> {
  const latest = new Map<string, T>();
  for (const task of tasks) {
    const seen = latest.get(task.node_id);
    if (!seen || task.attempt >= seen.attempt) latest.set(task.node_id, task);
  }
  return latest;
}

/** Each node's status, by node id, from its latest attempt's row. */
export function nodeStatuses(tasks: readonly TaskLike[]): Map<string, string> {
  return new Map([...latestByNode(tasks)].map(([id, task]) => [id, task.status]));
}

/**
 * The graph's nodes: the spec's; for a code flow (a spec without nodes), the tasks it reported,
 * in the order the server lists them (by attempt, then the order they started).
 */
export function graphNodes(spec: Spec, tasks: readonly TaskLike[]): GraphNode[] {
  if (spec.nodes.length) return spec.nodes;
  const seen = new Map<string, GraphNode>();
  for (const task of tasks) if (!seen.has(task.node_id)) seen.set(task.node_id, { id: task.node_id, type: task.node_type });
  return [...seen.values()];
}

/** A string that differs exactly when the nodes or edges differ. */
export function shapeKey(nodes: readonly GraphNode[], edges: readonly GraphEdge[]): string {
  const ids = nodes.map((n) => `${n.id}\u0000${n.type}`).join("\u0001");
  return `${ids}\u0002${edges.map((e) => `${e.source}\u0000${e.target}`).join("\u0001")}`;
}

/**
 * Positions for the nodes: dagre, top to bottom, when the graph has edges; else (a code flow's
 * tasks) a grid in the order given, which reads better than dagre's one endless row.
 */
export function layoutGraph(nodes: readonly GraphNode[], specEdges: readonly GraphEdge[]): Layout {
  const ids = new Set(nodes.map((n) => n.id));
  const links = specEdges.filter((e) => ids.has(e.source) && ids.has(e.target));
  const position = links.length ? dagrePositions(nodes, links) : gridPositions(nodes);
  return {
    key: shapeKey(nodes, specEdges),
    nodes: nodes.map((n) => ({
      id: n.id,
      type: "run",
      position: position.get(n.id)!,
      data: { label: n.id, nodeType: n.type, status: NOT_RUN },
      className: `status-${NOT_RUN}`,
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
      // Known sizes: React Flow keeps a node's measured handles when its status (its object)
      // changes, instead of observing and measuring it in the DOM again.
      measured: { width: NODE_WIDTH, height: NODE_HEIGHT },
    })),
    edges: links.map(({ source, target }) => ({ id: `${source}->${target}`, source, target })),
  };
}

/** `layoutGraph`, run again only when the shape differs from the last call's. */
export function layoutCache(): (nodes: readonly GraphNode[], edges: readonly GraphEdge[]) => Layout {
  let last: Layout | undefined;
  return (nodes, edges) => {
    if (!last || last.key !== shapeKey(nodes, edges)) last = layoutGraph(nodes, edges);
    return last;
  };
}

function dagrePositions(nodes: readonly GraphNode[], links: readonly GraphEdge[]) {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 50 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const { id } of nodes) graph.setNode(id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const { source, target } of links) graph.setEdge(source, target);
  dagre.layout(graph);
  return new Map(
    nodes.map(({ id }) => {
      const { x, y } = graph.node(id);
      return [id, { x: x - NODE_WIDTH / 2, y: y - NODE_HEIGHT / 2 }];
    }),
  );
}

function gridPositions(nodes: readonly GraphNode[]) {
  const columns = Math.max(1, Math.min(GRID_MAX_COLUMNS, Math.ceil(Math.sqrt(nodes.length))));
  return new Map(
    nodes.map(({ id }, i) => [
      id,
      { x: (i % columns) * (NODE_WIDTH + GRID_GAP), y: Math.floor(i / columns) * (NODE_HEIGHT + GRID_GAP) },
    ]),
  );
}

/**
 * The laid-out nodes with their current status. A node whose status is the same as in `previous`
 * (the last answer, for the same layout) is that same object, so React Flow and the memoized node
 * component skip it: 50 changes on a 200-node graph make 50 new objects, not 200.
 */
export function withStatuses(
  layout: readonly RunNode[],
  statuses: ReadonlyMap<string, string>,
  previous: ReadonlyMap<string, RunNode>,
): RunNode[] {
  return layout.map((node) => {
    const status = statuses.get(node.id) ?? NOT_RUN;
    const before = previous.get(node.id);
    if (before && before.data.status === status && before.position === node.position) return before;
    return { ...node, data: { ...node.data, status }, className: `status-${status}` };
  });
}

/** How many nodes are in each status, most frequent first. */
export function statusCounts(nodes: readonly { id: string }[], statuses: ReadonlyMap<string, string>): [string, number][] {
  const counts = new Map<string, number>();
  for (const { id } of nodes) {
    const status = statuses.get(id) ?? NOT_RUN;
    counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export function statusWords(status: string): string {
  return status === NOT_RUN ? "not run" : status;
}
