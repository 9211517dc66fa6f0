// Wall clocks of IANA time zones, by the server's rules (src/dagy/server/domains/schedules/timing.py).
// A "wall time" here is a naive date-time carried as the milliseconds it would be in UTC: 09:30 on
// 8 March 2026 is Date.UTC(2026, 2, 8, 9, 30) whatever the zone.

const formatters = new Map<string, Intl.DateTimeFormat>();

function partsFormatter(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Whether the browser knows `timeZone` as an IANA zone. */
export function isKnownZone(timeZone: string): boolean {
  if (!timeZone.trim()) return false;
  try {
    partsFormatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Every IANA zone the browser knows, UTC first. */
export function timeZoneNames(): string[] {
  const names = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return ["UTC", ...names.filter((name) => name !== "UTC")];
}

/** The browser's own zone. */
export function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The zone's UTC offset at `instant`, in milliseconds (ahead of UTC is positive). */
export function offsetAt(instant: number, timeZone: string): number {
  const second = Math.floor(instant / 1000) * 1000;
  const parts: Record<string, number> = {};
  for (const part of partsFormatter(timeZone).formatToParts(second)) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wall - second;
}

/** The wall time of `instant` in the zone. */
export function wallClockOf(instant: number, timeZone: string): number {
  return instant + offsetAt(instant, timeZone);
}

const DAY = 86_400_000;

/**
 * The instant of a wall time in the zone, by Dagy's daylight-saving rule: a wall time that occurs
 * twice is its first occurrence; one in a gap (spring forward) is the first instant after the gap.
 */
export function localInstant(wall: number, timeZone: string): number {
  const before = offsetAt(wall - DAY, timeZone);
  const after = offsetAt(wall + DAY, timeZone);
  const valid = [...new Set([before, after])]
    .map((offset) => wall - offset)
    .filter((instant) => wallClockOf(instant, timeZone) === wall);
  if (valid.length > 0) return Math.min(...valid);
  // In a gap: the transition lies between the two readings; find its first second.
  let low = Math.floor(Math.min(wall - before, wall - after) / 1000);
  let high = Math.ceil(Math.max(wall - before, wall - after) / 1000);
  const later = offsetAt(high * 1000, timeZone);
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (offsetAt(middle * 1000, timeZone) === later) high = middle;
    else low = middle;
  }
  return high * 1000;
}

/** `2026-03-08T09:30` for a wall time (what a datetime-local input holds). */
export function wallToInput(wall: number): string {
  return new Date(wall).toISOString().slice(0, 16);
}

/** The wall time of a datetime-local value, or null when it is empty or not a date-time. */
export function inputToWall(value: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0));
}

/** An instant as the zone shows it: "Mon, 9 Mar 2026, 09:00 EDT". */
export function formatInZone(instant: number | Date, timeZone: string, locale?: string): string {
  return new Intl.DateTimeFormat(locale, {
    timeZone,
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  }).format(instant);
}
