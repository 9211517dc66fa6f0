import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
import { ConfirmButton, EmptyState, ErrorNote } from "../../components/common";
import { TraceContent } from "../../components/admin/TraceContent";
import { when } from "../../components/StatusBadge";
import { downloadTrace, formatBytes } from "../../lib/admin";

type Trace = Schemas["ExceptionItem"];

const LIMIT = 200;

/** The traces of unhandled server errors (a 500's request id leads here): read one, download it,
 * and clear the ones dealt with. */
export function Exceptions() {
  const queries = useQueryClient();
  const traces = useQuery({
    queryKey: ["admin", "exceptions"],
    queryFn: async () => unwrap(await api.GET("/v1/admin/exceptions", { params: { query: { limit: LIMIT } } })),
  });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const items = traces.data?.items ?? [];
  // Only keys still listed count (a trace cleared elsewhere drops out of the selection).
  const chosen = items.filter((t) => selected.has(t.key)).map((t) => t.key);
  const toggle = (key: string, on: boolean) =>
    setSelected((prev) => {
      const next = new Set(prev);
      if (on) next.add(key);
      else next.delete(key);
      return next;
    });
  return (
    <section aria-labelledby="exceptions-title">
      <h1 id="exceptions-title">Exceptions</h1>
      <p className="lead">
        Each unhandled server error stores a trace (request, route, org, user, exception and stack, with secrets redacted); the client got a
        500 with its request id. Newest first, up to {LIMIT}.
      </p>
      <ErrorNote error={traces.error} />
      {traces.isPending && <p aria-busy="true">Loading traces…</p>}
      {traces.isSuccess && items.length === 0 && (
        <EmptyState title="No exceptions recorded">
          <p>Good news: the server has not failed on any request since the traces were last cleared.</p>
        </EmptyState>
      )}
      {items.length > 0 && (
        <>
          <div className="admin-actions">
            <ConfirmButton
              label={`Delete selected (${chosen.length})`}
              confirmLabel="Delete traces"
              danger
              disabled={chosen.length === 0}
              question={<p>Delete {chosen.length === 1 ? "this trace" : `these ${chosen.length} traces`} for good?</p>}
              onConfirm={async () => {
                unwrap(await api.DELETE("/v1/admin/exceptions", { body: { keys: chosen } }));
                setSelected(new Set());
                await queries.invalidateQueries({ queryKey: ["admin", "exceptions"] });
              }}
            />
          </div>
          <table aria-labelledby="exceptions-title">
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select every trace"
                    checked={chosen.length === items.length}
                    onChange={(e) => setSelected(e.target.checked ? new Set(items.map((t) => t.key)) : new Set())}
                  />
                </th>
                <th scope="col">Key</th><th scope="col">Recorded</th><th scope="col" className="numeric">Size</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {items.map((t) => <TraceRow key={t.key} trace={t} selected={selected.has(t.key)} onSelect={(on) => toggle(t.key, on)} />)}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function TraceRow({ trace, selected, onSelect }: { trace: Trace; selected: boolean; onSelect: (on: boolean) => void }) {
  const [open, setOpen] = useState(false);
  const download = useMutation({ mutationFn: () => downloadTrace(trace.key) });
  return (
    <>
      <tr>
        <td><input type="checkbox" aria-label={`Select ${trace.key}`} checked={selected} onChange={(e) => onSelect(e.target.checked)} /></td>
        <td><code>{trace.key}</code></td>
        <td>{when(trace.created_at)}</td>
        <td className="numeric">{formatBytes(trace.size_bytes)}</td>
        <td>
          <div className="admin-actions">
            <button type="button" className="button" aria-expanded={open} onClick={() => setOpen(!open)}>
              {open ? "Hide" : "View"}<span className="visually-hidden"> {trace.key}</span>
            </button>
            <button type="button" className="button" disabled={download.isPending} onClick={() => download.mutate()}>
              Download<span className="visually-hidden"> {trace.key}</span>
            </button>
          </div>
          <ErrorNote error={download.error} />
        </td>
      </tr>
      {open && (
        <tr>
          <td colSpan={5}><TraceContent traceKey={trace.key} /></td>
        </tr>
      )}
    </>
  );
}
