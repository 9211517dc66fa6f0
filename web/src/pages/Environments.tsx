import { Link, useSearchParams } from "react-router";
import { session } from "../api/client";
import { EmptyState, ErrorNote } from "../components/common";
import { EnvCompare } from "../components/EnvCompare";
import { EnvCreateForm } from "../components/EnvCreate";
import { EnvDetails } from "../components/EnvDetails";
import { DialogButton } from "../components/EnvDialog";
import { nextEnvironment } from "../lib/envDiff";
import { useEnvironments } from "../lib/flowsQueries";
import "./flows.css";
import "./environments.css";

export function Environments() {
  const [params, setParams] = useSearchParams();
  const environments = useEnvironments();
  const all = environments.data ?? [];
  const names = all.map((e) => e.env_name);
  const selected = all.find((e) => e.env_name === params.get("env")) ?? all[0];
  const fromParam = params.get("from");
  const from = fromParam && names.includes(fromParam) ? fromParam : (selected?.env_name ?? "");
  // "" is a choice too: the last environment has no next one to compare with.
  const toParam = params.get("to");
  const to = toParam === "" || (toParam && names.includes(toParam)) ? toParam : (nextEnvironment(names, from) ?? "");
  const set = (change: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(change)) {
      if (value === null) next.delete(key);
      else next.set(key, value);
    }
    setParams(next);
  };
  return (
    <section aria-labelledby="environments-title" className="env-page">
      <div className="page-head">
        <h1 id="environments-title">Environments</h1>
        <div className="fl-actions">
          <DialogButton label="New environment" title="New environment" className="button primary">
            {(close) => <EnvCreateForm onCancel={close} onCreated={(env) => { close(); set({ env: env.env_name }); }} />}
          </DialogButton>
        </div>
      </div>
      <ErrorNote error={environments.error} />
      {environments.isPending && <p aria-busy="true">Loading environments…</p>}
      {environments.isSuccess && all.length === 0 && (
        <EmptyState title="No environments yet">
          <p>
            Environments are the stages a flow's deployments go through, such as <code>develop</code>, <code>staging</code> and{" "}
            <code>production</code>: each runs its own version of a flow, with its own variables, and a version is promoted from one
            to the next. Create the first with <strong>New environment</strong> above, or with the API:
          </p>
          <pre className="fl-code"><code>{`curl -X POST ${window.location.origin}/v1/environments \\
  -H "Authorization: Bearer $TOKEN" -H "X-Org-Id: ${session.orgId() ?? "$ORG_ID"}" \\
  -H 'content-type: application/json' -d '{"env_name": "staging"}'`}</code></pre>
        </EmptyState>
      )}
      {selected && (
        <>
          <nav aria-label="Promotion order">
            <ol className="env-order">
              {all.map((env) => (
                <li key={env.env_id}>
                  <Link
                    to={`?env=${encodeURIComponent(env.env_name)}`}
                    aria-current={env.env_name === selected.env_name ? "page" : undefined}
                  >
                    {env.env_name}
                    {env.is_protected && <span className="env-badge">protected</span>}
                  </Link>
                </li>
              ))}
            </ol>
          </nav>
          <EnvDetails env={selected} onDeleted={() => set({ env: null, from: null, to: null })} />
          <section aria-labelledby="compare-title" className="fl-section">
            <h2 id="compare-title">Compare and promote</h2>
            <EnvCompare environments={all} from={from} to={to} onChange={(f, t) => set({ from: f, to: t })} />
          </section>
        </>
      )}
    </section>
  );
}
