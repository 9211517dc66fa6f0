import { describe, expect, it } from "vitest";
import { dagOf, entrypointOf, secretsOf } from "./flowsSpec";

describe("dagOf", () => {
  it("keeps the nodes' ids and types and the edges, dropping builder fields", () => {
    const spec = {
      nodes: [{ id: "a", type: "python_function", data: {}, position: { x: 1, y: 2 } }, { id: "b" }],
      edges: [{ id: "e1", source: "a", target: "b", label: "x" }],
    };
    expect(dagOf(spec)).toEqual({
      nodes: [{ id: "a", type: "python_function" }, { id: "b", type: undefined }],
      edges: [{ source: "a", target: "b" }],
    });
  });

  it("is null for a code flow, an empty graph or no spec", () => {
    expect(dagOf({ entrypoint: "etl:main" })).toBeNull();
    expect(dagOf({ nodes: [], edges: [] })).toBeNull();
    expect(dagOf(null)).toBeNull();
  });
});

describe("entrypointOf / secretsOf", () => {
  it("reads a code flow's entry point and the secrets a spec declares", () => {
    const spec = { entrypoint: "etl:main", secrets: ["DB_URL", 3] };
    expect(entrypointOf(spec)).toBe("etl:main");
    expect(secretsOf(spec)).toEqual(["DB_URL"]);
    expect(entrypointOf({ nodes: [] })).toBeNull();
    expect(secretsOf(undefined)).toEqual([]);
  });
});
