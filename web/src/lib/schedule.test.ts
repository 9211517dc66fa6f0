import { describe, expect, test } from "vitest";
import { RequestFailed, type Schemas } from "../api/client";
import {
  checkScheduleForm,
  createBody,
  describeInterval,
  fieldErrors,
  formFromSchedule,
  newScheduleForm,
  previewFires,
  splitInterval,
  updateBody,
  type ScheduleForm,
} from "./schedule";

const form = (change: Partial<ScheduleForm> = {}): ScheduleForm => ({
  ...newScheduleForm("Europe/Paris"),
  scheduleId: "daily-etl",
  flowName: "etl",
  ...change,
});

const read: Schemas["ScheduleRead"] = {
  schedule_id: "daily-etl",
  flow_name: "etl",
  flow_version: null,
  deployment_name: null,
  mode: "cron",
  enabled: true,
  timezone: "America/New_York",
  catchup_policy: "skip",
  cron_expression: "0 9 * * 1-5",
  interval_seconds: null,
  one_time_at: null,
  start_at: "2026-12-01T14:00:00Z",
  end_at: null,
  parameters: { env: "prod" },
  environment: null,
  description: null,
  next_run_at: null,
  last_run_at: null,
  last_run_id: null,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
};

describe("create body", () => {
  test("cron: the expression normalised, the times as wall times of the zone, empty options left out", () => {
    expect(createBody(form({ cronExpression: " 0  9 * * 1-5", startAt: "2026-12-01T09:00", parameters: '{"a": 1}' }))).toEqual({
      schedule_id: "daily-etl",
      flow_name: "etl",
      mode: "cron",
      enabled: true,
      timezone: "Europe/Paris",
      catchup_policy: "skip",
      cron_expression: "0 9 * * 1-5",
      start_at: "2026-12-01T09:00:00",
      parameters: { a: 1 },
    });
  });

  test("interval, one-time and manual carry only their own field", () => {
    expect(createBody(form({ mode: "interval", intervalCount: "15", intervalUnit: "minutes" })).interval_seconds).toBe(900);
    const once = createBody(form({ mode: "one_time", oneTimeAt: "2027-01-01T00:00", flowVersion: " 5 ", environment: "" }));
    expect(once.one_time_at).toBe("2027-01-01T00:00:00");
    expect(once.flow_version).toBe("5");
    expect(once).not.toHaveProperty("cron_expression");
    const manual = createBody(form({ mode: "manual", description: "by hand", environment: "prod" }));
    expect(manual).not.toHaveProperty("cron_expression");
    expect(manual).toMatchObject({ mode: "manual", description: "by hand", environment: "prod" });
  });
});

describe("checks before sending", () => {
  test("a good form has no problem", () => {
    expect(checkScheduleForm(form(), true)).toEqual({});
  });

  test("each field is named as the API names it", () => {
    expect(
      checkScheduleForm(
        form({ scheduleId: "deploy-x", cronExpression: "61 * * * *", timezone: "Nowhere/Land", parameters: "[1]", flowVersion: "3", environment: "prod" }),
        true,
      ),
    ).toEqual({
      schedule_id: expect.stringContaining("deploy-"),
      cron_expression: expect.stringContaining("minute: 61"),
      timezone: expect.any(String),
      parameters: expect.stringContaining("JSON object"),
      environment: expect.stringContaining("not both"),
    });
    expect(checkScheduleForm(form({ mode: "interval", intervalCount: "30", intervalUnit: "seconds" }), true)).toHaveProperty("interval_seconds");
    expect(checkScheduleForm(form({ mode: "one_time" }), true)).toHaveProperty("one_time_at");
    expect(checkScheduleForm(form({ startAt: "2026-12-02T00:00", endAt: "2026-12-01T00:00" }), true)).toHaveProperty("end_at");
    expect(checkScheduleForm(form({ parameters: "{oops" }), false).parameters).toContain("Not valid JSON");
  });

  test("the API's details, by field", () => {
    const error = new RequestFailed(400, { error: "invalid_input", message: "Invalid schedule configuration.", details: { cron_expression: "bad" } });
    expect(fieldErrors(error)).toEqual({ cron_expression: "bad" });
    expect(fieldErrors(new Error("x"))).toEqual({});
  });
});

