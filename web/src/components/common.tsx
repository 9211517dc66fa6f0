// Small pieces every page uses: the API's error shown with its message and the fields it names,
// an empty state that tells a newcomer what to do next, a copy button, and a confirmation dialog.
import { useEffect, useRef, useState, type ReactNode } from "react";
import { RequestFailed } from "../api/client";

/** A failed request as the API put it: its message, then each field its `details` names. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const details = error instanceof RequestFailed ? error.body?.details : undefined;
  return (
    <div className="error" role="alert">
      <p>{message}</p>
      {details && Object.keys(details).length > 0 && (
        <ul>
          {Object.entries(details).map(([field, why]) => (
            <li key={field}><code>{field}</code>: {typeof why === "string" ? why : JSON.stringify(why)}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** What a page shows when it has nothing yet: what this is, and the next step. */
export function EmptyState({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="empty" role="status">
      <h2>{title}</h2>
      {children}
    </div>
  );
}

/** Copies `value` to the clipboard; says so for two seconds (and to screen readers). */
export function CopyButton({ value, label = "Copy" }: { value: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 2000);
    return () => clearTimeout(timer);
  }, [copied]);
  return (
    <button
      type="button"
      className="button"
      onClick={async () => {
        await navigator.clipboard.writeText(value);
        setCopied(true);
      }}
    >
      {copied ? "Copied" : label}
      <span aria-live="polite" className="visually-hidden">{copied ? "Copied to the clipboard" : ""}</span>
    </button>
  );
}

/**
 * A button that asks before it acts: a modal <dialog> (focus trapped, Escape closes) with the
 * question, `confirmLabel` and Cancel. `onConfirm` may be async; its error is shown in the dialog.
 */
export function ConfirmButton({
  label,
  question,
  confirmLabel = label,
  onConfirm,
  danger = false,
  disabled = false,
}: {
  label: string;
  question: ReactNode;
  confirmLabel?: string;
  onConfirm: () => Promise<unknown> | unknown;
  danger?: boolean;
  disabled?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <>
      <button type="button" className={danger ? "button danger" : "button"} disabled={disabled} onClick={() => { setError(null); dialog.current?.showModal(); }}>
        {label}
      </button>
      <dialog ref={dialog} className="confirm" aria-label={label}>
        <div>{question}</div>
        <ErrorNote error={error} />
        <div className="actions">
          <button type="button" className="button" onClick={() => dialog.current?.close()}>Cancel</button>
          <button
            type="button"
            className={danger ? "button danger" : "button primary"}
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              try {
                await onConfirm();
                dialog.current?.close();
              } catch (e) {
                setError(e);
              } finally {
                setBusy(false);
              }
            }}
          >
            {confirmLabel}
          </button>
        </div>
      </dialog>
    </>
  );
}
