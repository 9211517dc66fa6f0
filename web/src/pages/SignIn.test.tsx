import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryRouter, Route, Routes, type InitialEntry } from "react-router";
import { parseSsoFragment, safeReturnTo, ssoLoginHref } from "../lib/sso";
import { SignIn } from "./SignIn";
import { answer } from "./settings/testing";

const api = vi.hoisted(() => ({ POST: vi.fn() }));
vi.mock("../api/client", async (real) => ({ ...(await real<typeof import("../api/client")>()), api }));

function serverMode(mode: string) {
  const meta = document.createElement("meta");
  meta.name = "dagy-auth-mode";
  meta.content = mode;
  document.head.appendChild(meta);
}

function renderAt(entry: InitialEntry) {
  return render(
    <MemoryRouter initialEntries={[entry]}>
      <Routes>
        <Route path="/login" element={<SignIn />} />
        <Route path="/runs" element={<p>Runs page</p>} />
        <Route path="/dashboard" element={<p>Dashboard page</p>} />
      </Routes>
    </MemoryRouter>,
  );
}

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
  localStorage.clear();
  document.head.querySelectorAll('meta[name="dagy-auth-mode"]').forEach((meta) => meta.remove());
});

describe("SignIn with single sign-on", () => {
  it("offers the SSO link, coming back to the page that sent the user here, and no email field", () => {
    serverMode("oidc");
    renderAt({ pathname: "/login", state: { from: "/runs?status=failed" } });
    const link = screen.getByRole("link", { name: "Sign in with SSO" });
    expect(link.getAttribute("href")).toBe("/v1/auth/oidc/login?return_to=%2Fruns%3Fstatus%3Dfailed");
    expect(screen.queryByLabelText("Email")).toBeNull();
  });

  it("stores the token the callback handed over and opens the page asked for", async () => {
    renderAt("/login#access_token=tok-123&expires_at=2026-12-07T12%3A00%3A00Z&return_to=%2Fruns");
    expect(await screen.findByText("Runs page")).toBeTruthy();
    expect(localStorage.getItem("dagy.token")).toBe("tok-123");
    expect(api.POST).not.toHaveBeenCalled();
  });

  it("never follows a return_to that leaves the site", async () => {
    renderAt("/login#access_token=tok-456&return_to=%2F%2Fevil.example%2Fx");
    expect(await screen.findByText("Dashboard page")).toBeTruthy();
    expect(localStorage.getItem("dagy.token")).toBe("tok-456");
  });

  it("switches to the SSO link when the server answers sso_required (no mode in the page)", async () => {
    api.POST.mockResolvedValue(answer({ error: "sso_required", message: "This server signs in through single sign-on", details: {} }, 403));
    renderAt("/login");
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "ann@example.com" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("link", { name: "Sign in with SSO" })).toBeTruthy();
    expect(localStorage.getItem("dagy.token")).toBeNull();
  });
});

describe("sso helpers", () => {
  it("keeps return_to a path of this site", () => {
    expect(safeReturnTo("/flows/etl")).toBe("/flows/etl");
    for (const bad of ["https://evil.example", "//evil.example", "/\\evil.example", "runs", "", null]) {
      expect(safeReturnTo(bad)).toBe("/dashboard");
    }
    expect(ssoLoginHref("/dashboard")).toBe("/v1/auth/oidc/login");
  });

  it("reads the fragment only when it carries a token", () => {
    expect(parseSsoFragment("")).toBeNull();
    expect(parseSsoFragment("#return_to=%2Fruns")).toBeNull();
    expect(parseSsoFragment("#access_token=t&return_to=%2Fruns")).toEqual({ token: "t", returnTo: "/runs" });
  });
});
