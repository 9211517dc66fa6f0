// An environment's variables: read, add, change and delete them (configuration, not secrets).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, unwrap } from "../api/client";
import { keys } from "../lib/flowsQueries";
import { ConfirmButton, EmptyState, ErrorNote } from "./common";

export function useVariables(env: string) {
  return useQuery({
    queryKey: keys.variables(env),
    enabled: Boolean(env),
    queryFn: async () => unwrap(await api.GET("/v1/environments/{env_name}/variables", { params: { path: { env_name: env } } })),
  });
}

function useSetVariable(env: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: async ({ key, value }: { key: string; value: string }) =>
      unwrap(await api.PATCH("/v1/environments/{env_name}/variables", { params: { path: { env_name: env } }, body: { variables: { [key]: value } } })),
    onSuccess: (answer) => queries.setQueryData(keys.variables(env), answer),
  });
}

export function EnvVariables({ env }: { env: string }) {
  const variables = useVariables(env);
  const [editing, setEditing] = useState<string | null>(null);
  if (variables.isPending) return <p aria-busy="true">Loading variables…</p>;
  if (variables.isError) return <ErrorNote error={variables.error} />;
  const entries = Object.entries(variables.data.variables).sort(([a], [b]) => a.localeCompare(b));
  return (
    <>
      {entries.length === 0 ? (
        <EmptyState title={`No variables in ${env}`}>
          <p>
            Variables are plain configuration of this environment (a host name, a log level). Add one below; keep credentials in{" "}
            <Link to="/settings/secrets">Secrets</Link>.
          </p>
        </EmptyState>
      ) : (
        <table className="env-table">
          <caption className="visually-hidden">Variables of {env}</caption>
          <thead>
            <tr>
              <th scope="col">Variable</th>
              <th scope="col">Value</th>
              <th scope="col"><span className="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {entries.map(([key, value]) =>
              editing === key ? (
                <EditRow key={key} env={env} name={key} value={value} onDone={() => setEditing(null)} />
              ) : (
                <tr key={key}>
                  <td><code>{key}</code></td>
                  <td><code className="env-value">{value}</code></td>
                  <td>
                    <div className="env-row-actions">
                      <button type="button" className="button" aria-label={`Edit ${key}`} onClick={() => setEditing(key)}>Edit</button>
                      <DeleteVariable env={env} name={key} />
                    </div>
                  </td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      )}
      <AddVariable env={env} existing={variables.data.variables} />
    </>
  );
}

function EditRow({ env, name, value, onDone }: { env: string; name: string; value: string; onDone: () => void }) {
  const [draft, setDraft] = useState(value);
  const save = useSetVariable(env);
  return (
    <tr>
      <td><code>{name}</code></td>
      <td>
        <form
          id={`edit-${name}`}
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate({ key: name, value: draft }, { onSuccess: onDone });
          }}
        >
          <label>
            <span className="visually-hidden">Value of {name}</span>
            <input value={draft} onChange={(e) => setDraft(e.target.value)} autoFocus className="env-value-input" />
          </label>
          <ErrorNote error={save.error} />
        </form>
      </td>
      <td>
        <div className="env-row-actions">
          <button type="submit" form={`edit-${name}`} className="button primary" disabled={save.isPending}>Save</button>
          <button type="button" className="button" onClick={onDone}>Cancel</button>
        </div>
      </td>
    </tr>
  );
}

function DeleteVariable({ env, name }: { env: string; name: string }) {
  const queries = useQueryClient();
  const remove = useMutation({
    mutationFn: async () =>
      unwrap(await api.DELETE("/v1/environments/{env_name}/variables/{var_key}", { params: { path: { env_name: env, var_key: name } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: keys.variables(env) }),
  });
  return (
    <ConfirmButton
      label={`Delete ${name}`}
      confirmLabel="Delete variable"
      onConfirm={() => remove.mutateAsync()}
      question={<p>Delete the variable <code>{name}</code> of <strong>{env}</strong>? Runs started after this no longer get it.</p>}
    />
  );
}

function AddVariable({ env, existing }: { env: string; existing: Record<string, string> }) {
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [taken, setTaken] = useState(false);
  const add = useSetVariable(env);
  return (
    <form
      className="env-inline-form"
      aria-label={`Add a variable to ${env}`}
      onSubmit={(e) => {
        e.preventDefault();
        if (name in existing) return setTaken(true);
        add.mutate({ key: name, value }, { onSuccess: () => { setName(""); setValue(""); } });
      }}
    >
      <label>
        <span>Variable name</span>
        <input value={name} required maxLength={128} onChange={(e) => { setName(e.target.value); setTaken(false); }} placeholder="LOG_LEVEL" />
      </label>
      <label>
        <span>Value</span>
        <input value={value} onChange={(e) => setValue(e.target.value)} placeholder="info" />
      </label>
      <button type="submit" className="button primary" disabled={add.isPending}>Add variable</button>
      {taken && <p className="error" role="alert"><code>{name}</code> exists already: change its value with its Edit button.</p>}
      <ErrorNote error={add.error} />
    </form>
  );
}
