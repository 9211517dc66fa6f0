// A button that opens a modal <dialog> whose content is built only while it is open, so a dialog
// that reads something (a flow's versions, a diff) reads it when asked, not for every row.
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import "../pages/environments.css";

export function DialogButton({
  label,
  accessibleLabel,
  title,
  className = "button",
  disabled = false,
  children,
}: {
  /** The button's text. */
  label: string;
  /** The button's name when its text alone is ambiguous on the page (it must contain `label`). */
  accessibleLabel?: string;
  title: string;
  className?: string;
  disabled?: boolean;
  children: (close: () => void) => ReactNode;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  const titleId = useId();
  useEffect(() => {
    if (open && !dialog.current?.open) dialog.current?.showModal();
  }, [open]);
  return (
    <>
      <button type="button" className={className} aria-label={accessibleLabel} disabled={disabled} onClick={() => setOpen(true)}>
        {label}
      </button>
      {open && (
        <dialog ref={dialog} className="confirm env-dialog" aria-labelledby={titleId} onClose={() => setOpen(false)}>
          <h2 id={titleId}>{title}</h2>
          {children(() => dialog.current?.close())}
        </dialog>
      )}
    </>
  );
}
