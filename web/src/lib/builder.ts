// The visual builder's pure logic: the canvas the server stores (a DAG draft's `canvas_json`, which
// `POST /v1/flows` accepts unchanged as `flow_spec`), node ids, undo history, free spots, dagre
// auto-layout, the config form's fields, and the register call's problems pinned to nodes.
import dagre from "@dagrejs/dagre";

export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 64;
export const MAX_NODE_ID = 128; // the spec validator's limit

/** The canvas as stored: `{nodes: [{id, type, position: {x, y}, data}], edges: [{id, source, target, sourceHandle?, targetHandle?}]}`. */
export type CanvasNode = { id: string; type: string; position: { x: number; y: number }; data: Record<string, unknown> };
export type CanvasEdge = { id: string; source: string; target: string; sourceHandle?: string; targetHandle?: string };
export type Canvas = { nodes: CanvasNode[]; edges: CanvasEdge[] };

/** What a builder node carries in React Flow: its registry type and its config (the spec's `data`). */
export type BuilderData = { nodeType: string; config: Record<string, unknown> };
/** The React Flow shapes the builder uses (structurally; kept free of React Flow's types). */
export type GraphNode = { id: string; type: "builder"; position: { x: number; y: number }; data: BuilderData; selected?: boolean };
export type GraphEdge = { id: string; source: string; target: string; sourceHandle?: string | null; targetHandle?: string | null; selected?: boolean };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A stored position, `[x, y]` or `{x, y}`; null when there is none. */
export function readPosition(value: unknown): { x: number; y: number } | null {
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "number" && Number.isFinite(v))) {
    return { x: value[0] as number, y: value[1] as number };
  }
  if (isRecord(value) && typeof value.x === "number" && typeof value.y === "number") return { x: value.x, y: value.y };
  return null;
}

/**
 * A stored canvas or a registered flow spec as the builder's graph. A spec registered without
 * positions (by the API or the SDK) is laid out by dagre; edges without ids get ones.
 */
export function canvasToGraph(spec: unknown): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const source = isRecord(spec) ? spec : {};
  const rawNodes = Array.isArray(source.nodes) ? source.nodes.filter(isRecord) : [];
  const rawEdges = Array.isArray(source.edges) ? source.edges.filter(isRecord) : [];
  const nodes: GraphNode[] = rawNodes.map((n, i) => ({
    id: typeof n.id === "string" ? n.id : `node_${i + 1}`,
    type: "builder",
    position: readPosition(n.position) ?? { x: NaN, y: NaN },
    // A spec may say `config` where the canvas says `data`.
    data: { nodeType: typeof n.type === "string" ? n.type : "", config: isRecord(n.data) ? { ...n.data } : isRecord(n.config) ? { ...n.config } : {} },
  }));
  const used = new Set<string>();
  const edges: GraphEdge[] = rawEdges
    .filter((e) => typeof e.source === "string" && typeof e.target === "string")
    .map((e) => {
      const edge: GraphEdge = {
        id: typeof e.id === "string" && !used.has(e.id) ? e.id : uniqueId(`e_${e.source}_${e.target}`, used),
        source: e.source as string,
        target: e.target as string,
      };
      used.add(edge.id);
      if (typeof e.sourceHandle === "string") edge.sourceHandle = e.sourceHandle;
      if (typeof e.targetHandle === "string") edge.targetHandle = e.targetHandle;
      return edge;
    });
  if (nodes.some((n) => Number.isNaN(n.position.x))) {
    const laid = layoutPositions(nodes, edges);
    for (const node of nodes) if (Number.isNaN(node.position.x)) node.position = laid.get(node.id) ?? { x: 0, y: 0 };
  }
  return { nodes, edges };
}

/** The graph as the canvas the server stores and registers (selection and sizes left out). */
export function graphToCanvas(nodes: readonly GraphNode[], edges: readonly GraphEdge[]): Canvas {
  return {
    nodes: nodes.map((n) => ({
      id: n.id,
      type: n.data.nodeType,
      position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
      data: n.data.config,
    })),
    edges: edges.map((e) => {
      const edge: CanvasEdge = { id: e.id, source: e.source, target: e.target };
      if (e.sourceHandle) edge.sourceHandle = e.sourceHandle;
      if (e.targetHandle) edge.targetHandle = e.targetHandle;
      return edge;
    }),
  };
}

/** `base` if unused, else `base_2`, `base_3`, … (ids name nodes to edges: they must be unique). */
export function uniqueId(base: string, taken: ReadonlySet<string> | readonly string[]): string {
  const set = taken instanceof Set ? taken : new Set(taken as readonly string[]);
  const stem = base.slice(0, MAX_NODE_ID - 6) || "node";
  if (!set.has(stem)) return stem;
  for (let i = 2; ; i++) if (!set.has(`${stem}_${i}`)) return `${stem}_${i}`;
}

