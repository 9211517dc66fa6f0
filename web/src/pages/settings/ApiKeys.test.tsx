import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiKeys } from "./ApiKeys";
import { answer, renderPage, unexpected } from "./testing";

const api = vi.hoisted(() => ({ GET: vi.fn(), POST: vi.fn(), DELETE: vi.fn() }));
vi.mock("../../api/client", async (real) => ({ ...(await real<typeof import("../../api/client")>()), api }));

const ROLES = {
  owner: ["flows.read", "runs.read", "runs.trigger", "admin.api_keys", "billing.write"],
  admin: ["flows.read", "runs.read", "runs.trigger", "admin.api_keys"],
  viewer: ["flows.read", "runs.read"],
};
const PREFERENCES = { email: "ann@example.com", org_id: "org_1", org_name: "Acme", role: "admin", auth_mode: "email", theme: "system", timezone: "UTC" };
const FULL_KEY = "dagy_sk_ci_0123456789abcdefghijklmnopqrstuvwxyzABCD";

beforeEach(() => {
  localStorage.setItem("dagy.org", "org_1");
  api.GET.mockImplementation(async (path: string) => {
    if (path === "/v1/ui/settings") return answer({ sections: [], integrations: [], preferences: PREFERENCES });
    if (path === "/v1/orgs/{org_id}/roles") return answer({ roles: ROLES });
    if (path === "/v1/api-keys") return answer({ items: [], next_token: null });
    return unexpected("GET", path);
  });
});
afterEach(() => {
  cleanup();
  vi.clearAllMocks();
  localStorage.clear();
});

describe("ApiKeys", () => {
  it("offers only the scopes the caller's role holds, and presets of roles within them", async () => {
    renderPage(<ApiKeys />);
    await screen.findByText("No API keys yet");
    const presets = await screen.findByRole("group", { name: "Fill in the scopes of a role" });
    // An admin cannot fill in the owner's scopes here: the owner's list is not within an admin's.
    expect(within(presets).queryByRole("button", { name: "owner" })).toBeNull();
    expect(within(presets).getByRole("button", { name: "admin" })).toBeTruthy();
    expect(within(presets).getByRole("button", { name: "viewer" })).toBeTruthy();
    expect(screen.getAllByRole("checkbox").map((box) => box.closest("label")!.textContent)).toEqual(ROLES.admin);
  });

  it("refuses an empty form without calling the API", async () => {
    renderPage(<ApiKeys />);
    fireEvent.click(await screen.findByRole("button", { name: "Create key" }));
    expect(await screen.findByText("Give the key a name.")).toBeTruthy();
    expect(screen.getByText("Choose at least one scope.")).toBeTruthy();
    expect(api.POST).not.toHaveBeenCalled();
  });

  it("shows the new key once, with a copy button, and forgets it when dismissed", async () => {
    api.POST.mockResolvedValue(
      answer({ key_id: "key_1", name: "CI", key: FULL_KEY, key_prefix: "dagy_sk_ci_0123***", environment: "ci", scopes: ROLES.viewer, created_at: "2026-03-01T10:00:00Z" }, 201),
    );
    renderPage(<ApiKeys />);
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: " CI " } });
    fireEvent.change(screen.getByLabelText("Environment tag"), { target: { value: "ci" } });
    fireEvent.click(screen.getByRole("button", { name: "viewer" }));
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));

    await waitFor(() => expect(api.POST).toHaveBeenCalledWith("/v1/api-keys", { body: { name: "CI", environment: "ci", scopes: ["flows.read", "runs.read"] } }));
    expect((await screen.findByLabelText("New API key")).textContent).toBe(FULL_KEY);
    expect(screen.getByText(/You will not see it again/)).toBeTruthy();
    expect(screen.getByRole("button", { name: "Copy key" })).toBeTruthy();

    fireEvent.click(screen.getByRole("button", { name: "I have copied it" }));
    await waitFor(() => expect(screen.queryByText(FULL_KEY)).toBeNull());
    expect(screen.getByRole("button", { name: "Create key" })).toBeTruthy();
  });
});
