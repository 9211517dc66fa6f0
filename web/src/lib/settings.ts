// The settings pages' pure logic: which settings sections open a page of this app, the roles a
// caller may grant, the API-key form as a request body, and the audit log's filters as URL
// parameters and as the API's query.
import type { Schemas } from "../api/client";

type Section = Schemas["SettingsSection"];
export type Role = Schemas["Role"];
export type RoleMatrix = Record<string, string[]>;

/** The settings sections this app has a page for (App.tsx's children of /settings). */
const PAGES = new Set([
  "/settings/profile", "/settings/members", "/settings/api-keys", "/settings/secrets", "/settings/audit", "/settings/notifications", "/settings/billing",
]);

export type SettingsLink = { id: string; title: string; description: string; to: string };

/** The navigation of /settings: the sections this app has a page for (a section a newer server
 * adds is left out until it has one). Order is the server's. */
export function settingsLinks(sections: Section[]): SettingsLink[] {
  return sections
    .filter((s) => PAGES.has(s.href))
    .map((s) => ({ id: s.section_id, title: s.title, description: s.description, to: s.href }));
}

/** The roles `myRole` may give or take away: only an owner grants the owner role. */
export function grantableRoles(matrix: RoleMatrix, myRole: string | null | undefined): Role[] {
  return (Object.keys(matrix) as Role[]).filter((role) => role !== "owner" || myRole === "owner");
}

/** Whether `myRole` may change the role of a member who has `theirRole`. */
export function mayChangeRole(theirRole: string, myRole: string | null | undefined): boolean {
  return theirRole !== "owner" || myRole === "owner";
}

/** The permissions of the matrix in a stable order (the owner's, which hold every one, first). */
export function allPermissions(matrix: RoleMatrix): string[] {
  return [...new Set(Object.values(matrix).flat())];
}

/** Permissions grouped by their area (`runs.read` → `runs`), in the order given. */
export function groupByArea(permissions: string[]): [area: string, permissions: string[]][] {
  const groups = new Map<string, string[]>();
  for (const permission of permissions) {
    const area = permission.split(".")[0];
    groups.set(area, [...(groups.get(area) ?? []), permission]);
  }
  return [...groups];
}

/** Roles whose every permission `held` includes: the presets a key's scopes may start from. */
export function presetRoles(matrix: RoleMatrix, held: string[]): Role[] {
  const mine = new Set(held);
  return (Object.keys(matrix) as Role[]).filter((role) => matrix[role].every((p) => mine.has(p)));
}

export type ApiKeyForm = { name: string; environment: string; scopes: string[] };

export const KEY_ENVIRONMENT_PATTERN = /^[a-z0-9]{1,16}$/;

/** What is wrong with the form, by field; empty when it can be sent. */
export function apiKeyFormErrors(form: ApiKeyForm): Partial<Record<keyof ApiKeyForm, string>> {
  const errors: Partial<Record<keyof ApiKeyForm, string>> = {};
  if (!form.name.trim()) errors.name = "Give the key a name.";
  else if (form.name.trim().length > 128) errors.name = "At most 128 characters.";
  const environment = form.environment.trim();
  if (environment && !KEY_ENVIRONMENT_PATTERN.test(environment)) {
    errors.environment = "1 to 16 lower-case letters and digits.";
  }
  if (form.scopes.length === 0) errors.scopes = "Choose at least one scope.";
  return errors;
}

/** The body of `POST /v1/api-keys`: the name trimmed, the scopes once each in `order` (the
 * matrix's), and the environment tag, `live` when left empty. */
export function apiKeyBody(form: ApiKeyForm, order: string[]): Schemas["ApiKeyCreate"] {
  const chosen = new Set(form.scopes);
  const known = order.filter((scope) => chosen.has(scope));
  const others = [...chosen].filter((scope) => !order.includes(scope));
  return {
    name: form.name.trim(),
    environment: form.environment.trim() || "live",
    scopes: [...known, ...others],
  };
}

/** The audit log's filters as the page's URL holds them; times are `datetime-local` values. */
export type AuditFilters = { actor: string; action: string; resourceType: string; from: string; to: string };

const AUDIT_PARAMS: Record<keyof AuditFilters, string> = {
  actor: "actor",
  action: "action",
  resourceType: "resource_type",
  from: "from",
  to: "to",
};

export function auditFiltersFrom(params: URLSearchParams): AuditFilters {
  const read = (key: keyof AuditFilters) => params.get(AUDIT_PARAMS[key]) ?? "";
  return { actor: read("actor"), action: read("action"), resourceType: read("resourceType"), from: read("from"), to: read("to") };
}

/** The URL parameters of `filters`, empty ones left out. */
export function auditSearchParams(filters: AuditFilters): URLSearchParams {
  const params = new URLSearchParams();
  for (const key of Object.keys(AUDIT_PARAMS) as (keyof AuditFilters)[]) {
    const value = filters[key].trim();
    if (value) params.set(AUDIT_PARAMS[key], value);
  }
  return params;
}

export const AUDIT_PAGE_SIZE = 50;

/** The actions the server records (audit_logs/service.py `Action`). */
export const AUDIT_ACTIONS = ["create", "update", "delete", "execute", "read"] as const;

/** The resource types services record in an org's trail, for the filter's suggestions. */
export const AUDIT_RESOURCE_TYPES = [
  "alert_rule", "api_key", "credits", "custom_node", "dag_draft", "deployment", "environment", "flow", "impersonation",
  "member", "notification_channel", "object", "org", "run", "schedule", "secret", "sensor", "session",
];

/** The query of `GET /v1/audit-logs`. A `datetime-local` value is the browser's local time; `to`
 * takes in its whole minute (the server's bounds are inclusive). A value that is not a time is
 * sent as typed, so the server's 400 names the field. */
export function auditQuery(filters: AuditFilters, nextToken?: string) {
  const text = (value: string) => value.trim() || undefined;
  return {
    actor_email: text(filters.actor),
    action: text(filters.action),
    resource_type: text(filters.resourceType),
    start_date: localTime(filters.from, 0),
    end_date: localTime(filters.to, 59_999),
    limit: AUDIT_PAGE_SIZE,
    next_token: nextToken,
  };
}

function localTime(value: string, extraMs: number): string | undefined {
  const trimmed = value.trim();
  if (!trimmed) return undefined;
  const time = new Date(trimmed);
  return Number.isNaN(time.getTime()) ? trimmed : new Date(time.getTime() + extraMs).toISOString();
}

/** The query that addresses one secret exactly: `environment=` (empty) is the one without. */
export function secretQuery(secret: { environment: string | null }): { environment: string } {
  return { environment: secret.environment ?? "" };
}
