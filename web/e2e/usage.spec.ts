import AxeBuilder from "@axe-core/playwright";
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { ADD_FLOW, newTenant, registerFlow, screenshot, signIn, type Tenant } from "./support";

/** axe-core's WCAG 2 A/AA violations of the page as it is (as e2e/a11y.spec.ts checks). */
async function violations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
  return result.violations.map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
}

/** Triggers a run of `flow` through the API and waits until it has completed. */
async function runToCompletion(request: APIRequestContext, tenant: Tenant, flow: string): Promise<void> {
  const created = await request.post("/v1/runs", { headers: tenant.headers, data: { flow_name: flow, parameters: { a: 40, b: 2 } } });
  expect(created.status(), await created.text()).toBe(202);
  const { run_id } = await created.json();
  await expect
    .poll(async () => (await (await request.get(`/v1/runs/${run_id}`, { headers: tenant.headers })).json()).status, { timeout: 30_000 })
    .toBe("completed");
}

test("usage: empty until a flow runs, then charts, costs and quota gauges with a warning", async ({ page, request }) => {
  const tenant = await newTenant(request);
  await signIn(page, tenant, "/usage");
  await expect(page.getByRole("heading", { name: "No usage in the last 30 days" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Trigger a run" })).toBeVisible();
  await screenshot(page, "usage-empty");

  await registerFlow(request, tenant, "adder", ADD_FLOW);
  await runToCompletion(request, tenant, "adder");
  // The free plan with a task allowance of one (a super-admin's override, e2e/support.ts signs in
  // as one): the run's one task reaches it, so the gauge is at its limit.
  const patched = await request.patch(`/v1/admin/customers/${tenant.orgId}`, {
    headers: tenant.headers,
    data: { plan: "free", quota_overrides: { monthly_tasks: 1 } },
  });
  expect(patched.status(), await patched.text()).toBe(200);

  await page.reload();
  const stats = page.getByRole("region", { name: "This billing period" });
  await expect(stats.getByText("Runs", { exact: true })).toBeVisible();
  await expect(stats.locator("dd").nth(1)).toHaveText("1");
  // The chart has a bar; its table says the same in text.
  const overTime = page.getByRole("figure", { name: /Cost over time/ });
  await expect(overTime.locator(".recharts-bar-rectangle path, .recharts-bar-rectangle").first()).toBeVisible();
  await page.getByLabel("Show").selectOption("run_count");
  await expect(page.getByRole("figure", { name: /Runs over time/ })).toContainText("1 in total");
  const byFlow = page.getByRole("figure", { name: /By flow/ });
  await expect(byFlow).toContainText("the most costly is adder");
  await expect(page.getByRole("figure", { name: /By executor/ }).locator(".recharts-bar-rectangle").first()).toBeVisible();
  // Quota: the API's over-limit flag as a banner, each gauge with its state.
  await expect(page.getByRole("alert").filter({ hasText: "A limit is reached" })).toBeVisible();
  await expect(page.getByRole("meter", { name: "Tasks this month" })).toHaveAttribute("aria-valuetext", "1 of 1 (100%), limit reached");
  await expect(page.getByRole("meter", { name: "Runs this month" })).toHaveAttribute("aria-valuetext", "1 of 100 (1%)");
  await screenshot(page, "usage");
  expect(await violations(page)).toEqual([]);
  await page.getByLabel("Theme").selectOption("dark");
  await screenshot(page, "usage-dark");
  expect(await violations(page)).toEqual([]);
  await page.getByLabel("Theme").selectOption("light");

  // The same numbers as a table, by week.
  await page.getByLabel("Granularity").selectOption("week");
  await page.getByRole("figure", { name: /Runs over time/ }).getByRole("button", { name: "Show table" }).click();
  await expect(page.getByRole("figure", { name: /Runs over time/ }).getByRole("table")).toContainText("Week of");
  await byFlow.getByRole("button", { name: "Show table" }).click();
  await expect(byFlow.getByRole("row", { name: /adder/ })).toBeVisible();
  await screenshot(page, "usage-tables");
  expect(await violations(page)).toEqual([]);
});

test("billing: the plan, the plans, and checkout refused without Stripe", async ({ page, request }) => {
  const tenant = await newTenant(request);
  const patched = await request.patch(`/v1/admin/customers/${tenant.orgId}`, { headers: tenant.headers, data: { plan: "free" } });
  expect(patched.status(), await patched.text()).toBe(200);
  await signIn(page, tenant, "/settings/billing");
  await expect(page.getByRole("link", { name: /Billing/ })).toHaveAttribute("href", "/settings/billing");
  await expect(page.locator(".subscription")).toContainText("Free");
  await expect(page.locator(".subscription")).toContainText("active");
  const plans = page.getByRole("list", { name: "Plans" });
  await expect(plans.getByRole("listitem")).toHaveCount(3);
  await expect(plans.getByRole("listitem").filter({ hasText: "Your current plan" })).toContainText("Free");
  await plans.getByRole("button", { name: "Upgrade to Professional" }).click();
  // This server has no Stripe keys: the API's own message, and what it means.
  await expect(page.getByRole("alert")).toContainText("Billing is not configured on this server");
  await expect(page.getByText("Online payments are not set up on this server")).toBeVisible();
  await screenshot(page, "billing");
  expect(await violations(page)).toEqual([]);
});
