// The schedule form: its state, what it checks before a request, the POST and PATCH bodies it
// sends (src/dagy/server/domains/schedules/schemas.py), and the fire times it previews.
import { RequestFailed, type Schemas } from "../api/client";
import { checkCron, describeCron, nextCronFires } from "./cron";
import { formatInZone, inputToWall, isKnownZone, localInstant, localZone, wallClockOf, wallToInput } from "./cronZone";

export type ScheduleMode = Schemas["ScheduleCreate"]["mode"];
export type CatchupPolicy = Schemas["ScheduleCreate"]["catchup_policy"];
export type IntervalUnit = "seconds" | "minutes" | "hours" | "days";

export const MODES: { value: ScheduleMode; label: string }[] = [
  { value: "cron", label: "Cron" },
  { value: "interval", label: "Interval" },
  { value: "one_time", label: "Once" },
  { value: "manual", label: "Manual" },
];

export const UNIT_SECONDS: Record<IntervalUnit, number> = { seconds: 1, minutes: 60, hours: 3600, days: 86400 };
export const MIN_INTERVAL_SECONDS = 60;
export const MAX_INTERVAL_SECONDS = 366 * 86400;
const SCHEDULE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** What the form holds. Times are wall times (datetime-local values) in `timezone`. */
export type ScheduleForm = {
  scheduleId: string;
  flowName: string;
  flowVersion: string;
  environment: string;
  mode: ScheduleMode;
  enabled: boolean;
  timezone: string;
  catchupPolicy: CatchupPolicy;
  cronExpression: string;
  intervalCount: string;
  intervalUnit: IntervalUnit;
  oneTimeAt: string;
  startAt: string;
  endAt: string;
  parameters: string;
  description: string;
};

/** A field of the API's bodies (the keys of its 400 `details`) → its message. */
export type FieldProblems = Partial<Record<string, string>>;

export function newScheduleForm(timezone = localZone()): ScheduleForm {
  return {
    scheduleId: "",
    flowName: "",
    flowVersion: "",
    environment: "",
    mode: "cron",
    enabled: true,
    timezone,
    catchupPolicy: "skip",
    cronExpression: "0 9 * * *",
    intervalCount: "1",
    intervalUnit: "hours",
    oneTimeAt: "",
    startAt: "",
    endAt: "",
    parameters: "{}",
    description: "",
  };
}

/** The largest unit that divides `seconds` evenly. */
export function splitInterval(seconds: number): { count: number; unit: IntervalUnit } {
  for (const unit of ["days", "hours", "minutes"] as const) {
    if (seconds % UNIT_SECONDS[unit] === 0) return { count: seconds / UNIT_SECONDS[unit], unit };
  }
  return { count: seconds, unit: "seconds" };
}

/** "every 15 minutes" */
export function describeInterval(seconds: number): string {
  const { count, unit } = splitInterval(seconds);
  return count === 1 ? `every ${unit.slice(0, -1)}` : `every ${count} ${unit}`;
}

function toInput(iso: string | null, timezone: string): string {
  return iso ? wallToInput(wallClockOf(Date.parse(iso), timezone)) : "";
}

export function formFromSchedule(schedule: Schemas["ScheduleRead"]): ScheduleForm {
  const interval = schedule.interval_seconds ? splitInterval(schedule.interval_seconds) : { count: 1, unit: "hours" as const };
  return {
    scheduleId: schedule.schedule_id,
    flowName: schedule.flow_name,
    flowVersion: schedule.flow_version ?? "",
    environment: schedule.environment ?? "",
    mode: schedule.mode as ScheduleMode,
    enabled: schedule.enabled,
    timezone: schedule.timezone,
    catchupPolicy: schedule.catchup_policy as CatchupPolicy,
    cronExpression: schedule.cron_expression ?? "",
    intervalCount: String(interval.count),
    intervalUnit: interval.unit,
    oneTimeAt: toInput(schedule.one_time_at, schedule.timezone),
    startAt: toInput(schedule.start_at, schedule.timezone),
    endAt: toInput(schedule.end_at, schedule.timezone),
    parameters: JSON.stringify(schedule.parameters, null, 2),
    description: schedule.description ?? "",
  };
}