describe("update body: only what changed", () => {
  const before = formFromSchedule(read);

  test("the form shows times as wall times of the schedule's zone", () => {
    expect(before.startAt).toBe("2026-12-01T09:00");
    expect(before.parameters).toBe('{\n  "env": "prod"\n}');
  });

  test("nothing changed, nothing sent", () => {
    expect(updateBody(before, { ...before }, false)).toEqual({});
  });

  test("a new expression; a cleared description and version become null", () => {
    const withText = { ...before, description: "old", flowVersion: "2" };
    expect(updateBody(withText, { ...withText, cronExpression: "0 10 * * 1-5", description: "", flowVersion: "" }, false)).toEqual({
      cron_expression: "0 10 * * 1-5",
      description: null,
      flow_version: null,
    });
  });

  test("a new mode carries its field", () => {
    expect(updateBody(before, { ...before, mode: "interval", intervalCount: "30", intervalUnit: "minutes" }, false)).toEqual({
      mode: "interval",
      interval_seconds: 1800,
    });
  });

  test("a new time zone sends the wall times again", () => {
    expect(updateBody(before, { ...before, timezone: "Europe/London" }, false)).toEqual({
      timezone: "Europe/London",
      start_at: "2026-12-01T09:00:00",
    });
  });

  test("a deployment's schedule leaves out what the deployment sets", () => {
    expect(updateBody(before, { ...before, cronExpression: "0 1 * * *", catchupPolicy: "all", parameters: "{}" }, true)).toEqual({
      catchup_policy: "all",
      parameters: {},
    });
  });
});

describe("preview", () => {
  const now = Date.parse("2026-06-01T10:00:00Z");

  test("cron: the next five in the zone", () => {
    const preview = previewFires(form({ cronExpression: "0 9 * * *", timezone: "Europe/Paris" }), now);
    expect(preview.kind === "times" && preview.times.map((t) => new Date(t).toISOString())).toEqual([
      "2026-06-02T07:00:00.000Z",
      "2026-06-03T07:00:00.000Z",
      "2026-06-04T07:00:00.000Z",
      "2026-06-05T07:00:00.000Z",
      "2026-06-06T07:00:00.000Z",
    ]);
  });

  test("interval: counted from the start, else from the creation", () => {
    const fromCreation = previewFires(form({ mode: "interval", intervalCount: "2", intervalUnit: "hours" }), now, now - 30 * 60_000, 2);
    expect(fromCreation).toEqual({ kind: "times", times: [now + 90 * 60_000, now + 210 * 60_000] });
    const fromStart = previewFires(form({ mode: "interval", intervalCount: "1", intervalUnit: "days", startAt: "2026-07-01T00:00", timezone: "UTC" }), now, now, 1);
    expect(fromStart).toEqual({ kind: "times", times: [Date.parse("2026-07-01T00:00:00Z")] });
  });

  test("one-time, manual, and an invalid expression", () => {
    expect(previewFires(form({ mode: "one_time", oneTimeAt: "2026-05-01T00:00" }), now)).toEqual({ kind: "none", message: "That time has passed." });
    expect(previewFires(form({ mode: "manual" }), now).kind).toBe("none");
    expect(previewFires(form({ cronExpression: "0 9 * *" }), now)).toMatchObject({ kind: "none", message: expect.stringContaining("5 fields") });
  });
});

test("intervals in words", () => {
  expect(splitInterval(5400)).toEqual({ count: 90, unit: "minutes" });
  expect(splitInterval(90)).toEqual({ count: 90, unit: "seconds" });
  expect(describeInterval(86400)).toBe("every day");
  expect(describeInterval(900)).toBe("every 15 minutes");
});
