import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useMemo, useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { api, RequestFailed, session, unwrap, type Schemas } from "../api/client";
import { EmptyState, ErrorNote } from "../components/common";
import { jsonInputId, paramInputId, RunParametersForm } from "../components/RunParametersForm";
import { RunTriggerOptions } from "../components/RunTriggerOptions";
import { when } from "../components/StatusBadge";
import { versionLabel } from "../lib/runsFormat";
import {
  collectParameters,
  fieldErrors,
  formFromSchema,
  initialState,
  JSON_ERROR,
  type ParametersState,
} from "../lib/runsParameters";
import { useFlowDeployments, useFlowNames, useFlowVersion, useFlowVersions } from "../lib/runsQueries";
import { DEFAULT_OPTIONS, triggerBody, type Trigger, type TriggerOptions } from "../lib/runsTrigger";
import "./runs.css";


/**
 * "Trigger a run": `/runs/new?flow=<name>[&version=<label>|&deployment=<name>][&from=<run id>]`.
 * The choice of flow, version or deployment lives in the URL; `from` fills the parameters in with
 * an earlier run's ("Re-run with changes").
 */
export function TriggerRun() {
  const [params, setParams] = useSearchParams();
  const flow = params.get("flow") ?? "";
  const deploymentName = params.get("deployment") ?? "";
  const version = deploymentName ? "" : (params.get("version") ?? "");
  const from = params.get("from") ?? "";
  const flowNames = useFlowNames();
  const versions = useFlowVersions(flow);
  const deployments = useFlowDeployments(flow);
  const deployment = deployments.data?.find((d) => d.deployment_name === deploymentName);
  // The parameters a run gets are checked against the version it will run: the deployment's.
  const missingDeployment = Boolean(deploymentName) && deployments.isSuccess && !deployment;
  const schemaVersion = useFlowVersion(deploymentName && !deployment ? "" : flow, deployment?.flow_version ?? version);
  const source = useQuery({
    queryKey: ["run", session.orgId(), from],
    enabled: Boolean(from),
    queryFn: async () => unwrap(await api.GET("/v1/runs/{run_id}", { params: { path: { run_id: from } } })),
  });
  const id = useId();

  function choose(changes: Record<string, string>) {
    const next = new URLSearchParams(params);
    for (const [name, value] of Object.entries(changes)) {
      if (value) next.set(name, value);
      else next.delete(name);
    }
    setParams(next, { replace: true });
  }

  if (flowNames.isSuccess && flowNames.data.length === 0) {
    return (
      <section aria-labelledby="trigger-title">
        <h1 id="trigger-title">Trigger a run</h1>
        <EmptyState title="No flow to run yet">
          <p>
            Register a flow first, on the <Link to="/flows">Flows</Link> page or from a project folder with{" "}
            <code>dagy init</code> then <code>dagy deploy</code>.
          </p>
        </EmptyState>
      </section>
    );
  }

  const waitingForSchema = Boolean(flow) && !missingDeployment && (schemaVersion.isPending || (Boolean(from) && source.isPending));
  return (
    <section aria-labelledby="trigger-title" className="trigger-page">
      <p className="run-crumbs"><Link to="/runs">Runs</Link> /</p>
      <h1 id="trigger-title">Trigger a run</h1>
      <div className="trigger-form">
        <fieldset>
          <legend>What to run</legend>
          <div className="param-field">
            <label htmlFor={`${id}-flow`}>Flow</label>
            <select id={`${id}-flow`} required value={flow} onChange={(e) => choose({ flow: e.target.value, version: "", deployment: "", from: "" })}>
              <option value="">Choose a flow…</option>
              {flow && !flowNames.data?.includes(flow) && <option value={flow}>{flow}</option>}
              {flowNames.data?.map((name) => <option key={name} value={name}>{name}</option>)}
            </select>
            {flowNames.isError && <ErrorNote error={flowNames.error} />}
          </div>
          {flow && (
            <fieldset className="param-field choice">
              <legend>Run</legend>
              <label className="run-inline">
                <input type="radio" name="target" checked={!deploymentName} onChange={() => choose({ deployment: "" })} />
                A version of the flow
              </label>
              <label className="run-inline">
                <input
                  type="radio"
                  name="target"
                  checked={Boolean(deploymentName)}
                  disabled={!deployments.data?.length}
                  onChange={() => choose({ deployment: deployments.data?.[0]?.deployment_name ?? "", version: "" })}
                />
                A deployment (its version, executor and settings)
              </label>
              {deployments.isSuccess && deployments.data.length === 0 && <small className="muted">This flow has no deployments.</small>}
            </fieldset>
          )}
          {flow && !deploymentName && (
            <div className="param-field">
              <label htmlFor={`${id}-version`}>Version</label>
              <select id={`${id}-version`} value={version} onChange={(e) => choose({ version: e.target.value })}>
                <option value="">Latest{versions.data?.items[0] && ` (${versionLabel(versions.data.items[0].flow_version)})`}</option>
                {version && !versions.data?.items.some((v) => v.flow_version === version) && <option value={version}>{version}</option>}
                {versions.data?.items.map((v) => (
                  <option key={v.flow_version} value={v.flow_version}>
                    {versionLabel(v.flow_version)} · {v.status} · {when(v.created_at)}
                  </option>
                ))}
              </select>
              {versions.isError && <ErrorNote error={versions.error} />}
            </div>
          )}
          {flow && deploymentName && (
            <div className="param-field">
              <label htmlFor={`${id}-deployment`}>Deployment</label>
              <select id={`${id}-deployment`} value={deploymentName} onChange={(e) => choose({ deployment: e.target.value })}>
                {!deployment && <option value={deploymentName}>{deploymentName}</option>}
                {deployments.data?.map((d) => (
                  <option key={d.deployment_name} value={d.deployment_name}>
                    {d.deployment_name} · {d.environment ? `environment ${d.environment}` : "no environment"} · {versionLabel(d.flow_version)}
                  </option>
                ))}
              </select>
              {deployments.isError && <ErrorNote error={deployments.error} />}
            </div>
          )}
        </fieldset>
        {!flow ? null : missingDeployment ? (
          <p role="alert" className="error">Flow {flow} has no deployment named {deploymentName}: choose one of its deployments above, or run a version.</p>
        ) : waitingForSchema ? (
          <p aria-busy="true">Loading the flow's parameters…</p>
        ) : schemaVersion.isError ? (
          <ErrorNote error={schemaVersion.error} />
        ) : source.isError ? (
          <ErrorNote error={source.error} />
        ) : (
          <TriggerForm
            key={`${flow}@${schemaVersion.data!.flow_version}|${deploymentName}`}
            flow={flow}
            version={version}
            deployment={deploymentName}
            versionRead={schemaVersion.data!}
            fromParameters={source.data?.parameters}
            fromSlug={source.data?.run_slug}
          />
        )}
      </div>
    </section>
  );
}

