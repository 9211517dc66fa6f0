// Query keys and fetchers of the schedules and sensors pages. Every key starts with its area and the
// org in force, so a change of org refetches, and a mutation invalidates `[area]` as a whole.
import { api, RequestFailed, session, unwrap } from "../api/client";

export const scheduleKeys = {
  all: ["schedules"] as const,
  list: () => ["schedules", session.orgId(), "list"] as const,
  one: (id: string) => ["schedules", session.orgId(), "one", id] as const,
  runs: (id: string) => ["schedules", session.orgId(), "runs", id] as const,
};

export const sensorKeys = {
  all: ["sensors"] as const,
  list: () => ["sensors", session.orgId(), "list"] as const,
  one: (id: string) => ["sensors", session.orgId(), "one", id] as const,
  events: (id: string) => ["sensors", session.orgId(), "events", id] as const,
};

export const pickerKeys = {
  flows: () => ["picker", session.orgId(), "flows"] as const,
  environments: () => ["picker", session.orgId(), "environments"] as const,
  secrets: () => ["picker", session.orgId(), "secrets"] as const,
};

/** Walks every page of a list route (at most `cap` items). */
async function everyPage<T>(fetchPage: (token: string | undefined) => Promise<{ items: T[]; next_token?: string | null }>, cap = 2000): Promise<T[]> {
  const items: T[] = [];
  let token: string | undefined;
  do {
    const page = await fetchPage(token);
    items.push(...page.items);
    token = page.next_token ?? undefined;
  } while (token && items.length < cap);
  return items;
}

/** The org's flow names, sorted. */
export async function fetchFlowNames(): Promise<string[]> {
  const flows = await everyPage(async (next_token) => unwrap(await api.GET("/v1/flows", { params: { query: { limit: 100, next_token } } })));
  return flows.map((flow) => flow.flow_name).sort((a, b) => a.localeCompare(b));
}

/** The org's environment names, in promotion order. */
export async function fetchEnvironmentNames(): Promise<string[]> {
  const environments = await everyPage(async (next_token) =>
    unwrap(await api.GET("/v1/environments", { params: { query: { limit: 500, next_token } } })),
  );
  return environments.map((env) => env.env_name);
}

/** The org's secret names (each once, whatever its environments). */
export async function fetchSecretNames(): Promise<string[]> {
  const secrets = await everyPage(async (next_token) => unwrap(await api.GET("/v1/secrets", { params: { query: { limit: 100, next_token } } })));
  return [...new Set(secrets.map((secret) => secret.secret_name))].sort();
}

/** Retry a failed read once, except an answer that will not change (404: gone or never was). */
export function retryUnlessMissing(failures: number, error: unknown): boolean {
  return failures < 1 && !(error instanceof RequestFailed && error.status === 404);
}
