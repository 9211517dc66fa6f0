import { useInfiniteQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api, unwrap, type Schemas } from "../../api/client";
import { EmptyState, ErrorNote } from "../../components/common";
import { OrgStatus } from "../../components/admin/OrgStatus";
import { when } from "../../components/StatusBadge";
import { customerQuery, formatCount, hasCustomerFilters, PLANS, readCustomerFilters, STATUSES } from "../../lib/admin";

type Customer = Schemas["CustomerListItem"];

const PAGE = 50;

/** Every customer org, newest first, filtered by name or owner email, status and plan (kept in the
 * URL, so a filtered list can be shared and survives going back from a customer). */
export function Customers() {
  const [params, setParams] = useSearchParams();
  const filters = readCustomerFilters(params);
  const customers = useInfiniteQuery({
    queryKey: ["admin", "customers", filters],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(await api.GET("/v1/admin/customers", { params: { query: { ...customerQuery(filters), limit: PAGE, next_token: pageParam } } })),
    getNextPageParam: (page) => page.next_token ?? undefined,
  });
  const items = customers.data?.pages.flatMap((page) => page.items) ?? [];
  const total = customers.data?.pages[0]?.total;
  function setFilter(name: string, value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: true });
  }
  return (
    <section aria-labelledby="customers-title">
      <div className="page-head">
        <h1 id="customers-title">Customers</h1>
        {total !== undefined && <span className="note">{formatCount(total)} {total === 1 ? "organization" : "organizations"}</span>}
      </div>
      <p className="lead">Every organization on this installation. Open one to see its members, usage and sessions, suspend it, grant credits or act as its owner.</p>
      <CustomerFilterBar filters={filters} onChange={setFilter} />
      <ErrorNote error={customers.error} />
      {customers.isPending && <p aria-busy="true">Loading customers…</p>}
      {customers.isSuccess && items.length === 0 && (
        hasCustomerFilters(filters) ? (
          <EmptyState title="No organization matches these filters">
            <p>Search matches part of an organization's name or its owner's email. <button type="button" className="button" onClick={() => setParams(new URLSearchParams())}>Clear the filters</button></p>
          </EmptyState>
        ) : (
          <EmptyState title="No organizations yet">
            <p>An organization appears here once someone signs in and creates one.</p>
          </EmptyState>
        )
      )}
      {items.length > 0 && <CustomerTable items={items} />}
      {customers.hasNextPage && (
        <button type="button" className="button" onClick={() => void customers.fetchNextPage()} disabled={customers.isFetchingNextPage}>
          Load more
        </button>
      )}
    </section>
  );
}

function CustomerFilterBar({ filters, onChange }: { filters: ReturnType<typeof readCustomerFilters>; onChange: (name: string, value: string) => void }) {
  // The search is applied on submit (not on each keystroke, which would ask the API for every letter).
  const [search, setSearch] = useState(filters.search);
  return (
    <form
      role="search"
      aria-label="Customer filters"
      className="admin-filters"
      onSubmit={(e) => {
        e.preventDefault();
        onChange("search", search.trim());
      }}
    >
      <label>
        Search
        <input type="search" value={search} maxLength={128} placeholder="Org name or owner email" onChange={(e) => setSearch(e.target.value)} />
      </label>
      <button type="submit" className="button">Search</button>
      <label>
        Status
        <select value={filters.status} onChange={(e) => onChange("status", e.target.value)}>
          <option value="">Any</option>
          {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
      </label>
      <label>
        Plan
        <select value={filters.plan} onChange={(e) => onChange("plan", e.target.value)}>
          <option value="">Any</option>
          {PLANS.map((p) => <option key={p} value={p}>{p}</option>)}
        </select>
      </label>
    </form>
  );
}

function CustomerTable({ items }: { items: Customer[] }) {
  return (
    <table aria-labelledby="customers-title">
      <thead>
        <tr>
          <th scope="col">Organization</th><th scope="col">Owner</th><th scope="col">Plan</th><th scope="col">Status</th>
          <th scope="col" className="numeric">Members</th><th scope="col">Created</th>
        </tr>
      </thead>
      <tbody>
        {items.map((c) => (
          <tr key={c.org_id}>
            <td><Link to={`/admin/customers/${encodeURIComponent(c.org_id)}`}>{c.org_name}</Link></td>
            <td>{c.owner_email}</td>
            <td>{c.plan}</td>
            <td><OrgStatus status={c.status} /></td>
            <td className="numeric">{formatCount(c.member_count)}</td>
            <td>{when(c.created_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
