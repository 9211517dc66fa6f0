// Rolling a deployment back to an earlier version of its flow (`POST /v1/deployments/{name}/
// rollback`): by default the version registered just before the one it runs, or one chosen.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Schemas } from "../api/client";
import { olderVersions } from "../lib/envDiff";
import { keys, useFlowVersions } from "../lib/flowsQueries";
import { ErrorNote } from "./common";
import { DialogButton } from "./EnvDialog";
import { when } from "./StatusBadge";

type Deployment = Schemas["DeploymentRead"];

export function RollbackButton({ deployment }: { deployment: Deployment }) {
  const [done, setDone] = useState<Schemas["DeploymentRolledBack"] | null>(null);
  return (
    <>
      <DialogButton
        label="Roll back…"
        accessibleLabel={`Roll back ${deployment.deployment_name}…`}
        title={`Roll back ${deployment.deployment_name}`}
      >
        {(close) => (
          <RollbackForm
            deployment={deployment}
            onCancel={close}
            onDone={(result) => {
              setDone(result);
              close();
            }}
          />
        )}
      </DialogButton>
      <span role="status" className="env-note">
        {done && `Rolled back from ${done.previous_flow_version} to ${done.new_flow_version}.`}
      </span>
    </>
  );
}

function RollbackForm({
  deployment,
  onCancel,
  onDone,
}: {
  deployment: Deployment;
  onCancel: () => void;
  onDone: (result: Schemas["DeploymentRolledBack"]) => void;
}) {
  const queries = useQueryClient();
  const versions = useFlowVersions(deployment.flow_name);
  const older = olderVersions(versions.data ?? [], deployment.flow_version);
  const [chosen, setChosen] = useState("");
  const target = chosen || older[0]?.flow_version || "";
  const rollback = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/deployments/{deployment_name}/rollback", {
          params: { path: { deployment_name: deployment.deployment_name } },
          body: { target_flow_version: target },
        }),
      ),
    onSuccess: (result) => {
      void queries.invalidateQueries({ queryKey: keys.deployments() });
      void queries.invalidateQueries({ queryKey: keys.flow(deployment.flow_name) });
      void queries.invalidateQueries({ queryKey: ["environment-diff"] });
      onDone(result);
    },
  });
  return (
    <form
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        rollback.mutate();
      }}
    >
      <p>
        <code>{deployment.deployment_name}</code>
        {deployment.environment ? <> in <strong>{deployment.environment}</strong></> : null} runs version{" "}
        <strong>{deployment.flow_version}</strong> of <code>{deployment.flow_name}</code>. Its settings stay as they are.
      </p>
      {versions.isPending && <p aria-busy="true">Loading the flow's versions…</p>}
      <ErrorNote error={versions.error} />
      {versions.isSuccess && older.length === 0 && (
        <p>Version {deployment.flow_version} is the first version of this flow: there is no earlier version to roll back to.</p>
      )}
      {older.length > 0 && (
        <label>
          <span>Roll back to version</span>
          <select value={target} onChange={(e) => setChosen(e.target.value)}>
            {older.map((v) => (
              <option key={v.flow_version} value={v.flow_version}>
                {v.flow_version} (registered {when(v.created_at)})
              </option>
            ))}
          </select>
        </label>
      )}
      <ErrorNote error={rollback.error} />
      <div className="actions">
        <button type="button" className="button" onClick={onCancel}>{older.length ? "Cancel" : "Close"}</button>
        {older.length > 0 && (
          <button type="submit" className="button danger" disabled={rollback.isPending}>
            {rollback.isPending ? "Rolling back…" : `Roll back to ${target}`}
          </button>
        )}
      </div>
    </form>
  );
}
