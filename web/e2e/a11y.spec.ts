// Accessibility of the main pages, in both themes: axe-core's WCAG 2 A/AA rules (labels, names,
// roles, colour contrast) on each page with real data in it.
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { ADD_FLOW, newTenant, registerFlow, screenshot, signIn } from "./support";

async function violations(page: Page) {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
}

for (const theme of ["light", "dark"] as const) {
  test(`the main pages pass axe's WCAG A/AA rules in the ${theme} theme`, async ({ page, request }) => {
    const tenant = await newTenant(request);
    await registerFlow(request, tenant, "hello", ADD_FLOW);
    const run = await (await request.post("/v1/runs", { headers: tenant.headers, data: { flow_name: "hello", parameters: { a: 1, b: 2 } } })).json();
    await page.addInitScript((t) => localStorage.setItem("dagy.theme", t), theme);
    await signIn(page, tenant, "/dashboard");
    const pages: [string, string][] = [
      ["/dashboard", "Dashboard"],
      [`/runs/${run.run_id}`, "hello"],
      ["/runs", "Runs"],
      ["/runs/new?flow=hello", "Trigger a run"],
      ["/flows", "Flows"],
      ["/flows/hello", "hello"],
      ["/environments", "Environments"],
      ["/schedules?new=1", "Schedules"],
      ["/sensors", "Sensors"],
      ["/settings/api-keys", "API keys"],
      ["/settings/secrets", "Secrets"],
      ["/settings/members", "Members"],
      ["/settings/audit", "Audit log"],
    ];
    const found: Record<string, string[]> = {};
    for (const [path, heading] of pages) {
      await page.goto(path);
      await expect(page.getByRole("heading", { name: heading }).first()).toBeVisible();
      await page.waitForLoadState("networkidle");
      const problems = await violations(page);
      if (problems.length) found[path] = problems;
    }
    await page.goto("/dashboard");
    await screenshot(page, `dashboard-${theme}`);
    expect(found).toEqual({});
  });
}
