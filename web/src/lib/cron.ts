// Cron expressions as the server reads them (croniter, src/dagy/server/domains/schedules/timing.py):
// checking one, its next fire times in an IANA zone, a sentence that says what it means, and the
// presets of the cron helper.
//
// The fields are expanded here with croniter's rules, and cron-parser walks the expanded form on
// the zone's wall clock; each wall time then becomes an instant by the server's daylight-saving
// rule (cronZone.ts). cron-parser's own `tz` walk differs from the server at clock changes (it
// fires every wall time of a spring-forward gap, and a repeated hour twice), so it is not used.
import { CronExpressionParser } from "cron-parser";
import { localInstant, wallClockOf } from "./cronZone";

/** The aliases the server accepts, exactly as written (lower case), and what they stand for. */
export const CRON_ALIASES: Record<string, string> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
};

export type CronCheck =
  /** Checked here as the server checks it; `canonical` is what cron-parser walks. */
  | { kind: "ok"; expression: string; fields: string[]; canonical: string }
  /** The server would refuse it (400 naming `cron_expression`). */
  | { kind: "invalid"; expression: string; message: string }
  /** A form this page does not check (L, W, #, H); the server decides when it is saved. */
  | { kind: "unchecked"; expression: string; message: string };

type Field = { name: string; min: number; max: number; names?: Record<string, number> };

const MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: Field[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: Object.fromEntries(MONTH_NAMES.map((n, i) => [n, i + 1])) },
  { name: "day of week", min: 0, max: 6, names: Object.fromEntries(DAY_NAMES.map((n, i) => [n, i])) },
];
const DOM = 2;
const DOW = 4;

class Refused extends Error {}

/** The server's whitespace rule: fields separated by any run of spaces. */
export function normalizeCron(text: string): string {
  return text.trim().split(/\s+/).filter(Boolean).join(" ");
}

