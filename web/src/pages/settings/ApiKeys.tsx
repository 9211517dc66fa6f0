import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { api, session, unwrap, type Schemas } from "../../api/client";
import { ConfirmButton, CopyButton, EmptyState, ErrorNote } from "../../components/common";
import { when } from "../../components/StatusBadge";
import { apiKeyBody, apiKeyFormErrors, groupByArea, presetRoles, type ApiKeyForm, type RoleMatrix } from "../../lib/settings";
import { Field } from "./Field";
import { useRoleMatrix, useSettingsConfig } from "./queries";

/** The org's API keys: create one (its key shown once), list them, revoke one (`admin.api_keys`). */
export function ApiKeys() {
  const orgId = session.orgId();
  const role = useSettingsConfig().data?.preferences.role;
  const roles = useRoleMatrix(orgId);
  const keys = useInfiniteQuery({
    queryKey: ["api-keys", orgId],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => unwrap(await api.GET("/v1/api-keys", { params: { query: { next_token: pageParam, limit: 100 } } })),
    getNextPageParam: (page) => page.next_token ?? undefined,
  });
  const items = keys.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      <p className="lead">
        Keys let the CLI, CI and scripts call the API in this organization: send <code>Authorization: Bearer &lt;key&gt;</code>, or
        run <code>dagy login --api-key -</code> and paste it. A key can do what its scopes allow, as far as your role still allows
        it. Keys do not expire: revoke a key you no longer need.
      </p>

      <h2 id="key-list-title">Keys</h2>
      {keys.isPending && <p aria-busy="true">Loading…</p>}
      <ErrorNote error={keys.error} />
      {keys.isSuccess && items.length === 0 && (
        <EmptyState title="No API keys yet">
          <p>Create one below, then give it to your CI or run <code>echo "$KEY" | dagy login --api-key -</code>.</p>
        </EmptyState>
      )}
      {items.length > 0 && <KeyTable keys={items} />}
      {keys.hasNextPage && (
        <button type="button" className="button" onClick={() => void keys.fetchNextPage()} disabled={keys.isFetchingNextPage}>
          Load more
        </button>
      )}
      <ErrorNote error={roles.error} />
      {roles.data && role && <CreateKey matrix={roles.data} held={roles.data[role] ?? []} />}
    </section>
  );
}

const EMPTY_FORM: ApiKeyForm = { name: "", environment: "live", scopes: [] };

function CreateKey({ matrix, held }: { matrix: RoleMatrix; held: string[] }) {
  const queries = useQueryClient();
  const [form, setForm] = useState(EMPTY_FORM);
  const [submitted, setSubmitted] = useState(false);
  const errors = submitted ? apiKeyFormErrors(form) : {};
  const create = useMutation({
    mutationFn: async (body: Schemas["ApiKeyCreate"]) => unwrap(await api.POST("/v1/api-keys", { body })),
    gcTime: 0, // the answer holds the full key: gone from memory once dismissed
    onSuccess: () => {
      setForm(EMPTY_FORM);
      setSubmitted(false);
      void queries.invalidateQueries({ queryKey: ["api-keys"] });
    },
  });
  const toggle = (scope: string, on: boolean) =>
    setForm({ ...form, scopes: on ? [...form.scopes, scope] : form.scopes.filter((s) => s !== scope) });
  return (
    <>
      <h2 id="create-key-title">Create a key</h2>
      {create.data ? (
        <NewKey created={create.data} onDone={() => create.reset()} />
      ) : (
        <form
          className="stack"
          aria-labelledby="create-key-title"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            setSubmitted(true);
            if (Object.keys(apiKeyFormErrors(form)).length === 0) create.mutate(apiKeyBody(form, held));
          }}
        >
          <Field label="Name" error={errors.name}>
            <input value={form.name} maxLength={128} placeholder="Nightly CI" onChange={(e) => setForm({ ...form, name: e.target.value })} />
          </Field>
          <Field
            label="Environment tag"
            error={errors.environment}
            hint={<>Written into the key (<code>dagy_sk_{form.environment.trim() || "live"}_…</code>) to tell keys apart; it grants nothing.</>}
          >
            <input value={form.environment} maxLength={16} onChange={(e) => setForm({ ...form, environment: e.target.value })} />
          </Field>
          <fieldset className="scopes" aria-describedby={errors.scopes ? "key-scopes-error" : undefined}>
            <legend>Scopes: {form.scopes.length} chosen, of those your role holds</legend>
            <div className="presets" role="group" aria-label="Fill in the scopes of a role">
              <span className="hint">Fill in the scopes of a role:</span>
              {presetRoles(matrix, held).map((r) => (
                <button key={r} type="button" className="button" onClick={() => setForm({ ...form, scopes: [...matrix[r]] })}>{r}</button>
              ))}
              <button type="button" className="button" onClick={() => setForm({ ...form, scopes: [] })}>Clear scopes</button>
            </div>
            {groupByArea(held).map(([area, scopes]) => (
              <div key={area} className="scope-group" role="group" aria-label={area}>
                {scopes.map((scope) => (
                  <label key={scope} className="check">
                    <input type="checkbox" checked={form.scopes.includes(scope)} onChange={(e) => toggle(scope, e.target.checked)} />
                    <code>{scope}</code>
                  </label>
                ))}
              </div>
            ))}
            {errors.scopes && <small id="key-scopes-error" className="error">{errors.scopes}</small>}
          </fieldset>
          <ErrorNote error={create.error} />
          <div>
            <button type="submit" className="button primary" disabled={create.isPending}>{create.isPending ? "Creating…" : "Create key"}</button>
          </div>
        </form>
      )}
    </>
  );
}

