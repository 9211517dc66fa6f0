// Comparing two environments and promoting from one to the other, as the API does it
// (src/dagy/server/domains/environments/promotion.py, docs/deployments.md "Promotion").
import type { Schemas } from "../api/client";

type Diff = Schemas["EnvironmentDiff"];
type DiffItem = Schemas["DiffItem"];
type Version = Schemas["FlowVersionItem"];

export type DiffKind = "only_source" | "only_target" | "differs";

/** One flow's difference: its deployment in the source, in the target, or both at other versions. */
export type DiffRow = { flow: string } & (
  | { kind: "differs"; source: DiffItem; target: DiffItem }
  | { kind: "only_source"; source: DiffItem; target?: undefined }
  | { kind: "only_target"; source?: undefined; target: DiffItem }
);

const KIND_ORDER: Record<DiffKind, number> = { differs: 0, only_source: 1, only_target: 2 };

export function diffRows(diff: Diff): DiffRow[] {
  const rows: DiffRow[] = [
    ...diff.version_differs.map((d) => ({ flow: d.flow_name, kind: "differs" as const, source: d.source, target: d.target })),
    ...diff.only_in_source.map((d) => ({ flow: d.flow_name, kind: "only_source" as const, source: d })),
    ...diff.only_in_target.map((d) => ({ flow: d.flow_name, kind: "only_target" as const, target: d })),
  ];
  return rows.sort((a, b) => a.flow.localeCompare(b.flow) || KIND_ORDER[a.kind] - KIND_ORDER[b.kind]);
}

/** What a promotion of the row does to the target environment, in words. */
export function diffEffect(row: DiffRow, target: string): string {
  if (row.kind === "differs") return `Promotion moves ${row.target.deployment_name} from version ${row.target.flow_version} to ${row.source.flow_version}.`;
  if (row.kind === "only_source") return `Promotion creates it in ${target}.`;
  return "Promotion leaves it as it is.";
}

/** One `POST /v1/environments/promote`: the target deployment it creates or moves. */
export type PromotionStep = {
  flow: string;
  sourceDeployment: string;
  targetDeployment: string;
  /** The target deployment's version now; null when the promotion creates it. */
  fromVersion: string | null;
  toVersion: string;
};

/**
 * The name the API gives a promoted deployment: the source's name with its environment suffix
 * replaced (`my-flow-staging` → `my-flow-production`), else `<flow>-<target environment>`.
 */
export function promotedName(sourceDeployment: string, flow: string, sourceEnv: string, targetEnv: string): string {
  const suffix = `-${sourceEnv}`;
  return sourceDeployment.endsWith(suffix) ? `${sourceDeployment.slice(0, -suffix.length)}-${targetEnv}` : `${flow}-${targetEnv}`;
}

/**
 * What promoting everything of the diff's source into its target does: each flow only in the
 * source gets a new deployment there; each flow at another version has the target's deployment
 * moved to the source's version (named explicitly, so that this deployment is the one moved).
 */
export function promotionPlan(diff: Diff): PromotionStep[] {
  return diffRows(diff).flatMap((row): PromotionStep[] => {
    if (row.kind === "only_target") return [];
    const { source } = row;
    return [
      {
        flow: row.flow,
        sourceDeployment: source.deployment_name,
        targetDeployment:
          row.target?.deployment_name ??
          promotedName(source.deployment_name, row.flow, diff.source_environment, diff.target_environment),
        fromVersion: row.target?.flow_version ?? null,
        toVersion: source.flow_version,
      },
    ];
  });
}

export type VariableRow = { key: string; kind: DiffKind; source?: string; target?: string };

/** The variables that differ between two environments (a promotion does not copy variables). */
export function variableRows(source: Record<string, string>, target: Record<string, string>): VariableRow[] {
  const keys = [...new Set([...Object.keys(source), ...Object.keys(target)])].sort();
  return keys.flatMap((key): VariableRow[] => {
    const inSource = key in source;
    const inTarget = key in target;
    if (inSource && inTarget) return source[key] === target[key] ? [] : [{ key, kind: "differs", source: source[key], target: target[key] }];
    return inSource ? [{ key, kind: "only_source", source: source[key] }] : [{ key, kind: "only_target", target: target[key] }];
  });
}

/** The environment after `name` in the promotion order (the list as the API orders it). */
export function nextEnvironment(names: string[], name: string): string | undefined {
  const at = names.indexOf(name);
  return at < 0 ? undefined : names[at + 1];
}

/** The versions a deployment at `current` can roll back to: the earlier ones, newest first. */
export function olderVersions(versions: Version[], current: string): Version[] {
  const now = versions.find((v) => v.flow_version === current);
  if (!now) return [];
  return versions.filter((v) => v.deployment_version < now.deployment_version).sort((a, b) => b.deployment_version - a.deployment_version);
}
