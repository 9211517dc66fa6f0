import { expect, test } from "@playwright/test";
import { ADD_FLOW, newTenant, registerFlow, screenshot, signIn } from "./support";

test("a registered flow is listed, searched and drawn as a graph", async ({ page, request }) => {
  const tenant = await newTenant(request);
  await registerFlow(request, tenant, "orders-daily", {
    nodes: [
      { id: "extract", type: "python_function", data: { code: "def main(inputs, params):\n    return {'rows': 3}\n" } },
      { id: "load", type: "python_function", data: { code: "def main(inputs, params):\n    return inputs\n" } },
    ],
    edges: [{ source: "extract", target: "load" }],
  });
  await registerFlow(request, tenant, "hello", ADD_FLOW);
  await signIn(page, tenant, "/flows");
  await expect(page.getByRole("link", { name: "orders-daily" })).toBeVisible();
  await screenshot(page, "flows");
  await page.getByRole("searchbox", { name: "Search by name" }).fill("orders");
  await page.getByRole("searchbox", { name: "Search by name" }).press("Enter");
  await expect(page.getByRole("link", { name: "hello" })).toHaveCount(0);
  await page.getByRole("link", { name: "orders-daily" }).click();
  await expect(page.locator(".react-flow__node")).toHaveCount(2);
  await expect(page.getByRole("link", { name: "Run this flow" }).first()).toBeVisible();
  await screenshot(page, "flow");
});

test("promoting a deployment shows what changes, asks, and moves the version", async ({ page, request }) => {
  const tenant = await newTenant(request);
  const h = { headers: tenant.headers };
  await registerFlow(request, tenant, "hello", ADD_FLOW);
  await registerFlow(request, tenant, "hello", { ...ADD_FLOW, nodes: [{ ...ADD_FLOW.nodes[0], id: "sum" }] });
  for (const env_name of ["staging", "production"]) {
    const created = await request.post("/v1/environments", { ...h, data: { env_name } });
    expect([201, 409]).toContain(created.status());
  }
  for (const [name, environment, flow_version] of [["hello-staging", "staging", 2], ["hello-production", "production", 1]] as const) {
    const deployed = await request.post("/v1/deployments", { ...h, data: { name, flow_name: "hello", flow_version, environment } });
    expect(deployed.status(), await deployed.text()).toBe(201);
  }
  await signIn(page, tenant, "/environments?env=staging&from=staging&to=production");
  await page.getByRole("button", { name: "Promote to production…" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("hello");
  await screenshot(page, "environments-promote");
  await dialog.getByRole("button", { name: /^Promote 1 deployment$/ }).click();
  await expect(page.getByText(/Promoted 1 deployment to production/)).toBeVisible();
  const production = await (await request.get("/v1/deployments/hello-production", h)).json();
  expect(String(production.flow_version)).toBe("2");
});
