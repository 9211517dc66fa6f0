import { useId } from "react";
import { EXECUTION_MODES, type ExecutionMode, type TriggerOptions } from "../lib/runsTrigger";
import { useBackends } from "../lib/runsQueries";

/** The run options of the trigger form, folded away: each empty one is the default. */
export function RunTriggerOptions({
  options,
  onChange,
  defaults,
}: {
  options: TriggerOptions;
  onChange: (options: TriggerOptions) => void;
  /** Whose defaults apply: a deployment's, else the version's executor or the installation's. */
  defaults: { executor: string; executionMode: string; maxRetries: string };
}) {
  const backends = useBackends();
  const id = useId();
  const set = <K extends keyof TriggerOptions>(name: K, value: TriggerOptions[K]) => onChange({ ...options, [name]: value });
  return (
    <details className="run-options">
      <summary>Run options</summary>
      <div className="param-field">
        <label htmlFor={`${id}-executor`}>Executor</label>
        <select id={`${id}-executor`} value={options.executor} onChange={(e) => set("executor", e.target.value)}>
          <option value="">Default ({defaults.executor})</option>
          {backends.data?.map((b) => <option key={b.name} value={b.name}>{b.name} — {b.description}</option>)}
        </select>
      </div>
      <div className="param-field">
        <label htmlFor={`${id}-mode`}>Execution mode</label>
        <select id={`${id}-mode`} value={options.execution_mode} onChange={(e) => set("execution_mode", e.target.value as "" | ExecutionMode)}>
          <option value="">Default ({defaults.executionMode})</option>
          {EXECUTION_MODES.map((m) => <option key={m} value={m}>{m}</option>)}
        </select>
      </div>
      <div className="param-field">
        <label htmlFor={`${id}-retries`}>Max retries</label>
        <input id={`${id}-retries`} type="number" min={0} max={10} step={1} placeholder={defaults.maxRetries} aria-describedby={`${id}-retries-help`} value={options.max_retries} onChange={(e) => set("max_retries", e.target.value)} />
        <small id={`${id}-retries-help`} className="muted">Failed attempts queued again before the run fails (0–10).</small>
      </div>
      <div className="param-field">
        <label htmlFor={`${id}-priority`}>Run priority</label>
        <input id={`${id}-priority`} type="number" min={0} max={1000} step={1} placeholder="100" aria-describedby={`${id}-priority-help`} value={options.priority} onChange={(e) => set("priority", e.target.value)} />
        <small id={`${id}-priority-help`} className="muted">Lower runs first among queued runs (0–1000).</small>
      </div>
      <div className="param-field">
        <label htmlFor={`${id}-tags`}>Run tags</label>
        <input id={`${id}-tags`} type="text" placeholder="backfill, urgent" aria-describedby={`${id}-tags-help`} value={options.tags} onChange={(e) => set("tags", e.target.value)} />
        <small id={`${id}-tags-help`} className="muted">Comma-separated, at most 20.</small>
      </div>
      <label className="run-inline">
        <input type="checkbox" checked={options.checkOnly} onChange={(e) => set("checkOnly", e.target.checked)} />
        Only record and validate the run, don't start it
      </label>
    </details>
  );
}
