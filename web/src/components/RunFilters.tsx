import { useId } from "react";
import { fromLocalInput, RUN_TRIGGERS, toLocalInput, type RunFilters as Filters, type Since } from "../lib/runsFilters";
import { RUN_STATES } from "../lib/runsFormat";

const SINCE: [Since, string][] = [
  ["", "Any time"],
  ["1h", "Last hour"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
  ["custom", "Custom range"],
];

/** The runs list's filters; every change goes to the URL at once (`onChange`). */
export function RunFilters({
  filters,
  flowNames,
  onChange,
}: {
  filters: Filters;
  flowNames: readonly string[];
  onChange: (changes: Partial<Filters>) => void;
}) {
  const id = useId();
  const flows = filters.flow_name && !flowNames.includes(filters.flow_name) ? [filters.flow_name, ...flowNames] : flowNames;
  return (
    <form className="run-filters" role="search" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
      <div>
        <label htmlFor={`${id}-status`}>Status</label>
        <select id={`${id}-status`} value={filters.status} onChange={(e) => onChange({ status: e.target.value })}>
          <option value="">Any status</option>
          {RUN_STATES.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
      </div>
      <div>
        <label htmlFor={`${id}-flow`}>Flow</label>
        <select id={`${id}-flow`} value={filters.flow_name} onChange={(e) => onChange({ flow_name: e.target.value })}>
          <option value="">All flows</option>
          {flows.map((name) => <option key={name} value={name}>{name}</option>)}
        </select>
      </div>
      <div>
        <label htmlFor={`${id}-trigger`}>Trigger</label>
        <select id={`${id}-trigger`} value={filters.trigger} onChange={(e) => onChange({ trigger: e.target.value })}>
          <option value="">Any trigger</option>
          {RUN_TRIGGERS.map(([value, words]) => <option key={value} value={value}>{words}</option>)}
        </select>
      </div>
      <div>
        <label htmlFor={`${id}-since`}>Time range</label>
        <select id={`${id}-since`} value={filters.since} onChange={(e) => onChange({ since: e.target.value as Since })}>
          {SINCE.map(([value, words]) => <option key={value} value={value}>{words}</option>)}
        </select>
      </div>
      {filters.since === "custom" && (
        <>
          <div>
            <label htmlFor={`${id}-after`}>Created after</label>
            <input
              id={`${id}-after`}
              type="datetime-local"
              value={toLocalInput(filters.created_after)}
              max={toLocalInput(filters.created_before) || undefined}
              onChange={(e) => onChange({ since: "custom", created_after: fromLocalInput(e.target.value) })}
            />
          </div>
          <div>
            <label htmlFor={`${id}-before`}>Created before</label>
            <input
              id={`${id}-before`}
              type="datetime-local"
              value={toLocalInput(filters.created_before)}
              min={toLocalInput(filters.created_after) || undefined}
              onChange={(e) => onChange({ since: "custom", created_before: fromLocalInput(e.target.value) })}
            />
          </div>
        </>
      )}
    </form>
  );
}
