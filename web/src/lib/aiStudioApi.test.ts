import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// openapi-fetch takes the global fetch and Request when the client is created (on import), so the
// stand-ins are in place before any module is imported; each test says what fetch answers. Node's
// Request (jsdom has none) refuses a relative URL, which a browser resolves against the page's.
const fetchMock = vi.hoisted(() => {
  const mock = vi.fn<(request: Request) => Promise<Response>>();
  globalThis.fetch = mock as unknown as typeof fetch;
  const NodeRequest = globalThis.Request;
  globalThis.Request = class extends NodeRequest {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === "string" ? new URL(input, window.location.href) : input, init);
    }
  };
  return mock;
});

import { RequestFailed } from "../api/client";
import { startImpersonation } from "./adminSession";
import type { LiveTurn } from "./aiStudio";
import { streamTurn, studioApi } from "./aiStudioApi";

/** A streamed answer whose body arrives in the given pieces. */
function sse(pieces: string[]): Response {
  const bytes = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const piece of pieces) controller.enqueue(bytes.encode(piece));
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

function sent(): Request {
  expect(fetchMock).toHaveBeenCalledTimes(1);
  return fetchMock.mock.calls[0][0];
}

beforeEach(() => {
  localStorage.setItem("dagy.token", "tok");
  localStorage.setItem("dagy.org", "org_1");
});

afterEach(() => {
  vi.restoreAllMocks();
  fetchMock.mockReset();
  localStorage.clear();
  sessionStorage.clear();
});

describe("streamTurn", () => {
  it("posts the turn with the session's headers and its key, and reports each event as it arrives", async () => {
    fetchMock.mockImplementation(async () =>
      sse([
        'event: status\ndata: {"stage":"received","message":"Working on it."}\n\nevent: tok',
        'en\ndata: {"text":"I built "}\n\n',
        'event: token\ndata: {"text":"it."}\n\nevent: done\ndata: {"response":"I built it.","canvas_state":{"nodes":[],"edges":[]}}\n\n',
      ]),
    );
    const seen: LiveTurn[] = [];
    const final = await streamTurn("ais_1", "build it", "web-key", (turn) => seen.push(turn));

    const request = sent();
    expect(new URL(request.url).pathname).toBe("/v1/ai-studio/sessions/ais_1/messages/stream");
    expect(request.method).toBe("POST");
    expect(request.headers.get("Authorization")).toBe("Bearer tok");
    expect(request.headers.get("X-Org-Id")).toBe("org_1");
    expect(request.headers.get("X-Idempotency-Key")).toBe("web-key");
    expect(request.headers.get("Accept")).toBe("text/event-stream");
    expect(await request.json()).toEqual({ message: "build it", intent: "auto", turn_id: "web-key" });

    expect(seen.map((t) => t.text)).toEqual(["", "I built ", "I built it."]);
    expect(final.answer?.response).toBe("I built it.");
    expect(final.canvas).toEqual({ nodes: [], edges: [] });
  });

  it("goes through the client's middleware: an impersonating super admin's turn names the org", async () => {
    startImpersonation("org_customer", "Customer");
    fetchMock.mockImplementation(async () => sse(['event: done\ndata: {"response":"Hi."}\n\n']));
    await streamTurn("ais_1", "hello", "k", () => {});
    expect(sent().headers.get("X-Impersonate-Org")).toBe("org_customer");
  });

  it("throws a refusal before the stream with the API's message", async () => {
    const refusal = { error: "insufficient_credits", message: "A turn costs 4 credits; the organization has 0.", details: {} };
    fetchMock.mockImplementation(async () => new Response(JSON.stringify(refusal), { status: 402 }));
    const error = await streamTurn("ais_1", "x", "k", () => {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestFailed);
    expect((error as RequestFailed).status).toBe(402);
    expect((error as RequestFailed).message).toBe(refusal.message);
  });

  it("signs the browser out on a 401, as every typed request does", async () => {
    const assign = vi.fn();
    vi.spyOn(window, "location", "get").mockReturnValue({ ...window.location, assign });
    fetchMock.mockImplementation(async () => new Response(JSON.stringify({ error: "unauthorized", message: "Sign in again." }), { status: 401 }));
    await expect(streamTurn("ais_1", "x", "k", () => {})).rejects.toBeInstanceOf(RequestFailed);
    expect(localStorage.getItem("dagy.token")).toBeNull();
    expect(assign).toHaveBeenCalledWith("/login");
  });
});

describe("studioApi", () => {
  it("creates a session with the server's defaults and answers it", async () => {
    const created = { session_id: "ais_2", title: "New session", tier: "standard", turns: [], attachments: [] };
    fetchMock.mockImplementation(async () => Response.json(created, { status: 201 }));
    expect(await studioApi.create()).toEqual(created);
    const request = sent();
    expect(request.method).toBe("POST");
    expect(new URL(request.url).pathname).toBe("/v1/ai-studio/sessions");
    expect(await request.json()).toEqual({});
  });

  it("lists sessions with the archived ones when asked", async () => {
    fetchMock.mockImplementation(async () => Response.json({ items: [], next_token: null }));
    await studioApi.sessions(true);
    const url = new URL(sent().url);
    expect(url.pathname).toBe("/v1/ai-studio/sessions");
    expect(url.searchParams.get("include_archived")).toBe("true");
    expect(url.searchParams.get("limit")).toBe("100");
  });

  it("deletes an attachment by both ids, answering nothing for a 204", async () => {
    fetchMock.mockImplementation(async () => new Response(null, { status: 204 }));
    expect(await studioApi.removeAttachment("ais 1", "aiatt_1")).toBeUndefined();
    const request = sent();
    expect(request.method).toBe("DELETE");
    expect(new URL(request.url).pathname).toBe("/v1/ai-studio/sessions/ais%201/attachments/aiatt_1");
  });
});
