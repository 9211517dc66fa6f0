import { useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../../api/client";
import { ConfirmButton } from "../common";
import { startImpersonation } from "../../lib/adminSession";

type Customer = Schemas["CustomerRead"];

/** Suspend or reactivate the org, and act in it as its owner; each asks first. */
export function CustomerActions({ customer }: { customer: Customer }) {
  const queries = useQueryClient();
  const path = { params: { path: { org_id: customer.org_id } } };
  const refresh = () => queries.invalidateQueries({ queryKey: ["admin"] });
  return (
    <div className="admin-actions" role="group" aria-label="Customer actions">
      {customer.status === "suspended" ? (
        <ConfirmButton
          label="Activate"
          confirmLabel="Activate organization"
          question={<p>Reactivate <strong>{customer.org_name}</strong>? Its members and API keys work again, queued runs are picked up, schedules and sensors resume.</p>}
          onConfirm={async () => {
            unwrap(await api.POST("/v1/admin/customers/{org_id}/activate", path));
            await refresh();
          }}
        />
      ) : (
        <ConfirmButton
          label="Suspend"
          confirmLabel="Suspend organization"
          danger
          question={
            <p>
              Suspend <strong>{customer.org_name}</strong>? Its members and API keys are refused (403 <code>org_suspended</code>), queued runs
              wait, schedules and sensors pause. Nothing is deleted; you can activate it again.
            </p>
          }
          onConfirm={async () => {
            unwrap(await api.POST("/v1/admin/customers/{org_id}/suspend", path));
            await refresh();
          }}
        />
      )}
      <ConfirmButton
        label="Act as this org"
        confirmLabel="Start impersonating"
        question={
          <p>
            Act in <strong>{customer.org_name}</strong> with its owner's permissions, in this tab? Every change you make is recorded in its
            audit log under your email, marked as impersonation. A banner lets you stop at any time.
          </p>
        }
        onConfirm={async () => {
          const started = unwrap(await api.POST("/v1/admin/impersonate/{org_id}", path));
          startImpersonation(started.org_id, started.org_name);
          // A reload: every cached answer was the super admin's own.
          window.location.assign("/dashboard");
        }}
      />
    </div>
  );
}
