// The flows list's search, filters and paging, kept in the URL's search params.
//
// `GET /v1/flows` takes only `limit` and `next_token`: the name search and the namespace and tag
// filters are applied here, to every flow of the org (read page by page, `useAllFlows`).
import type { Schemas } from "../api/client";

type Flow = Schemas["FlowListItem"];

export const FLOWS_PER_PAGE = 25;

export type FlowFilters = {
  /** Part of the flow's name, any case. */
  q: string;
  /** A namespace; its sub-namespaces match too (`data` matches `data/ingestion`). */
  namespace: string;
  /** `key=value` (that value) or `key` (any value); a flow must carry every one. */
  tags: string[];
  /** 1-based. */
  page: number;
};

export function readFilters(params: URLSearchParams): FlowFilters {
  const page = Number(params.get("page") ?? "1");
  return {
    q: params.get("q") ?? "",
    namespace: params.get("namespace") ?? "",
    tags: params.getAll("tag"),
    page: Number.isInteger(page) && page > 0 ? page : 1,
  };
}

/** `params` with `change` applied; changing the search or a filter returns to the first page. */
export function withFilters(params: URLSearchParams, change: Partial<FlowFilters>): URLSearchParams {
  const current = readFilters(params);
  const next = { ...current, page: 1, ...change };
  const out = new URLSearchParams();
  if (next.q) out.set("q", next.q);
  if (next.namespace) out.set("namespace", next.namespace);
  for (const tag of new Set(next.tags)) out.append("tag", tag);
  if (next.page > 1) out.set("page", String(next.page));
  return out;
}

export function hasFilters(filters: FlowFilters): boolean {
  return Boolean(filters.q.trim() || filters.namespace || filters.tags.length);
}

/** `team=data` → ["team", "data"]; `team` → ["team", undefined] (any value). */
export function parseTag(tag: string): [string, string | undefined] {
  const at = tag.indexOf("=");
  return at < 0 ? [tag, undefined] : [tag.slice(0, at), tag.slice(at + 1)];
}

export function tagLabel(tag: string): string {
  const [key, value] = parseTag(tag);
  return value ? `${key}: ${value}` : key;
}

export function matchesFlow(flow: Flow, filters: FlowFilters): boolean {
  const q = filters.q.trim().toLowerCase();
  if (q && !flow.flow_name.toLowerCase().includes(q)) return false;
  if (filters.namespace) {
    const ns = flow.namespace ?? "";
    if (ns !== filters.namespace && !ns.startsWith(`${filters.namespace}/`)) return false;
  }
  return filters.tags.every((tag) => {
    const [key, value] = parseTag(tag);
    return key in flow.tags && (value === undefined || flow.tags[key] === value);
  });
}

/** Every namespace the flows use, with each of its parents (`data`, `data/ingestion`), sorted. */
export function namespaceOptions(flows: Flow[]): string[] {
  const seen = new Set<string>();
  for (const { namespace } of flows) {
    if (!namespace) continue;
    const segments = namespace.split("/");
    segments.forEach((_, i) => seen.add(segments.slice(0, i + 1).join("/")));
  }
  return [...seen].sort();
}

/** Every tag the flows carry, as `key=value`, sorted. */
export function tagOptions(flows: Flow[]): string[] {
  const seen = new Set<string>();
  for (const { tags } of flows) for (const [key, value] of Object.entries(tags)) seen.add(`${key}=${value}`);
  return [...seen].sort();
}

/** One page of `items`; a page past the end shows the last one. */
export function pageOf<T>(items: T[], page: number, size = FLOWS_PER_PAGE): { items: T[]; page: number; pageCount: number } {
  const pageCount = Math.max(1, Math.ceil(items.length / size));
  const shown = Math.min(Math.max(1, page), pageCount);
  return { items: items.slice((shown - 1) * size, shown * size), page: shown, pageCount };
}
