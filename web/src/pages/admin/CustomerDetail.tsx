import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { api, unwrap, type Schemas } from "../../api/client";
import { CopyButton, ErrorNote } from "../../components/common";
import { CreditsForm } from "../../components/admin/CreditsForm";
import { CustomerActions } from "../../components/admin/CustomerActions";
import { CustomerAudit } from "../../components/admin/CustomerAudit";
import { CustomerEdit } from "../../components/admin/CustomerEdit";
import { CustomerMembers } from "../../components/admin/CustomerMembers";
import { CustomerSessions } from "../../components/admin/CustomerSessions";
import { CustomerUsage } from "../../components/admin/CustomerUsage";
import { OrgStatus } from "../../components/admin/OrgStatus";
import { when } from "../../components/StatusBadge";
import { formatCredits } from "../../lib/admin";

type Customer = Schemas["CustomerRead"];

/** One customer org: what it is, what the super admin can do to it, who is in it, what it used,
 * who is signed in, and what happened in it lately. */
export function CustomerDetail() {
  const { orgId = "" } = useParams();
  const customer = useQuery({
    queryKey: ["admin", "customer", orgId],
    queryFn: async () => unwrap(await api.GET("/v1/admin/customers/{org_id}", { params: { path: { org_id: orgId } } })),
  });
  if (customer.isPending) return <p aria-busy="true">Loading the customer…</p>;
  if (customer.isError) {
    return (
      <section aria-labelledby="customer-title">
        <h1 id="customer-title">Customer</h1>
        <ErrorNote error={customer.error} />
        <p><Link to="/admin">Back to the customers</Link></p>
      </section>
    );
  }
  const c = customer.data;
  return (
    <section aria-labelledby="customer-title">
      <p><Link to="/admin">← Customers</Link></p>
      <div className="page-head">
        <h1 id="customer-title">{c.org_name}</h1>
        <OrgStatus status={c.status} />
      </div>
      <CustomerActions customer={c} />
      <CustomerFacts customer={c} />
      <div className="admin-grid admin-section">
        <CustomerEdit customer={c} />
        <CreditsForm customer={c} />
      </div>
      <CustomerMembers orgId={c.org_id} />
      <CustomerSessions orgId={c.org_id} />
      <CustomerUsage orgId={c.org_id} />
      <CustomerAudit orgId={c.org_id} />
    </section>
  );
}

function CustomerFacts({ customer: c }: { customer: Customer }) {
  const overrides = Object.entries(c.quota_overrides);
  const flags = Object.entries(c.feature_flags);
  return (
    <dl className="facts" aria-label="Organization">
      <dt>Org ID</dt>
      <dd><code>{c.org_id}</code> <CopyButton value={c.org_id} label="Copy ID" /></dd>
      <dt>Owner</dt><dd>{c.owner_email}</dd>
      <dt>Plan</dt><dd>{c.plan}</dd>
      <dt>Status</dt><dd>{c.status}</dd>
      <dt>Credits balance</dt><dd data-testid="credits-balance">{formatCredits(c.credits_balance)}</dd>
      <dt>Quota overrides</dt>
      <dd>{overrides.length ? overrides.map(([k, v]) => <span key={k}><code>{k}</code>: {String(v)} </span>) : "None"}</dd>
      <dt>Feature flags</dt>
      <dd>{flags.length ? flags.map(([k, v]) => <span key={k}><code>{k}</code>: {String(v)} </span>) : "None"}</dd>
      <dt>Notes</dt><dd>{c.notes || "—"}</dd>
      <dt>Created</dt><dd>{when(c.created_at)}</dd>
      <dt>Updated</dt><dd>{when(c.updated_at)}</dd>
    </dl>
  );
}
