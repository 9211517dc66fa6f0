import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Secrets } from "./Secrets";
import { answer, renderPage, unexpected } from "./testing";

const api = vi.hoisted(() => ({ GET: vi.fn(), POST: vi.fn(), PUT: vi.fn(), DELETE: vi.fn() }));
vi.mock("../../api/client", async (real) => ({ ...(await real<typeof import("../../api/client")>()), api }));

const SECRETS = [
  { secret_id: "s1", secret_name: "db-pass", environment: null, created_at: "2026-03-01T10:00:00Z", updated_at: "2026-03-01T10:00:00Z" },
  { secret_id: "s2", secret_name: "stripe-key", environment: "production", created_at: "2026-03-01T10:00:00Z", updated_at: "2026-03-02T10:00:00Z" },
];

beforeEach(() => {
  localStorage.setItem("dagy.org", "org_1");
  api.GET.mockImplementation(async (path: string, init?: { params?: { query?: { environment?: string } } }) => {
    if (path === "/v1/environments") return answer({ items: [{ env_name: "production" }] });
    if (path === "/v1/secrets") return answer({ items: SECRETS, next_token: null });
    if (path === "/v1/secrets/{secret_name}/value") {
      return answer({ secret_name: "db-pass", value: `hunter2 (environment=${JSON.stringify(init?.params?.query?.environment)})` });
    }
    return unexpected("GET", path);
  });
});
afterEach(() => {
  cleanup();
  vi.clearAllMocks();
  localStorage.clear();
});

const valueReads = () => api.GET.mock.calls.filter(([path]) => path === "/v1/secrets/{secret_name}/value");

describe("Secrets", () => {
  it("lists names only, reads a value when asked and forgets it on Hide", async () => {
    renderPage(<Secrets />);
    const row = await screen.findByRole("row", { name: /db-pass/ });
    expect(valueReads()).toHaveLength(0);

    fireEvent.click(within(row).getByRole("button", { name: "Reveal value" }));
    // The secret without an environment is addressed with `environment=` (empty), never guessed.
    expect(await screen.findByLabelText("Value of db-pass")).toHaveProperty("textContent", 'hunter2 (environment="")');
    expect(valueReads()).toHaveLength(1);

    fireEvent.click(within(row).getByRole("button", { name: "Hide value" }));
    await waitFor(() => expect(screen.queryByLabelText("Value of db-pass")).toBeNull());
    expect(screen.queryByText(/hunter2/)).toBeNull();
    expect(valueReads()).toHaveLength(1);
  });

  it("says that a reveal is audited", async () => {
    renderPage(<Secrets />);
    await screen.findByRole("row", { name: /db-pass/ });
    expect(screen.getByText(/Each reveal is recorded in the audit log/)).toBeTruthy();
  });

  it("creates a secret with a hidden value and the environment given", async () => {
    api.POST.mockResolvedValue(answer({ secret_id: "s3", secret_name: "slack", environment: null, created_at: "2026-03-03T10:00:00Z" }, 201));
    renderPage(<Secrets />);
    await screen.findByRole("row", { name: /db-pass/ });
    const value = screen.getByLabelText("Value");
    expect(value.getAttribute("type")).toBe("password");
    fireEvent.click(screen.getByRole("button", { name: "Show characters" }));
    expect(value.getAttribute("type")).toBe("text");

    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "slack" } });
    fireEvent.change(value, { target: { value: "xoxb-1" } });
    fireEvent.click(screen.getByRole("button", { name: "Create secret" }));
    await waitFor(() => expect(api.POST).toHaveBeenCalledWith("/v1/secrets", { body: { secret_name: "slack", value: "xoxb-1", environment: null } }));
    await waitFor(() => expect((value as HTMLInputElement).value).toBe(""));
  });
});
