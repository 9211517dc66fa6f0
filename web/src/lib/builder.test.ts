import { describe, expect, it } from "vitest";
import {
  canvasToGraph,
  connectionsAt,
  fieldKind,
  freeSpot,
  graphToCanvas,
  History,
  issuesOf,
  layoutPositions,
  matchesSearch,
  newNodeId,
  nodeIdProblem,
  parseJsonField,
  parseNumber,
  pasteCopies,
  readPosition,
  renameNode,
  secretName,
  uniqueId,
  withConfig,
  type GraphEdge,
  type GraphNode,
} from "./builder";

const node = (id: string, x = 0, y = 0, nodeType = "python_function"): GraphNode => ({
  id,
  type: "builder",
  position: { x, y },
  data: { nodeType, config: { code: id } },
});

describe("canvas <-> graph", () => {
  it("round-trips a canvas exactly", () => {
    const canvas = {
      nodes: [
        { id: "a", type: "python_function", position: { x: 10, y: 20 }, data: { code: "x" } },
        { id: "b", type: "delay", position: { x: 10, y: 120 }, data: { seconds: 0 } },
      ],
      edges: [{ id: "e1", source: "a", target: "b", sourceHandle: "data_out", targetHandle: "data_in" }],
    };
    const graph = canvasToGraph(canvas);
    expect(graph.nodes[0].data).toEqual({ nodeType: "python_function", config: { code: "x" } });
    expect(graphToCanvas(graph.nodes, graph.edges)).toEqual(canvas);
  });

  it("lays out a spec without positions and names its edges", () => {
    const graph = canvasToGraph({
      nodes: [{ id: "a", type: "t", data: {} }, { id: "b", type: "t", config: { k: 1 } }],
      edges: [{ source: "a", target: "b" }, { source: "a", target: "b" }],
    });
    expect(graph.nodes.every((n) => Number.isFinite(n.position.x))).toBe(true);
    expect(graph.nodes[1].position.y).toBeGreaterThan(graph.nodes[0].position.y);
    expect(graph.nodes[1].data.config).toEqual({ k: 1 });
    expect(new Set(graph.edges.map((e) => e.id)).size).toBe(2);
  });

  it("reads both position spellings", () => {
    expect(readPosition([1, 2])).toEqual({ x: 1, y: 2 });
    expect(readPosition({ x: 3, y: 4 })).toEqual({ x: 3, y: 4 });
    expect(readPosition("no")).toBeNull();
  });

  it("drops selection and rounds positions", () => {
    const canvas = graphToCanvas([{ ...node("a", 1.4, 2.6), selected: true }], [{ id: "e", source: "a", target: "a", sourceHandle: null, selected: true }]);
    expect(canvas.nodes[0].position).toEqual({ x: 1, y: 3 });
    expect(canvas.edges[0]).toEqual({ id: "e", source: "a", target: "a" });
  });
});

describe("ids", () => {
  it("makes unique ids", () => {
    expect(uniqueId("a", new Set(["b"]))).toBe("a");
    expect(uniqueId("a", ["a", "a_2"])).toBe("a_3");
    expect(newNodeId("delay", ["delay"])).toBe("delay_2");
  });

  it("checks a new node id", () => {
    expect(nodeIdProblem("", "a", [])).toMatch(/required/);
    expect(nodeIdProblem("b", "a", ["a", "b"])).toMatch(/already/);
    expect(nodeIdProblem("a", "a", ["a"])).toBeNull();
    expect(nodeIdProblem("x".repeat(129), "a", [])).toMatch(/128/);
  });

  it("renames a node and its edges", () => {
    const edges: GraphEdge[] = [{ id: "e", source: "a", target: "b" }];
    const renamed = renameNode([node("a"), node("b")], edges, "a", "z");
    expect(renamed.nodes.map((n) => n.id)).toEqual(["z", "b"]);
    expect(renamed.edges[0]).toMatchObject({ source: "z", target: "b" });
  });

  it("pastes copies with new ids, offset, and their inner edges", () => {
    const pasted = pasteCopies(
      { nodes: [node("a", 0, 0), node("b", 0, 100)], edges: [{ id: "e", source: "a", target: "b" }, { id: "f", source: "b", target: "c" }] },
      ["a", "b", "c", "a_copy"],
    );
    expect(pasted.nodes.map((n) => n.id)).toEqual(["a_copy_2", "b_copy"]);
    expect(pasted.nodes[0].position).toEqual({ x: 40, y: 40 });
    expect(pasted.edges).toHaveLength(1);
    expect(pasted.edges[0]).toMatchObject({ source: "a_copy_2", target: "b_copy" });
  });

  it("counts a connector's edges", () => {
    const edges: GraphEdge[] = [
      { id: "1", source: "a", target: "b", sourceHandle: "out", targetHandle: "in" },
      { id: "2", source: "c", target: "b", sourceHandle: "out", targetHandle: "in" },
    ];
    expect(connectionsAt(edges, "b", "in", "target")).toBe(2);
    expect(connectionsAt(edges, "a", "out", "source")).toBe(1);
    expect(connectionsAt(edges, "a", "other", "source")).toBe(0);
  });
});