/** The parameters text as a JSON object, or why it is not one. */
export function parseParameters(text: string): { value: Record<string, unknown> } | { problem: string } {
  if (!text.trim()) return { value: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `Not valid JSON: ${(error as Error).message}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { problem: 'Must be a JSON object, such as {"date": "2026-01-01"}.' };
  }
  return { value: value as Record<string, unknown> };
}

export function intervalSeconds(form: ScheduleForm): number {
  return Number(form.intervalCount) * UNIT_SECONDS[form.intervalUnit];
}

/** What the server would refuse, checked before a request: field of the API body → message. */
export function checkScheduleForm(form: ScheduleForm, creating: boolean): FieldProblems {
  const problems: FieldProblems = {};
  if (creating) {
    if (!SCHEDULE_ID.test(form.scheduleId)) {
      problems.schedule_id = "1 to 128 letters, digits, dots, dashes or underscores, starting with a letter or digit.";
    } else if (form.scheduleId.startsWith("deploy-")) {
      problems.schedule_id = "Ids starting with deploy- belong to deployments.";
    }
    if (!form.flowName) problems.flow_name = "Choose the flow to run.";
  }
  if (form.flowVersion.trim() && form.environment) {
    problems.environment = "Give a version or an environment, not both (a deployment runs its own version).";
  }
  if (!isKnownZone(form.timezone)) problems.timezone = "Choose an IANA time zone, such as Europe/Paris.";
  if (form.mode === "cron") {
    const cron = checkCron(form.cronExpression);
    if (cron.kind === "invalid") problems.cron_expression = cron.message;
  }
  if (form.mode === "interval") {
    const seconds = intervalSeconds(form);
    if (!Number.isInteger(Number(form.intervalCount)) || seconds < MIN_INTERVAL_SECONDS || seconds > MAX_INTERVAL_SECONDS) {
      problems.interval_seconds = "A whole number, from 1 minute to 366 days.";
    }
  }
  if (form.mode === "one_time" && !inputToWall(form.oneTimeAt)) problems.one_time_at = "Choose the date and time to run at.";
  const start = inputToWall(form.startAt);
  const end = inputToWall(form.endAt);
  if (start !== null && end !== null && end <= start) problems.end_at = "Must be after the start.";
  const parameters = parseParameters(form.parameters);
  if ("problem" in parameters) problems.parameters = parameters.problem;
  return problems;
}

/** A datetime-local value as the API takes it: no offset, read in the schedule's zone. */
function apiTime(value: string): string | null {
  return value ? (value.length === 16 ? `${value}:00` : value) : null;
}

/** The POST /v1/schedules body; call after `checkScheduleForm` found nothing. */
export function createBody(form: ScheduleForm): Schemas["ScheduleCreate"] {
  const body: Schemas["ScheduleCreate"] = {
    schedule_id: form.scheduleId,
    flow_name: form.flowName,
    mode: form.mode,
    enabled: form.enabled,
    timezone: form.timezone,
    catchup_policy: form.catchupPolicy,
    parameters: (parseParameters(form.parameters) as { value: Record<string, unknown> }).value,
  };
  if (form.mode === "cron") body.cron_expression = checkCron(form.cronExpression).expression;
  if (form.mode === "interval") body.interval_seconds = intervalSeconds(form);
  if (form.mode === "one_time") body.one_time_at = apiTime(form.oneTimeAt);
  if (form.startAt) body.start_at = apiTime(form.startAt);
  if (form.endAt) body.end_at = apiTime(form.endAt);
  if (form.flowVersion.trim()) body.flow_version = form.flowVersion.trim();
  if (form.environment) body.environment = form.environment;
  if (form.description.trim()) body.description = form.description.trim();
  return body;
}

/**
 * The PATCH body: only what changed. A new mode carries its own field (the server clears the other
 * modes'); a new time zone carries the times again, since the form shows them as wall times in it.
 * A deployment's schedule leaves out what its deployment sets (mode, expression, interval, time,
 * version, environment: a PATCH of those is a 409).
 */
export function updateBody(before: ScheduleForm, form: ScheduleForm, ownedByDeployment: boolean): Schemas["ScheduleUpdate"] {
  const body: Schemas["ScheduleUpdate"] = {};
  const zoneChanged = form.timezone !== before.timezone;
  if (form.enabled !== before.enabled) body.enabled = form.enabled;
  if (zoneChanged) body.timezone = form.timezone;
  if (form.catchupPolicy !== before.catchupPolicy) body.catchup_policy = form.catchupPolicy;
  if (form.description.trim() !== before.description.trim()) body.description = form.description.trim() || null;
  const parameters = parseParameters(form.parameters);
  const previous = parseParameters(before.parameters);
  if ("value" in parameters && JSON.stringify(parameters.value) !== JSON.stringify("value" in previous ? previous.value : null)) {
    body.parameters = parameters.value;
  }
  for (const [key, field] of [["start_at", "startAt"], ["end_at", "endAt"]] as const) {
    if (form[field] !== before[field] || (zoneChanged && form[field])) body[key] = apiTime(form[field]);
  }
  if (ownedByDeployment) return body;
  const modeChanged = form.mode !== before.mode;
  if (modeChanged) body.mode = form.mode;
  if (form.mode === "cron") {
    const expression = checkCron(form.cronExpression).expression;
    if (modeChanged || expression !== checkCron(before.cronExpression).expression) body.cron_expression = expression;
  }
  if (form.mode === "interval" && (modeChanged || intervalSeconds(form) !== intervalSeconds(before))) {
    body.interval_seconds = intervalSeconds(form);
  }
  if (form.mode === "one_time" && (modeChanged || zoneChanged || form.oneTimeAt !== before.oneTimeAt)) {
    body.one_time_at = apiTime(form.oneTimeAt);
  }
  if (form.flowVersion.trim() !== before.flowVersion.trim()) body.flow_version = form.flowVersion.trim() || null;
  if (form.environment !== before.environment) body.environment = form.environment || null;
  return body;
}

export type Preview =
  | { kind: "times"; times: number[] }
  | { kind: "none"; message: string };

/**
 * The next fire times of what the form holds, as the server would compute them after `now`
 * (timing.py's `next_fire_after`); an interval counts from `start_at`, else from `createdAt`
 * (now, for a schedule not created yet).
 */
export function previewFires(form: ScheduleForm, now: number, createdAt: number = now, count = 5): Preview {
  if (!isKnownZone(form.timezone)) return { kind: "none", message: "Choose a time zone to see the fire times." };
  const wall = (value: string) => {
    const w = inputToWall(value);
    return w === null ? null : localInstant(w, form.timezone);
  };
  const startAt = wall(form.startAt);
  const endAt = wall(form.endAt);
  const ended = (times: number[]) =>
    times.length > 0 ? ({ kind: "times", times } as const) : ({ kind: "none", message: "It has no fire times left (its end has passed)." } as const);
  switch (form.mode) {
    case "manual":
      return { kind: "none", message: "A manual schedule never fires on its own: use Run now." };
    case "one_time": {
      const at = wall(form.oneTimeAt) ?? startAt;
      if (at === null) return { kind: "none", message: "Choose when it runs." };
      return at > now ? { kind: "times", times: [at] } : { kind: "none", message: "That time has passed." };
    }
    case "interval": {
      const step = intervalSeconds(form) * 1000;
      if (!(step >= MIN_INTERVAL_SECONDS * 1000)) return { kind: "none", message: "Enter an interval of at least a minute." };
      const anchor = startAt ?? createdAt;
      const times: number[] = [];
      let instant = startAt !== null && now < startAt ? startAt - 1 : now;
      while (times.length < count) {
        const next = instant < anchor ? anchor : anchor + step * (Math.floor((instant - anchor) / step) + 1);
        if (endAt !== null && next > endAt) break;
        times.push(next);
        instant = next;
      }
      return ended(times);
    }
    case "cron": {
      const cron = checkCron(form.cronExpression);
      if (cron.kind !== "ok") return { kind: "none", message: cron.message };
      return ended(nextCronFires(cron.canonical, form.timezone, now, count, { startAt, endAt }));
    }
  }
}

/** The `details` of a failed request, by field, for messages beside the inputs. */
export function fieldErrors(error: unknown): FieldProblems {
  if (!(error instanceof RequestFailed) || !error.body?.details) return {};
  return Object.fromEntries(Object.entries(error.body.details).map(([field, why]) => [field, typeof why === "string" ? why : JSON.stringify(why)]));
}

/** When a schedule fires, in words: its expression and what it means, its interval, its time. */
export function scheduleTiming(schedule: Schemas["ScheduleRead"]): { code?: string; words: string } {
  switch (schedule.mode) {
    case "cron": {
      const cron = checkCron(schedule.cron_expression ?? "");
      return { code: schedule.cron_expression ?? "", words: cron.kind === "ok" ? describeCron(cron) : "" };
    }
    case "interval":
      return { words: schedule.interval_seconds ? describeInterval(schedule.interval_seconds) : "" };
    case "one_time": {
      const at = schedule.one_time_at ?? schedule.start_at;
      return { words: at ? `once, at ${formatInZone(Date.parse(at), schedule.timezone)}` : "once" };
    }
    default:
      return { words: "only when run by hand" };
  }
}

export function modeLabel(mode: string): string {
  return MODES.find((m) => m.value === mode)?.label ?? mode;
}