/** Why a new id for node `current` cannot be used; null when it can. */
export function nodeIdProblem(id: string, current: string, taken: readonly string[]): string | null {
  if (!id.trim()) return "An id is required.";
  if (id !== id.trim()) return "No spaces at either end.";
  if (id.length > MAX_NODE_ID) return `At most ${MAX_NODE_ID} characters.`;
  if (id !== current && taken.includes(id)) return `Another node is already called ${id}.`;
  return null;
}

/** The graph with node `from` called `to`, its edges following it. */
export function renameNode(nodes: readonly GraphNode[], edges: readonly GraphEdge[], from: string, to: string) {
  return {
    nodes: nodes.map((n) => (n.id === from ? { ...n, id: to } : n)),
    edges: edges.map((e) =>
      e.source === from || e.target === from
        ? { ...e, source: e.source === from ? to : e.source, target: e.target === from ? to : e.target }
        : e,
    ),
  };
}

/**
 * Copies of `nodes` (and the edges among them) with new unique ids, moved by `offset`, selected;
 * the originals keep theirs.
 */
export function pasteCopies(
  copied: { nodes: readonly GraphNode[]; edges: readonly GraphEdge[] },
  taken: readonly string[],
  offset = 40,
): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const used = new Set(taken);
  const ids = new Map<string, string>();
  const nodes = copied.nodes.map((n) => {
    const id = uniqueId(`${n.id}_copy`.replace(/(_copy)+(_\d+)?$/, "_copy"), used);
    used.add(id);
    ids.set(n.id, id);
    return {
      ...n,
      id,
      selected: true,
      position: { x: n.position.x + offset, y: n.position.y + offset },
      data: { nodeType: n.data.nodeType, config: structuredClone(n.data.config) },
    };
  });
  const edgeIds = new Set<string>();
  const edges = copied.edges
    .filter((e) => ids.has(e.source) && ids.has(e.target))
    .map((e) => {
      const source = ids.get(e.source) as string;
      const target = ids.get(e.target) as string;
      const id = uniqueId(`e_${source}_${target}`, edgeIds);
      edgeIds.add(id);
      return { ...e, id, source, target, selected: false };
    });
  return { nodes, edges };
}

/** A new edge's id, unused among `edges`. */
export function edgeId(source: string, sourceHandle: string | null | undefined, target: string, targetHandle: string | null | undefined, edges: readonly GraphEdge[]): string {
  return uniqueId(`e_${source}_${sourceHandle ?? "out"}_${target}_${targetHandle ?? "in"}`, new Set(edges.map((e) => e.id)));
}

/** How many edges already use a node's connector (the connection check's `existing_*_connections`). */
export function connectionsAt(edges: readonly GraphEdge[], node: string, handle: string | null | undefined, end: "source" | "target"): number {
  return edges.filter((e) => (end === "source" ? e.source === node && (e.sourceHandle ?? null) === (handle ?? null) : e.target === node && (e.targetHandle ?? null) === (handle ?? null))).length;
}

/**
 * A spot for a node added without a drop point (keyboard): the first place on a grid, scanning from
 * `near`, that overlaps no node.
 */
export function freeSpot(nodes: readonly { position: { x: number; y: number } }[], near: { x: number; y: number }): { x: number; y: number } {
  const gapX = NODE_WIDTH + 30;
  const gapY = NODE_HEIGHT + 40;
  const overlaps = (x: number, y: number) =>
    nodes.some((n) => Math.abs(n.position.x - x) < gapX && Math.abs(n.position.y - y) < gapY);
  for (let ring = 0; ring < 50; ring++) {
    for (let row = 0; row <= ring; row++) {
      for (let col = 0; col <= ring; col++) {
        if (row !== ring && col !== ring) continue;
        const x = Math.round(near.x + col * gapX);
        const y = Math.round(near.y + row * gapY);
        if (!overlaps(x, y)) return { x, y };
      }
    }
  }
  return { x: Math.round(near.x), y: Math.round(near.y + 50 * gapY) };
}

/** Top-to-bottom dagre positions (top-left corners) of every node. */
export function layoutPositions(nodes: readonly { id: string }[], edges: readonly { source: string; target: string }[]): Map<string, { x: number; y: number }> {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 60 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) graph.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const edge of edges) if (graph.hasNode(edge.source) && graph.hasNode(edge.target)) graph.setEdge(edge.source, edge.target);
  dagre.layout(graph);
  const positions = new Map<string, { x: number; y: number }>();
  for (const node of nodes) {
    const laid = graph.node(node.id);
    positions.set(node.id, { x: Math.round(laid.x - NODE_WIDTH / 2), y: Math.round(laid.y - NODE_HEIGHT / 2) });
  }
  return positions;
}

/**
 * Undo history of snapshots. `push` after each change; a push with the same `mergeKey` as the one
 * before replaces it (typing in one field is one step, not one per key).
 */
