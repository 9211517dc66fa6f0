import { describe, expect, it } from "vitest";
import {
  applyEvent,
  canvasGraph,
  contentTypeFor,
  credits,
  fileSize,
  newTurnId,
  sseReader,
  startTurn,
  suggestFlowName,
  type SseEvent,
} from "./aiStudio";

const STREAM =
  'event: status\ndata: {"stage":"received","message":"Working on it."}\n\n' +
  ": keep-alive\n\n" +
  'event: token\ndata: {"text":"I built "}\n\n' +
  'event: token\ndata: {"text":"a flow."}\n\n';

function readAll(chunks: string[]): SseEvent[] {
  const reader = sseReader();
  return [...chunks.flatMap((c) => reader.push(c)), ...reader.end()];
}

describe("sseReader", () => {
  it("reads named events and skips comments", () => {
    expect(readAll([STREAM])).toEqual([
      { event: "status", data: '{"stage":"received","message":"Working on it."}' },
      { event: "token", data: '{"text":"I built "}' },
      { event: "token", data: '{"text":"a flow."}' },
    ]);
  });

  it("gives the same events however the text is cut", () => {
    const whole = readAll([STREAM]);
    for (let cut = 1; cut < STREAM.length; cut += 7) {
      expect(readAll([STREAM.slice(0, cut), STREAM.slice(cut)])).toEqual(whole);
    }
    expect(readAll([...STREAM])).toEqual(whole); // one character at a time
  });

  it("accepts CRLF and CR line ends, even a CRLF split between chunks", () => {
    const crlf = STREAM.replace(/\n/g, "\r\n");
    expect(readAll([crlf])).toEqual(readAll([STREAM]));
    const at = crlf.indexOf("\r\n\r\n") + 1; // between "\r" and "\n"
    expect(readAll([crlf.slice(0, at), crlf.slice(at)])).toEqual(readAll([STREAM]));
    expect(readAll([STREAM.replace(/\n/g, "\r")])).toEqual(readAll([STREAM]));
  });

  it("joins data lines, defaults the name to message, and ends an unterminated event", () => {
    expect(readAll(["data: a\ndata:b\n\n", "event: done\ndata: {}"])).toEqual([
      { event: "message", data: "a\nb" },
      { event: "done", data: "{}" },
    ]);
  });

  it("drops an event with no data and fields it does not know", () => {
    expect(readAll(["event: ping\n\nid: 4\nretry: 10\nevent: x\ndata: 1\n\n"])).toEqual([{ event: "x", data: "1" }]);
  });
});

describe("applyEvent", () => {
  const canvas = { nodes: [{ id: "a", type: "s3_ingest" }], edges: [] };
  const ev = (event: string, data: unknown): SseEvent => ({ event, data: JSON.stringify(data) });

  it("builds the reply progressively, then replaces it with the final answer", () => {
    let turn = startTurn("build it");
    turn = applyEvent(turn, ev("status", { stage: "planning", message: "Reading the request." }));
    expect(turn.stage).toBe("Reading the request.");
    turn = applyEvent(turn, ev("canvas", { canvas_state: canvas }));
    turn = applyEvent(turn, ev("validation", { valid: true, errors: [], warnings: ["w"] }));
    turn = applyEvent(turn, ev("token", { text: "I built " }));
    turn = applyEvent(turn, ev("token", { text: "it." }));
    expect(turn.text).toBe("I built it.");
    expect(turn.canvas).toEqual(canvas);
    expect(turn.validation?.warnings).toEqual(["w"]);
    const done = applyEvent(turn, ev("done", { response: "I built it. Final.", canvas_state: null, workflow_status: "advisory" }));
    expect(done.text).toBe("I built it. Final.");
    expect(done.stage).toBeNull();
    expect(done.canvas).toEqual(canvas); // an answer without a canvas keeps the one drawn
    expect(done.answer?.workflow_status).toBe("advisory");
  });

  it("takes a replayed turn's lone done event", () => {
    const done = applyEvent(startTurn("x"), ev("done", { response: "Stored.", canvas_state: canvas, validation: { valid: true, errors: [], warnings: [] } }));
    expect(done).toMatchObject({ text: "Stored.", canvas, validation: { valid: true } });
  });

  it("keeps an error event's body", () => {
    const failed = applyEvent(startTurn("x"), ev("error", { error: "service_unavailable", message: "Planner down.", details: {} }));
    expect(failed.error).toEqual({ error: "service_unavailable", message: "Planner down.", details: {} });
  });

  it("ignores unknown events and malformed data", () => {
    const turn = startTurn("x");
    expect(applyEvent(turn, ev("other", { text: "x" }))).toBe(turn);
    expect(applyEvent(turn, { event: "token", data: "not json" })).toBe(turn);
    expect(applyEvent(turn, ev("token", { text: 4 }))).toBe(turn);
  });
});

