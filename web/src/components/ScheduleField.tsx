// A labelled form field with its hint and its error (the API's or the form's own), wired to the
// input with `aria-describedby` and `aria-invalid`. The schedule and sensor forms use it.
import { useEffect, useId, useRef, type ReactNode } from "react";
import { RequestFailed } from "../api/client";
import type { FieldProblems } from "../lib/schedule";
import { ErrorNote } from "./common";

export type InputProps = { id: string; "aria-invalid"?: true; "aria-describedby"?: string };

export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: ReactNode;
  hint?: ReactNode;
  error?: string;
  children: (input: InputProps) => ReactNode;
}) {
  const id = useId();
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div className="sch-field">
      <label htmlFor={id}>{label}</label>
      {children({ id, "aria-invalid": error ? true : undefined, "aria-describedby": described || undefined })}
      {hint && <small id={`${id}-hint`} className="sch-hint">{hint}</small>}
      {error && <p id={`${id}-error`} className="sch-error">{error}</p>}
    </div>
  );
}

/**
 * A form's failure: the API's message, and the fields of its `details` that the form does not show
 * beside an input (those beside an input are not repeated). `shown` are the fields the form shows.
 */
export function FormError({ error, shown }: { error: unknown; shown: (field: string) => boolean }) {
  if (!(error instanceof RequestFailed) || !error.body?.details) return <ErrorNote error={error} />;
  const rest = Object.fromEntries(Object.entries(error.body.details).filter(([field]) => !shown(field)));
  return <ErrorNote error={new RequestFailed(error.status, { ...error.body, details: rest })} />;
}

/** A summary for problems the form found itself before sending anything. */
export function ProblemSummary({ problems }: { problems: FieldProblems }) {
  const count = Object.keys(problems).length;
  if (count === 0) return null;
  return (
    <p className="error" role="alert">
      {count === 1 ? "One field needs attention" : `${count} fields need attention`}; see the messages below each.
    </p>
  );
}

/**
 * A form ref that moves the focus to the first invalid input when the form's own checks or the
 * API's answer found problems (`problems`, `error`).
 */
export function useFocusFirstInvalid(problems: FieldProblems, error: unknown) {
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (Object.keys(problems).length > 0 || error) form.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [problems, error]);
  return form;
}
