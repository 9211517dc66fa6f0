// What the end-to-end tests share: an API client for the set-up a test does not do through the UI
// (signing in, creating an org, registering a flow), signing the browser in, and screenshots.
import { expect, type APIRequestContext, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";

export const SUPERADMIN = "owner@e2e.dagy.test";
export const SCREENSHOTS = "test-results/screenshots";

export type Tenant = { token: string; orgId: string; headers: Record<string, string> };

let counter = 0;

/** A user and an org of their own (a unique org per test keeps the tests independent). */
export async function newTenant(request: APIRequestContext, email = SUPERADMIN): Promise<Tenant> {
  const login = await request.post("/v1/auth/login", { data: { email } });
  expect(login.status()).toBe(200);
  const token = (await login.json()).access_token as string;
  const org = await request.post("/v1/orgs", {
    headers: { Authorization: `Bearer ${token}` },
    data: { org_name: `E2E ${Date.now()} ${++counter}` },
  });
  expect(org.status(), await org.text()).toBe(201);
  const orgId = (await org.json()).org_id as string;
  return { token, orgId, headers: { Authorization: `Bearer ${token}`, "X-Org-Id": orgId } };
}

/** Signs the browser in as the tenant's user, in its org, without going through the form. */
export async function signIn(page: Page, tenant: Tenant, path = "/dashboard"): Promise<void> {
  await page.goto("/login");
  await page.evaluate(({ token, orgId }) => {
    localStorage.setItem("dagy.token", token);
    localStorage.setItem("dagy.org", orgId);
  }, tenant);
  await page.goto(path);
}

/** Registers a DAG flow through the API. */
export async function registerFlow(
  request: APIRequestContext,
  tenant: Tenant,
  flow_name: string,
  flow_spec: Record<string, unknown>,
): Promise<void> {
  const created = await request.post("/v1/flows", { headers: tenant.headers, data: { flow_name, flow_spec } });
  expect(created.status(), await created.text()).toBe(201);
}

/** A flow of one python node that prints and sums its parameters `a` and `b`. */
export const ADD_FLOW = {
  nodes: [
    {
      id: "add",
      type: "python_function",
      data: { code: "def main(inputs, params):\n    print('adding', params['a'], 'and', params['b'])\n    return {'sum': params['a'] + params['b']}\n" },
    },
  ],
  edges: [],
};

/** A flow whose one node sleeps for `seconds` (to be cancelled). */
export function sleepFlow(seconds: number) {
  return {
    nodes: [
      { id: "nap", type: "python_function", data: { code: `import time\n\ndef main(inputs, params):\n    print('napping')\n    time.sleep(${seconds})\n    return {}\n` } },
    ],
    edges: [],
  };
}

/** Saves a full-page screenshot of the page as it is now (test-results/screenshots/<name>.png). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}
