// Reads the runs pages share: the org's flow names (for the flow pickers), a flow's versions and
// deployments, and the installation's executors.
import { useQuery } from "@tanstack/react-query";
import { api, session, unwrap } from "../api/client";

/** More flows than this are listed in a picker only by typing their name in the URL. */
const MAX_LISTED = 1000;

/** Every flow name of the org (the list pages through 100 at a time), newest flow first. */
export function useFlowNames() {
  return useQuery({
    queryKey: ["flows", session.orgId(), "names"],
    staleTime: 60_000,
    queryFn: async () => {
      const names: string[] = [];
      let token: string | undefined;
      do {
        const page = unwrap(await api.GET("/v1/flows", { params: { query: { limit: 100, next_token: token } } }));
        names.push(...page.items.map((f) => f.flow_name));
        token = page.next_token ?? undefined;
      } while (token && names.length < MAX_LISTED);
      return names;
    },
  });
}

/** A flow's versions, highest deployment version first. */
export function useFlowVersions(flowName: string) {
  return useQuery({
    queryKey: ["flows", session.orgId(), flowName, "versions"],
    enabled: Boolean(flowName),
    queryFn: async () =>
      unwrap(await api.GET("/v1/flows/{flow_name}/versions", { params: { path: { flow_name: flowName }, query: { limit: 100 } } })),
  });
}

/** One version of a flow (its spec and parameter schema, which never change): "" is its latest. */
export function useFlowVersion(flowName: string, version: string) {
  return useQuery({
    queryKey: ["flows", session.orgId(), flowName, "version", version],
    enabled: Boolean(flowName),
    staleTime: version ? Infinity : 10_000,
    queryFn: async () =>
      unwrap(
        version
          ? await api.GET("/v1/flows/{flow_name}/{flow_version}", { params: { path: { flow_name: flowName, flow_version: version } } })
          : await api.GET("/v1/flows/{flow_name}/latest", { params: { path: { flow_name: flowName } } }),
      ),
  });
}

/** The org's deployments of a flow (the API lists every flow's: they are filtered here). */
export function useFlowDeployments(flowName: string) {
  return useQuery({
    queryKey: ["deployments", session.orgId(), "all"],
    enabled: Boolean(flowName),
    staleTime: 30_000,
    queryFn: async () => {
      const items: Awaited<ReturnType<typeof listDeployments>>["items"] = [];
      let token: string | undefined;
      do {
        const page = await listDeployments(token);
        items.push(...page.items);
        token = page.next_token ?? undefined;
      } while (token && items.length < MAX_LISTED);
      return items;
    },
    select: (items) => items.filter((d) => d.flow_name === flowName),
  });
}

async function listDeployments(token: string | undefined) {
  return unwrap(await api.GET("/v1/deployments", { params: { query: { limit: 100, next_token: token } } }));
}

/** The executors runs can be queued for. */
export function useBackends() {
  return useQuery({
    queryKey: ["backends"],
    staleTime: 5 * 60_000,
    queryFn: async () => unwrap(await api.GET("/v1/backends")),
  });
}
