import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { RunDag } from "./RunDag";

afterEach(cleanup);
beforeAll(() => {
  // jsdom has no layout: React Flow only needs these to exist.
  globalThis.ResizeObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
  };
});

const spec = {
  nodes: [{ id: "extract", type: "http_fetch" }, { id: "load", type: "sql_query" }],
  edges: [{ source: "extract", target: "load" }],
};
const task = (node_id: string, status: string) => ({ node_id, node_type: "x", status, attempt: 1 });

describe("RunDag", () => {
  it("draws a flow's spec with every node not run", () => {
    render(<RunDag spec={spec} tasks={[]} />);
    expect(screen.getByText("extract")).toBeTruthy();
    expect(screen.getByText("2 not run")).toBeTruthy();
  });

  it("counts the nodes by their latest status", () => {
    render(<RunDag spec={spec} tasks={[task("extract", "completed"), task("load", "running")]} />);
    expect(screen.getByText("1 completed")).toBeTruthy();
    expect(screen.getByText("1 running")).toBeTruthy();
  });

  it("says so when a code flow has reported no task yet", () => {
    render(<RunDag spec={{ entrypoint: "etl:main" }} tasks={[]} />);
    expect(screen.getByText("No tasks reported yet.")).toBeTruthy();
  });
});
