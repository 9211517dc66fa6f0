import { expect, test } from "@playwright/test";
import { newTenant, screenshot, signIn } from "./support";

test("an API key is shown once, copied, and works", async ({ page, request }) => {
  const tenant = await newTenant(request);
  await signIn(page, tenant, "/settings/api-keys");
  await page.getByLabel("Name").fill("ci deploys");
  await page.getByRole("group", { name: "Fill in the scopes of a role" }).getByRole("button", { name: "developer" }).click();
  await page.getByRole("button", { name: "Create key" }).click();
  const key = page.getByLabel("New API key");
  await expect(key).toHaveText(/^dagy_sk_/);
  const secret = (await key.textContent()) ?? "";
  await page.getByRole("button", { name: "Copy key" }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await screenshot(page, "api-key-created");
  await page.getByRole("button", { name: "I have copied it" }).click();
  await expect(page.getByLabel("New API key")).toHaveCount(0);
  await expect(page.getByRole("cell", { name: "ci deploys" })).toBeVisible();
  await screenshot(page, "api-keys");
  // The key is real: it reads the org's flows.
  const flows = await request.get("/v1/flows", { headers: { Authorization: `Bearer ${secret}`, "X-Org-Id": tenant.orgId } });
  expect(flows.status()).toBe(200);
});

test("a secret is created without showing its value, revealed on demand, and the read is audited", async ({ page, request }) => {
  const tenant = await newTenant(request);
  await signIn(page, tenant, "/settings/secrets");
  await page.getByLabel("Name").fill("WAREHOUSE_PASSWORD");
  await page.getByLabel("Value", { exact: true }).fill("s3cr3t-value");
  await expect(page.getByLabel("Value", { exact: true })).toHaveAttribute("type", "password");
  await page.getByRole("button", { name: "Create secret" }).click();
  await expect(page.getByRole("cell", { name: "WAREHOUSE_PASSWORD" })).toBeVisible();
  await expect(page.getByText("s3cr3t-value")).toHaveCount(0);
  await screenshot(page, "secrets");
  await page.getByRole("button", { name: "Reveal value" }).click();
  await expect(page.getByLabel("Value of WAREHOUSE_PASSWORD")).toHaveText("s3cr3t-value");
  await page.getByRole("button", { name: "Hide value" }).click();
  await expect(page.getByLabel("Value of WAREHOUSE_PASSWORD")).toHaveCount(0);
  const audit = await (await request.get("/v1/audit-logs?action=read", { headers: tenant.headers })).json();
  expect(audit.items.some((entry: { resource_type: string }) => entry.resource_type === "secret")).toBe(true);
  await page.goto("/settings/audit");
  await expect(page.getByRole("search", { name: "Audit log filters" })).toBeVisible();
  await screenshot(page, "audit-log");
});

test("members and roles", async ({ page, request }) => {
  const tenant = await newTenant(request);
  await signIn(page, tenant, "/settings/members");
  await page.getByLabel("Email").fill("analyst@e2e.dagy.test");
  await page.getByLabel("Role", { exact: true }).selectOption("viewer");
  await page.getByRole("button", { name: "Add member" }).click();
  await expect(page.getByLabel("Role of analyst@e2e.dagy.test")).toHaveValue("viewer");
  await page.getByLabel("Role of analyst@e2e.dagy.test").selectOption("developer");
  await expect
    .poll(async () => {
      const members = await (await request.get(`/v1/orgs/${tenant.orgId}/members`, { headers: tenant.headers })).json();
      return members.items.find((m: { email: string }) => m.email === "analyst@e2e.dagy.test")?.role;
    })
    .toBe("developer");
  await screenshot(page, "members");
});
