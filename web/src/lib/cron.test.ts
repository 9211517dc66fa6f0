import { describe, expect, test } from "vitest";
import { checkCron, describeCron, nextCronFires, presetExpression, type CronCheck } from "./cron";

const iso = (times: number[]) => times.map((t) => new Date(t).toISOString().replace(".000", ""));

function ok(expression: string): Extract<CronCheck, { kind: "ok" }> {
  const check = checkCron(expression);
  if (check.kind !== "ok") throw new Error(`${expression}: ${check.kind} ${"message" in check ? check.message : ""}`);
  return check;
}

/** The next five fire times after `from`, as ISO strings. */
function next5(expression: string, timeZone: string, from: string): string[] {
  return iso(nextCronFires(ok(expression).canonical, timeZone, Date.parse(from), 5));
}

describe("presets", () => {
  test.each([
    [{ kind: "every-minutes", every: 15 }, "*/15 * * * *"],
    [{ kind: "hourly", minute: 5 }, "5 * * * *"],
    [{ kind: "daily", time: "09:30" }, "30 9 * * *"],
    [{ kind: "weekdays", time: "08:00" }, "0 8 * * 1-5"],
    [{ kind: "weekly", weekday: 0, time: "23:45" }, "45 23 * * 0"],
    [{ kind: "monthly", day: 1, time: "00:00" }, "0 0 1 * *"],
  ] as const)("%o → %s", (preset, expression) => {
    expect(presetExpression(preset)).toBe(expression);
    expect(checkCron(expression).kind).toBe("ok");
  });
});

describe("checkCron, as the server checks", () => {
  test.each(["0 9 * * 1-5", "*/5 9-17 * * mon-fri", "0 0 1 jan *", "0 0 * * 7", "5/10 * * * *", "0 22-2 * * *", "@daily", "@annually"])(
    "accepts %s",
    (expression) => expect(checkCron(expression).kind).toBe("ok"),
  );

  test("normalises the spaces, as the server stores it", () => {
    expect(checkCron("  0   9 * *  1-5 ").expression).toBe("0 9 * * 1-5");
  });

  test.each([
    ["", "Enter a cron expression"],
    ["0 9 * *", "has 5 fields"],
    ["0 0 9 * * *", "this one has 6"],
    ["60 * * * *", "minute: 60 is out of range 0–59"],
    ["0 24 * * *", "hour: 24 is out of range"],
    ["0 0 0 * *", "day of month: 0 is out of range"],
    ["0 0 * 13 *", "month: 13 is out of range"],
    ["0 0 * * 8", "day of week: 8 is out of range 0–7"],
    ["*/0 * * * *", "a step of 0"],
    ["0 0 * * Monday", "Monday is not a number or name"],
    ["0 jan * * *", "hour: jan is not a number"],
    ["? * * * *", "? stands alone, in the day fields only"],
    ["0 0 30 2 *", "never matches a date"],
    ["0 0 31 4,6 *", "never matches a date"],
    ["@DAILY", "Unknown alias"],
    ["@weekdays", "Unknown alias"],
  ])("refuses %j", (expression, message) => {
    const check = checkCron(expression);
    expect(check.kind).toBe("invalid");
    expect(check.kind === "invalid" && check.message).toContain(message);
  });

  test.each(["0 0 L * *", "0 0 * * 5#2", "0 0 15W * *", "H * * * *"])("leaves %s to the server", (expression) => {
    expect(checkCron(expression).kind).toBe("unchecked");
  });
});