function TriggerForm({
  flow,
  version,
  deployment,
  versionRead,
  fromParameters,
  fromSlug,
}: {
  flow: string;
  version: string;
  deployment: string;
  versionRead: Schemas["FlowVersionRead"];
  fromParameters?: Record<string, unknown>;
  fromSlug?: string;
}) {
  const form = useMemo(() => formFromSchema(versionRead.parameter_schema), [versionRead.parameter_schema]);
  const [state, setState] = useState<ParametersState>(() => initialState(form, fromParameters));
  const [checkErrors, setCheckErrors] = useState<Record<string, string>>({});
  const [options, setOptions] = useState<TriggerOptions>(DEFAULT_OPTIONS);
  const queries = useQueryClient();
  const navigate = useNavigate();
  const trigger = useMutation({
    mutationFn: async (body: Partial<Trigger>) => unwrap(await api.POST("/v1/runs", { body: body as Trigger })),
    onSuccess: (run) => {
      void queries.invalidateQueries({ queryKey: ["runs"] });
      navigate(`/runs/${run.run_id}`);
    },
  });
  // The API's refusal of a parameter shows on its field; the rest of the refusal above the button.
  const failed = trigger.error instanceof RequestFailed ? trigger.error : null;
  const refused = failed ? fieldErrors(failed.body?.details, form?.fields.map((f) => f.name) ?? []) : null;
  const shownError = failed && refused ? new RequestFailed(failed.status, failed.body && { ...failed.body, details: refused.others }) : trigger.error;
  const errors = { ...refused?.byField, ...checkErrors };

  function submit(event: FormEvent) {
    event.preventDefault();
    const { values, errors: found } = collectParameters(form, state);
    setCheckErrors(found);
    const first = Object.keys(found)[0];
    if (first) {
      document.getElementById(first === JSON_ERROR ? jsonInputId : paramInputId(first))?.focus();
      return;
    }
    trigger.mutate(triggerBody({ flow, version, deployment }, values, options));
  }

  return (
    <form className="stack trigger-params" onSubmit={submit} noValidate>
      {fromSlug && <p className="run-note">Parameters filled in from run <Link to={`/runs/${encodeURIComponent(fromSlug)}`}>{fromSlug}</Link>.</p>}
      <RunParametersForm form={form} state={state} errors={errors} onChange={(next) => { setState(next); setCheckErrors({}); }} />
      <RunTriggerOptions
        options={options}
        onChange={setOptions}
        defaults={
          deployment
            ? { executor: "the deployment's", executionMode: "the deployment's", maxRetries: "the deployment's" }
            : { executor: versionRead.default_executor ?? "the installation's", executionMode: "nano", maxRetries: "0" }
        }
      />
      {trigger.isError && <ErrorNote error={shownError} />}
      <div className="actions run-actions-start">
        <button type="submit" className="button primary" disabled={trigger.isPending}>
          {trigger.isPending ? "Triggering…" : "Trigger run"}
        </button>
        <Link className="button" to="/runs">Cancel</Link>
      </div>
    </form>
  );
}
