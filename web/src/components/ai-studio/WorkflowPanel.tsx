import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { api, unwrap } from "../../api/client";
import { suggestFlowName, type Canvas, type Validation } from "../../lib/aiStudio";
import { studioApi, type StudioSession } from "../../lib/aiStudioApi";
import { ErrorNote } from "../common";
import { CanvasGraph } from "./CanvasGraph";
import { studioKeys } from "./SessionList";

/**
 * The session's workflow: drawn live while a turn builds it, with the validator's verdict, and the
 * two ways out of the studio: open it in the builder (a DAG draft of this canvas) or register it
 * as a flow (bound to the session, so the flow's page can lead back here).
 */
export function WorkflowPanel({
  studio,
  canvas,
  validation,
  building,
}: {
  studio: StudioSession;
  canvas: Canvas | null;
  validation: Validation | null;
  building: boolean;
}) {
  return (
    <section className="studio-workflow" aria-labelledby="studio-workflow-title" aria-busy={building}>
      <h2 id="studio-workflow-title">Workflow</h2>
      {!canvas ? (
        <p className="muted">
          {building ? "Planning the workflow…" : "No workflow yet. Ask for one in the chat and it is drawn here as it is built."}
        </p>
      ) : (
        <>
          <CanvasGraph canvas={canvas} />
          {validation && <ValidationNote validation={validation} />}
          {!building && (
            <div className="studio-workflow-actions">
              <OpenInBuilder studio={studio} canvas={canvas} />
              <RegisterFlow studio={studio} canvas={canvas} />
            </div>
          )}
        </>
      )}
      {studio.artifacts.pipeline_python && !building && (
        <details className="studio-code">
          <summary>The same flow as Python (SDK) and YAML</summary>
          <pre aria-label="Python code">{studio.artifacts.pipeline_python}</pre>
          {studio.artifacts.pipeline_yaml && <pre aria-label="YAML spec">{studio.artifacts.pipeline_yaml}</pre>}
        </details>
      )}
    </section>
  );
}

function ValidationNote({ validation }: { validation: Validation }) {
  return (
    <div className="studio-validation" role="status">
      <p className={validation.valid ? "status-completed" : "error"}>
        {validation.valid ? "✓ Passes the flow validator." : "✗ Does not pass the flow validator:"}
      </p>
      {validation.errors.length > 0 && (
        <ul className="error">{validation.errors.map((e) => <li key={e}>{e}</li>)}</ul>
      )}
      {validation.warnings.length > 0 && (
        <details>
          <summary>{validation.warnings.length} to check before you run it</summary>
          <ul>{validation.warnings.map((w) => <li key={w}>{w}</li>)}</ul>
        </details>
      )}
    </div>
  );
}

function OpenInBuilder({ studio, canvas }: { studio: StudioSession; canvas: Canvas }) {
  const navigate = useNavigate();
  const open = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/dag-drafts", {
          body: { name: studio.title, canvas_json: canvas, flow_name: studio.flow_name ?? undefined, description: `From AI Studio session ${studio.session_id}` },
        }),
      ),
    onSuccess: (draft) => navigate(`/builder/${draft.draft_id}`),
  });
  return (
    <div>
      <button type="button" className="button" disabled={open.isPending} onClick={() => open.mutate()}>
        {open.isPending ? "Opening…" : "Open in builder"}
      </button>
      <ErrorNote error={open.error} />
    </div>
  );
}

function RegisterFlow({ studio, canvas }: { studio: StudioSession; canvas: Canvas }) {
  const queries = useQueryClient();
  const [name, setName] = useState(() => studio.flow_name ?? suggestFlowName(studio.artifacts.pipeline_yaml, studio.title));
  const register = useMutation({
    mutationFn: async () => {
      const flowName = name.trim();
      const created = unwrap(await api.POST("/v1/flows", { body: { flow_name: flowName, flow_spec: canvas as Record<string, unknown>, status: "active" } }));
      // Bound, the session is found again from the flow (GET .../sessions/by-flow/{flow_name}).
      await studioApi.bindFlow(studio.session_id, created.flow_name);
      return created;
    },
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: studioKeys.all() });
      void queries.invalidateQueries({ queryKey: ["flows"] });
    },
  });
  const created = register.data;
  return (
    <form className="studio-register" aria-label="Register this flow" onSubmit={(e) => { e.preventDefault(); register.mutate(); }}>
      <label>
        <span>Flow name</span>
        <input value={name} required maxLength={128} pattern="[A-Za-z0-9][A-Za-z0-9_.\-]*" onChange={(e) => setName(e.target.value)} />
      </label>
      <button type="submit" className="button primary" disabled={register.isPending}>
        {register.isPending ? "Registering…" : studio.flow_name === name.trim() ? "Register a new version" : "Register this flow"}
      </button>
      <ErrorNote error={register.error} />
      {created && (
        <p role="status" className="studio-registered">
          Registered <Link to={`/flows/${encodeURIComponent(created.flow_name)}`}>{created.flow_name}</Link>, version {created.flow_version}.
          {(created.warnings ?? []).length > 0 && <> Before it runs: {created.warnings?.join("; ")}.</>}
        </p>
      )}
      {!created && studio.flow_name && (
        <p className="hint">
          Bound to the flow <Link to={`/flows/${encodeURIComponent(studio.flow_name)}`}>{studio.flow_name}</Link>.
        </p>
      )}
    </form>
  );
}
