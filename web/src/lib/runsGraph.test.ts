import { describe, expect, it } from "vitest";
import {
  graphNodes,
  latestByNode,
  layoutCache,
  layoutGraph,
  NODE_HEIGHT,
  NOT_RUN,
  nodeStatuses,
  readSpec,
  statusCounts,
  withStatuses,
  type RunNode,
} from "./runsGraph";

const task = (node_id: string, status: string, attempt = 1) => ({ node_id, node_type: "python_function", status, attempt });

describe("readSpec", () => {
  it("keeps the nodes' ids and types and the edges, dropping anything malformed", () => {
    const spec = {
      nodes: [{ id: "a", type: "http_fetch", data: {}, position: { x: 1, y: 2 } }, { id: "b" }, { type: "no id" }, null],
      edges: [{ id: "e", source: "a", target: "b", sourceHandle: "true_out" }, { source: "a" }],
    };
    expect(readSpec(spec)).toEqual({
      nodes: [{ id: "a", type: "http_fetch" }, { id: "b", type: "" }],
      edges: [{ source: "a", target: "b" }],
    });
  });

  it("reads a code flow's spec, or none, as an empty graph", () => {
    expect(readSpec({ entrypoint: "etl:main" })).toEqual({ nodes: [], edges: [] });
    expect(readSpec(null)).toEqual({ nodes: [], edges: [] });
  });
});

describe("node statuses", () => {
  it("takes each node's latest attempt", () => {
    const tasks = [task("a", "failed", 1), task("b", "completed", 1), task("a", "completed", 2)];
    expect(latestByNode(tasks).get("a")?.attempt).toBe(2);
    expect(nodeStatuses(tasks)).toEqual(new Map([["a", "completed"], ["b", "completed"]]));
  });

  it("counts nodes by status, those without a node run as not run", () => {
    const nodes = [{ id: "a" }, { id: "b" }, { id: "c" }, { id: "d" }];
    const statuses = new Map([["a", "completed"], ["b", "running"], ["c", "completed"]]);
    expect(statusCounts(nodes, statuses)).toEqual([["completed", 2], [NOT_RUN, 1], ["running", 1]]);
  });
});

describe("graphNodes", () => {
  it("is the spec's nodes, whatever ran", () => {
    const spec = readSpec({ nodes: [{ id: "a", type: "x" }], edges: [] });
    expect(graphNodes(spec, [task("zzz", "running")])).toEqual([{ id: "a", type: "x" }]);
  });

  it("is a code flow's tasks, once each, in the order listed", () => {
    const tasks = [task("extract-1", "completed"), task("load-1", "running"), task("extract-1", "running", 2)];
    expect(graphNodes(readSpec({ entrypoint: "m:f" }), tasks).map((n) => n.id)).toEqual(["extract-1", "load-1"]);
  });
});

describe("layoutGraph", () => {
  const spec = readSpec({
    nodes: [{ id: "a" }, { id: "b" }, { id: "c" }],
    edges: [{ source: "a", target: "b" }, { source: "b", target: "c" }, { source: "a", target: "gone" }],
  });

  it("lays a chain out top to bottom, every node not run, edges to unknown nodes left out", () => {
    const layout = layoutGraph(spec.nodes, spec.edges);
    const [a, b, c] = layout.nodes;
    expect(a.position.y).toBeLessThan(b.position.y);
    expect(b.position.y).toBeLessThan(c.position.y);
    expect(layout.nodes.every((n) => n.data.status === NOT_RUN && n.className === `status-${NOT_RUN}`)).toBe(true);
    expect(layout.edges.map((e) => e.id)).toEqual(["a->b", "b->c"]);
  });

  it("puts edgeless nodes (a code flow's tasks) on a grid, not one endless row", () => {
    const nodes = Array.from({ length: 9 }, (_, i) => ({ id: `t${i}`, type: "task" }));
    const layout = layoutGraph(nodes, []);
    const rows = new Set(layout.nodes.map((n) => n.position.y));
    expect(rows.size).toBe(3);
    expect(Math.max(...layout.nodes.map((n) => n.position.y))).toBeGreaterThanOrEqual(2 * NODE_HEIGHT);
  });

  it("lays out again only when the shape changes", () => {
    const layoutOf = layoutCache();
    const first = layoutOf(spec.nodes, spec.edges);
    expect(layoutOf([...spec.nodes], [...spec.edges])).toBe(first);
    expect(layoutOf([...spec.nodes, { id: "d", type: "" }], spec.edges)).not.toBe(first);
  });
});

describe("withStatuses", () => {
  const layout = layoutGraph(
    Array.from({ length: 200 }, (_, i) => ({ id: `n${i}`, type: "python_function" })),
    Array.from({ length: 199 }, (_, i) => ({ source: `n${i}`, target: `n${i + 1}` })),
  );
  const byId = (nodes: RunNode[]) => new Map(nodes.map((n) => [n.id, n]));

  it("colours each node by its status", () => {
    const nodes = withStatuses(layout.nodes, new Map([["n0", "failed"]]), new Map());
    expect(nodes[0]).toMatchObject({ className: "status-failed", data: { status: "failed", label: "n0" } });
    expect(nodes[1].className).toBe(`status-${NOT_RUN}`);
  });

  it("keeps the objects of the nodes whose status did not change", () => {
    const before = withStatuses(layout.nodes, new Map(), new Map());
    const changed = new Map(Array.from({ length: 50 }, (_, i) => [`n${i * 4}`, "running"]));
    const after = withStatuses(layout.nodes, changed, byId(before));
    const replaced = after.filter((node, i) => node !== before[i]);
    expect(replaced).toHaveLength(50);
    expect(replaced.every((n) => n.data.status === "running")).toBe(true);
    expect(withStatuses(layout.nodes, changed, byId(after)).every((node, i) => node === after[i])).toBe(true);
  });

  it("gives a node laid out again its new position", () => {
    const before = withStatuses(layout.nodes, new Map(), new Map());
    const moved = layout.nodes.map((n) => ({ ...n, position: { x: n.position.x + 10, y: n.position.y } }));
    expect(withStatuses(moved, new Map(), byId(before))[0].position.x).toBe(before[0].position.x + 10);
  });
});
