import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
import { ErrorNote } from "../common";
import { formatCredits } from "../../lib/admin";

type Customer = Schemas["CustomerRead"];

/** Adds (positive) or deducts (negative) credits, with a reason for the audit log. The API refuses
 * zero and a balance that would go below zero. */
export function CreditsForm({ customer }: { customer: Customer }) {
  const queries = useQueryClient();
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const grant = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/admin/customers/{org_id}/credits", {
          params: { path: { org_id: customer.org_id } },
          body: { amount: Number(amount), reason: reason.trim() || null },
        }),
      ),
    onSuccess: () => {
      setAmount("");
      setReason("");
      void queries.invalidateQueries({ queryKey: ["admin", "customer", customer.org_id] });
    },
  });
  const value = Number(amount);
  const valid = amount.trim() !== "" && Number.isFinite(value) && value !== 0;
  return (
    <section aria-labelledby="credits-title">
      <h2 id="credits-title">Credits</h2>
      <p>Balance: <strong>{formatCredits(customer.credits_balance)}</strong>. A negative amount deducts.</p>
      <form className="stack" onSubmit={(e) => { e.preventDefault(); if (valid) grant.mutate(); }}>
        <label>
          Amount
          <input type="number" step="any" required value={amount} onChange={(e) => setAmount(e.target.value)} />
        </label>
        <label>
          Reason (optional)
          <input maxLength={500} value={reason} placeholder="Shown in the audit log" onChange={(e) => setReason(e.target.value)} />
        </label>
        <ErrorNote error={grant.error} />
        {grant.isSuccess && (
          <p className="success" role="status">Credits adjusted: the balance is now {formatCredits(grant.data.credits_balance)}.</p>
        )}
        <div>
          <button type="submit" className="button primary" disabled={grant.isPending || !valid}>
            {grant.isPending ? "Adjusting…" : "Adjust credits"}
          </button>
        </div>
      </form>
    </section>
  );
}