// The expected times below are what the server computes (timing.py's next_fire_after, croniter).
describe("next fire times in a time zone", () => {
  test("a weekday time across the change to summer time (Europe/Paris, 29 March 2026)", () => {
    expect(next5("0 9 * * 1-5", "Europe/Paris", "2026-03-25T12:00:00Z")).toEqual([
      "2026-03-26T08:00:00Z",
      "2026-03-27T08:00:00Z",
      "2026-03-30T07:00:00Z",
      "2026-03-31T07:00:00Z",
      "2026-04-01T07:00:00Z",
    ]);
  });

  test("a wall time in the spring-forward gap fires once, when the gap ends (America/New_York)", () => {
    expect(next5("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z")).toEqual([
      "2026-03-08T07:00:00Z", // 03:00 EDT: 02:30 does not exist that day
      "2026-03-09T06:30:00Z",
      "2026-03-10T06:30:00Z",
      "2026-03-11T06:30:00Z",
      "2026-03-12T06:30:00Z",
    ]);
    expect(next5("*/15 2 * * *", "America/New_York", "2026-03-07T12:00:00Z")).toEqual([
      "2026-03-08T07:00:00Z", // the four missing wall times fire once
      "2026-03-09T06:00:00Z",
      "2026-03-09T06:15:00Z",
      "2026-03-09T06:30:00Z",
      "2026-03-09T06:45:00Z",
    ]);
  });

  test("the repeated hour of the fall-back day fires once, at its first occurrence", () => {
    expect(next5("0 * * * *", "America/New_York", "2026-11-01T04:30:00Z")).toEqual([
      "2026-11-01T05:00:00Z", // 01:00 EDT
      "2026-11-01T07:00:00Z", // 02:00 EST: 01:00 EST is not fired again
      "2026-11-01T08:00:00Z",
      "2026-11-01T09:00:00Z",
      "2026-11-01T10:00:00Z",
    ]);
    expect(next5("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z")[0]).toBe("2026-11-01T05:30:00Z");
  });

  test("a half-hour clock change (Australia/Lord_Howe)", () => {
    expect(next5("@daily", "Australia/Lord_Howe", "2026-04-03T00:00:00Z")).toEqual([
      "2026-04-03T13:00:00Z",
      "2026-04-04T13:00:00Z",
      "2026-04-05T13:30:00Z",
      "2026-04-06T13:30:00Z",
      "2026-04-07T13:30:00Z",
    ]);
  });

  test("croniter's day rules: day of month OR day of week, a listed * counts as *, an equal range is the whole cycle", () => {
    expect(next5("0 0 13 * 5", "UTC", "2026-01-01T00:00:00Z")).toEqual([
      "2026-01-02T00:00:00Z",
      "2026-01-09T00:00:00Z",
      "2026-01-13T00:00:00Z",
      "2026-01-16T00:00:00Z",
      "2026-01-23T00:00:00Z",
    ]);
    expect(next5("0 0 *,13 * 5", "UTC", "2026-01-01T00:00:00Z")).toEqual([
      "2026-01-02T00:00:00Z",
      "2026-01-09T00:00:00Z",
      "2026-01-16T00:00:00Z",
      "2026-01-23T00:00:00Z",
      "2026-01-30T00:00:00Z",
    ]);
    expect(next5("0 0 * * 1-1", "UTC", "2026-01-01T00:00:00Z")[1]).toBe("2026-01-03T00:00:00Z");
  });

  test("nothing before the start or after the end", () => {
    const { canonical } = ok("0 12 * * *");
    const times = nextCronFires(canonical, "UTC", Date.parse("2026-01-01T00:00:00Z"), 5, {
      startAt: Date.parse("2026-01-03T12:00:00Z"),
      endAt: Date.parse("2026-01-04T12:00:00Z"),
    });
    expect(iso(times)).toEqual(["2026-01-03T12:00:00Z", "2026-01-04T12:00:00Z"]);
  });
});

describe("describeCron", () => {
  test.each([
    ["0 9 * * 1-5", "At 09:00, Monday through Friday"],
    ["*/15 * * * *", "Every 15 minutes"],
    ["0 * * * *", "Every hour, on the hour"],
    ["5 * * * *", "At minute 5 of every hour"],
    ["0 0 * * *", "At 00:00, every day"],
    ["0 9,17 * * *", "At 09:00 and 17:00, every day"],
    ["*/5 9-17 * * 1-5", "Every 5 minutes, between 09:00 and 17:59, Monday through Friday"],
    ["30 8 1,15 * *", "At 08:30, on days 1 and 15 of the month"],
    ["0 9 1 * 1", "At 09:00, on day 1 of the month or on Monday"],
    ["0 12 * * sat,sun", "At 12:00, on Saturday and Sunday"],
    ["0 0 1 1 *", "At 00:00, on day 1 of the month, in January"],
    ["@weekly", "At 00:00, on Sunday"],
  ])("%s: %s", (expression, words) => {
    expect(describeCron(ok(expression))).toBe(words);
  });
});
