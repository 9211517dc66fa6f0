// Create or edit a schedule: what it runs, when (cron with its helper, interval, once, manual) in
// which time zone, and with which parameters; the fire times it will have, as you type.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import {
  MODES,
  UNIT_SECONDS,
  checkScheduleForm,
  createBody,
  fieldErrors,
  formFromSchedule,
  newScheduleForm,
  updateBody,
  type CatchupPolicy,
  type FieldProblems,
  type IntervalUnit,
  type ScheduleForm as Form,
} from "../lib/schedule";
import { fetchEnvironmentNames, fetchFlowNames, pickerKeys, scheduleKeys } from "../lib/scheduleQueries";
import { checkCron } from "../lib/cron";
import { CronHelper } from "./CronHelper";
import { Field, FormError, ProblemSummary, useFocusFirstInvalid } from "./ScheduleField";
import { SchedulePreview } from "./SchedulePreview";
import { ScheduleZoneField } from "./ScheduleZoneField";

const SHOWN = new Set([
  "schedule_id", "flow_name", "flow_version", "environment", "mode", "cron_expression", "interval_seconds",
  "one_time_at", "timezone", "start_at", "end_at", "catchup_policy", "parameters", "description",
]);

const CATCHUP: { value: CatchupPolicy; label: string }[] = [
  { value: "skip", label: "Skip: after a downtime, run only the latest missed time" },
  { value: "all", label: "All: run every missed time, oldest first (at most 100)" },
  { value: "none", label: "None: run no missed time" },
];

