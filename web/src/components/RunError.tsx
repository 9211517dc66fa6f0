import { Fragment } from "react";
import { tracebackLines } from "../lib/runsFormat";

const SHOWN = new Set(["type", "message", "node_id", "traceback"]);

/**
 * A run's or node run's error (`{type, message, node_id, traceback, ...}`, docs/runs.md): the
 * message first, then where it happened, then the traceback with its frames set apart from the
 * code lines and the exception; any other fields (attempt, item_index, failed_items...) below.
 */
export function RunError({ error }: { error: Record<string, unknown> }) {
  const type = typeof error.type === "string" ? error.type : null;
  const message = typeof error.message === "string" ? error.message : null;
  const nodeId = typeof error.node_id === "string" ? error.node_id : null;
  const traceback = typeof error.traceback === "string" && error.traceback ? error.traceback : null;
  const rest = Object.fromEntries(Object.entries(error).filter(([key]) => !SHOWN.has(key)));
  return (
    <div className="run-error">
      <p className="run-error-message">
        {type && <code className="run-error-type">{type}</code>} {message ?? "The run failed without a message."}
      </p>
      {nodeId && <p>In node <code>{nodeId}</code></p>}
      {traceback && (
        <pre className="traceback" tabIndex={0} aria-label="Traceback">
          {tracebackLines(traceback).map((line, i) => (
            <span key={i} className={`tb-${line.kind}`}>{line.text}{"\n"}</span>
          ))}
        </pre>
      )}
      {Object.keys(rest).length > 0 && (
        <dl className="facts">
          {Object.entries(rest).map(([key, value]) => (
            <Fragment key={key}>
              <dt>{key}</dt>
              <dd><code>{typeof value === "string" ? value : JSON.stringify(value)}</code></dd>
            </Fragment>
          ))}
        </dl>
      )}
    </div>
  );
}
