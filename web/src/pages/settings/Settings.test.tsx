import { cleanup, screen } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Settings } from "./Settings";
import { answer, renderPage, unexpected } from "./testing";

const api = vi.hoisted(() => ({ GET: vi.fn() }));
vi.mock("../../api/client", async (real) => ({ ...(await real<typeof import("../../api/client")>()), api }));

const section = (section_id: string, title: string, href: string) => ({ section_id, title, href, description: "", permission: null });
const DEVELOPER_SECTIONS = [
  section("profile", "Profile", "/settings/profile"),
  section("secrets", "Secrets", "/settings/secrets"),
  section("notifications", "Notifications", "/settings/notifications"),
];

function renderAt(url: string) {
  return renderPage(
    <Routes>
      <Route path="/settings" element={<Settings />}>
        <Route path="members" element={<p>members page</p>} />
        <Route path="secrets" element={<p>secrets page</p>} />
      </Route>
    </Routes>,
    url,
  );
}

beforeEach(() => {
  api.GET.mockImplementation(async (path: string) =>
    path === "/v1/ui/settings" ? answer({ sections: DEVELOPER_SECTIONS, integrations: [], preferences: {} }) : unexpected("GET", path),
  );
});
afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

describe("Settings", () => {
  it("links the sections the role opens", async () => {
    renderAt("/settings/secrets");
    const nav = await screen.findByRole("navigation", { name: "Settings" });
    expect(await screen.findByRole("link", { name: /Secrets/ })).toHaveProperty("pathname", "/settings/secrets");
    expect(screen.getByRole("link", { name: /Notifications/ })).toHaveProperty("pathname", "/settings/notifications");
    expect(nav.textContent).not.toContain("Members");
    expect(screen.getByText("secrets page")).toBeTruthy();
  });

  it("says so instead of opening a section the role does not open", async () => {
    renderAt("/settings/members");
    expect(await screen.findByText("This section is not open to your role")).toBeTruthy();
    expect(screen.queryByText("members page")).toBeNull();
  });
});
