// A run's log lines: the search that filters and highlights them, and each line's level.

export type Segment = { text: string; match: boolean };

/** A case-insensitive matcher of `query` taken literally; null for an empty query. */
export function searchPattern(query: string): RegExp | null {
  return query ? new RegExp(query.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "giu") : null;
}

export function matches(text: string, pattern: RegExp | null): boolean {
  if (!pattern) return true;
  pattern.lastIndex = 0;
  const found = pattern.test(text);
  pattern.lastIndex = 0; // a global pattern remembers where it stopped: the next use starts over
  return found;
}

/** `text` cut into the parts that match `pattern` and those between them. */
export function highlight(text: string, pattern: RegExp | null): Segment[] {
  if (!pattern) return [{ text, match: false }];
  pattern.lastIndex = 0; // matchAll starts where the pattern's last use stopped
  const segments: Segment[] = [];
  let at = 0;
  for (const found of text.matchAll(pattern)) {
    const index = found.index;
    if (index > at) segments.push({ text: text.slice(at, index), match: false });
    segments.push({ text: found[0], match: true });
    at = index + found[0].length;
  }
  if (at < text.length || segments.length === 0) segments.push({ text: text.slice(at), match: false });
  return segments;
}

export type Level = "error" | "warning" | "debug" | "info";

/** The level a line names at its start (`[ERROR] ...`, `ERROR: ...`, `Traceback`), else info. */
export function logLevel(message: string): Level {
  const head = message.slice(0, 24).toUpperCase();
  if (/^\s*\[?(ERROR|CRITICAL|FATAL)\b/.test(head) || head.startsWith("TRACEBACK")) return "error";
  if (/^\s*\[?WARN(ING)?\b/.test(head)) return "warning";
  if (/^\s*\[?DEBUG\b/.test(head)) return "debug";
  return "info";
}

/** "10:15:30.125": a log line's time of day, local, to the millisecond. */
export function logTime(timestamp: string): string {
  const date = new Date(timestamp);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** A page of log lines as fetched; `first` is its first line's number in the whole log (from 1). */
export type LogChunk = { first: number; events: { timestamp: string; message: string }[] };

/** The newest chunks holding at most `max` lines (the newest chunk whole, whatever its size). */
export function keepLastLines<T extends LogChunk>(chunks: T[], max: number): T[] {
  let lines = 0;
  let from = chunks.length;
  while (from > 0 && (from === chunks.length || lines + chunks[from - 1].events.length <= max)) {
    lines += chunks[from - 1].events.length;
    from -= 1;
  }
  return from === 0 ? chunks : chunks.slice(from);
}
