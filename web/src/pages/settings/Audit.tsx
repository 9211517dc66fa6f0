import { useInfiniteQuery } from "@tanstack/react-query";
import { useId, useState } from "react";
import { useSearchParams } from "react-router";
import { api, session, unwrap, type Schemas } from "../../api/client";
import { EmptyState, ErrorNote } from "../../components/common";
import { when } from "../../components/StatusBadge";
import { AUDIT_ACTIONS, AUDIT_RESOURCE_TYPES, auditFiltersFrom, auditQuery, auditSearchParams, type AuditFilters } from "../../lib/settings";
import { Field } from "./Field";

type Entry = Schemas["AuditLogRead"];

/** The org's audit trail, newest first, narrowed by the filters in the URL (`admin.audit`). */
export function Audit() {
  const [params, setParams] = useSearchParams();
  const filters = auditFiltersFrom(params);
  const filtered = auditSearchParams(filters).size > 0;
  const log = useInfiniteQuery({
    queryKey: ["audit-logs", session.orgId(), filters],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => unwrap(await api.GET("/v1/audit-logs", { params: { query: auditQuery(filters, pageParam) } })),
    getNextPageParam: (page) => page.next_token ?? undefined,
  });
  const items = log.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <p className="lead">Who changed what in this organization, and when: newest first. Reads of secret values are recorded too.</p>
      {/* Keyed by the URL: going back and forth in history shows the filters in force. */}
      <FilterForm key={params.toString()} initial={filters} onApply={(next) => setParams(auditSearchParams(next))} />

      {log.isPending && <p aria-busy="true">Loading…</p>}
      <ErrorNote error={log.error} />
      {log.isSuccess && items.length === 0 && (
        <EmptyState title={filtered ? "No entries match these filters" : "Nothing recorded yet"}>
          <p>
            {filtered
              ? "Widen the time range or clear a filter."
              : "Every change to flows, runs, schedules, secrets, API keys and members is recorded here as it happens."}
          </p>
        </EmptyState>
      )}
      {items.length > 0 && (
        <table>
          <caption className="visually-hidden">Audit entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Resource</th>
              <th scope="col"><span className="visually-hidden">Details</span></th>
            </tr>
          </thead>
          <tbody>
            {items.map((entry) => <AuditRow key={entry.audit_id} entry={entry} />)}
          </tbody>
        </table>
      )}
      {log.hasNextPage && (
        <button type="button" className="button" onClick={() => void log.fetchNextPage()} disabled={log.isFetchingNextPage}>
          {log.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}

const NO_FILTERS: AuditFilters = { actor: "", action: "", resourceType: "", from: "", to: "" };

function FilterForm({ initial, onApply }: { initial: AuditFilters; onApply: (filters: AuditFilters) => void }) {
  const [draft, setDraft] = useState(initial);
  const typesId = useId();
  const set = (key: keyof AuditFilters) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) =>
    setDraft({ ...draft, [key]: e.target.value });
  return (
    <form
      className="filters"
      role="search"
      aria-label="Audit log filters"
      onSubmit={(e) => {
        e.preventDefault();
        onApply(draft);
      }}
    >
      <Field label="Actor email">
        <input type="email" value={draft.actor} onChange={set("actor")} />
      </Field>
      <Field label="Action">
        <select value={draft.action} onChange={set("action")}>
          <option value="">Any</option>
          {AUDIT_ACTIONS.map((action) => <option key={action} value={action}>{action}</option>)}
        </select>
      </Field>
      <Field label="Resource type">
        <input value={draft.resourceType} list={typesId} onChange={set("resourceType")} />
      </Field>
      <datalist id={typesId}>{AUDIT_RESOURCE_TYPES.map((type) => <option key={type} value={type} />)}</datalist>
      <Field label="Since" hint="Your local time">
        <input type="datetime-local" value={draft.from} onChange={set("from")} />
      </Field>
      <Field label="Until" hint="Your local time">
        <input type="datetime-local" value={draft.to} onChange={set("to")} />
      </Field>
      <div className="filter-actions">
        <button type="submit" className="button primary">Apply filters</button>
        <button type="button" className="button" onClick={() => onApply(NO_FILTERS)}>Clear filters</button>
      </div>
    </form>
  );
}

function AuditRow({ entry }: { entry: Entry }) {
  const [open, setOpen] = useState(false);
  const detailId = useId();
  return (
    <>
      <tr>
        <td className="nowrap">{when(entry.timestamp)}</td>
        <td>{entry.actor_email ?? <span className="hint">system</span>}</td>
        <td><span className={`badge action-${entry.action}`}>{entry.action}</span></td>
        <td>
          {entry.resource_type} {entry.resource_name && <strong>{entry.resource_name}</strong>}
        </td>
        <td>
          <button
            type="button"
            className="button"
            aria-expanded={open}
            aria-controls={detailId}
            aria-label={`Details of ${entry.action} ${entry.resource_type} ${entry.resource_name ?? entry.resource_id}`}
            onClick={() => setOpen(!open)}
          >
            Details
          </button>
        </td>
      </tr>
      {open && (
        <tr id={detailId} className="detail-row">
          <td colSpan={5}>
            <dl className="facts">
              <dt>Resource id</dt><dd><code>{entry.resource_id}</code></dd>
              <dt>Entry id</dt><dd><code>{entry.audit_id}</code></dd>
              <dt>IP address</dt><dd>{entry.ip_address ?? "—"}</dd>
              <dt>User agent</dt><dd>{entry.user_agent ?? "—"}</dd>
              <dt>Time (UTC)</dt><dd>{entry.timestamp}</dd>
            </dl>
            <h3 className="detail-title">Changes</h3>
            <pre className="json" tabIndex={0} aria-label="Changes as JSON">{JSON.stringify(entry.changes, null, 2)}</pre>
          </td>
        </tr>
      )}
    </>
  );
}