/** Whether the server would take `text`, and if so the fields to walk. */
export function checkCron(text: string): CronCheck {
  const expression = normalizeCron(text);
  const invalid = (message: string): CronCheck => ({ kind: "invalid", expression, message });
  if (!expression) return invalid("Enter a cron expression, such as 0 9 * * 1-5.");
  if (expression.startsWith("@")) {
    const expanded = CRON_ALIASES[expression];
    if (!expanded) return invalid(`Unknown alias; use one of ${Object.keys(CRON_ALIASES).join(", ")}.`);
    return check(expression, expanded.split(" "));
  }
  const fields = expression.split(" ");
  if (fields.length !== 5) {
    return invalid(`A cron expression has 5 fields (minute hour day-of-month month day-of-week); this one has ${fields.length}.`);
  }
  if (/[lw#hr]/i.test(expression.replace(/[a-z]{3}/gi, (word) => (isName(word) ? "" : word)))) {
    return {
      kind: "unchecked",
      expression,
      message: "L, W, #, H and R forms are not previewed here; the server checks the expression when you save.",
    };
  }
  return check(expression, fields);
}

function isName(word: string): boolean {
  const lower = word.toLowerCase();
  return MONTH_NAMES.includes(lower) || DAY_NAMES.includes(lower);
}

function check(expression: string, fields: string[]): CronCheck {
  let sets: number[][];
  try {
    sets = fields.map((text, index) => expandField(text, index));
  } catch (error) {
    return { kind: "invalid", expression, message: (error as Error).message };
  }
  const canonical = canonicalFields(fields, sets);
  if (canonical === null) return { kind: "invalid", expression, message: "It never matches a date." };
  try {
    CronExpressionParser.parse(canonical, { tz: "UTC", currentDate: Date.UTC(2000, 0, 1) }).next();
  } catch {
    return { kind: "invalid", expression, message: "It never matches a date." };
  }
  return { kind: "ok", expression, fields, canonical };
}

/** The values of one field, by croniter's rules (an explicit range such as 1-1 is the whole cycle). */
function expandField(text: string, index: number): number[] {
  const field = FIELDS[index];
  if (text === "?" && (index === DOM || index === DOW)) return range(field.min, field.max, 1);
  if (text.includes("?")) throw new Refused(`${field.name}: ? stands alone, in the day fields only.`);
  const values = new Set<number>();
  for (const item of text.split(",")) {
    for (const value of expandItem(item, field)) values.add(value);
  }
  return [...values].sort((a, b) => a - b);
}

function expandItem(item: string, field: Field): number[] {
  const stepped = /^([^/]+)\/(\d+)$/.exec(item);
  const body = stepped ? stepped[1] : item;
  const step = stepped ? Number(stepped[2]) : 1;
  if (step === 0) throw new Refused(`${field.name}: a step of 0 never advances.`);
  if (body === "*") return range(field.min, field.max, step);
  const bounds = /^([a-z0-9]+)-([a-z0-9]+)$/i.exec(body);
  if (!bounds) {
    const start = value(body, field);
    // `5/10` is 5 to the field's end, every 10.
    return stepped && start !== field.max ? range(start, field.max, step) : [start];
  }
  const low = value(bounds[1], field);
  const high = value(bounds[2], field);
  if (low === high) return range(field.min, field.max, step);
  if (low < high) return range(low, high, step);
  return wrapped(low, high, step, field);
}

/** A range that wraps past the field's end (FRI-MON, 22-2), with croniter's step arithmetic. */
function wrapped(low: number, high: number, step: number, field: Field): number[] {
  const first = range(low, field.max, step);
  const last = first[first.length - 1];
  const skipped = field.max - last;
  const skip = last - field.min + step > field.max - field.min + 1 && skipped < step ? step - skipped : 0;
  return [...first, ...range(field.min + skip, high, step)];
}

function value(text: string, field: Field): number {
  let number: number;
  if (/^\d+$/.test(text)) number = Number(text);
  else if (field.names && Object.hasOwn(field.names, text.toLowerCase())) number = field.names[text.toLowerCase()];
  else throw new Refused(`${field.name}: ${text} is not a ${field.names ? "number or name" : "number"}.`);
  if (field.max === 6 && number === 7) number = 0; // 7 is Sunday too
  if (number < field.min || number > field.max) {
    throw new Refused(`${field.name}: ${text} is out of range ${field.min}–${field.max === 6 ? 7 : field.max}.`);
  }
  return number;
}

function range(from: number, to: number, step: number): number[] {
  const values: number[] = [];
  for (let v = from; v <= to; v += step) values.push(v);
  return values;
}

/**
 * The fields as cron-parser should read them, or null when a field has no value left. Day of month
 * and day of week: both restricted match either (OR). A field counts as `*` (unrestricted) when it is
 * `?` or lists a bare `*`, or when it holds every value and the other field's text has a `*`
 * (croniter's rules); under OR, a field that holds every value matches every day.
 */
function canonicalFields(fields: string[], sets: number[][]): string | null {
  if (sets.some((set) => set.length === 0)) return null;
  const full = sets.map((set, i) => set.length === FIELDS[i].max - FIELDS[i].min + 1);
  const star = (index: number, other: number) =>
    fields[index] === "?" || fields[index].split(",").includes("*") || (full[index] && fields[other].includes("*"));
  const domStar = star(DOM, DOW);
  const dowStar = star(DOW, DOM);
  const list = (i: number) => (full[i] ? "*" : sets[i].join(","));
  const days = !domStar && !dowStar && (full[DOM] || full[DOW]) ? ["*", "*"] : [domStar ? "*" : list(DOM), dowStar ? "*" : list(DOW)];
  return [list(0), list(1), days[0], list(3), days[1]].join(" ");
}

export type FireWindow = { startAt?: number | null; endAt?: number | null };

/**
 * The first fire time strictly after `after` (ms since the epoch), as the server computes it:
 * cron-parser walks the zone's wall clock from the wall time of `after`, and the first candidate
 * whose instant is later than `after` wins. Null when the window has ended.
 */
export function nextCronFire(canonical: string, timeZone: string, after: number, window: FireWindow = {}): number | null {
  const from = window.startAt != null && after < window.startAt ? window.startAt - 1 : after;
  const walls = CronExpressionParser.parse(canonical, { tz: "UTC", currentDate: wallClockOf(from, timeZone) });
  try {
    for (let i = 0; i < 10_000; i++) {
      const instant = localInstant(walls.next().getTime(), timeZone);
      if (instant > from) return window.endAt != null && instant > window.endAt ? null : instant;
    }
  } catch {
    // cron-parser found no later date within its search range.
  }
  return null;
}

/** The next `count` fire times after `after`, oldest first. */
export function nextCronFires(canonical: string, timeZone: string, after: number, count = 5, window: FireWindow = {}): number[] {
  const times: number[] = [];
  let current: number | null = after;
  while (times.length < count) {
    current = nextCronFire(canonical, timeZone, current, window);
    if (current === null) break;
    times.push(current);
  }
  return times;
}

// --- Presets ------------------------------------------------------------------------------------

export type CronPreset =
  | { kind: "every-minutes"; every: number }
  | { kind: "hourly"; minute: number }
  | { kind: "daily"; time: string }
  | { kind: "weekdays"; time: string }
  | { kind: "weekly"; weekday: number; time: string }
  | { kind: "monthly"; day: number; time: string };

export const PRESET_LABELS: Record<CronPreset["kind"], string> = {
  "every-minutes": "Every few minutes",
  hourly: "Every hour",
  daily: "Every day at a time",
  weekdays: "Weekdays (Monday to Friday) at a time",
  weekly: "Every week on a day at a time",
  monthly: "Every month on a day at a time",
};

/** The expression of a preset; `time` is "HH:MM". */
export function presetExpression(preset: CronPreset): string {
  const at = (time: string) => {
    const [hour, minute] = time.split(":").map(Number);
    return `${minute} ${hour}`;
  };
  switch (preset.kind) {
    case "every-minutes":
      return `*/${preset.every} * * * *`;
    case "hourly":
      return `${preset.minute} * * * *`;
    case "daily":
      return `${at(preset.time)} * * *`;
    case "weekdays":
      return `${at(preset.time)} * * 1-5`;
    case "weekly":
      return `${at(preset.time)} * * ${preset.weekday}`;
    case "monthly":
      return `${at(preset.time)} ${preset.day} * *`;
  }
}

// --- Description --------------------------------------------------------------------------------

const DAY_FULL = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTH_FULL = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** A sentence for an expression `checkCron` accepted: "At 09:00, Monday through Friday". */
export function describeCron(check: Extract<CronCheck, { kind: "ok" }>): string {
  const [minute, hour, dom, month, dow] = check.fields.map((f) => f.toLowerCase());
  const time = timePhrase(minute, hour);
  const days = dayPhrase(dom, dow) ?? (time.startsWith("At ") && /\d$/.test(time) ? "every day" : "");
  const months = month === "*" ? "" : `in ${listPhrase(month, (v) => MONTH_FULL[number(v, MONTH_NAMES, 1) - 1], "month")}`;
  return [time, days, months].filter(Boolean).join(", ");
}

function number(text: string, names: string[], base: number): number {
  const index = names.indexOf(text);
  return index >= 0 ? index + base : Number(text);
}

const pad = (n: number | string) => String(n).padStart(2, "0");

function timePhrase(minute: string, hour: string): string {
  const plain = (f: string) => /^\d+(,\d+)*$/.test(f);
  if (plain(minute) && plain(hour)) {
    const hours = hour.split(",").map(Number).sort((x, y) => x - y);
    const minutes = minute.split(",").map(Number).sort((x, y) => x - y);
    if (hours.length * minutes.length <= 6) {
      return `At ${joinAnd(hours.flatMap((h) => minutes.map((m) => `${pad(h)}:${pad(m)}`)))}`;
    }
  }
  const every = (f: string) => /^\*\/(\d+)$/.exec(f)?.[1];
  let minutes: string;
  if (minute === "*") minutes = "every minute";
  else if (every(minute)) minutes = `every ${every(minute)} minutes`;
  else if (minute === "0") minutes = "on the hour";
  else if (plain(minute)) minutes = `at minute${minute.includes(",") ? "s" : ""} ${joinAnd(minute.split(",").map((m) => String(Number(m))))}`;
  else minutes = listPhrase(minute, (v) => String(Number(v)), "minute");
  const bounds = /^(\d+)-(\d+)$/.exec(hour);
  if (minute === "0" && bounds) return `Every hour from ${pad(bounds[1])}:00 through ${pad(bounds[2])}:00`;
  let hours: string;
  if (hour === "*") hours = minute === "0" ? "every hour" : minute === "*" || every(minute) ? "" : "of every hour";
  else if (every(hour)) hours = `every ${every(hour)} hours`;
  else if (bounds) hours = `between ${pad(bounds[1])}:00 and ${pad(bounds[2])}:59`;
  else hours = `during hour ${listPhrase(hour, (v) => pad(v), "hour")}`;
  const sentence = minute === "0" && hours ? `${hours}, ${minutes}` : [minutes, hours].filter(Boolean).join(hours.startsWith("of") ? " " : ", ");
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

function joinAnd(items: string[]): string {
  return items.length === 1 ? items[0] : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** The days it fires on; null for every day. */
function dayPhrase(dom: string, dow: string): string | null {
  const wild = (f: string) => f === "*" || f === "?";
  const weekdays = () => {
    if (dow === "1-5" || dow === "mon-fri") return "Monday through Friday";
    if (dow === "0,6" || dow === "6,0" || dow === "sat,sun" || dow === "sun,sat" || dow === "6-7") return "on Saturday and Sunday";
    return `on ${listPhrase(dow, (v) => DAY_FULL[number(v, DAY_NAMES, 0) % 7], "day of the week")}`;
  };
  const monthDays = () => {
    const phrase = listPhrase(dom, (v) => String(Number(v)), "day of the month");
    if (phrase.startsWith("every")) return `on ${phrase}`;
    return `on day${/[,-]/.test(dom) ? "s" : ""} ${phrase} of the month`;
  };
  if (wild(dom) && wild(dow)) return null;
  if (wild(dom)) return weekdays();
  if (wild(dow)) return monthDays();
  return `${monthDays()} or ${weekdays()}`;
}

/** "1, 15 and 20", "Monday through Friday", "every 2nd month from 1 through 12". */
function listPhrase(field: string, name: (value: string) => string, unit: string): string {
  const items = field.split(",").map((item) => {
    const [body, step] = item.split("/");
    const bounds = body.split("-");
    const span = body === "*" ? "" : bounds.length === 2 ? `${name(bounds[0])} through ${name(bounds[1])}` : name(body);
    if (!step) return span;
    const nth = `every ${ordinal(Number(step))} ${unit}`;
    return span ? `${nth} from ${span}` : nth;
  });
  return joinAnd(items);
}

function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th";
  return `${n}${suffix}`;
}
