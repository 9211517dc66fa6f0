import { describe, expect, it } from "vitest";
import {
  allPermissions,
  apiKeyBody,
  apiKeyFormErrors,
  auditFiltersFrom,
  auditQuery,
  auditSearchParams,
  grantableRoles,
  groupByArea,
  mayChangeRole,
  presetRoles,
  secretQuery,
  settingsLinks,
  type AuditFilters,
} from "./settings";

const MATRIX = {
  owner: ["flows.read", "flows.write", "runs.read", "admin.members", "billing.write"],
  admin: ["flows.read", "flows.write", "runs.read", "admin.members"],
  developer: ["flows.read", "flows.write", "runs.read"],
  viewer: ["flows.read", "runs.read"],
};

const section = (section_id: string, href: string) => ({ section_id, href, title: section_id, description: `About ${section_id}`, permission: null });

describe("settingsLinks", () => {
  it("links this app's pages and drops sections without one", () => {
    const links = settingsLinks([
      section("profile", "/settings/profile"),
      section("notifications", "/settings/notifications"),
      section("api_keys", "/settings/api-keys"),
      section("billing", "/settings/billing"),
      section("future", "/settings/future"),
    ]);
    expect(links).toEqual([
      { id: "profile", title: "profile", description: "About profile", to: "/settings/profile" },
      { id: "notifications", title: "notifications", description: "About notifications", to: "/settings/notifications" },
      { id: "api_keys", title: "api_keys", description: "About api_keys", to: "/settings/api-keys" },
      { id: "billing", title: "billing", description: "About billing", to: "/settings/billing" },
    ]);
  });
});

describe("roles", () => {
  it("lets only an owner grant the owner role", () => {
    expect(grantableRoles(MATRIX, "owner")).toEqual(["owner", "admin", "developer", "viewer"]);
    expect(grantableRoles(MATRIX, "admin")).toEqual(["admin", "developer", "viewer"]);
    expect(mayChangeRole("owner", "admin")).toBe(false);
    expect(mayChangeRole("owner", "owner")).toBe(true);
    expect(mayChangeRole("viewer", "admin")).toBe(true);
  });

  it("lists every permission once, grouped by area", () => {
    expect(allPermissions(MATRIX)).toEqual(["flows.read", "flows.write", "runs.read", "admin.members", "billing.write"]);
    expect(groupByArea(MATRIX.admin)).toEqual([
      ["flows", ["flows.read", "flows.write"]],
      ["runs", ["runs.read"]],
      ["admin", ["admin.members"]],
    ]);
  });

  it("offers as presets the roles whose permissions the caller holds", () => {
    expect(presetRoles(MATRIX, MATRIX.admin)).toEqual(["admin", "developer", "viewer"]);
    expect(presetRoles(MATRIX, MATRIX.owner)).toEqual(["owner", "admin", "developer", "viewer"]);
  });
});

describe("API key form", () => {
  it("asks for a name, a valid environment tag and a scope", () => {
    expect(apiKeyFormErrors({ name: " ", environment: "Prod!", scopes: [] })).toEqual({
      name: "Give the key a name.",
      environment: "1 to 16 lower-case letters and digits.",
      scopes: "Choose at least one scope.",
    });
    expect(apiKeyFormErrors({ name: "CI", environment: "", scopes: ["runs.read"] })).toEqual({});
    expect(apiKeyFormErrors({ name: "x".repeat(129), environment: "live", scopes: ["runs.read"] }).name).toBe("At most 128 characters.");
  });

  it("builds the request body: trimmed name, scopes once in matrix order, live by default", () => {
    const body = apiKeyBody({ name: "  Nightly CI ", environment: " ", scopes: ["runs.read", "flows.read", "runs.read"] }, MATRIX.owner);
    expect(body).toEqual({ name: "Nightly CI", environment: "live", scopes: ["flows.read", "runs.read"] });
    expect(apiKeyBody({ name: "ci", environment: "prod", scopes: ["runs.read"] }, MATRIX.owner).environment).toBe("prod");
  });

  it("keeps a scope outside the given order, so the server can name it", () => {
    expect(apiKeyBody({ name: "ci", environment: "live", scopes: ["bogus", "runs.read"] }, MATRIX.owner).scopes).toEqual(["runs.read", "bogus"]);
  });
});

describe("audit filters", () => {
  const none: AuditFilters = { actor: "", action: "", resourceType: "", from: "", to: "" };

  it("round-trips through the URL, leaving empty filters out", () => {
    const filters = { ...none, actor: "ann@example.com", resourceType: "secret", from: "2026-03-01T09:30" };
    const params = auditSearchParams(filters);
    expect(params.toString()).toBe("actor=ann%40example.com&resource_type=secret&from=2026-03-01T09%3A30");
    expect(auditFiltersFrom(params)).toEqual(filters);
    expect(auditSearchParams(none).size).toBe(0);
  });

  it("sends nothing but the page size without filters", () => {
    expect(auditQuery(none)).toEqual({
      actor_email: undefined,
      action: undefined,
      resource_type: undefined,
      start_date: undefined,
      end_date: undefined,
      limit: 50,
      next_token: undefined,
    });
  });

  it("turns local times into UTC instants, the end taking in its whole minute", () => {
    const query = auditQuery({ ...none, action: "read", actor: " ann@example.com ", from: "2026-03-01T09:30", to: "2026-03-02T18:00" }, "tok");
    expect(query.actor_email).toBe("ann@example.com");
    expect(query.action).toBe("read");
    expect(query.start_date).toBe(new Date(2026, 2, 1, 9, 30).toISOString());
    expect(query.end_date).toBe(new Date(2026, 2, 2, 18, 0, 59, 999).toISOString());
    expect(query.next_token).toBe("tok");
  });

  it("sends a time it cannot read as typed, for the server to refuse by name", () => {
    expect(auditQuery({ ...none, from: "yesterday" }).start_date).toBe("yesterday");
  });
});

describe("secretQuery", () => {
  it("addresses the secret without an environment with an empty one", () => {
    expect(secretQuery({ environment: null })).toEqual({ environment: "" });
    expect(secretQuery({ environment: "production" })).toEqual({ environment: "production" });
  });
});