/** The full key, this once: focused so a keyboard user lands on it. */
function NewKey({ created, onDone }: { created: Schemas["ApiKeyCreated"]; onDone: () => void }) {
  const panel = useRef<HTMLDivElement>(null);
  useEffect(() => panel.current?.focus(), []);
  return (
    <div ref={panel} className="notice" role="status" tabIndex={-1} aria-labelledby="new-key-title">
      <h3 id="new-key-title">Copy the key “{created.name}” now</h3>
      <p><strong>You will not see it again:</strong> the server keeps only its hash. If it is lost, revoke it and create another.</p>
      <div className="reveal">
        <code aria-label="New API key">{created.key}</code>
        <CopyButton value={created.key} label="Copy key" />
      </div>
      <button type="button" className="button" onClick={onDone}>I have copied it</button>
    </div>
  );
}

function KeyTable({ keys }: { keys: Schemas["ApiKeyRead"][] }) {
  const queries = useQueryClient();
  const revoke = useMutation({
    mutationFn: async (keyId: string) => unwrap(await api.DELETE("/v1/api-keys/{key_id}", { params: { path: { key_id: keyId } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["api-keys"] }),
  });
  return (
    <table aria-labelledby="key-list-title">
      <thead>
        <tr>
          <th scope="col">Name</th><th scope="col">Key</th><th scope="col">Scopes</th><th scope="col">Created</th>
          <th scope="col">Last used</th><th scope="col"><span className="visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        {keys.map((key) => (
          <tr key={key.key_id}>
            <td>{key.name}</td>
            <td><code className="nowrap">{key.key_prefix}</code></td>
            <td><Scopes scopes={key.scopes} /></td>
            <td>{when(key.created_at)}</td>
            <td>{key.last_used_at ? when(key.last_used_at) : "Never"}</td>
            <td>
              <ConfirmButton
                label="Revoke"
                confirmLabel="Revoke key"
                danger
                question={<p>Revoke the key “{key.name}” (<code>{key.key_prefix}</code>)? Whatever uses it stops working at once.</p>}
                onConfirm={() => revoke.mutateAsync(key.key_id)}
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Scopes({ scopes }: { scopes: string[] }) {
  const list = <ul className="scope-list">{scopes.map((s) => <li key={s}><code>{s}</code></li>)}</ul>;
  if (scopes.length <= 4) return list;
  return (
    <details>
      <summary>{scopes.length} scopes</summary>
      {list}
    </details>
  );
}