describe("canvasGraph", () => {
  it("keeps labels and types, drops malformed nodes and dangling edges, and marks the invalid-records edge", () => {
    const graph = canvasGraph({
      nodes: [
        { id: "v", type: "schema_validator", position: { x: 0, y: 0 }, data: { label: "Validate" } },
        { id: "w", type: "s3_write", position: [280, 140], data: {} },
        { id: "v", type: "again" },
        { id: 3 },
      ],
      edges: [
        { id: "e1", source: "v", target: "w", sourceHandle: "invalid_out" },
        { source: "v", target: "missing" },
      ],
    });
    expect(graph.nodes.map((n) => [n.id, n.data])).toEqual([
      ["v", { label: "Validate", nodeType: "schema_validator" }],
      ["w", { label: "w", nodeType: "s3_write" }],
    ]);
    expect(graph.edges).toEqual([{ id: "e1", source: "v", target: "w", label: "invalid records", className: "studio-edge-invalid" }]);
  });

  it("lays the steps out top to bottom, in the order they feed each other", () => {
    const graph = canvasGraph({
      nodes: [{ id: "a", type: "x" }, { id: "b", type: "y" }, { id: "c", type: "z" }],
      edges: [{ source: "a", target: "b" }, { source: "b", target: "c" }],
    });
    const [a, b, c] = graph.nodes.map((n) => n.position);
    expect(b.y).toBeGreaterThan(a.y);
    expect(c.y).toBeGreaterThan(b.y);
    expect(graph.edges[0].id).toBe("a->b");
  });

  it("gives a new key exactly when the shape changes", () => {
    const one = { nodes: [{ id: "a", type: "x", position: { x: 0, y: 0 } }], edges: [] };
    const moved = { nodes: [{ id: "a", type: "x", position: { x: 9, y: 9 } }], edges: [] };
    const two = { nodes: [...one.nodes, { id: "b", type: "x" }], edges: [] };
    expect(canvasGraph(one).key).toBe(canvasGraph(moved).key);
    expect(canvasGraph(one).key).not.toBe(canvasGraph(two).key);
    expect(canvasGraph(null).nodes).toEqual([]);
  });
});

describe("small conversions", () => {
  it("declares the content type an extension is sent as", () => {
    expect(contentTypeFor("Orders.CSV")).toBe("text/csv");
    expect(contentTypeFor("spec.yml")).toBe("application/yaml");
    expect(contentTypeFor("photo.png")).toBe("application/octet-stream");
    expect(contentTypeFor("README")).toBe("application/octet-stream");
  });

  it("suggests a slug of the title you gave, else the flow's YAML name", () => {
    expect(suggestFlowName("name: generated_pipeline", "Clean the S3 orders!")).toBe("clean-the-s3-orders");
    expect(suggestFlowName("description: x\nname: orders_pipeline\nnodes: []", "New session")).toBe("orders_pipeline");
    expect(suggestFlowName(undefined, "New session")).toBe("ai-studio-flow");
    expect(suggestFlowName(null, "!!!")).toBe("ai-studio-flow");
  });

  it("formats sizes, credits and turn ids", () => {
    expect(fileSize(812)).toBe("812 B");
    expect(fileSize(14540)).toBe("14.2 KB");
    expect(fileSize(3 * 1024 * 1024)).toBe("3.0 MB");
    expect(credits(1200)).toBe("1,200");
    expect(credits(0.5)).toBe("0.5");
    expect(newTurnId()).toMatch(/^web-.+/);
    expect(newTurnId()).not.toBe(newTurnId());
  });
});
