// The body of `POST /v1/runs` from the trigger form: what to run, its parameters, and the run
// options the user set (those left empty are left out, so the server's defaults, or a
// deployment's own settings, apply).
import type { Schemas } from "../api/client";

export type Trigger = Schemas["RunTrigger"];
export type ExecutionMode = Trigger["execution_mode"];
export const EXECUTION_MODES: ExecutionMode[] = ["nano", "micro", "small", "medium", "large", "xlarge"];

/** The options as the form holds them: "" for "the default". */
export type TriggerOptions = {
  executor: string;
  execution_mode: "" | ExecutionMode;
  max_retries: string;
  priority: string;
  /** Comma-separated. */
  tags: string;
  /** `execute: false`: record and validate the run without starting it. */
  checkOnly: boolean;
};

export const DEFAULT_OPTIONS: TriggerOptions = { executor: "", execution_mode: "", max_retries: "", priority: "", tags: "", checkOnly: false };

export type Target = { flow: string; version: string; deployment: string };

/**
 * The request body. The generated type marks the fields with server defaults as required; the
 * server tells a field given from one left out (a deployment's settings apply to those left out),
 * so the body is built without them and typed as the request only when sent.
 */
export function triggerBody(target: Target, parameters: Record<string, unknown>, options: TriggerOptions): Partial<Trigger> {
  const body: Partial<Trigger> = target.deployment
    ? { deployment: target.deployment }
    : { flow_name: target.flow, ...(target.version && { flow_version: target.version }) };
  body.parameters = parameters;
  if (options.executor) body.executor = options.executor;
  if (options.execution_mode) body.execution_mode = options.execution_mode;
  if (options.max_retries.trim()) body.max_retries = Number(options.max_retries);
  if (options.priority.trim()) body.priority = Number(options.priority);
  const tags = options.tags.split(",").map((t) => t.trim()).filter(Boolean);
  if (tags.length) body.tags = tags;
  if (options.checkOnly) body.execute = false;
  return body;
}
