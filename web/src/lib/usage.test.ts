import { describe, expect, it } from "vitest";
import { bucketOf, duration, groupDays, hasUsage, otherLimits, periodRange, quotaGauges, type Quota, type UsageDay } from "./usage";

const day = (date: string, run_count = 0, cost_usd = 0): UsageDay => ({
  date, run_count, task_count: run_count * 2, compute_seconds: run_count * 1.5, api_call_count: 3, error_count: 0, cost_usd,
});

describe("periodRange", () => {
  const now = new Date("2026-03-15T23:30:00Z");
  it("ends today (UTC) and counts the end day in", () => {
    expect(periodRange("7d", now)).toEqual({ start_date: "2026-03-09", end_date: "2026-03-15" });
    expect(periodRange("30d", now)).toEqual({ start_date: "2026-02-14", end_date: "2026-03-15" });
  });
  it("starts this month on its first day", () => {
    expect(periodRange("month", now)).toEqual({ start_date: "2026-03-01", end_date: "2026-03-15" });
  });
  it("stays within the API's 366 days", () => {
    const { start_date, end_date } = periodRange("365d", now);
    expect((Date.parse(end_date) - Date.parse(start_date)) / 86_400_000 + 1).toBe(365);
  });
});

describe("grouping", () => {
  it("buckets days by ISO week (Monday) and month", () => {
    expect(bucketOf("2026-03-15", "week")).toBe("2026-03-09"); // a Sunday
    expect(bucketOf("2026-03-09", "week")).toBe("2026-03-09"); // a Monday
    expect(bucketOf("2026-03-15", "month")).toBe("2026-03-01");
    expect(bucketOf("2026-03-15", "day")).toBe("2026-03-15");
  });

  it("sums every count of a bucket, keeping the order", () => {
    const weeks = groupDays([day("2026-03-08", 1, 0.1), day("2026-03-09", 2, 0.2), day("2026-03-10", 3, 0.1)], "week");
    expect(weeks.map((w) => w.date)).toEqual(["2026-03-02", "2026-03-09"]);
    expect(weeks[1]).toEqual({ date: "2026-03-09", run_count: 5, task_count: 10, compute_seconds: 7.5, api_call_count: 6, error_count: 0, cost_usd: 0.3 });
  });

  it("tells an org with no usage from one with some", () => {
    expect(hasUsage([day("2026-03-01"), day("2026-03-02")])).toBe(false);
    expect(hasUsage([day("2026-03-01"), day("2026-03-02", 1, 0.001)])).toBe(true);
  });
});

describe("quota gauges", () => {
  const quota: Quota = {
    plan: "free",
    limits: { monthly_runs: 100, monthly_tasks: 1000, concurrent_runs: null, max_run_duration_seconds: 3600 },
    current_usage: { monthly_runs: 85, monthly_tasks: 1000, concurrent_runs: 1 },
    percentages: { monthly_runs: 85, monthly_tasks: 100, concurrent_runs: null },
    warning: true,
    over_limit: true,
    reset_at: "2026-04-01T00:00:00Z",
  };

  it("gives each counted limit a state: near at the API's 80 %, over at 100 %, or unlimited", () => {
    expect(quotaGauges(quota).map((g) => [g.key, g.state])).toEqual([
      ["monthly_runs", "warning"],
      ["monthly_tasks", "over"],
      ["concurrent_runs", "unlimited"],
    ]);
  });

  it("lists the limits not counted against usage apart", () => {
    expect(otherLimits(quota)).toEqual([{ key: "max_run_duration_seconds", label: "Longest run", limit: 3600 }]);
  });
});

it("reads compute time in seconds, minutes or hours", () => {
  expect(duration(42)).toBe("42 s");
  expect(duration(210)).toBe("3.5 min");
  expect(duration(7560)).toBe("2.1 h");
});
