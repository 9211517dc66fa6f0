// The time zone of a schedule: a text field that suggests the browser's IANA zones as you type
// (`Intl.supportedValuesOf("timeZone")`, UTC first).
import { useId, useMemo } from "react";
import { localZone, timeZoneNames } from "../lib/cronZone";

export function ScheduleZoneField({
  value,
  onChange,
  error,
}: {
  value: string;
  onChange: (zone: string) => void;
  error?: string;
}) {
  const id = useId();
  const zones = useMemo(timeZoneNames, []);
  const local = localZone();
  return (
    <div className="sch-field">
      <label htmlFor={`${id}-zone`}>Time zone</label>
      <div className="sch-row">
        <input
          id={`${id}-zone`}
          className="sch-zone"
          list={`${id}-zones`}
          value={value}
          onChange={(e) => onChange(e.target.value)}
          autoComplete="off"
          spellCheck={false}
          aria-invalid={error ? true : undefined}
          aria-describedby={`${id}-zone-hint${error ? ` ${id}-zone-error` : ""}`}
        />
        {value !== local && (
          <button type="button" className="button" onClick={() => onChange(local)}>
            Use my time zone ({local})
          </button>
        )}
      </div>
      <datalist id={`${id}-zones`}>
        {zones.map((zone) => <option key={zone} value={zone} />)}
      </datalist>
      <small id={`${id}-zone-hint`} className="sch-hint">Type to search the IANA zones, such as Europe/Paris or America/New_York.</small>
      {error && <p id={`${id}-zone-error`} className="sch-error">{error}</p>}
    </div>
  );
}
