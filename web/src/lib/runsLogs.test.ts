import { describe, expect, it } from "vitest";
import { highlight, keepLastLines, logLevel, matches, searchPattern } from "./runsLogs";

describe("log search", () => {
  it("matches lines ignoring case, the query taken literally", () => {
    const pattern = searchPattern("task (A)");
    expect(matches("[INFO] Task (a) completed", pattern)).toBe(true);
    expect(matches("[INFO] Task a completed", pattern)).toBe(false);
    expect(matches("anything", searchPattern(""))).toBe(true);
  });

  it("filters the same lines however often a pattern is used", () => {
    const pattern = searchPattern("x");
    const lines = ["x1", "x2", "y", "x3"];
    expect(lines.filter((line) => matches(line, pattern))).toEqual(["x1", "x2", "x3"]);
    expect(lines.filter((line) => matches(line, pattern))).toEqual(["x1", "x2", "x3"]);
  });

  it("cuts a line into matching and other parts, after the pattern filtered it", () => {
    const pattern = searchPattern("ab");
    expect(matches("xABy ab", pattern)).toBe(true);
    expect(highlight("xABy ab", pattern)).toEqual([
      { text: "x", match: false },
      { text: "AB", match: true },
      { text: "y ", match: false },
      { text: "ab", match: true },
    ]);
    expect(highlight("none here", pattern)).toEqual([{ text: "none here", match: false }]);
    expect(highlight("plain", null)).toEqual([{ text: "plain", match: false }]);
  });

  it("keeps the line's own characters where lower case would change their length", () => {
    expect(highlight("xİy", searchPattern("İ"))).toEqual([
      { text: "x", match: false },
      { text: "İ", match: true },
      { text: "y", match: false },
    ]);
  });
});

describe("logLevel", () => {
  it("reads the level a line starts with", () => {
    expect(logLevel("[ERROR] Task a failed")).toBe("error");
    expect(logLevel("Traceback (most recent call last):")).toBe("error");
    expect(logLevel("[WARNING] The log was cut")).toBe("warning");
    expect(logLevel("WARN: low disk")).toBe("warning");
    expect(logLevel("[DEBUG] x")).toBe("debug");
    expect(logLevel("[INFO] an ERROR later in the line")).toBe("info");
  });
});

describe("keepLastLines", () => {
  const chunk = (first: number, count: number) => ({ first, events: Array.from({ length: count }, () => ({ timestamp: "", message: "" })) });

  it("drops the oldest chunks past the limit, keeping the newest whole", () => {
    const chunks = [chunk(1, 4), chunk(5, 4), chunk(9, 4)];
    expect(keepLastLines(chunks, 12)).toBe(chunks);
    expect(keepLastLines(chunks, 9).map((c) => c.first)).toEqual([5, 9]);
    expect(keepLastLines([chunk(1, 4), chunk(5, 20)], 10).map((c) => c.first)).toEqual([5]);
  });
});
