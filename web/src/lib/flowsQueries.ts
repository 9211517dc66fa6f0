// The reads the flows and environments pages share, each answered in full: the lists they filter
// or join (flows, a flow's versions, deployments, environments) are read page by page to the end.
import { useQuery } from "@tanstack/react-query";
import { api, session, unwrap } from "../api/client";

type Page<T> = { items: T[]; next_token?: string | null };

/** Every item of a keyset-paged list: `page(token)` until it answers no `next_token`. */
export async function readAll<T>(page: (token: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  let token: string | undefined;
  do {
    const answer = await page(token);
    items.push(...answer.items);
    token = answer.next_token ?? undefined;
  } while (token);
  return items;
}

/** Query keys: the org in force is part of each, so switching orgs never shows another's data. */
export const keys = {
  flows: () => ["flows", session.orgId(), "all"] as const,
  flow: (name: string) => ["flow-detail", session.orgId(), name] as const,
  deployments: () => ["deployments", session.orgId(), "all"] as const,
  environments: () => ["environments", session.orgId(), "all"] as const,
  variables: (env: string) => ["environment-variables", session.orgId(), env] as const,
  diff: (from: string, to: string) => ["environment-diff", session.orgId(), from, to] as const,
  flowRuns: (name: string) => ["runs", session.orgId(), "flow", name, "recent"] as const,
};

export function useAllFlows() {
  return useQuery({
    queryKey: keys.flows(),
    queryFn: () =>
      readAll(async (next_token) => unwrap(await api.GET("/v1/flows", { params: { query: { limit: 100, next_token } } }))),
  });
}

export function useFlowVersions(flowName: string, enabled = true) {
  return useQuery({
    queryKey: [...keys.flow(flowName), "versions"],
    enabled,
    queryFn: () =>
      readAll(async (next_token) =>
        unwrap(
          await api.GET("/v1/flows/{flow_name}/versions", {
            params: { path: { flow_name: flowName }, query: { limit: 500, next_token } },
          }),
        ),
      ),
  });
}

export function useAllDeployments() {
  return useQuery({
    queryKey: keys.deployments(),
    queryFn: () =>
      readAll(async (next_token) =>
        unwrap(await api.GET("/v1/deployments", { params: { query: { limit: 500, next_token } } })),
      ),
  });
}

export function useEnvironments() {
  return useQuery({
    queryKey: keys.environments(),
    queryFn: () =>
      readAll(async (next_token) =>
        unwrap(await api.GET("/v1/environments", { params: { query: { limit: 500, next_token } } })),
      ),
  });
}
