import { describe, expect, it } from "vitest";
import { axisTicks, MIN_BAR_WIDTH, timeline } from "./runsTimeline";

const at = (seconds: number) => new Date(Date.UTC(2026, 2, 2, 10, 0, 0) + seconds * 1000).toISOString();
const node = (node_id: string, status: string, start: number | null, end: number | null, attempt = 1) => ({
  node_id,
  attempt,
  status,
  started_at: start === null ? null : at(start),
  completed_at: end === null ? null : at(end),
});

describe("timeline", () => {
  it("places each node run on an axis from the first start to the last end", () => {
    const chart = timeline([node("load", "completed", 6, 10), node("extract", "completed", 2, 6)], Date.parse(at(60)));
    expect(chart.origin).toBe(Date.parse(at(2)));
    expect(chart.span).toBe(8);
    expect(chart.bars.map((b) => [b.nodeId, b.start, b.end, b.left, b.width])).toEqual([
      ["extract", 0, 4, 0, 50],
      ["load", 4, 8, 50, 50],
    ]);
  });

  it("runs a running node's bar to now, and marks it open", () => {
    const now = Date.parse(at(12));
    const chart = timeline([node("a", "completed", 0, 2), node("b", "running", 2, null)], now);
    expect(chart.span).toBe(12);
    expect(chart.bars[1]).toMatchObject({ nodeId: "b", end: 12, open: true });
  });

  it("gives an instant node a visible bar and an unfinished, stopped node no length", () => {
    const chart = timeline([node("a", "completed", 0, 100), node("b", "completed", 50, 50), node("c", "abandoned", 60, null)], 0);
    expect(chart.bars.find((b) => b.nodeId === "b")!.width).toBe(MIN_BAR_WIDTH);
    expect(chart.bars.find((b) => b.nodeId === "c")).toMatchObject({ start: 60, end: 60, open: false });
  });

  it("keeps every attempt's row, and counts node runs without a start", () => {
    const chart = timeline([node("a", "failed", 0, 1, 1), node("a", "completed", 3, 4, 2), node("b", "completed", null, null, 2)], 0);
    expect(chart.bars.map((b) => b.key)).toEqual(["a#1", "a#2"]);
    expect(chart.untimed).toBe(1);
  });

  it("is empty before any node starts", () => {
    expect(timeline([node("a", "running", null, null)], 5)).toMatchObject({ bars: [], untimed: 1, span: 0 });
  });
});

describe("axisTicks", () => {
  it("marks round steps within the span", () => {
    expect(axisTicks(8)).toEqual([0, 2, 4, 6, 8]);
    expect(axisTicks(0.9)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
    expect(axisTicks(3600)).toEqual([0, 1000, 2000, 3000]);
    expect(axisTicks(0)).toEqual([]);
  });
});