describe("placement", () => {
  it("finds a spot no node covers", () => {
    expect(freeSpot([], { x: 0, y: 0 })).toEqual({ x: 0, y: 0 });
    const spot = freeSpot([node("a", 0, 0)], { x: 0, y: 0 });
    expect(spot).not.toEqual({ x: 0, y: 0 });
  });

  it("lays a chain out top to bottom", () => {
    const laid = layoutPositions([{ id: "a" }, { id: "b" }], [{ source: "a", target: "b" }]);
    expect(laid.get("b")!.y).toBeGreaterThan(laid.get("a")!.y);
  });
});

describe("History", () => {
  it("undoes and redoes", () => {
    const history = new History(0);
    history.push(1);
    history.push(2);
    expect(history.undo()).toBe(1);
    expect(history.undo()).toBe(0);
    expect(history.undo()).toBeUndefined();
    expect(history.redo()).toBe(1);
    history.push(5);
    expect(history.canRedo).toBe(false);
    expect(history.undo()).toBe(1);
  });

  it("merges pushes of the same key into one step", () => {
    const history = new History("");
    history.push("a", "field");
    history.push("ab", "field");
    history.push("abc", "field");
    expect(history.undo()).toBe("");
  });

  it("keeps at most `limit` steps", () => {
    const history = new History(0, 2);
    for (let i = 1; i <= 5; i++) history.push(i);
    expect(history.undo()).toBe(4);
    expect(history.undo()).toBe(3);
    expect(history.undo()).toBeUndefined();
  });
});

describe("config fields", () => {
  it("picks a control per field", () => {
    const f = (type: string, extra = {}) => ({ name: "x", label: "X", type, required: false, ...extra });
    expect(fieldKind(f("string"))).toBe("text");
    expect(fieldKind(f("string", { secret: true }))).toBe("secret");
    expect(fieldKind(f("secret"))).toBe("secret");
    expect(fieldKind(f("enum", { options: ["a"] }))).toBe("select");
    expect(fieldKind(f("code"))).toBe("code");
    expect(fieldKind(f("array"))).toBe("json");
    expect(fieldKind(f("integer"))).toBe("integer");
    expect(fieldKind(f("boolean"))).toBe("boolean");
  });

  it("parses numbers and JSON", () => {
    expect(parseNumber("", false)).toEqual({});
    expect(parseNumber("1.5", true).error).toBeTruthy();
    expect(parseNumber("2", true)).toEqual({ value: 2 });
    expect(parseJsonField("[1]", "array")).toEqual({ value: [1] });
    expect(parseJsonField("{", "object").error).toBeTruthy();
    expect(parseJsonField("[]", "object").error).toMatch(/object/);
  });

  it("reads secret references and sets config values", () => {
    expect(secretName({ secret: "k" })).toBe("k");
    expect(secretName("plain")).toBeNull();
    expect(withConfig({ a: 1 }, "b", 2)).toEqual({ a: 1, b: 2 });
    expect(withConfig({ a: 1 }, "a", undefined)).toEqual({});
  });

  it("matches the search box's words", () => {
    const n = { node_type: "python_function", label: "Python Function", description: "Runs code", tags: ["script"] };
    expect(matchesSearch(n, "PYTHON script")).toBe(true);
    expect(matchesSearch(n, "python sql")).toBe(false);
  });
});

describe("issuesOf", () => {
  it("pins node and edge problems to the nodes sent", () => {
    const sent = {
      nodes: [{ id: "a", type: "t", position: { x: 0, y: 0 }, data: {} }],
      edges: [{ id: "e", source: "a", target: "b" }],
    };
    expect(
      issuesOf({ "flow_spec.nodes[0].data.code": "required", "flow_spec.edges[0].target": "no node", flow_name: "bad" }, sent),
    ).toEqual([
      { field: "data.code", message: "required", nodeId: "a" },
      { field: "edge a → b (target)", message: "no node", nodeId: "b" },
      { field: "flow_name", message: "bad" },
    ]);
  });
});
