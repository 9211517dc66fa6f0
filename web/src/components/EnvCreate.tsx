// Creating an environment (`POST /v1/environments`): it joins the end of the promotion order.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, session, unwrap, type Schemas } from "../api/client";
import { keys } from "../lib/flowsQueries";
import { ErrorNote } from "./common";

export function EnvCreateForm({ onCreated, onCancel }: { onCreated: (env: Schemas["EnvironmentSummary"]) => void; onCancel?: () => void }) {
  const queries = useQueryClient();
  const backends = useQuery({
    queryKey: ["backends", session.orgId()],
    queryFn: async () => unwrap(await api.GET("/v1/backends")),
    staleTime: 5 * 60_000,
  });
  const [name, setName] = useState("");
  const [executor, setExecutor] = useState("");
  const [isProtected, setProtected] = useState(false);
  const create = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/environments", {
          body: { env_name: name, default_executor: executor || null, is_protected: isProtected },
        }),
      ),
    onSuccess: (env) => {
      void queries.invalidateQueries({ queryKey: keys.environments() });
      onCreated(env);
    },
  });
  return (
    <form
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate();
      }}
    >
      <label>
        <span>Environment name</span>
        <input
          value={name}
          onChange={(e) => setName(e.target.value)}
          required
          pattern="[a-z0-9][a-z0-9_\-]{0,63}"
          aria-describedby="env-name-help"
          placeholder="staging"
        />
        <small id="env-name-help" className="env-muted">Lower-case letters, digits, _ and -; at most 64. It goes last in the promotion order.</small>
      </label>
      <label>
        <span>Default executor</span>
        <select value={executor} onChange={(e) => setExecutor(e.target.value)}>
          <option value="">Automatic (the installation's)</option>
          {backends.data?.map((b) => <option key={b.name} value={b.name}>{b.name}: {b.description}</option>)}
        </select>
      </label>
      <label className="env-check">
        <input type="checkbox" checked={isProtected} onChange={(e) => setProtected(e.target.checked)} />
        <span>Protected: it cannot be deleted, and promotions into it are marked in the audit log</span>
      </label>
      <ErrorNote error={create.error} />
      <div className="actions">
        {onCancel && <button type="button" className="button" onClick={onCancel}>Cancel</button>}
        <button type="submit" className="button primary" disabled={create.isPending}>Create environment</button>
      </div>
    </form>
  );
}
