// An on/off switch (a button with role="switch"): the enabled state of a schedule or a sensor.
export function EnabledSwitch({
  label,
  checked,
  busy = false,
  onChange,
}: {
  /** The accessible name, such as "Enable daily-etl"; the state is announced as on or off. */
  label: string;
  checked: boolean;
  busy?: boolean;
  onChange: (next: boolean) => void;
}) {
  return (
    <button
      type="button"
      role="switch"
      className="sch-switch"
      aria-checked={checked}
      aria-label={label}
      aria-busy={busy || undefined}
      aria-disabled={busy || undefined}
      onClick={() => {
        // Not `disabled` while busy: a disabled button would drop the keyboard focus.
        if (!busy) onChange(!checked);
      }}
    >
      <span className="sch-switch-track" aria-hidden="true"><span className="sch-switch-thumb" /></span>
      <span aria-hidden="true">{checked ? "On" : "Off"}</span>
    </button>
  );
}