export class History<T> {
  private past: { state: T; key?: string }[] = [];
  private future: T[] = [];
  constructor(private present: T, private readonly limit = 100) {}
  get current(): T {
    return this.present;
  }
  get canUndo(): boolean {
    return this.past.length > 0;
  }
  get canRedo(): boolean {
    return this.future.length > 0;
  }
  private lastKey: string | undefined;
  push(state: T, mergeKey?: string): void {
    if (mergeKey === undefined || mergeKey !== this.lastKey || this.past.length === 0) {
      this.past.push({ state: this.present });
      if (this.past.length > this.limit) this.past.shift();
    }
    this.present = state;
    this.future = [];
    this.lastKey = mergeKey;
  }
  undo(): T | undefined {
    const previous = this.past.pop();
    if (!previous) return undefined;
    this.future.push(this.present);
    this.present = previous.state;
    this.lastKey = undefined;
    return this.present;
  }
  redo(): T | undefined {
    const next = this.future.pop();
    if (next === undefined) return undefined;
    this.past.push({ state: this.present });
    this.present = next;
    this.lastKey = undefined;
    return this.present;
  }
}

/** A registry config field (`config_schema` items). */
export type ConfigField = {
  name: string;
  label: string;
  type: string;
  required: boolean;
  default?: unknown;
  description?: string;
  secret?: boolean;
  options?: string[];
};

/** The form control a config field gets. */
export type FieldKind = "text" | "integer" | "number" | "boolean" | "select" | "secret" | "code" | "json";

export function fieldKind(field: ConfigField): FieldKind {
  if (field.secret || field.type === "secret") return "secret";
  switch (field.type) {
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "enum":
      return "select";
    case "code":
      return "code";
    case "object":
    case "array":
      return "json";
    default:
      return field.options && field.options.length > 0 ? "select" : "text";
  }
}

/** A number field's text as its value: undefined (left out: the default applies) when empty. */
export function parseNumber(text: string, integer: boolean): { value?: number; error?: string } {
  if (text.trim() === "") return {};
  const value = Number(text);
  if (!Number.isFinite(value)) return { error: "Not a number." };
  if (integer && !Number.isInteger(value)) return { error: "A whole number." };
  return { value };
}

/** An object/array field's JSON text: its value, or the parse error to show. */
export function parseJsonField(text: string, type: string): { value?: unknown; error?: string } {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { error: e instanceof Error ? e.message : "Not valid JSON." };
  }
  if (type === "array" && !Array.isArray(value)) return { error: "Must be a JSON array: [ … ]." };
  if (type === "object" && !isRecord(value)) return { error: "Must be a JSON object: { … }." };
  return { value };
}

/** A secret field's value names an org secret as `{"secret": name}`; the name, if it does. */
export function secretName(value: unknown): string | null {
  return isRecord(value) && typeof value.secret === "string" ? value.secret : null;
}

/** A config with `name` set to `value`, or removed when `value` is undefined (the default applies). */
export function withConfig(config: Record<string, unknown>, name: string, value: unknown): Record<string, unknown> {
  const next = { ...config };
  if (value === undefined) delete next[name];
  else next[name] = value;
  return next;
}

/** A problem the register call reported, pinned to the node it names when it names one. */
export type Issue = { field: string; message: string; nodeId?: string };

/**
 * The `details` of a refused `POST /v1/flows` as issues: `flow_spec.nodes[2].data.code` names the
 * third node of the canvas that was sent; an edge's problem names its two ends.
 */
export function issuesOf(details: Record<string, unknown> | undefined, sent: Canvas): Issue[] {
  if (!details) return [];
  return Object.entries(details).map(([field, why]) => {
    const message = typeof why === "string" ? why : JSON.stringify(why);
    const node = /^flow_spec\.nodes\[(\d+)\](?:\.(.+))?$/.exec(field);
    if (node) {
      const sentNode = sent.nodes[Number(node[1])];
      return { field: node[2] ?? "node", message, nodeId: sentNode?.id };
    }
    const edge = /^flow_spec\.edges\[(\d+)\](?:\.(.+))?$/.exec(field);
    if (edge) {
      const sentEdge = sent.edges[Number(edge[1])];
      const named = sentEdge ? `edge ${sentEdge.source} → ${sentEdge.target}` : field;
      return { field: edge[2] ? `${named} (${edge[2]})` : named, message, nodeId: sentEdge?.target };
    }
    return { field, message };
  });
}

/** Whether a registry node matches every word of the search box (type, label, description, tags). */
export function matchesSearch(node: { node_type: string; label: string; description: string; tags?: string[] }, query: string): boolean {
  const haystack = [node.node_type, node.label, node.description, ...(node.tags ?? [])].join(" ").toLowerCase();
  return query.toLowerCase().split(/\s+/).filter(Boolean).every((word) => haystack.includes(word));
}

/** A new node's id from its type: `python_function`, then `python_function_2`, … */
export function newNodeId(nodeType: string, taken: readonly string[]): string {
  return uniqueId(nodeType || "node", new Set(taken));
}
