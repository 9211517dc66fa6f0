// The usage page's pure logic: the period picker as the API's date range (UTC days), the daily
// series grouped by week or month, the quota as gauges, and numbers as people read them.
import type { Schemas } from "../api/client";

export type UsageDay = Schemas["UsageDay"];
export type Quota = Schemas["UsageQuota"];

export const PERIODS = {
  "7d": "Last 7 days",
  "30d": "Last 30 days",
  "90d": "Last 90 days",
  month: "This month",
  "365d": "Last 12 months",
} as const;
export type Period = keyof typeof PERIODS;

export const GRANULARITIES = { day: "Day", week: "Week", month: "Month" } as const;
export type Granularity = keyof typeof GRANULARITIES;

export const isPeriod = (value: string | null): value is Period => value !== null && value in PERIODS;
export const isGranularity = (value: string | null): value is Granularity => value !== null && value in GRANULARITIES;

const isoDay = (date: Date) => date.toISOString().slice(0, 10);

/** The `start_date` and `end_date` (inclusive, UTC days) of a period ending today. The API takes
 * at most 366 days, so "12 months" is the last 365. */
export function periodRange(period: Period, now: Date = new Date()): { start_date: string; end_date: string } {
  const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const days = { "7d": 7, "30d": 30, "90d": 90, "365d": 365 } as const;
  const start =
    period === "month"
      ? new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1))
      : new Date(today.getTime() - (days[period] - 1) * 86_400_000);
  return { start_date: isoDay(start), end_date: isoDay(today) };
}

/** The first day of the bucket `day` (YYYY-MM-DD) falls in: itself, its ISO week's Monday, or its
 * month's first day. */
export function bucketOf(day: string, granularity: Granularity): string {
  if (granularity === "day") return day;
  if (granularity === "month") return `${day.slice(0, 7)}-01`;
  const date = new Date(`${day}T00:00:00Z`);
  const sinceMonday = (date.getUTCDay() + 6) % 7;
  return isoDay(new Date(date.getTime() - sinceMonday * 86_400_000));
}

const COUNTS = ["run_count", "task_count", "compute_seconds", "api_call_count", "error_count", "cost_usd"] as const;

/** The days summed by bucket, in order; a bucket's `date` is its first day. Costs and compute are
 * rounded again so sums of floats read as the API's own numbers. */
export function groupDays(days: UsageDay[], granularity: Granularity): UsageDay[] {
  const buckets = new Map<string, UsageDay>();
  for (const day of days) {
    const key = bucketOf(day.date, granularity);
    const bucket = buckets.get(key) ?? { date: key, run_count: 0, task_count: 0, compute_seconds: 0, api_call_count: 0, error_count: 0, cost_usd: 0 };
    for (const field of COUNTS) bucket[field] += day[field];
    buckets.set(key, bucket);
  }
  return [...buckets.values()].map((b) => ({ ...b, cost_usd: round(b.cost_usd, 4), compute_seconds: round(b.compute_seconds, 3) }));
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Whether the series holds any usage at all (an org that has not run anything yet). */
export function hasUsage(days: UsageDay[]): boolean {
  return days.some((d) => d.run_count > 0 || d.task_count > 0 || d.compute_seconds > 0 || d.cost_usd > 0);
}

/** A bucket's label on the chart's axis and in its table. */
export function bucketLabel(date: string, granularity: Granularity): string {
  const d = new Date(`${date}T00:00:00Z`);
  if (granularity === "month") return d.toLocaleDateString(undefined, { month: "short", year: "numeric", timeZone: "UTC" });
  const label = d.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
  return granularity === "week" ? `Week of ${label}` : label;
}

/** US dollars: cents for amounts of a cent or more, else enough digits to show the amount. */
export function usd(value: number): string {
  const digits = value !== 0 && Math.abs(value) < 0.01 ? 4 : 2;
  return value.toLocaleString(undefined, { style: "currency", currency: "USD", minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Seconds of compute as a person reads them: 42 s, 3.5 min, 2.1 h. */
export function duration(seconds: number): string {
  if (seconds < 60) return `${round(seconds, 1)} s`;
  if (seconds < 3600) return `${round(seconds / 60, 1)} min`;
  return `${round(seconds / 3600, 1)} h`;
}

// The threshold the API's `warning` flag uses (`GET /v1/usage/quota`: "A limit is at 80 % or more").
export const WARNING_PERCENT = 80;

export type GaugeState = "ok" | "warning" | "over" | "unlimited";
export type Gauge = { key: string; label: string; used: number; limit: number | null; percent: number | null; state: GaugeState };

const LIMIT_LABELS: Record<string, string> = {
  monthly_runs: "Runs this month",
  monthly_tasks: "Tasks this month",
  concurrent_runs: "Concurrent runs",
  max_run_duration_seconds: "Longest run",
};

export const limitLabel = (key: string) => LIMIT_LABELS[key] ?? key.replace(/_/g, " ");

/** One gauge per limit the org's usage is counted against (the keys of `current_usage`), with the
 * API's percentage; a limit of null is unlimited. */
export function quotaGauges(quota: Quota): Gauge[] {
  return Object.entries(quota.current_usage).map(([key, used]) => {
    const limit = quota.limits[key] ?? null;
    const percent = limit === null ? null : (quota.percentages[key] ?? null);
    const state: GaugeState =
      percent === null ? "unlimited" : percent >= 100 ? "over" : percent >= WARNING_PERCENT ? "warning" : "ok";
    return { key, label: limitLabel(key), used, limit, percent, state };
  });
}

/** The limits that are not counted against usage (e.g. the longest a run may take), as facts. */
export function otherLimits(quota: Quota): { key: string; label: string; limit: number | null }[] {
  return Object.entries(quota.limits)
    .filter(([key]) => !(key in quota.current_usage))
    .map(([key, limit]) => ({ key, label: limitLabel(key), limit: limit ?? null }));
}
