import { describe, expect, it } from "vitest";
import { actsInImpersonatedOrg, parseImpersonation } from "./adminSession";

describe("parseImpersonation", () => {
  const record = JSON.stringify({ orgId: "org_1", orgName: "Acme", token: "tok", returnOrgId: "org_own" });

  it("reads a record started under the current token", () => {
    expect(parseImpersonation(record, "tok")).toEqual({ orgId: "org_1", orgName: "Acme", token: "tok", returnOrgId: "org_own" });
    const withoutOwnOrg = JSON.stringify({ orgId: "org_1", orgName: "Acme", token: "tok", returnOrgId: null });
    expect(parseImpersonation(withoutOwnOrg, "tok")?.returnOrgId).toBeNull();
  });

  it("drops a record of another sign-in, or when signed out", () => {
    expect(parseImpersonation(record, "other")).toBeNull();
    expect(parseImpersonation(record, null)).toBeNull();
  });

  it("drops a malformed record", () => {
    expect(parseImpersonation(null, "tok")).toBeNull();
    expect(parseImpersonation("{not json", "tok")).toBeNull();
    expect(parseImpersonation("null", "tok")).toBeNull();
    expect(parseImpersonation(JSON.stringify({ orgId: "", orgName: "Acme", token: "tok" }), "tok")).toBeNull();
    expect(parseImpersonation(JSON.stringify({ orgId: "org_1", token: "tok" }), "tok")).toBeNull();
  });
});

describe("actsInImpersonatedOrg", () => {
  it("covers the org's routes", () => {
    expect(actsInImpersonatedOrg("/v1/flows")).toBe(true);
    expect(actsInImpersonatedOrg("/v1/users/me")).toBe(true);
    expect(actsInImpersonatedOrg("/v1/administrators")).toBe(true);
  });

  it("leaves the console and the sign-in alone", () => {
    expect(actsInImpersonatedOrg("/v1/admin/customers")).toBe(false);
    expect(actsInImpersonatedOrg("/v1/auth/logout")).toBe(false);
  });
});
