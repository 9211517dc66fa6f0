import { Fragment, memo, useCallback, useState } from "react";
import type { Schemas } from "../api/client";
import { elapsedSeconds, formatDuration } from "../lib/runsFormat";
import { RunError } from "./RunError";
import { RunValue } from "./RunValue";
import { StatusBadge, when } from "./StatusBadge";

type Task = Schemas["NodeRunRead"];

/** The run's node runs, one row per node and attempt; a row opens to its output and error. */
export function RunNodeTable({ tasks, now }: { tasks: readonly Task[]; now: number }) {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const toggle = useCallback((key: string) => {
    setOpen((old) => {
      const next = new Set(old);
      if (!next.delete(key)) next.add(key);
      return next;
    });
  }, []);
  if (tasks.length === 0) return <p className="muted">No node has reported yet.</p>;
  return (
    <table className="run-nodes">
      <caption className="visually-hidden">Node runs, by attempt and in the order they started</caption>
      <thead>
        <tr>
          <th scope="col">Node</th>
          <th scope="col">Type</th>
          <th scope="col">Status</th>
          <th scope="col">Attempt</th>
          <th scope="col">Tries</th>
          <th scope="col">Started</th>
          <th scope="col">Duration</th>
          <th scope="col"><span className="visually-hidden">Details</span></th>
        </tr>
      </thead>
      <tbody>
        {tasks.map((task) => {
          const key = `${task.node_id}#${task.attempt}`;
          return (
            <Fragment key={key}>
              <NodeRow task={task} now={task.completed_at ? 0 : now} expanded={open.has(key)} onToggle={toggle} rowKey={key} />
              {open.has(key) && (
                <tr className="run-node-details" id={`details-${key}`}>
                  <td colSpan={8}>
                    {task.error && (
                      <>
                        <h4>Error</h4>
                        <RunError error={task.error} />
                      </>
                    )}
                    <h4>Output</h4>
                    {task.output === null || task.output === undefined ? <p className="muted">No output.</p> : <RunValue value={task.output} label={`Output of ${task.node_id}`} />}
                    {task.worker_id && <p className="muted">Worker <code>{task.worker_id}</code></p>}
                  </td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}

/** A row, memoized: a poll that changed one node's status re-renders one row. */
const NodeRow = memo(function NodeRow({ task, now, expanded, onToggle, rowKey }: { task: Task; now: number; expanded: boolean; onToggle: (key: string) => void; rowKey: string }) {
  const seconds = task.duration_seconds ?? (task.started_at && !task.completed_at ? elapsedSeconds(task.started_at, null, now) : null);
  return (
    <tr>
      <th scope="row"><code>{task.node_id}</code></th>
      <td>{task.node_type}</td>
      <td><StatusBadge status={task.status} /></td>
      <td>{task.attempt}</td>
      <td>{task.tries}</td>
      <td>{when(task.started_at)}</td>
      <td>{formatDuration(seconds)}</td>
      <td>
        <button type="button" className="button small" aria-expanded={expanded} aria-controls={expanded ? `details-${rowKey}` : undefined} onClick={() => onToggle(rowKey)}>
          {expanded ? "Hide" : "Details"}
          <span className="visually-hidden"> of {task.node_id}, attempt {task.attempt}</span>
        </button>
      </td>
    </tr>
  );
});
