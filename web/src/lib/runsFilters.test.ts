import { describe, expect, it } from "vitest";
import { fromLocalInput, hasFilters, readFilters, serverQuery, timeWindow, toLocalInput, withFilters } from "./runsFilters";

const params = (query: string) => new URLSearchParams(query);

describe("readFilters", () => {
  it("reads the server's filters and a period", () => {
    const filters = readFilters(params("status=failed&flow_name=etl&since=24h&created_after=2026-01-01T00:00:00Z"));
    expect(filters).toMatchObject({ status: "failed", flow_name: "etl", trigger: "", since: "24h", created_after: "" });
    const now = Date.parse("2026-03-02T12:00:00Z");
    expect(serverQuery(filters, now)).toEqual({ status: "failed", flow_name: "etl", created_after: "2026-03-01T12:00:00.000Z" });
    expect(hasFilters(filters)).toBe(true);
    expect(hasFilters(readFilters(params("")))).toBe(false);
  });

  it("reads a custom range, with or without since=custom, and ignores bad dates and unknown periods", () => {
    expect(readFilters(params("created_before=2026-03-01T00:00:00.000Z"))).toMatchObject({ since: "custom", created_before: "2026-03-01T00:00:00.000Z" });
    expect(readFilters(params("since=custom"))).toMatchObject({ since: "custom", created_after: "", created_before: "" });
    expect(readFilters(params("since=toString&created_after=never")).since).toBe("");
  });
});

describe("withFilters", () => {
  it("sets and removes params, and drops the custom range when a period is chosen", () => {
    const start = params("since=custom&created_after=2026-01-01T00:00:00Z&status=failed");
    expect(withFilters(start, { status: "" }).toString()).toBe("since=custom&created_after=2026-01-01T00%3A00%3A00Z");
    expect(withFilters(start, { since: "7d" }).toString()).toBe("since=7d&status=failed");
  });
});

describe("timeWindow", () => {
  const now = Date.parse("2026-03-02T12:00:00Z");
  it("is a period back from now, or the custom range", () => {
    expect(timeWindow(readFilters(params("since=1h")), now)).toEqual({ after: now - 3_600_000, before: null });
    expect(timeWindow(readFilters(params("created_after=2026-03-01T00:00:00Z")), now)).toEqual({ after: Date.parse("2026-03-01T00:00:00Z"), before: null });
    expect(timeWindow(readFilters(params("")), now)).toEqual({ after: null, before: null });
  });
});

describe("datetime-local values", () => {
  it("round-trip through ISO instants", () => {
    const local = "2026-03-02T10:15";
    expect(toLocalInput(fromLocalInput(local))).toBe(local);
    expect(fromLocalInput("")).toBe("");
    expect(toLocalInput("")).toBe("");
  });
});

describe("serverQuery", () => {
  it("sends a custom range as it is, and no bound for any time", () => {
    const custom = readFilters(params("created_after=2026-03-01T00:00:00Z&created_before=2026-03-02T00:00:00Z"));
    expect(serverQuery(custom, 0)).toEqual({ created_after: "2026-03-01T00:00:00.000Z", created_before: "2026-03-02T00:00:00.000Z" });
    expect(serverQuery(readFilters(params("")), 0)).toEqual({});
  });
});
