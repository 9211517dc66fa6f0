import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { ConfirmButton, ErrorNote } from "../components/common";
import { FlowDeployments } from "../components/FlowDeployments";
import { FlowParameters } from "../components/FlowParameters";
import { FlowRecentRuns } from "../components/FlowRecentRuns";
import { FlowVersions } from "../components/FlowVersions";
import { RunDag } from "../components/RunDag";
import { StatusBadge, when } from "../components/StatusBadge";
import { tagLabel } from "../lib/flowsFilter";
import { keys, useFlowVersions } from "../lib/flowsQueries";
import { dagOf, entrypointOf, secretsOf } from "../lib/flowsSpec";
import "./flows.css";

export function FlowPage() {
  const { flowName = "" } = useParams();
  const [params] = useSearchParams();
  const latest = useQuery({
    queryKey: [...keys.flow(flowName), "latest"],
    queryFn: async () => unwrap(await api.GET("/v1/flows/{flow_name}/latest", { params: { path: { flow_name: flowName } } })),
  });
  const versions = useFlowVersions(flowName);
  const wanted = params.get("version");
  const other = Boolean(wanted && latest.data && wanted !== latest.data.flow_version);
  const chosen = useQuery({
    queryKey: [...keys.flow(flowName), "version", wanted],
    enabled: other,
    queryFn: async () =>
      unwrap(await api.GET("/v1/flows/{flow_name}/{flow_version}", { params: { path: { flow_name: flowName, flow_version: wanted ?? "" } } })),
  });

  if (latest.isPending) return <p aria-busy="true">Loading {flowName}…</p>;
  if (latest.isError) {
    return (
      <section aria-labelledby="flow-title">
        <h1 id="flow-title">{flowName}</h1>
        <ErrorNote error={latest.error} />
        <p><Link to="/flows">Back to the flows</Link></p>
      </section>
    );
  }
  const flow = latest.data;
  const version = other ? chosen.data : flow;
  const shown = other && wanted ? wanted : flow.flow_version;
  return (
    <section aria-labelledby="flow-title" className="fl-page">
      <p><Link to="/flows">Flows</Link> / {flowName}</p>
      <div className="page-head">
        <h1 id="flow-title">{flowName}</h1>
        <div className="fl-actions">
          <Link className="button primary" to={`/runs/new?flow=${encodeURIComponent(flowName)}`}>Run this flow</Link>
          <DeleteFlow flowName={flowName} versionCount={versions.data?.length} />
        </div>
      </div>
      <dl className="facts">
        <dt>Latest version</dt>
        <dd>{flow.flow_version} <StatusBadge status={flow.status} /></dd>
        <dt>Namespace</dt>
        <dd>{flow.namespace ? <code>{flow.namespace}</code> : "—"}</dd>
        <dt>Tags</dt>
        <dd>
          {Object.keys(flow.tags).length ? (
            <ul className="fl-tags">{Object.entries(flow.tags).map(([k, v]) => <li key={k}>{tagLabel(`${k}=${v}`)}</li>)}</ul>
          ) : "—"}
        </dd>
        <dt>Registered</dt>
        <dd>{when(flow.created_at)}</dd>
      </dl>

      <div className="fl-version-layout">
        <section aria-labelledby="versions-title">
          <h2 id="versions-title">Versions</h2>
          <ErrorNote error={versions.error} />
          {versions.isPending && <p aria-busy="true">Loading versions…</p>}
          {versions.data && <FlowVersions versions={versions.data} viewing={shown} />}
        </section>
        <section aria-labelledby="version-title">
          <h2 id="version-title">
            Version {shown}
            {!other && <span className="fl-muted"> (latest)</span>}
          </h2>
          {other && <p><Link to="?">Show the latest version ({flow.flow_version})</Link></p>}
          <ErrorNote error={chosen.error} />
          {other && chosen.isPending && <p aria-busy="true">Loading version {wanted}…</p>}
          {version && <VersionDetails version={version} />}
        </section>
      </div>

      <section aria-labelledby="deployments-title" className="fl-section">
        <h2 id="deployments-title">Deployments</h2>
        <FlowDeployments flowName={flowName} />
      </section>

      <section aria-labelledby="runs-title" className="fl-section">
        <h2 id="runs-title">Recent runs</h2>
        <FlowRecentRuns flowName={flowName} />
      </section>
    </section>
  );
}

function VersionDetails({ version }: { version: Schemas["FlowVersionRead"] }) {
  const dag = dagOf(version.flow_spec);
  const entrypoint = entrypointOf(version.flow_spec);
  const secrets = secretsOf(version.flow_spec);
  return (
    <>
      <dl className="facts">
        <dt>Status</dt>
        <dd><StatusBadge status={version.status} /></dd>
        <dt>Registered</dt>
        <dd>{when(version.created_at)} <span className="fl-muted">(#{version.deployment_version})</span></dd>
        <dt>Default executor</dt>
        <dd>{version.default_executor ?? "automatic"}</dd>
        {version.schedule && <><dt>Schedule</dt><dd><code>{version.schedule}</code></dd></>}
        {entrypoint && <><dt>Entry point</dt><dd><code>{entrypoint}</code></dd></>}
        {version.artifact_s3_uri && <><dt>Artifact</dt><dd><code>{version.artifact_s3_uri}</code></dd></>}
        {secrets.length > 0 && <><dt>Secrets</dt><dd>{secrets.map((s) => <code key={s}>{s} </code>)}</dd></>}
        <dt>Code hash</dt>
        <dd><code title={version.code_hash}>{version.code_hash.slice(0, 12)}</code></dd>
      </dl>
      <h3>Graph</h3>
      {dag ? (
        <RunDag spec={dag} tasks={[]} />
      ) : (
        <p className="fl-muted">
          A code flow: its tasks are known only when it runs, and each run's page draws them.
        </p>
      )}
      <h3>Parameters</h3>
      <FlowParameters version={version} />
    </>
  );
}

function DeleteFlow({ flowName, versionCount }: { flowName: string; versionCount: number | undefined }) {
  const queries = useQueryClient();
  const navigate = useNavigate();
  const remove = useMutation({
    mutationFn: async () => unwrap(await api.DELETE("/v1/flows/{flow_name}", { params: { path: { flow_name: flowName } } })),
    onSuccess: () => {
      queries.removeQueries({ queryKey: keys.flow(flowName) });
      for (const key of [keys.flows(), keys.deployments(), ["runs"], ["environment-diff"], ["schedules"]]) {
        void queries.invalidateQueries({ queryKey: key });
      }
      navigate("/flows", { replace: true });
    },
  });
  return (
    <ConfirmButton
      label="Delete flow"
      confirmLabel={`Delete ${flowName}`}
      danger
      onConfirm={() => remove.mutateAsync()}
      question={
        <>
          <h2>Delete {flowName}?</h2>
          <p>
            This deletes {versionCount === undefined ? "every version" : `its ${versionCount} version${versionCount === 1 ? "" : "s"}`},
            its deployments in every environment, its schedules, its runs and their logs, and its stored artifacts. It cannot be undone.
          </p>
        </>
      }
    />
  );
}
