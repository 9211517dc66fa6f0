// The Gantt view of a run's node runs: one bar per node run that started, placed on a shared time
// axis from the first start to the last end (now, for nodes still running).

export type TimedTask = {
  node_id: string;
  attempt: number;
  status: string;
  started_at: string | null;
  completed_at: string | null;
};

export type TimelineBar = {
  key: string;
  nodeId: string;
  attempt: number;
  status: string;
  /** Seconds from the timeline's origin. */
  start: number;
  end: number;
  /** Still running: its end is "now". */
  open: boolean;
  /** Percentages of the axis, for CSS. */
  left: number;
  width: number;
};

export type Timeline = {
  /** Epoch milliseconds of the first start. */
  origin: number;
  /** Seconds from the origin to the last end. */
  span: number;
  bars: TimelineBar[];
  /** Node runs without a start (resumed from an earlier attempt, or not started): not drawn. */
  untimed: number;
  /** Axis marks, in seconds from the origin. */
  ticks: number[];
};

const OPEN_STATES = new Set(["running", "retrying"]);
/** A bar narrower than this (percent) is drawn this wide, so an instant node stays visible. */
export const MIN_BAR_WIDTH = 0.4;

export function timeline(tasks: readonly TimedTask[], now: number): Timeline {
  const timed = tasks.filter((t): t is TimedTask & { started_at: string } => t.started_at !== null);
  if (timed.length === 0) return { origin: now, span: 0, bars: [], untimed: tasks.length, ticks: [] };
  const origin = Math.min(...timed.map((t) => Date.parse(t.started_at)));
  const raw = timed.map((t) => {
    const start = (Date.parse(t.started_at) - origin) / 1000;
    const open = !t.completed_at && OPEN_STATES.has(t.status);
    const endAt = t.completed_at ? Date.parse(t.completed_at) : open ? now : Date.parse(t.started_at);
    return { task: t, start, end: Math.max(start, (endAt - origin) / 1000), open };
  });
  const span = Math.max(...raw.map((r) => r.end), 0.001);
  const bars = raw
    .sort((a, b) => a.start - b.start || a.task.attempt - b.task.attempt || a.task.node_id.localeCompare(b.task.node_id))
    .map(({ task, start, end, open }) => {
      const left = (start / span) * 100;
      return {
        key: `${task.node_id}#${task.attempt}`,
        nodeId: task.node_id,
        attempt: task.attempt,
        status: task.status,
        start,
        end,
        open,
        left: Math.min(left, 100 - MIN_BAR_WIDTH),
        width: Math.max(((end - start) / span) * 100, MIN_BAR_WIDTH),
      };
    });
  return { origin, span, bars, untimed: tasks.length - timed.length, ticks: axisTicks(span) };
}

/** About `count` evenly spaced round marks (1, 2 or 5 times a power of ten seconds) within `span`. */
export function axisTicks(span: number, count = 5): number[] {
  if (span <= 0) return [];
  const rough = span / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const ticks: number[] = [];
  for (let i = 0; i * step <= span + 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}
