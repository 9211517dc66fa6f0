import { RequestFailed } from "../../api/client";
import { ErrorNote } from "../common";

/** A failed checkout or portal request, as the API put it; a server without Stripe keys (503
 * `billing_not_configured`, the normal state of a self-hosted install) also gets what that means. */
export function BillingError({ error }: { error: unknown }) {
  if (!error) return null;
  const unconfigured = error instanceof RequestFailed && error.body?.error === "billing_not_configured";
  return (
    <div className="billing-error">
      <ErrorNote error={error} />
      {unconfigured && (
        <p className="hint">
          Online payments are not set up on this server, so plans cannot be bought or managed here. Its operator sets each
          organization's plan (and can enable Stripe billing with <code>DAGY_STRIPE_API_KEY</code>).
        </p>
      )}
    </div>
  );
}
