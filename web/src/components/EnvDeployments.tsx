// A table of deployments: which version of which flow runs where, where it was promoted from,
// and a rollback for each.
import { Link } from "react-router";
import type { Schemas } from "../api/client";
import { RollbackButton } from "./EnvRollback";
import { when } from "./StatusBadge";
import "../pages/environments.css";

type Deployment = Schemas["DeploymentRead"];

export function DeploymentsTable({
  deployments,
  show,
  caption,
}: {
  deployments: Deployment[];
  /** The column the page does not already say: the flow (an environment's page) or the environment. */
  show: "flow" | "environment";
  caption: string;
}) {
  return (
    <table className="env-table">
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          {show === "environment" && <th scope="col">Environment</th>}
          <th scope="col">Deployment</th>
          {show === "flow" && <th scope="col">Flow</th>}
          <th scope="col">Version</th>
          <th scope="col">Updated</th>
          <th scope="col">Promoted from</th>
          <th scope="col"><span className="visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        {deployments.map((d) => (
          <tr key={d.deployment_id}>
            {show === "environment" && <td>{d.environment ?? <span className="env-muted">no environment</span>}</td>}
            <td><code>{d.deployment_name}</code></td>
            {show === "flow" && <td><Link to={`/flows/${encodeURIComponent(d.flow_name)}`}>{d.flow_name}</Link></td>}
            <td><strong>{d.flow_version}</strong></td>
            <td>{when(d.updated_at)}</td>
            <td>
              {d.promoted_from_deployment ? (
                <>
                  <code>{d.promoted_from_deployment}</code>
                  {d.promoted_from_env && <> ({d.promoted_from_env})</>}, {when(d.promoted_at)}
                </>
              ) : (
                <span className="env-muted">—</span>
              )}
            </td>
            <td><RollbackButton deployment={d} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
