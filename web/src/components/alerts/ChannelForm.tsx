import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { api, unwrap } from "../../api/client";
import { CHANNEL_FIELDS, CHANNEL_TYPES, channelConfig, initialValues, type ChannelField, type ChannelType, type FormValues } from "../../lib/alerts";
import { Field } from "../../pages/settings/Field";
import { ErrorNote } from "../common";
import { alertKeys } from "./queries";

/** A new channel: its type's own fields (notifications/channels.py); the server checks the
 * config and names each bad field (`config_json.url`), shown under the form. */
export function ChannelForm() {
  const queries = useQueryClient();
  const [type, setType] = useState<ChannelType>("webhook");
  const [name, setName] = useState("");
  const [values, setValues] = useState<FormValues>(() => initialValues("webhook"));
  const [enabled, setEnabled] = useState(true);
  // Credentials are read from the form state when sent, never passed as mutation variables.
  const create = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/v1/channels", { body: { name: name.trim(), channel_type: type, config_json: channelConfig(type, values), enabled } })),
    onSuccess: () => {
      setName("");
      setValues(initialValues(type));
      void queries.invalidateQueries({ queryKey: alertKeys.channels() });
    },
  });
  return (
    <>
      <h3 id="create-channel-title">Add a channel</h3>
      <form
        className="stack"
        aria-labelledby="create-channel-title"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Field label="Channel type">
          <select
            value={type}
            onChange={(e) => {
              const next = e.target.value as ChannelType;
              setType(next);
              setValues(initialValues(next));
              create.reset();
            }}
          >
            {Object.entries(CHANNEL_TYPES).map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
        </Field>
        <Field label="Channel name" hint="How rules and messages refer to it, e.g. “Data team on-call”.">
          <input required maxLength={128} value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        {CHANNEL_FIELDS[type].map((field) => (
          <ConfigField key={`${type}-${field.name}`} field={field} value={values[field.name] ?? ""} onChange={(value) => setValues({ ...values, [field.name]: value })} />
        ))}
        <label className="check">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> Enabled
        </label>
        <ErrorNote error={create.error} />
        <div>
          <button type="submit" className="button primary" disabled={create.isPending}>{create.isPending ? "Saving…" : "Create channel"}</button>
        </div>
      </form>
    </>
  );
}

function ConfigField({ field, value, onChange }: { field: ChannelField; value: string; onChange: (value: string) => void }) {
  const id = useId();
  if (field.kind === "list" || field.kind === "headers") {
    // A textarea: Field clones inputs and selects only.
    return (
      <div className="field">
        <label htmlFor={id}>{field.label}</label>
        <textarea id={id} rows={3} required={field.required} value={value} spellCheck={false} aria-describedby={field.hint ? `${id}-hint` : undefined} onChange={(e) => onChange(e.target.value)} />
        {field.hint && <small id={`${id}-hint`} className="hint">{field.hint}</small>}
      </div>
    );
  }
  if (field.kind === "select") {
    return (
      <Field label={field.label} hint={field.hint}>
        <select value={value} onChange={(e) => onChange(e.target.value)}>
          {field.options?.map((option) => <option key={option} value={option}>{option}</option>)}
        </select>
      </Field>
    );
  }
  if (field.kind === "secret") return <SecretField field={field} value={value} onChange={onChange} />;
  return (
    <Field label={field.label} hint={field.hint}>
      <input
        type={field.kind === "number" ? "number" : field.kind === "url" ? "url" : "text"}
        required={field.required}
        placeholder={field.placeholder}
        value={value}
        autoComplete="off"
        spellCheck={false}
        onChange={(e) => onChange(e.target.value)}
      />
    </Field>
  );
}

/** A credential: a password input with Show/Hide (Field.tsx's SecretInput is always required). */
function SecretField({ field, value, onChange }: { field: ChannelField; value: string; onChange: (value: string) => void }) {
  const id = useId();
  const [shown, setShown] = useState(false);
  return (
    <div className="field">
      <label htmlFor={id}>{field.label}</label>
      <div className="with-toggle">
        <input
          id={id}
          type={shown ? "text" : "password"}
          required={field.required}
          autoComplete="off"
          spellCheck={false}
          value={value}
          aria-describedby={field.hint ? `${id}-hint` : undefined}
          onChange={(e) => onChange(e.target.value)}
        />
        <button type="button" className="button" aria-controls={id} aria-label={shown ? `Hide ${field.label}` : `Show ${field.label}`} onClick={() => setShown(!shown)}>
          {shown ? "Hide" : "Show"}
        </button>
      </div>
      {field.hint && <small id={`${id}-hint`} className="hint">{field.hint}</small>}
    </div>
  );
}
