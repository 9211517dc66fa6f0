// Create or edit a sensor: its name, type and flow, the configuration of its type (docs/sensors.md)
// and the parameters its runs get beside `event`.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { fieldErrors, type FieldProblems } from "../lib/schedule";
import { fetchFlowNames, fetchSecretNames, pickerKeys, sensorKeys } from "../lib/scheduleQueries";
import {
  MAX_CHECK_SECONDS,
  MIN_CHECK_SECONDS,
  SENSOR_TYPES,
  checkSensorForm,
  createSensorBody,
  formFromSensor,
  newHeaderRow,
  newSensorForm,
  sensorConfig,
  updateSensorBody,
  type HeaderRow,
  type SecretRef,
  type SensorForm as Form,
} from "../lib/sensor";
import { Field, FormError, ProblemSummary, useFocusFirstInvalid } from "./ScheduleField";

/** The API fields the form shows beside an input, for the sensor's type. */
function shownFields(form: Form): string[] {
  const common = ["name", "flow_name", "sensor_type", "flow_params_json"];
  if (form.sensorType === "s3") {
    const s3 = ["bucket", "prefix", "store", "endpoint_url", "region", "aws_access_key_id", "aws_secret_access_key", "interval_seconds", "include_existing"];
    return [...common, ...s3.map((f) => `config_json.${f}`)];
  }
  if (form.sensorType === "polling") {
    const headers = form.polling.headers.map((row) => `config_json.headers.${row.name.trim()}`);
    return [...common, "config_json.url", "config_json.interval_seconds", "config_json.condition", ...headers];
  }
  return common;
}

/** The problem for `field` or any field below it (`config_json.condition.jsonpath`). */
function problemOf(problems: FieldProblems, field: string): string | undefined {
  const key = Object.keys(problems).find((k) => k === field || k.startsWith(`${field}.`));
  return key ? problems[key] : undefined;
}

