// The runs list's filters, kept in the URL, all applied by `GET /v1/runs`: flow_name, status,
// trigger, schedule_id, sensor_id, and a time window (a period back from now, or a custom range)
// sent as created_after / created_before.

export const SERVER_FILTERS = ["status", "flow_name", "trigger", "schedule_id", "sensor_id"] as const;
export type ServerFilter = (typeof SERVER_FILTERS)[number];

/** `trigger`'s values (what started a run) and their words. */
export const RUN_TRIGGERS: [string, string][] = [
  ["manual", "Manual"],
  ["api_key", "API key"],
  ["schedule", "Schedule"],
  ["sensor", "Sensor"],
  ["webhook", "Webhook"],
];

export const PERIODS = { "1h": 3_600_000, "24h": 86_400_000, "7d": 604_800_000 } as const;
export type Period = keyof typeof PERIODS;
/** `since`: a period back from now, "custom" for the created_after/created_before range, "" for any time. */
export type Since = Period | "custom" | "";

export type RunFilters = Record<ServerFilter, string> & {
  since: Since;
  /** ISO 8601 instants (the URL's, shared across time zones); "" for no bound. */
  created_after: string;
  created_before: string;
};

export function readFilters(params: URLSearchParams): RunFilters {
  const since = params.get("since") ?? "";
  const filters = Object.fromEntries(SERVER_FILTERS.map((name) => [name, params.get(name) ?? ""])) as Record<ServerFilter, string>;
  const created_after = validInstant(params.get("created_after"));
  const created_before = validInstant(params.get("created_before"));
  const period = Object.hasOwn(PERIODS, since);
  const custom = !period && (since === "custom" || Boolean(created_after || created_before));
  return {
    ...filters,
    since: period ? (since as Period) : custom ? "custom" : "",
    created_after: custom ? created_after : "",
    created_before: custom ? created_before : "",
  };
}

function validInstant(value: string | null): string {
  return value && !Number.isNaN(Date.parse(value)) ? value : "";
}

/** The URL's params with `changes` applied: empty values removed. */
export function withFilters(params: URLSearchParams, changes: Partial<RunFilters>): URLSearchParams {
  const next = new URLSearchParams(params);
  for (const [name, value] of Object.entries(changes)) {
    if (value) next.set(name, value);
    else next.delete(name);
  }
  if (changes.since !== undefined && changes.since !== "custom") {
    next.delete("created_after");
    next.delete("created_before");
  }
  return next;
}

export function hasFilters(filters: RunFilters): boolean {
  return SERVER_FILTERS.some((name) => filters[name]) || filters.since !== "";
}

/** The query `GET /v1/runs` filters on (names with no value left out), the window as of `now`. */
export function serverQuery(filters: RunFilters, now: number): Partial<Record<ServerFilter | "created_after" | "created_before", string>> {
  const query: Partial<Record<ServerFilter | "created_after" | "created_before", string>> = Object.fromEntries(
    SERVER_FILTERS.filter((name) => filters[name]).map((name) => [name, filters[name]]),
  );
  const { after, before } = timeWindow(filters, now);
  if (after !== null) query.created_after = new Date(after).toISOString();
  if (before !== null) query.created_before = new Date(before).toISOString();
  return query;
}

export type TimeWindow = { after: number | null; before: number | null };

/** The window in epoch milliseconds: runs created at `after` or later and before `before`. */
export function timeWindow(filters: RunFilters, now: number): TimeWindow {
  if (filters.since && filters.since !== "custom") return { after: now - PERIODS[filters.since], before: null };
  return {
    after: filters.created_after ? Date.parse(filters.created_after) : null,
    before: filters.created_before ? Date.parse(filters.created_before) : null,
  };
}

/** "2026-03-02T10:15" (a datetime-local input's value, local time) of an ISO instant, and back. */
export function toLocalInput(iso: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(value: string): string {
  const time = Date.parse(value);
  return value && !Number.isNaN(time) ? new Date(time).toISOString() : "";
}