export function ScheduleForm({
  schedule,
  onSaved,
  onCancel,
}: {
  /** The schedule to edit; without it, the form creates one. */
  schedule?: Schemas["ScheduleRead"];
  onSaved?: (saved: Schemas["ScheduleRead"]) => void;
  onCancel?: () => void;
}) {
  const creating = !schedule;
  const owned = Boolean(schedule?.deployment_name);
  const queries = useQueryClient();
  const [before, setBefore] = useState<Form>(() => (schedule ? formFromSchedule(schedule) : newScheduleForm()));
  const [form, setForm] = useState<Form>(before);
  const [problems, setProblems] = useState<FieldProblems>({});
  const [unchanged, setUnchanged] = useState(false);
  const flows = useQuery({ queryKey: pickerKeys.flows(), queryFn: fetchFlowNames, enabled: creating });
  const environments = useQuery({ queryKey: pickerKeys.environments(), queryFn: fetchEnvironmentNames, enabled: !owned });

  const save = useMutation({
    mutationFn: async (): Promise<Schemas["ScheduleRead"]> => {
      if (!schedule) return unwrap(await api.POST("/v1/schedules", { body: createBody(form) }));
      const path = { schedule_id: schedule.schedule_id };
      return unwrap(await api.PATCH("/v1/schedules/{schedule_id}", { params: { path }, body: updateBody(before, form, owned) }));
    },
    onSuccess: (saved) => {
      queries.setQueryData(scheduleKeys.one(saved.schedule_id), saved);
      void queries.invalidateQueries({ queryKey: scheduleKeys.all });
      const next = formFromSchedule(saved);
      setBefore(next);
      setForm(next);
      onSaved?.(saved);
    },
  });

  const cron = checkCron(form.cronExpression);
  const formRef = useFocusFirstInvalid(problems, save.error);
  const apiProblems = fieldErrors(save.error);
  const problem = (field: string) => problems[field] ?? apiProblems[field];
  const set = (change: Partial<Form>) => {
    setForm((current) => ({ ...current, ...change }));
    setUnchanged(false);
  };

  function submit(event: FormEvent) {
    event.preventDefault();
    const found = checkScheduleForm(form, creating);
    setProblems(found);
    if (Object.keys(found).length > 0) return;
    if (!creating && Object.keys(updateBody(before, form, owned)).length === 0) {
      setUnchanged(true);
      return;
    }
    save.mutate();
  }

  return (
    <form ref={formRef} className="schedule-form" onSubmit={submit} noValidate aria-label={creating ? "New schedule" : `Edit schedule ${schedule.schedule_id}`}>
      <div className="sch-columns">
        <div className="sch-main">
          <ProblemSummary problems={problems} />
          <FormError error={save.error} shown={(field) => SHOWN.has(field)} />
          {owned && (
            <p className="sch-note">
              This schedule belongs to the deployment <strong>{schedule?.deployment_name}</strong>: what it runs and when (mode,
              expression, interval, version, environment) are set by the deployment's <code>schedule</code>. Its time zone,
              catch-up, window, parameters and description are its own.
            </p>
          )}
          <fieldset>
            <legend>What it runs</legend>
            {creating && (
              <Field label="Schedule ID" hint="Its address, unique in the organization: letters, digits, dots, dashes, underscores." error={problem("schedule_id")}>
                {(input) => <input {...input} value={form.scheduleId} onChange={(e) => set({ scheduleId: e.target.value })} autoComplete="off" spellCheck={false} required />}
              </Field>
            )}
            {creating ? (
              <Field
                label="Flow"
                error={problem("flow_name")}
                hint={flows.data?.length === 0 ? <>No flows yet: <Link to="/flows">register a flow</Link> first.</> : undefined}
              >
                {(input) => (
                  <select {...input} value={form.flowName} onChange={(e) => set({ flowName: e.target.value })} required aria-busy={flows.isPending || undefined}>
                    <option value="">{flows.isPending ? "Loading flows…" : "Choose a flow…"}</option>
                    {flows.data?.map((name) => <option key={name} value={name}>{name}</option>)}
                  </select>
                )}
              </Field>
            ) : (
              <p>
                Flow: <Link to={`/flows/${encodeURIComponent(form.flowName)}`}>{form.flowName}</Link>
                {owned && <>, through its deployment {schedule?.deployment_name}</>}
              </p>
            )}
            {flows.isError && <p className="sch-error">Could not load the flows: {flows.error.message}</p>}
            {!owned && (
              <div className="sch-row">
                <Field label="Flow version (optional)" hint="Blank: the flow's latest version when it fires." error={problem("flow_version")}>
                  {(input) => <input {...input} value={form.flowVersion} onChange={(e) => set({ flowVersion: e.target.value })} placeholder="latest" />}
                </Field>
                <Field label="Environment (optional)" hint="Runs the flow's deployment there instead." error={problem("environment")}>
                  {(input) => (
                    <select {...input} value={form.environment} onChange={(e) => set({ environment: e.target.value })}>
                      <option value="">None</option>
                      {form.environment && !environments.data?.includes(form.environment) && <option value={form.environment}>{form.environment}</option>}
                      {environments.data?.map((name) => <option key={name} value={name}>{name}</option>)}
                    </select>
                  )}
                </Field>
              </div>
            )}
          </fieldset>

          <fieldset>
            <legend>When it runs</legend>
            <fieldset className="sch-modes" disabled={owned}>
              <legend>Mode</legend>
              {MODES.map((mode) => (
                <label key={mode.value} className="sch-choice">
                  <input type="radio" name="mode" value={mode.value} checked={form.mode === mode.value} onChange={() => set({ mode: mode.value })} />
                  {mode.label}
                </label>
              ))}
              {problem("mode") && <p className="sch-error">{problem("mode")}</p>}
            </fieldset>
            {form.mode === "cron" && (
              <>
                <Field
                  label="Cron expression"
                  hint="5 fields: minute, hour, day of month, month, day of week (e.g. 0 9 * * 1-5); or @hourly, @daily, @weekly, @monthly, @yearly."
                  error={problem("cron_expression") ?? (cron.kind === "invalid" && form.cronExpression.trim() ? cron.message : undefined)}
                >
                  {(input) => (
                    <input {...input} className="sch-mono" value={form.cronExpression} disabled={owned} onChange={(e) => set({ cronExpression: e.target.value })} autoComplete="off" spellCheck={false} />
                  )}
                </Field>
                <CronHelper disabled={owned} onPick={(cronExpression) => set({ cronExpression })} />
              </>
            )}
            {form.mode === "interval" && (
              <div className="sch-row">
                <Field label="Every" error={problem("interval_seconds")}>
                  {(input) => (
                    <input {...input} type="number" min={1} step={1} value={form.intervalCount} disabled={owned} onChange={(e) => set({ intervalCount: e.target.value })} />
                  )}
                </Field>
                <Field label="Unit">
                  {(input) => (
                    <select {...input} value={form.intervalUnit} disabled={owned} onChange={(e) => set({ intervalUnit: e.target.value as IntervalUnit })}>
                      {Object.keys(UNIT_SECONDS).map((unit) => <option key={unit} value={unit}>{unit}</option>)}
                    </select>
                  )}
                </Field>
                <p className="sch-hint sch-wide">From 1 minute to 366 days; counted from the start time, else from the schedule's creation.</p>
              </div>
            )}
            {form.mode === "one_time" && (
              <Field label="Run at" hint={`In ${form.timezone}.`} error={problem("one_time_at")}>
                {(input) => <input {...input} type="datetime-local" value={form.oneTimeAt} disabled={owned} onChange={(e) => set({ oneTimeAt: e.target.value })} />}
              </Field>
            )}
            {form.mode === "manual" && <p className="sch-hint">It runs only when someone uses Run now (or POST /v1/schedules/&lt;id&gt;/trigger).</p>}
            <ScheduleZoneField value={form.timezone} onChange={(timezone) => set({ timezone })} error={problem("timezone")} />
            {form.mode !== "manual" && (
              <div className="sch-row">
                <Field label="Not before (optional)" hint={`In ${form.timezone}.`} error={problem("start_at")}>
                  {(input) => <input {...input} type="datetime-local" value={form.startAt} onChange={(e) => set({ startAt: e.target.value })} />}
                </Field>
                <Field label="Not after (optional)" hint={`In ${form.timezone}.`} error={problem("end_at")}>
                  {(input) => <input {...input} type="datetime-local" value={form.endAt} onChange={(e) => set({ endAt: e.target.value })} />}
                </Field>
              </div>
            )}
            {form.mode !== "manual" && form.mode !== "one_time" && (
              <Field label="Missed runs" hint="What happens to the times missed while no scheduler was running." error={problem("catchup_policy")}>
                {(input) => (
                  <select {...input} value={form.catchupPolicy} onChange={(e) => set({ catchupPolicy: e.target.value as CatchupPolicy })}>
                    {CATCHUP.map((policy) => <option key={policy.value} value={policy.value}>{policy.label}</option>)}
                  </select>
                )}
              </Field>
            )}
          </fieldset>

          <fieldset>
            <legend>Run settings</legend>
            <Field label="Parameters (JSON object)" hint="Each run of the schedule gets these." error={problem("parameters")}>
              {(input) => <textarea {...input} rows={5} value={form.parameters} onChange={(e) => set({ parameters: e.target.value })} spellCheck={false} />}
            </Field>
            <Field label="Description (optional)" error={problem("description")}>
              {(input) => <textarea {...input} rows={2} className="sch-prose" value={form.description} onChange={(e) => set({ description: e.target.value })} maxLength={2000} />}
            </Field>
            {creating && (
              <label className="sch-choice">
                <input type="checkbox" checked={form.enabled} onChange={(e) => set({ enabled: e.target.checked })} />
                Enabled
              </label>
            )}
          </fieldset>

          <div className="actions sch-start">
            <button type="submit" className="button primary" disabled={save.isPending}>
              {save.isPending ? "Saving…" : creating ? "Create schedule" : "Save changes"}
            </button>
            {onCancel && <button type="button" className="button" onClick={onCancel}>Cancel</button>}
            <span role="status">
              {unchanged && "Nothing to save: no field changed."}
              {!creating && save.isSuccess && !unchanged && form === before && "Saved."}
            </span>
          </div>
        </div>
        <SchedulePreview
          form={schedule ? { ...form, enabled: schedule.enabled } : form}
          createdAt={schedule ? Date.parse(schedule.created_at) : undefined}
        />
      </div>
    </form>
  );
}
