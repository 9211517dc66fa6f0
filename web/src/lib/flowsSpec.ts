// What a version's `flow_spec` holds: a DAG's nodes and edges, or a code flow's entry point
// (`{"entrypoint": "module:function"}`, its tasks known only when it runs); either may declare
// `secrets` (src/dagy/server/domains/flows/spec.py).

export type DagSpec = {
  nodes: { id: string; type?: string }[];
  edges: { source: string; target: string }[];
};

type Spec = Record<string, unknown> | null | undefined;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

/** The spec's graph, or null when it has no nodes (a code flow). */
export function dagOf(spec: Spec): DagSpec | null {
  const nodes = Array.isArray(spec?.nodes) ? spec.nodes.filter((n) => isRecord(n) && typeof n.id === "string") : [];
  if (nodes.length === 0) return null;
  const edges = Array.isArray(spec?.edges)
    ? spec.edges.filter((e) => isRecord(e) && typeof e.source === "string" && typeof e.target === "string")
    : [];
  return {
    nodes: nodes.map((n) => ({ id: n.id as string, type: typeof n.type === "string" ? n.type : undefined })),
    edges: edges.map((e) => ({ source: e.source as string, target: e.target as string })),
  };
}

export function entrypointOf(spec: Spec): string | null {
  return typeof spec?.entrypoint === "string" ? spec.entrypoint : null;
}

export function secretsOf(spec: Spec): string[] {
  return Array.isArray(spec?.secrets) ? spec.secrets.filter((s): s is string => typeof s === "string") : [];
}
