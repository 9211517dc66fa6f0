import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { useSearchParams } from "react-router";
import { api, session, unwrap, type Schemas } from "../../api/client";
import { ConfirmButton, CopyButton, EmptyState, ErrorNote } from "../../components/common";
import { when } from "../../components/StatusBadge";
import { secretQuery } from "../../lib/settings";
import { Field, SecretInput } from "./Field";

type Secret = Schemas["SecretRead"];

const AUDITED = "Each reveal is recorded in the audit log (action “read”) with your email.";

/** The org's secrets: names and dates only; a value is read when asked for, and forgotten on Hide. */
export function Secrets() {
  const orgId = session.orgId();
  const [params, setParams] = useSearchParams();
  // Absent: every environment; present and empty: the secrets without one (the API's `environment=`).
  const environment = params.get("environment");
  const filterId = useId();
  const environments = useQuery({
    queryKey: ["environments", orgId, "names"],
    queryFn: async () => unwrap(await api.GET("/v1/environments")).items.map((env) => env.env_name),
  });
  const secrets = useInfiniteQuery({
    queryKey: ["secrets", orgId, environment],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(await api.GET("/v1/secrets", { params: { query: { environment: environment ?? undefined, next_token: pageParam, limit: 100 } } })),
    getNextPageParam: (page) => page.next_token ?? undefined,
  });
  const items = secrets.data?.pages.flatMap((page) => page.items) ?? [];
  const names = environments.data ?? [];
  return (
    <section aria-labelledby="secrets-title">
      <h1 id="secrets-title">Secrets</h1>
      <p className="lead">
        Values your flows read at run time (<code>dagy.secrets.get("NAME")</code> in code, <code>{'{"secret": "NAME"}'}</code> in a
        node's config). They are stored encrypted; this page shows names only, and a value only when you reveal it. {AUDITED}
      </p>

      <div className="page-head">
        <h2 id="secret-list-title">Stored secrets</h2>
        <label htmlFor={filterId}>Environment</label>
        <select
          id={filterId}
          value={environment ?? "*"}
          onChange={(e) => {
            const next = new URLSearchParams(params);
            if (e.target.value === "*") next.delete("environment");
            else next.set("environment", e.target.value);
            setParams(next);
          }}
        >
          <option value="*">All</option>
          <option value="">No environment</option>
          {[...new Set([...names, ...(environment ? [environment] : [])])].map((name) => <option key={name} value={name}>{name}</option>)}
        </select>
      </div>
      {secrets.isPending && <p aria-busy="true">Loading…</p>}
      <ErrorNote error={secrets.error} />
      {secrets.isSuccess && items.length === 0 && (
        <EmptyState title={environment === null ? "No secrets yet" : "No secrets in this environment"}>
          <p>Create one below, or from the CLI: <code>dagy secrets set NAME</code> (it asks for the value, hidden).</p>
        </EmptyState>
      )}
      {items.length > 0 && (
        <table aria-labelledby="secret-list-title">
          <thead>
            <tr>
              <th scope="col">Name</th><th scope="col">Environment</th><th scope="col">Created</th><th scope="col">Updated</th>
              <th scope="col"><span className="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {items.map((secret) => <SecretRow key={secret.secret_id} secret={secret} />)}
          </tbody>
        </table>
      )}
      {secrets.hasNextPage && (
        <button type="button" className="button" onClick={() => void secrets.fetchNextPage()} disabled={secrets.isFetchingNextPage}>
          Load more
        </button>
      )}
      <CreateSecret environments={names} />
    </section>
  );
}

function CreateSecret({ environments }: { environments: string[] }) {
  const queries = useQueryClient();
  const listId = useId();
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [environment, setEnvironment] = useState("");
  // The value is read from the form, not passed as the mutation's variables, so the mutation
  // cache never holds it.
  const create = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/v1/secrets", { body: { secret_name: name.trim(), value, environment: environment.trim() || null } })),
    onSuccess: () => {
      setName("");
      setValue("");
      void queries.invalidateQueries({ queryKey: ["secrets"] });
    },
  });
  return (
    <>
      <h2 id="create-secret-title">Add a secret</h2>
      <form
        className="stack"
        aria-labelledby="create-secret-title"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Field label="Name" hint="1–128 of A–Z a–z 0–9 _ . -">
          <input value={name} required maxLength={128} pattern="[A-Za-z0-9_.\-]{1,128}" autoComplete="off" onChange={(e) => setName(e.target.value)} />
        </Field>
        <SecretInput label="Value" value={value} onChange={setValue} />
        <Field label="Environment (optional)" hint="Runs of deployments in this environment use this one; a secret without an environment serves every other run.">
          <input value={environment} maxLength={64} pattern="[A-Za-z0-9_.\-]{1,64}" list={listId} onChange={(e) => setEnvironment(e.target.value)} />
        </Field>
        <datalist id={listId}>{environments.map((env) => <option key={env} value={env} />)}</datalist>
        <ErrorNote error={create.error} />
        <div>
          <button type="submit" className="button primary" disabled={create.isPending}>{create.isPending ? "Saving…" : "Create secret"}</button>
        </div>
      </form>
    </>
  );
}

