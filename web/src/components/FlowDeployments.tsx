// Where a flow is deployed: the version each environment runs, in promotion order, and the
// deployments themselves (`GET /v1/deployments` has no flow filter: the org's are read and sorted).
import { Link } from "react-router";
import { useAllDeployments, useEnvironments } from "../lib/flowsQueries";
import { EmptyState, ErrorNote } from "./common";
import { DeploymentsTable } from "./EnvDeployments";

export function FlowDeployments({ flowName }: { flowName: string }) {
  const deployments = useAllDeployments();
  const environments = useEnvironments();
  if (deployments.isPending) return <p aria-busy="true">Loading deployments…</p>;
  if (deployments.isError) return <ErrorNote error={deployments.error} />;
  const order = (environments.data ?? []).map((e) => e.env_name);
  // In promotion order; then any environment the list lacks; deployments in none last.
  const rank = (env: string | null) => {
    if (env === null) return order.length + 1;
    const at = order.indexOf(env);
    return at < 0 ? order.length : at;
  };
  const mine = deployments.data
    .filter((d) => d.flow_name === flowName)
    .sort((a, b) => rank(a.environment) - rank(b.environment) || a.deployment_name.localeCompare(b.deployment_name));
  return (
    <>
      {order.length > 0 && (
        <ol className="fl-envs" aria-label="Version in each environment">
          {order.map((env) => {
            const here = mine.filter((d) => d.environment === env);
            return (
              <li key={env}>
                <span className="fl-env">
                  <strong>{env}</strong>{" "}
                  {here.length ? here.map((d) => `version ${d.flow_version}`).join(", ") : <span className="fl-muted">not deployed</span>}
                </span>
              </li>
            );
          })}
        </ol>
      )}
      {mine.length === 0 ? (
        <EmptyState title="Not deployed">
          <p>
            A deployment runs a chosen version of this flow in an environment. Create one with{" "}
            <code>dagy deploy --env staging</code>, or <code>POST /v1/deployments</code> with{" "}
            <code>{`{"name": "${flowName}-staging", "flow_name": "${flowName}", "environment": "staging"}`}</code>; then promote it
            from <Link to="/environments">Environments</Link>.
          </p>
        </EmptyState>
      ) : (
        <DeploymentsTable deployments={mine} show="environment" caption={`Deployments of ${flowName}`} />
      )}
    </>
  );
}
