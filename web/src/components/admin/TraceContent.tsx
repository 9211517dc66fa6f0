import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import { ErrorNote } from "../common";
import { when } from "../StatusBadge";

const text = (value: unknown) => (value === null || value === undefined || value === "" ? "—" : String(value));

/** One exception trace: the failed request, who made it, and the exception with its stack. */
export function TraceContent({ traceKey }: { traceKey: string }) {
  const trace = useQuery({
    queryKey: ["admin", "exceptions", traceKey],
    queryFn: async () => unwrap(await api.GET("/v1/admin/exceptions/content", { params: { query: { key: traceKey } } })),
    staleTime: Infinity, // a trace never changes
  });
  if (trace.isPending) return <p aria-busy="true">Loading the trace…</p>;
  if (trace.isError) return <ErrorNote error={trace.error} />;
  const t = trace.data;
  return (
    <div aria-label={`Trace ${traceKey}`} role="region">
      <dl className="facts">
        <dt>When</dt><dd>{typeof t.timestamp === "string" ? when(t.timestamp) : "—"}</dd>
        <dt>Request</dt><dd>{text(t.method)} <code>{text(t.route)}</code></dd>
        <dt>Request ID</dt><dd><code>{text(t.request_id)}</code></dd>
        <dt>Org</dt><dd>{text(t.org_id)}</dd>
        <dt>User</dt><dd>{text(t.user_email)}{t.impersonating === true && " (impersonating)"}</dd>
        <dt>Exception</dt><dd><strong>{text(t.exception_type)}</strong>: {text(t.message)}</dd>
      </dl>
      {typeof t.traceback === "string" && t.traceback && <pre className="admin-trace" aria-label="Stack trace">{t.traceback}</pre>}
    </div>
  );
}
