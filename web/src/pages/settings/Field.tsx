import { cloneElement, useId, useState, type ReactElement } from "react";

type FieldProps = {
  label: string;
  hint?: React.ReactNode;
  error?: string;
  /** The input or select; it gets the id, and the hint and error as its description. */
  children: ReactElement<React.InputHTMLAttributes<HTMLInputElement> | React.SelectHTMLAttributes<HTMLSelectElement>>;
};

/** A form field: its label, the input, a hint and the field's error, tied together for screen
 * readers (the label names the input, hint and error describe it). */
export function Field({ label, hint, error, children }: FieldProps) {
  const id = useId();
  const described = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, { id, "aria-describedby": described, "aria-invalid": error ? true : undefined })}
      {hint && <small id={`${id}-hint`} className="hint">{hint}</small>}
      {error && <small id={`${id}-error`} className="error">{error}</small>}
    </div>
  );
}

/** A secret's value: a password input with a Show/Hide toggle beside it. */
export function SecretInput({ label, value, onChange, hint }: { label: string; value: string; onChange: (value: string) => void; hint?: React.ReactNode }) {
  const [shown, setShown] = useState(false);
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="with-toggle">
        <input
          id={id}
          type={shown ? "text" : "password"}
          required
          autoComplete="off"
          spellCheck={false}
          value={value}
          aria-describedby={hint ? `${id}-hint` : undefined}
          onChange={(e) => onChange(e.target.value)}
        />
        <button
          type="button"
          className="button"
          aria-controls={id}
          aria-label={shown ? "Hide characters" : "Show characters"}
          onClick={() => setShown(!shown)}
        >
          {shown ? "Hide" : "Show"}
        </button>
      </div>
      {hint && <small id={`${id}-hint`} className="hint">{hint}</small>}
    </div>
  );
}
