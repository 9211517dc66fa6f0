// Words and numbers of the runs pages: which states are live, durations, and a traceback's lines.

/** Run states a run can still leave (docs/runs.md, "States"). */
export const LIVE_RUN_STATES: ReadonlySet<string> = new Set(["pending", "queued", "running"]);

export const RUN_STATES = ["pending", "queued", "running", "completed", "failed", "cancelled"] as const;

export function isLive(status: string): boolean {
  return LIVE_RUN_STATES.has(status);
}

/** Live states that change on their own (a pending run waits for a cancel): worth polling. */
export function isActive(status: string): boolean {
  return status === "queued" || status === "running";
}

/** "v3", "v1.0.0", "prod-2026": a version label as shown beside its flow's name. */
export function versionLabel(version: string): string {
  return /^\d/.test(version) ? `v${version}` : version;
}

/** "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min"; "—" for no duration. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds < 10 ? Number(seconds.toFixed(1)) : Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, "0")} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, "0")} min`;
}

/** Seconds from `start` to `end`, or to `now` while there is no end; null before it started. */
export function elapsedSeconds(start: string | null, end: string | null, now: number): number | null {
  if (!start) return null;
  const until = end ? Date.parse(end) : now;
  return Math.max(0, (until - Date.parse(start)) / 1000);
}

/** "3 min ago", "in 2 h": a time relative to `now`, for a table cell (the exact time goes in a title). */
export function relativeTime(value: string, now: number): string {
  const seconds = Math.round((Date.parse(value) - now) / 1000);
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ["day", 86_400],
    ["hour", 3600],
    ["minute", 60],
  ];
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.trunc(seconds / size), unit);
  }
  return format.format(seconds, "second");
}

export type TracebackLine = { text: string; kind: "header" | "frame" | "code" | "exception" };

/**
 * A Python traceback's lines, each with what it is: the "Traceback ..." header, a `File "...",
 * line N` frame, the source line under a frame, or the exception itself (its last unindented
 * lines, and the "During handling ..." separators of a chain), so a page can set them apart.
 */
export function tracebackLines(traceback: string): TracebackLine[] {
  return traceback
    .replace(/\s+$/, "")
    .split("\n")
    .map((text) => {
      if (/^Traceback \(most recent call last\):/.test(text)) return { text, kind: "header" };
      if (/^\s+File ".*", line \d+/.test(text)) return { text, kind: "frame" };
      if (/^\s/.test(text)) return { text, kind: "code" };
      return { text, kind: "exception" };
    });
}

export type StoredOutput = { key: string; format: string; rows: number | null; bytes: number };

/** The `{"$dagy_output": {...}}` reference of an output kept in the object store (docs/runs.md). */
export function storedOutput(value: unknown): StoredOutput | null {
  if (typeof value !== "object" || value === null || !("$dagy_output" in value)) return null;
  const ref = (value as { $dagy_output: unknown }).$dagy_output as Partial<StoredOutput> | null;
  return ref && typeof ref.key === "string" ? { key: ref.key, format: String(ref.format ?? ""), rows: ref.rows ?? null, bytes: Number(ref.bytes ?? 0) } : null;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
