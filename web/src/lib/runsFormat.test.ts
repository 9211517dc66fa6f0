import { describe, expect, it } from "vitest";
import { elapsedSeconds, formatBytes, formatDuration, isActive, isLive, storedOutput, tracebackLines, versionLabel } from "./runsFormat";

describe("formatDuration", () => {
  it("reads at every scale", () => {
    expect(formatDuration(0.0123)).toBe("12 ms");
    expect(formatDuration(5)).toBe("5 s");
    expect(formatDuration(5.26)).toBe("5.3 s");
    expect(formatDuration(42.6)).toBe("43 s");
    expect(formatDuration(245)).toBe("4 min 05 s");
    expect(formatDuration(7380)).toBe("2 h 03 min");
    expect(formatDuration(null)).toBe("—");
  });

  it("counts a running thing's time to now", () => {
    expect(elapsedSeconds("2026-01-01T00:00:00Z", null, Date.parse("2026-01-01T00:00:30Z"))).toBe(30);
    expect(elapsedSeconds(null, null, 0)).toBeNull();
  });
});

describe("words", () => {
  it("says which states are live and shows version labels", () => {
    expect(["pending", "queued", "running"].every(isLive)).toBe(true);
    expect(isLive("completed")).toBe(false);
    expect([isActive("queued"), isActive("running"), isActive("pending")]).toEqual([true, true, false]);
    expect(versionLabel("3")).toBe("v3");
    expect(versionLabel("prod")).toBe("prod");
    expect(formatBytes(1536)).toBe("1.5 KB");
  });
});

describe("storedOutput", () => {
  it("recognizes an object-store reference", () => {
    const ref = { $dagy_output: { key: "dagy/runs/o/r/outputs/1/a.parquet", format: "parquet", rows: 3, bytes: 10 } };
    expect(storedOutput(ref)).toEqual(ref.$dagy_output);
    expect(storedOutput({ key: "x" })).toBeNull();
    expect(storedOutput("x")).toBeNull();
  });
});

describe("tracebackLines", () => {
  it("sets the header, frames, code and the exception apart", () => {
    const traceback = 'Traceback (most recent call last):\n  File "<node:a>", line 7, in main\n    raise ValueError("no")\nValueError: no\n';
    expect(tracebackLines(traceback).map((l) => l.kind)).toEqual(["header", "frame", "code", "exception"]);
  });
});
