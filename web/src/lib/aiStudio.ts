// AI Studio's pure logic: reading a streamed turn (Server-Sent Events over a POST, which
// EventSource cannot send), folding its events into what the chat shows, the generated canvas as
// a graph, and the small conversions the page needs (an upload's content type, a flow's name).
import dagre from "@dagrejs/dagre";
import type { Edge, Node } from "@xyflow/react";

/** One Server-Sent Event: its `event:` name ("message" when it names none) and its `data:`. */
export type SseEvent = { event: string; data: string };

/**
 * An incremental SSE reader: `push` takes the decoded text as it arrives, in chunks cut anywhere
 * (mid-line, mid-"\r\n"), and answers the events completed so far; `end` answers the last one
 * when the stream ends without a blank line after it. Comments (`: keep-alive`) and fields other
 * than `event` and `data` are ignored; several `data:` lines join with "\n", as the spec says.
 */
export function sseReader(): { push(chunk: string): SseEvent[]; end(): SseEvent[] } {
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let pendingCR = false;

  function line(text: string, out: SseEvent[]) {
    if (text === "") {
      if (data.length) out.push({ event: event || "message", data: data.join("\n") });
      event = "";
      data = [];
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }

  return {
    push(chunk) {
      const out: SseEvent[] = [];
      // A "\r" ending the last chunk may be half of a "\r\n": the "\n" opening this one is not a line.
      if (pendingCR && chunk.startsWith("\n")) chunk = chunk.slice(1);
      pendingCR = chunk.endsWith("\r");
      buffer += chunk;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer[i];
        if (c !== "\n" && c !== "\r") continue;
        line(buffer.slice(start, i), out);
        if (c === "\r" && buffer[i + 1] === "\n") i++;
        start = i + 1;
      }
      buffer = buffer.slice(start);
      return out;
    },
    end() {
      const out: SseEvent[] = [];
      if (buffer) line(buffer, out);
      buffer = "";
      line("", out);
      return out;
    },
  };
}

export type Validation = { valid: boolean; errors: string[]; warnings: string[] };
export type Canvas = { nodes?: unknown; edges?: unknown; [key: string]: unknown };
export type ApiErrorBody = { error: string; message: string; details?: Record<string, unknown> };

/** What a turn in progress shows: the planner's stage, the reply so far, the canvas it drew. */
export type LiveTurn = {
  message: string;
  stage: string | null;
  text: string;
  canvas: Canvas | null;
  validation: Validation | null;
  /** The `done` event's body (the synchronous answer's), once it came. */
  answer: Record<string, unknown> | null;
  /** The `error` event's body: the turn failed after the stream started. */
  error: ApiErrorBody | null;
};

export function startTurn(message: string): LiveTurn {
  return { message, stage: null, text: "", canvas: null, validation: null, answer: null, error: null };
}

