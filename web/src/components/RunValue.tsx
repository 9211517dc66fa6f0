import { useMemo, useState } from "react";
import { formatBytes, storedOutput } from "../lib/runsFormat";
import { CopyButton } from "./common";

/** Text longer than this is cut until asked for (a node's inline output may be 256 KB). */
const SHOWN_CHARS = 20_000;

/** A JSON value shown indented, with a copy button; an object-store reference as what it points to. */
export function RunValue({ value, label }: { value: unknown; label: string }) {
  const text = useMemo(() => JSON.stringify(value, null, 2) ?? "null", [value]);
  const [whole, setWhole] = useState(false);
  const stored = storedOutput(value);
  if (stored) {
    return (
      <div className="run-value">
        <p>
          Kept in the object store as {stored.format}
          {stored.rows !== null && <>, {stored.rows.toLocaleString()} rows</>}, {formatBytes(stored.bytes)}:
        </p>
        <p><code>{stored.key}</code> <CopyButton value={stored.key} label="Copy object key" /></p>
      </div>
    );
  }
  const cut = !whole && text.length > SHOWN_CHARS;
  return (
    <div className="run-value">
      <pre tabIndex={0} aria-label={label}>{cut ? `${text.slice(0, SHOWN_CHARS)}…` : text}</pre>
      <div className="run-value-actions">
        <CopyButton value={text} label={`Copy ${label.toLowerCase()}`} />
        {cut && (
          <button type="button" className="button" onClick={() => setWhole(true)}>
            Show all {formatBytes(text.length)}
          </button>
        )}
      </div>
    </div>
  );
}