export function SensorForm({
  sensor,
  onSaved,
  onCancel,
}: {
  /** The sensor to edit; without it, the form creates one. */
  sensor?: Schemas["SensorRead"];
  onSaved?: (saved: Schemas["SensorCreated"]) => void;
  onCancel?: () => void;
}) {
  const creating = !sensor;
  const queries = useQueryClient();
  const [before, setBefore] = useState<Form>(() => (sensor ? formFromSensor(sensor) : newSensorForm()));
  const [form, setForm] = useState<Form>(before);
  const [problems, setProblems] = useState<FieldProblems>({});
  const [unchanged, setUnchanged] = useState(false);
  const flows = useQuery({ queryKey: pickerKeys.flows(), queryFn: fetchFlowNames, enabled: creating });
  const secrets = useQuery({ queryKey: pickerKeys.secrets(), queryFn: fetchSecretNames, enabled: form.sensorType !== "webhook", retry: false });
  const secretList = useId();

  const save = useMutation({
    mutationFn: async (): Promise<Schemas["SensorCreated"]> => {
      if (!sensor) return unwrap(await api.POST("/v1/sensors", { body: createSensorBody(form) }));
      const path = { sensor_id: sensor.sensor_id };
      return unwrap(await api.PATCH("/v1/sensors/{sensor_id}", { params: { path }, body: updateSensorBody(before, form) }));
    },
    onSuccess: (saved) => {
      void queries.invalidateQueries({ queryKey: sensorKeys.all });
      if (sensor) {
        queries.setQueryData(sensorKeys.one(saved.sensor_id), saved);
        const next = formFromSensor(saved as Schemas["SensorRead"]);
        setBefore(next);
        setForm(next);
      }
      onSaved?.(saved);
    },
  });

  const formRef = useFocusFirstInvalid(problems, save.error);
  const apiProblems = fieldErrors(save.error);
  const problem = (field: string) => problemOf(problems, field) ?? problemOf(apiProblems, field);
  const shown = shownFields(form);
  const set = (change: Partial<Form>) => {
    setForm((current) => ({ ...current, ...change }));
    setUnchanged(false);
  };
  const setS3 = (change: Partial<Form["s3"]>) => set({ s3: { ...form.s3, ...change } });
  const setPolling = (change: Partial<Form["polling"]>) => set({ polling: { ...form.polling, ...change } });

  function submit(event: FormEvent) {
    event.preventDefault();
    const found = checkSensorForm(form, creating);
    setProblems(found);
    if (Object.keys(found).length > 0) return;
    if (!creating && Object.keys(updateSensorBody(before, form)).length === 0) {
      setUnchanged(true);
      return;
    }
    save.mutate();
  }

  const intervalHint = `Seconds between checks, ${MIN_CHECK_SECONDS} to ${MAX_CHECK_SECONDS}.`;
  return (
    <form ref={formRef} className="sensor-form" onSubmit={submit} noValidate aria-label={creating ? "New sensor" : `Edit sensor ${sensor.name}`}>
      <div className="sch-main">
        <ProblemSummary problems={problems} />
        <FormError error={save.error} shown={(field) => shown.some((f) => field === f || field.startsWith(`${f}.`))} />
        <fieldset>
          <legend>Sensor</legend>
          <Field label="Name" error={problem("name")}>
            {(input) => <input {...input} value={form.name} onChange={(e) => set({ name: e.target.value })} maxLength={128} autoComplete="off" />}
          </Field>
          {creating ? (
            <>
              <fieldset className="sch-modes">
                <legend>Type</legend>
                {SENSOR_TYPES.map((type) => (
                  <label key={type.value} className="sch-choice">
                    <input type="radio" name="sensor_type" value={type.value} checked={form.sensorType === type.value} onChange={() => set({ sensorType: type.value })} />
                    {type.label}
                  </label>
                ))}
              </fieldset>
              <p className="sch-hint">{SENSOR_TYPES.find((t) => t.value === form.sensorType)?.hint}</p>
              <Field
                label="Flow"
                error={problem("flow_name")}
                hint={flows.data?.length === 0 ? <>No flows yet: <Link to="/flows">register a flow</Link> first.</> : "Each event runs the flow's latest version."}
              >
                {(input) => (
                  <select {...input} value={form.flowName} onChange={(e) => set({ flowName: e.target.value })} aria-busy={flows.isPending || undefined}>
                    <option value="">{flows.isPending ? "Loading flows…" : "Choose a flow…"}</option>
                    {flows.data?.map((name) => <option key={name} value={name}>{name}</option>)}
                  </select>
                )}
              </Field>
              {flows.isError && <p className="sch-error">Could not load the flows: {flows.error.message}</p>}
            </>
          ) : (
            <p>
              {SENSOR_TYPES.find((t) => t.value === form.sensorType)?.label} sensor running{" "}
              <Link to={`/flows/${encodeURIComponent(form.flowName)}`}>{form.flowName}</Link>
            </p>
          )}
        </fieldset>

        {form.sensorType === "webhook" && (
          <p className="sch-hint">
            {creating
              ? "The sensor gets a URL with a secret token when you create it; POST JSON to it and each request runs the flow with the body as the parameter event."
              : "A webhook sensor has no settings: its URL is above."}
          </p>
        )}

        {form.sensorType === "s3" && (
          <fieldset>
            <legend>Objects to watch</legend>
            <fieldset className="sch-modes">
              <legend>Store</legend>
              <label className="sch-choice">
                <input type="radio" name="s3_store" checked={form.s3.store === "s3"} onChange={() => setS3({ store: "s3" })} />
                Amazon S3 or an S3-compatible store
              </label>
              <label className="sch-choice">
                <input type="radio" name="s3_store" checked={form.s3.store === "local"} onChange={() => setS3({ store: "local" })} />
                Dagy's own object store (this organization's data)
              </label>
            </fieldset>
            {form.s3.store === "s3" && (
              <Field label="Bucket" error={problem("config_json.bucket")}>
                {(input) => <input {...input} value={form.s3.bucket} onChange={(e) => setS3({ bucket: e.target.value })} autoComplete="off" spellCheck={false} />}
              </Field>
            )}
            <Field label="Key prefix (optional)" hint="Only objects whose key starts with it, such as incoming/." error={problem("config_json.prefix")}>
              {(input) => <input {...input} value={form.s3.prefix} onChange={(e) => setS3({ prefix: e.target.value })} autoComplete="off" spellCheck={false} />}
            </Field>
            {form.s3.store === "s3" && (
              <>
                <div className="sch-row">
                  <Field label="Endpoint URL (optional)" hint="For MinIO, R2 or another S3-compatible store." error={problem("config_json.endpoint_url")}>
                    {(input) => <input {...input} type="url" value={form.s3.endpointUrl} onChange={(e) => setS3({ endpointUrl: e.target.value })} placeholder="https://" />}
                  </Field>
                  <Field label="Region (optional)" hint="Default us-east-1." error={problem("config_json.region")}>
                    {(input) => <input {...input} value={form.s3.region} onChange={(e) => setS3({ region: e.target.value })} placeholder="us-east-1" />}
                  </Field>
                </div>
                <p className="sch-hint">
                  Credentials are <Link to="/settings/secrets">secrets</Link> named here, both or neither; without them the bucket is read anonymously (public buckets).
                </p>
                <SecretRefFields
                  label="Access key ID secret"
                  value={form.s3.accessKeyId}
                  list={secretList}
                  error={problem("config_json.aws_access_key_id")}
                  onChange={(accessKeyId) => setS3({ accessKeyId })}
                />
                <SecretRefFields
                  label="Secret access key secret"
                  value={form.s3.secretAccessKey}
                  list={secretList}
                  error={problem("config_json.aws_secret_access_key")}
                  onChange={(secretAccessKey) => setS3({ secretAccessKey })}
                />
              </>
            )}
            <Field label="Check every (seconds)" hint={intervalHint} error={problem("config_json.interval_seconds")}>
              {(input) => (
                <input {...input} type="number" min={MIN_CHECK_SECONDS} max={MAX_CHECK_SECONDS} value={form.s3.intervalSeconds} onChange={(e) => setS3({ intervalSeconds: e.target.value })} />
              )}
            </Field>
            <label className="sch-choice">
              <input type="checkbox" checked={form.s3.includeExisting} onChange={(e) => setS3({ includeExisting: e.target.checked })} />
              Also run for objects that are already there
            </label>
          </fieldset>
        )}

        {form.sensorType === "polling" && (
          <fieldset>
            <legend>URL to poll</legend>
            <Field label="URL" hint="http or https; private addresses are refused unless the server allows them." error={problem("config_json.url")}>
              {(input) => <input {...input} type="url" value={form.polling.url} onChange={(e) => setPolling({ url: e.target.value })} placeholder="https://" />}
            </Field>
            <Field label="Check every (seconds)" hint={intervalHint} error={problem("config_json.interval_seconds")}>
              {(input) => (
                <input {...input} type="number" min={MIN_CHECK_SECONDS} max={MAX_CHECK_SECONDS} value={form.polling.intervalSeconds} onChange={(e) => setPolling({ intervalSeconds: e.target.value })} />
              )}
            </Field>
            <HeaderRows rows={form.polling.headers} list={secretList} problem={problem} onChange={(headers) => setPolling({ headers })} />
            <div className="sch-row">
              <Field
                label="Condition: JSONPath (optional)"
                hint={<>Fire only when the answer changed and this matches, such as <code>$.status</code>. Without it, any change fires.</>}
                error={problem("config_json.condition")}
              >
                {(input) => <input {...input} className="sch-mono" value={form.polling.conditionPath} onChange={(e) => setPolling({ conditionPath: e.target.value })} spellCheck={false} />}
              </Field>
              <Field label="Condition: equals (optional)" hint="A JSON value (plain text is a string); empty: any value but null, false, 0 or empty.">
                {(input) => <input {...input} className="sch-mono" value={form.polling.conditionEquals} onChange={(e) => setPolling({ conditionEquals: e.target.value })} spellCheck={false} />}
              </Field>
            </div>
          </fieldset>
        )}

        <fieldset>
          <legend>Run settings</legend>
          <Field label="Flow parameters (JSON object)" hint="Each run gets these, and the event as the parameter event." error={problem("flow_params_json")}>
            {(input) => <textarea {...input} rows={4} value={form.flowParams} onChange={(e) => set({ flowParams: e.target.value })} spellCheck={false} />}
          </Field>
          {creating && (
            <label className="sch-choice">
              <input type="checkbox" checked={form.enabled} onChange={(e) => set({ enabled: e.target.checked })} />
              Enabled
            </label>
          )}
        </fieldset>
        {secrets.data && (
          <datalist id={secretList}>
            {secrets.data.map((name) => <option key={name} value={name} />)}
          </datalist>
        )}
        <div className="actions sch-start">
          <button type="submit" className="button primary" disabled={save.isPending}>
            {save.isPending ? "Saving…" : creating ? "Create sensor" : "Save changes"}
          </button>
          {onCancel && <button type="button" className="button" onClick={onCancel}>Cancel</button>}
          <span role="status">
            {unchanged && "Nothing to save: no field changed."}
            {!creating && save.isSuccess && !unchanged && form === before && "Saved."}
          </span>
        </div>
        {!creating && form.sensorType !== "webhook" && JSON.stringify(sensorConfig(form)) !== JSON.stringify(sensorConfig(before)) && (
          <p className="sch-hint">Saving a new configuration starts the watch afresh{form.sensorType === "s3" ? ": objects modified from now on fire" : ""}.</p>
        )}
      </div>
    </form>
  );
}

