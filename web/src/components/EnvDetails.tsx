// One environment: its settings (protection), its deployments with their rollbacks, its
// variables, and deleting it.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, RequestFailed, unwrap, type ApiError, type Schemas } from "../api/client";
import { keys, useAllDeployments } from "../lib/flowsQueries";
import { ConfirmButton, EmptyState, ErrorNote } from "./common";
import { DeploymentsTable } from "./EnvDeployments";
import { EnvVariables } from "./EnvVariables";
import { when } from "./StatusBadge";

type Env = Schemas["EnvironmentSummary"];

export function EnvDetails({ env, onDeleted }: { env: Env; onDeleted: () => void }) {
  const deployments = useAllDeployments();
  const here = (deployments.data ?? []).filter((d) => d.environment === env.env_name);
  return (
    <section aria-labelledby="env-title" className="fl-section">
      <div className="page-head">
        <h2 id="env-title">{env.env_name}</h2>
        <DeleteEnvironment env={env} onDeleted={onDeleted} />
      </div>
      <dl className="facts">
        <dt>Default executor</dt>
        <dd>{env.default_executor ?? "automatic"}</dd>
        <dt>Protected</dt>
        <dd><EnvProtection env={env} /></dd>
        <dt>Created</dt>
        <dd>{when(env.created_at)}</dd>
      </dl>
      <section aria-labelledby="env-deployments-title">
        <h3 id="env-deployments-title">Deployments</h3>
        <ErrorNote error={deployments.error} />
        {deployments.isPending && <p aria-busy="true">Loading deployments…</p>}
        {deployments.isSuccess && here.length === 0 && (
          <EmptyState title={`Nothing deployed in ${env.env_name}`}>
            <p>
              Promote a deployment into it below, or deploy one of the <Link to="/flows">flows</Link> here with{" "}
              <code>dagy deploy --env {env.env_name}</code>.
            </p>
          </EmptyState>
        )}
        {here.length > 0 && <DeploymentsTable deployments={here} show="flow" caption={`Deployments in ${env.env_name}`} />}
      </section>
      <section aria-labelledby="env-variables-title">
        <h3 id="env-variables-title">Variables</h3>
        <EnvVariables env={env.env_name} />
      </section>
    </section>
  );
}

function EnvProtection({ env }: { env: Env }) {
  const queries = useQueryClient();
  const change = useMutation({
    mutationFn: async (isProtected: boolean) =>
      unwrap(await api.PATCH("/v1/environments/{env_name}", { params: { path: { env_name: env.env_name } }, body: { is_protected: isProtected } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: keys.environments() }),
  });
  if (!env.is_protected) {
    return (
      <>
        no{" "}
        <button type="button" className="button" disabled={change.isPending} onClick={() => change.mutate(true)}>Protect</button>
        <ErrorNote error={change.error} />
      </>
    );
  }
  return (
    <>
      yes: it cannot be deleted, and promotions into it are marked in the audit log{" "}
      <ConfirmButton
        label="Remove protection"
        confirmLabel={`Unprotect ${env.env_name}`}
        onConfirm={() => change.mutateAsync(false)}
        question={<p>Remove the protection of <strong>{env.env_name}</strong>? It can then be deleted, and promotions into it are no longer marked in the audit log.</p>}
      />
    </>
  );
}

function DeleteEnvironment({ env, onDeleted }: { env: Env; onDeleted: () => void }) {
  const queries = useQueryClient();
  const remove = useMutation({
    mutationFn: async () => {
      // A 204 has no body for `unwrap` to return.
      const { error, response } = await api.DELETE("/v1/environments/{env_name}", { params: { path: { env_name: env.env_name } } });
      if (!response.ok) throw new RequestFailed(response.status, error as ApiError);
    },
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: keys.environments() });
      void queries.invalidateQueries({ queryKey: ["environment-diff"] });
      onDeleted();
    },
  });
  return (
    <ConfirmButton
      label="Delete environment"
      confirmLabel={`Delete ${env.env_name}`}
      danger
      onConfirm={() => remove.mutateAsync()}
      question={
        <p>
          Delete the environment <strong>{env.env_name}</strong> and its variables? An environment that still holds deployments, or is
          protected, is kept.
        </p>
      }
    />
  );
}
