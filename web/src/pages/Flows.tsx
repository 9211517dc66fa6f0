import { Link, useSearchParams } from "react-router";
import type { Schemas } from "../api/client";
import { EmptyState, ErrorNote } from "../components/common";
import { FlowFiltersForm } from "../components/FlowFilters";
import { FlowRegisterHelp } from "../components/FlowRegisterHelp";
import { StatusBadge, when } from "../components/StatusBadge";
import { matchesFlow, namespaceOptions, pageOf, readFilters, tagLabel, tagOptions, withFilters, type FlowFilters } from "../lib/flowsFilter";
import { useAllFlows } from "../lib/flowsQueries";
import "./flows.css";

export function Flows() {
  const [params, setParams] = useSearchParams();
  const filters = readFilters(params);
  const flows = useAllFlows();
  const all = flows.data ?? [];
  const matching = all.filter((flow) => matchesFlow(flow, filters));
  const shown = pageOf(matching, filters.page);
  const change = (next: Partial<FlowFilters>, replace = false) => setParams(withFilters(params, next), { replace });
  return (
    <section aria-labelledby="flows-title" className="fl-page">
      <div className="page-head">
        <h1 id="flows-title">Flows</h1>
        <Link className="button primary" to="/builder">New flow in builder</Link>
      </div>
      <ErrorNote error={flows.error} />
      {flows.isPending && <p aria-busy="true">Loading flows…</p>}
      {flows.isSuccess && all.length === 0 && (
        <EmptyState title="No flows yet">
          <FlowRegisterHelp />
        </EmptyState>
      )}
      {all.length > 0 && (
        <>
          <FlowFiltersForm filters={filters} namespaces={namespaceOptions(all)} tags={tagOptions(all)} onChange={change} />
          <p className="fl-count" aria-live="polite">
            {matching.length === all.length ? `${all.length} flows` : `${matching.length} of ${all.length} flows match`}
          </p>
          {matching.length === 0 ? (
            <EmptyState title="No flow matches">
              <p>Nothing matches this search and these filters: change them, or clear them to see every flow.</p>
            </EmptyState>
          ) : (
            <FlowsTable flows={shown.items} />
          )}
          {shown.pageCount > 1 && (
            <nav className="fl-pager" aria-label="Pages">
              <button type="button" className="button" disabled={shown.page <= 1} onClick={() => change({ page: shown.page - 1 })}>
                Previous page
              </button>
              <span aria-current="page">Page {shown.page} of {shown.pageCount}</span>
              <button type="button" className="button" disabled={shown.page >= shown.pageCount} onClick={() => change({ page: shown.page + 1 })}>
                Next page
              </button>
            </nav>
          )}
        </>
      )}
    </section>
  );
}

function FlowsTable({ flows }: { flows: Schemas["FlowListItem"][] }) {
  return (
    <table>
      <caption className="visually-hidden">Flows, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Flow</th>
          <th scope="col">Latest version</th>
          <th scope="col">Status</th>
          <th scope="col">Namespace</th>
          <th scope="col">Tags</th>
          <th scope="col">Updated</th>
        </tr>
      </thead>
      <tbody>
        {flows.map((flow) => (
          <tr key={flow.flow_name}>
            <td><Link to={`/flows/${encodeURIComponent(flow.flow_name)}`}>{flow.flow_name}</Link></td>
            <td>{flow.flow_version ?? "—"}</td>
            <td><StatusBadge status={flow.status} /></td>
            <td>{flow.namespace ? <code>{flow.namespace}</code> : <span className="fl-muted">—</span>}</td>
            <td>
              <ul className="fl-tags">
                {Object.entries(flow.tags).map(([key, value]) => <li key={key}>{tagLabel(`${key}=${value}`)}</li>)}
              </ul>
            </td>
            <td>{when(flow.updated_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
