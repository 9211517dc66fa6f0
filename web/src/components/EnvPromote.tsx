// Promoting from one environment to another: the dialog lists what will change (the diff as a
// plan), each change can be left out, and each chosen one is a `POST /v1/environments/promote`.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap, type Schemas } from "../api/client";
import type { PromotionStep } from "../lib/envDiff";
import { keys } from "../lib/flowsQueries";
import { ErrorNote } from "./common";
import { DialogButton } from "./EnvDialog";

type Outcome = { step: PromotionStep; promoted?: Schemas["Promoted"]; error?: unknown };

const stepId = (step: PromotionStep) => `${step.sourceDeployment}->${step.targetDeployment}`;

export function PromoteButton({ plan, source, target }: { plan: PromotionStep[]; source: string; target: Schemas["EnvironmentSummary"] }) {
  const [summary, setSummary] = useState("");
  return (
    <div className="env-promote">
      <DialogButton label={`Promote to ${target.env_name}…`} title={`Promote ${source} to ${target.env_name}`} className="button primary" disabled={plan.length === 0}>
        {(close) => (
          <PromoteForm
            plan={plan}
            source={source}
            target={target}
            onCancel={close}
            onDone={(done) => {
              setSummary(`Promoted ${done} deployment${done === 1 ? "" : "s"} to ${target.env_name}.`);
              close();
            }}
          />
        )}
      </DialogButton>
      <span role="status" className="env-note">{summary}</span>
    </div>
  );
}

function PromoteForm({
  plan,
  source,
  target,
  onCancel,
  onDone,
}: {
  plan: PromotionStep[];
  source: string;
  target: Schemas["EnvironmentSummary"];
  onCancel: () => void;
  onDone: (count: number) => void;
}) {
  const queries = useQueryClient();
  const [left, setLeft] = useState<Set<string>>(new Set());
  // A new deployment's name may be changed (the default one may be taken, a 409).
  const [names, setNames] = useState<Record<string, string>>({});
  const chosen = plan
    .filter((step) => !left.has(stepId(step)))
    .map((step) => ({ ...step, targetDeployment: names[stepId(step)] ?? step.targetDeployment }));
  const promote = useMutation({
    // One promotion at a time, in the plan's order; each is its own transaction, so one refused
    // promotion does not undo the others: every outcome is reported.
    mutationFn: async (steps: PromotionStep[]) => {
      const outcomes: Outcome[] = [];
      for (const step of steps) {
        try {
          const body = {
            source_deployment: step.sourceDeployment,
            target_environment: target.env_name,
            new_deployment_name: step.targetDeployment,
            flow_version: step.toVersion,
          };
          outcomes.push({ step, promoted: unwrap(await api.POST("/v1/environments/promote", { body })) });
        } catch (error) {
          outcomes.push({ step, error });
        }
      }
      return outcomes;
    },
    onSuccess: (outcomes) => {
      void queries.invalidateQueries({ queryKey: keys.deployments() });
      void queries.invalidateQueries({ queryKey: ["environment-diff"] });
      for (const flow of new Set(outcomes.map((o) => o.step.flow))) void queries.invalidateQueries({ queryKey: keys.flow(flow) });
      if (outcomes.every((o) => o.promoted)) onDone(outcomes.length);
    },
  });
  const outcomes = promote.data ?? [];
  const failed = outcomes.filter((o) => o.error);
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        promote.mutate(chosen);
      }}
    >
      <p>
        Each deployment chosen below is placed in <strong>{target.env_name}</strong> at the version it runs in <strong>{source}</strong>.
        A new deployment copies the settings of its source; a moved one keeps its own. Variables are not copied.
      </p>
      {target.is_protected && (
        <p className="env-warning"><strong>{target.env_name}</strong> is protected: each promotion into it is marked in the audit log.</p>
      )}
      <fieldset className="env-plan">
        <legend>Changes in {target.env_name}</legend>
        {plan.map((step) => {
          const id = stepId(step);
          return (
            <div key={id} className="env-plan-step">
              <label>
                <input
                  type="checkbox"
                  checked={!left.has(id)}
                  onChange={(e) => {
                    const next = new Set(left);
                    if (e.target.checked) next.delete(id);
                    else next.add(id);
                    setLeft(next);
                  }}
                />
                <span>
                  {step.fromVersion === null ? (
                    <>new deployment of <code>{step.flow}</code> at version <strong>{step.toVersion}</strong></>
                  ) : (
                    <><code>{step.targetDeployment}</code>: version <strong>{step.fromVersion}</strong> → <strong>{step.toVersion}</strong></>
                  )}{" "}
                  <span className="env-muted">(from <code>{step.sourceDeployment}</code>)</span>
                </span>
              </label>
              {step.fromVersion === null && (
                <label className="env-plan-name">
                  <span>Name in {target.env_name}</span>
                  <input
                    value={names[id] ?? step.targetDeployment}
                    onChange={(e) => setNames({ ...names, [id]: e.target.value })}
                    required
                    maxLength={128}
                  />
                </label>
              )}
            </div>
          );
        })}
      </fieldset>
      {failed.length > 0 && (
        <div>
          <p role="alert">
            {outcomes.length - failed.length} of {outcomes.length} promoted. Refused:
          </p>
          {failed.map((o) => (
            <div key={stepId(o.step)}>
              <p><code>{o.step.targetDeployment}</code></p>
              <ErrorNote error={o.error} />
            </div>
          ))}
        </div>
      )}
      <div className="actions">
        <button type="button" className="button" onClick={onCancel}>{promote.data ? "Close" : "Cancel"}</button>
        <button type="submit" className="button primary" disabled={chosen.length === 0 || promote.isPending}>
          {promote.isPending ? "Promoting…" : `Promote ${chosen.length} deployment${chosen.length === 1 ? "" : "s"}`}
        </button>
      </div>
    </form>
  );
}