function SecretRefFields({
  label,
  value,
  list,
  error,
  onChange,
}: {
  label: string;
  value: SecretRef;
  list: string;
  error?: string;
  onChange: (value: SecretRef) => void;
}) {
  return (
    <div className="sch-row">
      <Field label={label} error={error}>
        {(input) => <input {...input} list={list} value={value.secret} onChange={(e) => onChange({ ...value, secret: e.target.value })} autoComplete="off" spellCheck={false} />}
      </Field>
      <Field label={`${label}: environment (optional)`}>
        {(input) => <input {...input} value={value.environment} onChange={(e) => onChange({ ...value, environment: e.target.value })} autoComplete="off" spellCheck={false} />}
      </Field>
    </div>
  );
}

function HeaderRows({
  rows,
  list,
  problem,
  onChange,
}: {
  rows: HeaderRow[];
  list: string;
  problem: (field: string) => string | undefined;
  onChange: (rows: HeaderRow[]) => void;
}) {
  const update = (index: number, change: Partial<HeaderRow>) => onChange(rows.map((row, i) => (i === index ? { ...row, ...change } : row)));
  return (
    <fieldset className="sensor-headers">
      <legend>Request headers</legend>
      {rows.length === 0 && <p className="sch-hint">None. Values can be secrets, such as an Authorization token.</p>}
      {rows.map((row, index) => {
        const n = index + 1;
        return (
          <div key={index} className="sch-row sensor-header-row" role="group" aria-label={`Header ${n}`}>
            <Field label={`Header ${n} name`} error={row.name.trim() ? problem(`config_json.headers.${row.name.trim()}`) : undefined}>
              {(input) => <input {...input} value={row.name} onChange={(e) => update(index, { name: e.target.value })} placeholder="Authorization" spellCheck={false} />}
            </Field>
            <Field label={`Header ${n} source`}>
              {(input) => (
                <select {...input} value={row.kind} onChange={(e) => update(index, { kind: e.target.value as HeaderRow["kind"] })}>
                  <option value="value">Text</option>
                  <option value="secret">Secret</option>
                </select>
              )}
            </Field>
            {row.kind === "value" ? (
              <Field label={`Header ${n} value`}>
                {(input) => <input {...input} value={row.value} onChange={(e) => update(index, { value: e.target.value })} spellCheck={false} />}
              </Field>
            ) : (
              <>
                <Field label={`Header ${n} secret`}>
                  {(input) => <input {...input} list={list} value={row.secret.secret} onChange={(e) => update(index, { secret: { ...row.secret, secret: e.target.value } })} spellCheck={false} />}
                </Field>
                <Field label={`Header ${n} secret environment (optional)`}>
                  {(input) => <input {...input} value={row.secret.environment} onChange={(e) => update(index, { secret: { ...row.secret, environment: e.target.value } })} spellCheck={false} />}
                </Field>
              </>
            )}
            <button type="button" className="button" onClick={() => onChange(rows.filter((_, i) => i !== index))}>
              Remove header {n}
            </button>
          </div>
        );
      })}
      <div>
        <button type="button" className="button" onClick={() => onChange([...rows, newHeaderRow()])}>
          Add header
        </button>
      </div>
    </fieldset>
  );
}