function parse(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/**
 * The turn after one event. `token` appends to the reply; `done` replaces it with the final
 * answer (a replayed turn streams only `done`) and its canvas; events the page does not know, or
 * whose data is not the JSON the API documents, change nothing.
 */
export function applyEvent(turn: LiveTurn, { event, data }: SseEvent): LiveTurn {
  const body = parse(data) as Record<string, unknown> | undefined;
  if (!body || typeof body !== "object") return turn;
  switch (event) {
    case "status":
      return typeof body.message === "string" ? { ...turn, stage: body.message } : turn;
    case "token":
      return typeof body.text === "string" ? { ...turn, text: turn.text + body.text } : turn;
    case "canvas":
      return body.canvas_state && typeof body.canvas_state === "object" ? { ...turn, canvas: body.canvas_state as Canvas } : turn;
    case "validation":
      return { ...turn, validation: body as unknown as Validation };
    case "done": {
      const canvas = body.canvas_state && typeof body.canvas_state === "object" ? (body.canvas_state as Canvas) : turn.canvas;
      const validation = (body.validation as Validation | null | undefined) ?? turn.validation;
      const text = typeof body.response === "string" ? body.response : turn.text;
      return { ...turn, stage: null, text, canvas, validation, answer: body };
    }
    case "error":
      return {
        ...turn,
        stage: null,
        error: {
          error: String(body.error ?? "error"),
          message: String(body.message ?? "The turn failed."),
          details: (body.details as Record<string, unknown> | undefined) ?? undefined,
        },
      };
    default:
      return turn;
  }
}

/** The content types the API accepts per extension (docs/ai-studio.md); others go as octet-stream. */
const CONTENT_TYPES: Record<string, string> = {
  pdf: "application/pdf",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  csv: "text/csv",
  txt: "text/plain",
  md: "text/markdown",
  markdown: "text/markdown",
  json: "application/json",
  yaml: "application/yaml",
  yml: "application/yaml",
};

/** The file input's `accept`: the extensions the studio reads. */
export const ACCEPTED_FILES = Object.keys(CONTENT_TYPES).map((ext) => `.${ext}`).join(",");

/**
 * The content type to declare for a file: the one its extension is sent as. The browser's own
 * guess is not used, since it differs between systems (a CSV is "application/vnd.ms-excel" on
 * some); an unknown extension goes as octet-stream, and the API names what it refuses.
 */
export function contentTypeFor(filename: string): string {
  const dot = filename.lastIndexOf(".");
  const ext = dot < 0 ? "" : filename.slice(dot + 1).toLowerCase();
  return CONTENT_TYPES[ext] ?? "application/octet-stream";
}

/** Bytes in words: "812 B", "14.2 KB", "3.1 MB". */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Credits as the API counts them (floats): "4", "0.5", "1,200". */
export function credits(value: number): string {
  return value.toLocaleString("en", { maximumFractionDigits: 2 });
}

/**
 * A flow name to offer for registering the canvas: the session's title when you gave it one (lower
 * case, words joined by "-"), else the `name:` the generated YAML gives the flow, else
 * "ai-studio-flow"; always within the API's pattern (letters, digits, "_", "-", ".", starting
 * with a letter or digit, at most 128).
 */
export function suggestFlowName(pipelineYaml: string | null | undefined, title: string): string {
  const slug = title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60)
    .replace(/-+$/, "");
  if (slug && slug !== "new-session") return slug;
  const named = pipelineYaml?.match(/^name:\s*["']?([A-Za-z0-9][A-Za-z0-9_.-]{0,127})["']?\s*$/m)?.[1];
  return named ?? "ai-studio-flow";
}

export const CANVAS_NODE_WIDTH = 200;
export const CANVAS_NODE_HEIGHT = 56;

export type CanvasNodeData = { label: string; nodeType: string };
export type CanvasNode = Node<CanvasNodeData, "canvas">;

type RawNode = { id: string; type: string; label: string };

/**
 * The canvas as React Flow nodes and edges, laid out by dagre top to bottom: the studio's panel is
 * narrow, and the planner's left-to-right placement (for the builder's wide canvas) would shrink a
 * five-step line to unreadable size. Malformed nodes and edges to unknown nodes are left out.
 * `key` differs exactly when the shape does (ids, types, labels, edges), so the view is fitted
 * again only then.
 */
export function canvasGraph(canvas: Canvas | null | undefined): { key: string; nodes: CanvasNode[]; edges: Edge[] } {
  const rawNodes = Array.isArray(canvas?.nodes) ? (canvas.nodes as unknown[]) : [];
  const rawEdges = Array.isArray(canvas?.edges) ? (canvas.edges as unknown[]) : [];
  const nodes: RawNode[] = [];
  const seen = new Set<string>();
  for (const item of rawNodes) {
    const n = item as { id?: unknown; type?: unknown; data?: { label?: unknown } } | null;
    if (typeof n?.id !== "string" || seen.has(n.id)) continue;
    seen.add(n.id);
    const label = typeof n.data?.label === "string" && n.data.label ? n.data.label : n.id;
    nodes.push({ id: n.id, type: typeof n.type === "string" ? n.type : "", label });
  }
  const edges: Edge[] = [];
  for (const item of rawEdges) {
    const e = item as { id?: unknown; source?: unknown; target?: unknown; sourceHandle?: unknown } | null;
    if (typeof e?.source !== "string" || typeof e.target !== "string" || !seen.has(e.source) || !seen.has(e.target)) continue;
    const port = typeof e.sourceHandle === "string" ? e.sourceHandle : undefined;
    edges.push({
      id: typeof e.id === "string" ? e.id : `${e.source}->${e.target}`,
      source: e.source,
      target: e.target,
      // The validator's second output carries the invalid records: say so on the edge.
      ...(port === "invalid_out" ? { label: "invalid records", className: "studio-edge-invalid" } : {}),
    });
  }
  const placed = dagrePlace(nodes, edges);
  const key = `${nodes.map((n) => `${n.id}\u0000${n.type}\u0000${n.label}`).join("\u0001")}\u0002${edges.map((e) => `${e.source}\u0000${e.target}`).join("\u0001")}`;
  return {
    key,
    nodes: nodes.map((n) => ({
      id: n.id,
      type: "canvas",
      position: placed.get(n.id)!,
      data: { label: n.label, nodeType: n.type },
      width: CANVAS_NODE_WIDTH,
      height: CANVAS_NODE_HEIGHT,
      measured: { width: CANVAS_NODE_WIDTH, height: CANVAS_NODE_HEIGHT },
    })),
    edges,
  };
}

function dagrePlace(nodes: readonly RawNode[], edges: readonly Edge[]) {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 40 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const { id } of nodes) graph.setNode(id, { width: CANVAS_NODE_WIDTH, height: CANVAS_NODE_HEIGHT });
  for (const { source, target } of edges) graph.setEdge(source, target);
  dagre.layout(graph);
  return new Map(
    nodes.map(({ id }) => {
      const { x, y } = graph.node(id);
      return [id, { x: x - CANVAS_NODE_WIDTH / 2, y: y - CANVAS_NODE_HEIGHT / 2 }];
    }),
  );
}

/** A fresh key for one turn: sent as `turn_id` and `X-Idempotency-Key`, so a retry is answered once. */
export function newTurnId(): string {
  const random = globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  return `web-${random}`;
}
