import { fieldHelp, JSON_ERROR, optionValue, type ParamField, type ParamForm, type ParametersState, type RawValue } from "../lib/runsParameters";

/** The parameter inputs of a version: one per keyword argument of its schema, else one JSON object. */
export function RunParametersForm({
  form,
  state,
  errors,
  onChange,
}: {
  form: ParamForm | null;
  state: ParametersState;
  /** Messages by field name; `JSON_ERROR` for the JSON text's. */
  errors: Record<string, string>;
  onChange: (state: ParametersState) => void;
}) {
  const setRaw = (name: string, value: RawValue) => onChange({ ...state, raw: { ...state.raw, [name]: value } });
  return (
    <fieldset className="run-params">
      <legend>Parameters</legend>
      {form === null ? (
        <JsonField
          label="Parameters (JSON object)"
          help="This version does not describe its parameters (a DAG flow's nodes read them as params): give them as a JSON object."
          value={state.json}
          error={errors[JSON_ERROR]}
          onChange={(json) => onChange({ ...state, json })}
        />
      ) : (
        <>
          {form.fields.length === 0 && <p className="muted">The flow takes no parameters.</p>}
          {form.fields.map((field) => (
            <ParamInput key={field.name} field={field} value={state.raw[field.name]} error={errors[field.name]} onChange={(v) => setRaw(field.name, v)} />
          ))}
          {(form.extra || state.json.trim() !== "") && (
            <JsonField
              label="Other parameters (JSON object)"
              help="The flow also takes parameters its schema does not name (a code flow's **kwargs): any more, as a JSON object. Leave empty for none."
              value={state.json}
              error={errors[JSON_ERROR]}
              onChange={(json) => onChange({ ...state, json })}
            />
          )}
        </>
      )}
    </fieldset>
  );
}

export const paramInputId = (name: string) => `param-${name}`;

function ParamInput({ field, value, error, onChange }: { field: ParamField; value: RawValue | undefined; error?: string; onChange: (value: RawValue) => void }) {
  const id = paramInputId(field.name);
  const help = fieldHelp(field);
  const describedBy = [help && `${id}-help`, error && `${id}-error`].filter(Boolean).join(" ") || undefined;
  const common = { id, "aria-describedby": describedBy, "aria-invalid": error ? true : undefined };
  const text = typeof value === "string" ? value : "";
  let input;
  if (field.kind === "boolean") {
    input = <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
  } else if (field.kind === "enum") {
    input = (
      <select {...common} required={field.required} value={text} onChange={(e) => onChange(e.target.value)}>
        <option value="">{field.required ? "Choose…" : "(the flow's default)"}</option>
        {field.options!.map((option) => (
          <option key={optionValue(option)} value={optionValue(option)}>{typeof option === "string" ? option : JSON.stringify(option)}</option>
        ))}
      </select>
    );
  } else if (field.kind === "json") {
    input = <textarea {...common} required={field.required} rows={Math.min(8, Math.max(3, text.split("\n").length))} spellCheck={false} value={text} onChange={(e) => onChange(e.target.value)} />;
  } else {
    const type = field.kind === "string" && field.format === "date" ? "date" : field.kind === "string" && field.format === "time" ? "time" : "text";
    const inputMode = field.kind === "integer" ? "numeric" : field.kind === "number" ? "decimal" : undefined;
    input = <input {...common} type={type} step={type === "time" ? 1 : undefined} inputMode={inputMode} required={field.required} value={text} onChange={(e) => onChange(e.target.value)} />;
  }
  return (
    <div className={`param-field param-${field.kind}`}>
      <span className="param-label">
        <label htmlFor={id}><code>{field.name}</code></label>
        {field.required && <span className="run-required" aria-hidden="true" title="required">*</span>}
      </span>
      {input}
      {help && <small id={`${id}-help`} className="muted">{field.required ? "Required · " : ""}{help}</small>}
      {error && <small id={`${id}-error`} className="error run-field-error">{error}</small>}
    </div>
  );
}

export const jsonInputId = "param-json";

function JsonField({ label, help, value, error, onChange }: { label: string; help: string; value: string; error?: string; onChange: (value: string) => void }) {
  return (
    <div className="param-field param-json">
      <label htmlFor={jsonInputId}>{label}</label>
      <textarea
        id={jsonInputId}
        rows={Math.min(14, Math.max(4, value.split("\n").length + 1))}
        spellCheck={false}
        value={value}
        aria-describedby={`${jsonInputId}-help${error ? ` ${jsonInputId}-error` : ""}`}
        aria-invalid={error ? true : undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      <small id={`${jsonInputId}-help`} className="muted">{help}</small>
      {error && <small id={`${jsonInputId}-error`} className="error run-field-error">{error}</small>}
    </div>
  );
}
