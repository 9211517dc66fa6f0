import { describe, expect, it } from "vitest";
import type { Schemas } from "../api/client";
import { hasFilters, matchesFlow, namespaceOptions, pageOf, readFilters, tagLabel, tagOptions, withFilters } from "./flowsFilter";

const flow = (flow_name: string, namespace: string | null, tags: Record<string, string> = {}): Schemas["FlowListItem"] => ({
  flow_name,
  namespace,
  tags,
  flow_version: "1",
  status: "active",
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
});

const flows = [
  flow("daily-sales", "data/ingestion", { team: "data", tier: "gold" }),
  flow("Hourly-Sales", "data", { team: "data" }),
  flow("reports", "finance", { team: "finance", critical: "" }),
  flow("hello", null),
];

describe("readFilters / withFilters", () => {
  it("reads the search, namespace, tags and page from the URL", () => {
    const params = new URLSearchParams("q=sales&namespace=data&tag=team%3Ddata&tag=tier&page=3");
    expect(readFilters(params)).toEqual({ q: "sales", namespace: "data", tags: ["team=data", "tier"], page: 3 });
  });

  it("falls back to the first page for a page that is not a positive integer", () => {
    for (const page of ["0", "-2", "1.5", "x"]) expect(readFilters(new URLSearchParams({ page })).page).toBe(1);
  });

  it("returns to the first page when a filter changes, and leaves out empty values", () => {
    const params = new URLSearchParams("q=sales&page=4");
    expect(withFilters(params, { namespace: "data" }).toString()).toBe("q=sales&namespace=data");
    expect(withFilters(params, { q: "" }).toString()).toBe("");
  });

  it("keeps the filters when only the page changes, and never repeats a tag", () => {
    const params = new URLSearchParams("tag=team%3Ddata");
    expect(withFilters(params, { page: 2 }).toString()).toBe("tag=team%3Ddata&page=2");
    expect(withFilters(params, { tags: ["team=data", "team=data"] }).getAll("tag")).toEqual(["team=data"]);
  });

  it("knows when a filter is set", () => {
    expect(hasFilters(readFilters(new URLSearchParams("page=2&q=%20")))).toBe(false);
    expect(hasFilters(readFilters(new URLSearchParams("tag=x")))).toBe(true);
  });
});

describe("matchesFlow", () => {
  const names = (search: string) => flows.filter((f) => matchesFlow(f, readFilters(new URLSearchParams(search)))).map((f) => f.flow_name);

  it("searches names in any case", () => {
    expect(names("q=SALES")).toEqual(["daily-sales", "Hourly-Sales"]);
  });

  it("matches a namespace and the namespaces under it, not a mere prefix", () => {
    expect(names("namespace=data")).toEqual(["daily-sales", "Hourly-Sales"]);
    expect(names("namespace=data/ingestion")).toEqual(["daily-sales"]);
    expect(names("namespace=dat")).toEqual([]);
  });

  it("needs every tag: a key alone matches any value, key=value that value", () => {
    expect(names("tag=team%3Ddata&tag=tier")).toEqual(["daily-sales"]);
    expect(names("tag=critical")).toEqual(["reports"]);
    expect(names("tag=critical%3D")).toEqual(["reports"]);
    expect(names("tag=team%3Dfinance&q=daily")).toEqual([]);
  });
});

describe("options", () => {
  it("lists every namespace with its parents", () => {
    expect(namespaceOptions(flows)).toEqual(["data", "data/ingestion", "finance"]);
  });

  it("lists every tag as key=value, and labels them", () => {
    expect(tagOptions(flows)).toEqual(["critical=", "team=data", "team=finance", "tier=gold"]);
    expect(tagLabel("team=data")).toBe("team: data");
    expect(tagLabel("critical=")).toBe("critical");
  });
});

describe("pageOf", () => {
  const items = Array.from({ length: 60 }, (_, i) => i);

  it("cuts pages and counts them", () => {
    expect(pageOf(items, 3, 25)).toEqual({ items: items.slice(50), page: 3, pageCount: 3 });
  });

  it("shows the last page for a page past the end, and one empty page for nothing", () => {
    expect(pageOf(items, 9, 25).page).toBe(3);
    expect(pageOf([], 1, 25)).toEqual({ items: [], page: 1, pageCount: 1 });
  });
});