function SecretRow({ secret }: { secret: Secret }) {
  const queries = useQueryClient();
  const [editing, setEditing] = useState(false);
  const valueRow = useId();
  const editRow = useId();
  const query = secretQuery(secret);
  // A mutation, not a query: each read writes an audit row, so it runs only on a click, is never
  // refetched (on focus, or when the org changes), and `reset` on Hide drops the value (gcTime 0).
  const reveal = useMutation({
    mutationFn: async () =>
      unwrap(await api.GET("/v1/secrets/{secret_name}/value", { params: { path: { secret_name: secret.secret_name }, query } })),
    gcTime: 0,
  });
  const remove = useMutation({
    mutationFn: async () => unwrap(await api.DELETE("/v1/secrets/{secret_name}", { params: { path: { secret_name: secret.secret_name }, query } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["secrets"] }),
  });
  const shown = reveal.data !== undefined;
  const label = secret.environment ? `${secret.secret_name} (${secret.environment})` : secret.secret_name;
  return (
    <>
      <tr>
        <td><code className="nowrap">{secret.secret_name}</code></td>
        <td>{secret.environment ?? <span className="hint">none</span>}</td>
        <td>{when(secret.created_at)}</td>
        <td>{when(secret.updated_at)}</td>
        <td className="row-actions">
          <button
            type="button"
            className="button"
            aria-expanded={shown}
            aria-controls={valueRow}
            title={AUDITED}
            disabled={reveal.isPending}
            onClick={() => (shown ? reveal.reset() : reveal.mutate())}
          >
            {shown ? "Hide value" : reveal.isPending ? "Revealing…" : "Reveal value"}
          </button>
          <button type="button" className="button" aria-expanded={editing} aria-controls={editRow} onClick={() => setEditing(!editing)}>
            Update value
          </button>
          <ConfirmButton
            label="Delete"
            confirmLabel="Delete secret"
            danger
            question={<p>Delete the secret <code>{label}</code>? Runs that need it will fail until it is created again.</p>}
            onConfirm={() => remove.mutateAsync()}
          />
        </td>
      </tr>
      {(shown || reveal.isError) && (
        <tr id={valueRow} className="detail-row">
          <td colSpan={5}>
            <ErrorNote error={reveal.error} />
            {reveal.data && (
              <div className="reveal">
                <pre aria-label={`Value of ${label}`} className="secret-value">{reveal.data.value}</pre>
                <CopyButton value={reveal.data.value} label="Copy value" />
              </div>
            )}
          </td>
        </tr>
      )}
      {editing && (
        <tr id={editRow} className="detail-row">
          <td colSpan={5}>
            <UpdateValue
              secret={secret}
              onCancel={() => setEditing(false)}
              onSaved={() => {
                setEditing(false);
                reveal.reset(); // a value shown is no longer the secret's
              }}
            />
          </td>
        </tr>
      )}
    </>
  );
}

function UpdateValue({ secret, onCancel, onSaved }: { secret: Secret; onCancel: () => void; onSaved: () => void }) {
  const queries = useQueryClient();
  const [value, setValue] = useState("");
  const update = useMutation({
    mutationFn: async () =>
      // As when creating: the value comes from the form, never through the mutation cache.
      unwrap(await api.PUT("/v1/secrets/{secret_name}", { params: { path: { secret_name: secret.secret_name }, query: secretQuery(secret) }, body: { value } })),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["secrets"] });
      onSaved();
    },
  });
  return (
    <form
      className="inline-form"
      aria-label={`Update ${secret.secret_name}`}
      onSubmit={(e) => {
        e.preventDefault();
        update.mutate();
      }}
    >
      <SecretInput label="New value" value={value} onChange={setValue} hint="Replaces the current value; the audit log records that it changed, never the value." />
      <div className="actions">
        <button type="button" className="button" onClick={onCancel}>Cancel</button>
        <button type="submit" className="button primary" disabled={update.isPending}>{update.isPending ? "Saving…" : "Save value"}</button>
      </div>
      <ErrorNote error={update.error} />
    </form>
  );
}
