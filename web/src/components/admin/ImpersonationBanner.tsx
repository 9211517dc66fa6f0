import { impersonation, stopImpersonation } from "../../lib/adminSession";
import "./admin.css";

/**
 * Shown on every page while this tab acts as a customer's org. Starting and stopping reload the
 * app: every cached answer belonged to the other identity, and a reload drops them all at once.
 */
export function ImpersonationBanner() {
  const current = impersonation();
  if (!current) return null;
  return (
    <div className="impersonation-banner" role="region" aria-label="Impersonation">
      <p>
        You are acting as <strong>{current.orgName}</strong> with its owner's permissions. Every change is audited under your own email.
      </p>
      <button
        type="button"
        className="button"
        onClick={() => {
          stopImpersonation();
          window.location.assign(`/admin/customers/${encodeURIComponent(current.orgId)}`);
        }}
      >
        Stop impersonating
      </button>
    </div>
  );
}
