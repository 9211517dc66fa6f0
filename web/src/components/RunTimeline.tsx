import { useMemo } from "react";
import { formatDuration } from "../lib/runsFormat";
import { timeline, type TimedTask } from "../lib/runsTimeline";

/**
 * The node runs as a Gantt chart: one row per node run that started, its bar from its start to
 * its end (to now while it runs) on an axis shared by all. Plain CSS; each row also says in words
 * when it started and how long it took.
 */
export function RunTimeline({ tasks, now }: { tasks: readonly TimedTask[]; now: number }) {
  const chart = useMemo(() => timeline(tasks, now), [tasks, now]);
  const attempts = new Set(tasks.map((t) => t.attempt)).size;
  if (chart.bars.length === 0) return <p className="muted">No node has started yet.</p>;
  return (
    <figure className="gantt">
      <div className="gantt-axis" aria-hidden="true">
        <span />
        <div className="gantt-track">
          {chart.ticks.map((tick) => (
            <span key={tick} className="gantt-tick" style={{ left: `${(tick / chart.span) * 100}%` }}>
              {tick === 0 ? "0" : `+${formatDuration(tick)}`}
            </span>
          ))}
        </div>
      </div>
      <ol className="gantt-rows">
        {chart.bars.map((bar) => (
          <li key={bar.key} className="gantt-row">
            <span className="gantt-label" title={bar.nodeId}>
              {bar.nodeId}
              {attempts > 1 && <small> #{bar.attempt}</small>}
            </span>
            <div className="gantt-track">
              <span
                className={`gantt-bar status-${bar.status}${bar.open ? " open" : ""}`}
                style={{ left: `${bar.left}%`, width: `${bar.width}%` }}
                title={`${bar.nodeId}: ${bar.status}, ${formatDuration(bar.end - bar.start)}`}
              />
              <span className="visually-hidden">
                {bar.status}, started at +{formatDuration(bar.start)}, {bar.open ? "running for" : "took"} {formatDuration(bar.end - bar.start)}
              </span>
            </div>
          </li>
        ))}
      </ol>
      <figcaption className="muted">
        Time from the first node's start ({new Date(chart.origin).toLocaleTimeString()}); total {formatDuration(chart.span)}.
        {chart.untimed > 0 && <> {chart.untimed} node {chart.untimed === 1 ? "run has" : "runs have"} no start time (resumed from an earlier attempt or not started) and {chart.untimed === 1 ? "is" : "are"} not drawn.</>}
      </figcaption>
    </figure>
  );
}
