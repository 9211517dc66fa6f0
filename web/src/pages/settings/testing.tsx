// For the settings pages' render tests: an answer in openapi-fetch's shape, and a page rendered
// with a fresh query client inside a router.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router";

/** What `api.GET(...)` and friends resolve to: `data` on success, `error` otherwise. */
export function answer(data: unknown, status = 200) {
  const ok = status < 400;
  return {
    data: ok && status !== 204 ? data : undefined,
    error: ok ? undefined : data,
    response: new Response(null, { status }),
  };
}

/** A call the fake API did not expect: a test names every route its page reads. */
export function unexpected(method: string, path: string): never {
  throw new Error(`unexpected ${method} ${path}`);
}

export function renderPage(page: ReactNode, url = "/") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return {
    client,
    ...render(
      <QueryClientProvider client={client}>
        <MemoryRouter initialEntries={[url]}>{page}</MemoryRouter>
      </QueryClientProvider>,
    ),
  };
}
