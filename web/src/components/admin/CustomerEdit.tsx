import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
import { ErrorNote } from "../common";
import { PLANS } from "../../lib/admin";

type Customer = Schemas["CustomerRead"];

/** The org's plan and the super admins' notes about it (PATCH sends only what changed). */
export function CustomerEdit({ customer }: { customer: Customer }) {
  const queries = useQueryClient();
  const [plan, setPlan] = useState(customer.plan);
  const [notes, setNotes] = useState(customer.notes ?? "");
  const changes = {
    ...(plan !== customer.plan ? { plan } : {}),
    ...(notes !== (customer.notes ?? "") ? { notes } : {}),
  };
  const save = useMutation({
    mutationFn: async () => unwrap(await api.PATCH("/v1/admin/customers/{org_id}", { params: { path: { org_id: customer.org_id } }, body: changes })),
    onSuccess: (updated) => {
      queries.setQueryData(["admin", "customer", customer.org_id], updated);
      void queries.invalidateQueries({ queryKey: ["admin", "customers"] });
      void queries.invalidateQueries({ queryKey: ["admin", "customer", customer.org_id, "audit"] });
    },
  });
  // A plan outside the list (set before it was restricted) stays selectable as it is.
  const plans = (PLANS as readonly string[]).includes(customer.plan) ? PLANS : [customer.plan, ...PLANS];
  return (
    <section aria-labelledby="edit-title">
      <h2 id="edit-title">Plan and notes</h2>
      <form className="stack" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
        <label>
          Plan
          <select value={plan} onChange={(e) => setPlan(e.target.value)}>
            {plans.map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
        </label>
        <label>
          Notes
          <textarea rows={3} maxLength={4000} value={notes} onChange={(e) => setNotes(e.target.value)} />
        </label>
        <ErrorNote error={save.error} />
        {save.isSuccess && Object.keys(changes).length === 0 && <p className="success" role="status">Saved.</p>}
        <div>
          <button type="submit" className="button primary" disabled={save.isPending || Object.keys(changes).length === 0}>
            {save.isPending ? "Saving…" : "Save changes"}
          </button>
        </div>
      </form>
    </section>
  );
}
