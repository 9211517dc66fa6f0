import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Members } from "./Members";
import { answer, renderPage, unexpected } from "./testing";

const api = vi.hoisted(() => ({ GET: vi.fn(), POST: vi.fn(), PATCH: vi.fn() }));
vi.mock("../../api/client", async (real) => ({ ...(await real<typeof import("../../api/client")>()), api }));

const ROLES = { owner: ["admin.members", "billing.write"], admin: ["admin.members"], developer: [], viewer: [] };
const MEMBERS = [
  { member_id: "m1", email: "olga@example.com", role: "owner", status: "active", joined_at: "2026-03-01T10:00:00Z" },
  { member_id: "m2", email: "ann@example.com", role: "admin", status: "active", joined_at: "2026-03-01T10:00:00Z" },
  { member_id: "m3", email: "dev@example.com", role: "developer", status: "invited", joined_at: null },
];
const preferences = (role: string, auth_mode = "email") => ({
  email: "ann@example.com", org_id: "org_1", org_name: "Acme", role, auth_mode, theme: "system", timezone: "UTC",
});

function serve(role: string, auth_mode = "email") {
  api.GET.mockImplementation(async (path: string) => {
    if (path === "/v1/ui/settings") return answer({ sections: [], integrations: [], preferences: preferences(role, auth_mode) });
    if (path === "/v1/orgs/{org_id}/roles") return answer({ roles: ROLES });
    if (path === "/v1/orgs/{org_id}/members") return answer({ items: MEMBERS });
    return unexpected("GET", path);
  });
}

beforeEach(() => localStorage.setItem("dagy.org", "org_1"));
afterEach(() => {
  cleanup();
  vi.clearAllMocks();
  localStorage.clear();
});

describe("Members", () => {
  it("lets an admin change roles but not an owner's, nor grant the owner role", async () => {
    serve("admin");
    renderPage(<Members />);
    const owner = await screen.findByLabelText<HTMLSelectElement>("Role of olga@example.com");
    await waitFor(() => expect(screen.getByLabelText<HTMLSelectElement>("Role of dev@example.com").disabled).toBe(false));
    expect(owner.disabled).toBe(true);
    const options = [...screen.getByLabelText<HTMLSelectElement>("Role of dev@example.com").options].map((o) => o.value);
    expect(options).toEqual(["admin", "developer", "viewer"]);
  });

  it("shows the API's refusal of a role change", async () => {
    serve("owner");
    api.PATCH.mockResolvedValue(answer({ error: "invalid_input", message: "An organization keeps at least one owner.", details: { role: "last owner" } }, 400));
    renderPage(<Members />);
    const owner = await screen.findByLabelText<HTMLSelectElement>("Role of olga@example.com");
    await waitFor(() => expect(owner.disabled).toBe(false));
    fireEvent.change(owner, { target: { value: "admin" } });
    expect((await screen.findByRole("alert")).textContent).toContain("An organization keeps at least one owner.");
    expect(api.PATCH).toHaveBeenCalledWith("/v1/orgs/{org_id}/members/{email}/role", {
      params: { path: { org_id: "org_1", email: "olga@example.com" } },
      body: { role: "admin" },
    });
  });

  it("shows an invitation token once, in password mode", async () => {
    serve("owner", "password");
    api.POST.mockResolvedValue(
      answer({ member_id: "m4", email: "new@example.com", role: "viewer", added_at: "2026-03-02T10:00:00Z", status: "invited", invitation_token: "tok_0123456789abcdef" }, 201),
    );
    renderPage(<Members />);
    fireEvent.change(await screen.findByLabelText("Email"), { target: { value: "new@example.com" } });
    fireEvent.change(await screen.findByLabelText("Role"), { target: { value: "viewer" } });
    fireEvent.click(screen.getByRole("button", { name: "Add member" }));
    expect((await screen.findByLabelText("Invitation token")).textContent).toBe("tok_0123456789abcdef");
    expect(screen.getByText("You will not see it again.")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Done" }));
    await waitFor(() => expect(screen.queryByText("tok_0123456789abcdef")).toBeNull());
  });
});
