import { expect, test } from "@playwright/test";
import { ADD_FLOW, newTenant, registerFlow, screenshot, signIn, sleepFlow } from "./support";

test("a run triggered from the UI completes in its graph, with its streamed logs", async ({ page, request }) => {
  const tenant = await newTenant(request);
  await registerFlow(request, tenant, "hello", ADD_FLOW);
  await signIn(page, tenant, "/runs/new?flow=hello");
  // A DAG flow's version has no parameter schema: its parameters are a JSON object.
  await page.getByLabel("Parameters (JSON object)").fill('{"a": 40, "b": 2}');
  await screenshot(page, "trigger-run");
  await page.getByRole("button", { name: "Trigger run" }).click();
  await expect(page).toHaveURL(/\/runs\/run_\w+$/);
  await expect(page.getByRole("status", { name: "Run status" })).toContainText("completed", { timeout: 30_000 });
  await expect(page.locator(".react-flow__node.status-completed")).toHaveCount(1);
  const logs = page.getByRole("region", { name: "Log lines" });
  await expect(logs).toContainText("adding 40 and 2");
  await page.getByRole("searchbox", { name: "Search the log" }).fill("adding");
  await expect(logs.locator("mark")).toContainText("adding");
  await expect(page.getByText('"sum": 42')).toBeVisible();
  await screenshot(page, "run");
  await page.getByRole("button", { name: "Timeline" }).click();
  await screenshot(page, "run-timeline");
  await page.goto("/runs");
  await expect(page.locator("tbody tr")).toHaveCount(1);
  await screenshot(page, "runs");
});

test("a long run is cancelled from its page", async ({ page, request }) => {
  const tenant = await newTenant(request);
  await registerFlow(request, tenant, "nap", sleepFlow(120));
  const run = await (await request.post("/v1/runs", { headers: tenant.headers, data: { flow_name: "nap" } })).json();
  await signIn(page, tenant, `/runs/${run.run_id}`);
  await expect(page.getByRole("status", { name: "Run status" })).toContainText("running", { timeout: 30_000 });
  await expect(page.getByRole("region", { name: "Log lines" })).toContainText("napping");
  await page.getByRole("button", { name: "Cancel run" }).click();
  await page.getByRole("button", { name: "Yes, cancel the run" }).click();
  await expect(page.getByRole("status", { name: "Run status" })).toContainText("cancelled", { timeout: 30_000 });
  await expect(page.getByRole("button", { name: "Cancel run" })).toHaveCount(0);
  const after = await (await request.get(`/v1/runs/${run.run_id}`, { headers: tenant.headers })).json();
  expect(after.status).toBe("cancelled");
});
