import AxeBuilder from "@axe-core/playwright";
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newTenant, screenshot, signIn, SUPERADMIN, type Tenant } from "./support";

const unique = () => `${Date.now()}-${randomBytes(3).toString("hex")}`;

/** A user who is not a super admin, with an org of their own. Only super admins and members may
 * sign in, so a throwaway org of the super admin invites them first. */
async function newCustomer(request: APIRequestContext, prefix: string): Promise<{ email: string; tenant: Tenant }> {
  const inviter = await newTenant(request, SUPERADMIN);
  const email = `${prefix}-${unique()}@e2e.dagy.test`;
  const invited = await request.post(`/v1/orgs/${inviter.orgId}/members`, { headers: inviter.headers, data: { email, role: "viewer" } });
  expect(invited.status(), await invited.text()).toBe(201);
  return { email, tenant: await newTenant(request, email) };
}

test("a super admin suspends and reactivates a customer, grants credits and acts as it", async ({ page, request }) => {
  const admin = await newTenant(request, SUPERADMIN);
  const { email: customerEmail, tenant: customer } = await newCustomer(request, "customer");
  const adminAuth = { Authorization: `Bearer ${admin.token}` };
  const before = await (await request.get(`/v1/admin/customers/${customer.orgId}`, { headers: adminAuth })).json();
  const orgName = before.org_name as string;

  await signIn(page, admin, "/dashboard");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await expect(page.getByRole("heading", { name: "Customers" })).toBeVisible();
  await page.getByRole("searchbox", { name: "Search" }).fill(customerEmail);
  await page.getByRole("button", { name: "Search", exact: true }).click();
  const row = page.getByRole("row").filter({ hasText: customerEmail });
  await expect(row).toHaveCount(1);
  await expect(row.getByText("active")).toBeVisible();
  await screenshot(page, "admin-customers");
  await row.getByRole("link", { name: orgName }).click();
  await expect(page.getByRole("heading", { name: orgName, level: 1 })).toBeVisible();
  await expect(page.getByRole("table", { name: "Members" }).getByRole("cell", { name: customerEmail, exact: true })).toBeVisible();
  await expect(page.getByRole("table", { name: "Active sessions" }).getByRole("cell", { name: customerEmail, exact: true })).toBeVisible();
  await expect(page.getByRole("table", { name: "Usage per month" })).toBeVisible();

  // Suspend: asked first; then the customer's own requests are refused.
  await page.getByRole("button", { name: "Suspend", exact: true }).click();
  await screenshot(page, "admin-suspend-confirm");
  await page.getByRole("dialog", { name: "Suspend" }).getByRole("button", { name: "Suspend organization" }).click();
  const facts = page.getByRole("definition").filter({ hasText: /^(active|suspended)$/ });
  await expect(facts).toHaveText("suspended");
  await expect(page.getByRole("button", { name: "Activate", exact: true })).toBeVisible();
  const refused = await request.get("/v1/flows", { headers: customer.headers });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).error).toBe("org_suspended");
  await screenshot(page, "admin-customer-suspended");

  await page.getByRole("button", { name: "Activate", exact: true }).click();
  await page.getByRole("dialog", { name: "Activate" }).getByRole("button", { name: "Activate organization" }).click();
  await expect(facts).toHaveText("active");
  expect((await request.get("/v1/flows", { headers: customer.headers })).status()).toBe(200);

  // Credits, with a reason.
  await page.getByLabel("Amount").fill("250");
  await page.getByLabel("Reason (optional)").fill("e2e goodwill");
  await page.getByRole("button", { name: "Adjust credits" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Credits adjusted" })).toBeVisible();
  const after = await (await request.get(`/v1/admin/customers/${customer.orgId}`, { headers: adminAuth })).json();
  expect(after.credits_balance).toBe(before.credits_balance + 250);
  await expect(page.getByRole("table", { name: "Recent audit" }).getByText("e2e goodwill").first()).toBeVisible();
  await screenshot(page, "admin-customer");

  // Impersonation: the app acts in the customer's org (its members page lists the customer), with a
  // banner on every page; stopping goes back to the super admin's own org.
  await page.getByRole("button", { name: "Act as this org" }).click();
  await page.getByRole("dialog", { name: "Act as this org" }).getByRole("button", { name: "Start impersonating" }).click();
  const banner = page.getByRole("region", { name: "Impersonation" });
  await expect(banner).toContainText(`You are acting as ${orgName}`);
  await expect(page.getByLabel("Organization")).toHaveValue(customer.orgId);
  await page.goto("/settings/members");
  await expect(banner).toBeVisible();
  await expect(page.getByText(customerEmail).first()).toBeVisible();
  await screenshot(page, "admin-impersonating");
  await banner.getByRole("button", { name: "Stop impersonating" }).click();
  await expect(page.getByRole("heading", { name: orgName, level: 1 })).toBeVisible();
  await expect(banner).toHaveCount(0);
  expect(await page.evaluate(() => localStorage.getItem("dagy.org"))).toBe(admin.orgId);
  await expect(page.getByRole("table", { name: "Recent audit" }).getByText("impersonation").first()).toBeVisible();

  // Revoking the customer's sessions: their token stops working at once.
  const sessions = page.getByRole("table", { name: "Active sessions" });
  await sessions.getByRole("button", { name: `Revoke sessions of ${customerEmail}` }).click();
  await page.getByRole("dialog", { name: `Revoke sessions of ${customerEmail}` }).getByRole("button", { name: "Revoke sessions" }).click();
  await expect(page.getByRole("heading", { name: "Nobody is signed in" })).toBeVisible();
  expect((await request.get("/v1/flows", { headers: customer.headers })).status()).toBe(401);
});

test("exception traces are read, downloaded and cleared", async ({ page, request }) => {
  const admin = await newTenant(request, SUPERADMIN);
  // A trace as the server writes one on an unhandled error, put in its trace folder (no route
  // fails on purpose). The key sorts after the server's own, so it is listed first.
  const key = `trace_zz${randomBytes(12).toString("hex")}`;
  const folder = join(process.env.DAGY_E2E_HOME ?? "", "objects", "exceptions");
  mkdirSync(folder, { recursive: true });
  const file = join(folder, `${key}.json`);
  writeFileSync(file, JSON.stringify({
    key, timestamp: new Date().toISOString(), request_id: "req_e2e", method: "GET", route: "/v1/flows",
    org_id: admin.orgId, user_email: SUPERADMIN, impersonating: false,
    exception_type: "ZeroDivisionError", message: "division by zero", traceback: "Traceback (most recent call last):\nZeroDivisionError: division by zero\n",
  }));

  await signIn(page, admin, "/admin/exceptions");
  const row = page.getByRole("row").filter({ hasText: key });
  await expect(row).toBeVisible();
  await row.getByRole("button", { name: `View ${key}` }).click();
  const trace = page.getByRole("region", { name: `Trace ${key}` });
  await expect(trace).toContainText("ZeroDivisionError");
  await expect(trace.getByLabel("Stack trace")).toContainText("Traceback");
  await screenshot(page, "admin-exceptions");

  const downloading = page.waitForEvent("download");
  await row.getByRole("button", { name: `Download ${key}` }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe(`${key}.json`);
  expect(JSON.parse(readFileSync(await download.path(), "utf8")).message).toBe("division by zero");

  await row.getByRole("checkbox", { name: `Select ${key}` }).check();
  await page.getByRole("button", { name: "Delete selected (1)" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete traces" }).click();
  await expect(page.getByRole("row").filter({ hasText: key })).toHaveCount(0);
  expect(existsSync(file)).toBe(false);
});

test("someone who is not a super admin has no admin console", async ({ page, request }) => {
  const { tenant: member } = await newCustomer(request, "member");
  await signIn(page, member, "/admin");
  await expect(page.getByRole("heading", { name: "The admin console is not available to you" })).toBeVisible();
  // Who the caller is has been read by now (the page above needed it): the header has no link.
  const main = page.getByRole("navigation", { name: "Main" });
  await expect(main.getByRole("link").first()).toBeVisible();
  await expect(main.getByRole("link", { name: "Admin" })).toHaveCount(0);
  await screenshot(page, "admin-not-available");
  expect((await request.get("/v1/admin/customers", { headers: member.headers })).status()).toBe(403);
});

async function violations(page: Page) {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
}

for (const theme of ["light", "dark"] as const) {
  test(`the admin console and the impersonation banner pass axe's WCAG A/AA rules in the ${theme} theme`, async ({ page, request }) => {
    const admin = await newTenant(request, SUPERADMIN);
    const { tenant: customer } = await newCustomer(request, "axe");
    await page.addInitScript((t) => localStorage.setItem("dagy.theme", t), theme);
    await signIn(page, admin, "/admin");
    const found: Record<string, string[]> = {};
    for (const [path, heading] of [["/admin", "Customers"], [`/admin/customers/${customer.orgId}`, "Members"], ["/admin/exceptions", "Exceptions"]]) {
      await page.goto(path);
      await expect(page.getByRole("heading", { name: heading }).first()).toBeVisible();
      await page.waitForLoadState("networkidle");
      const problems = await violations(page);
      if (problems.length) found[path] = problems;
    }
    await page.goto(`/admin/customers/${customer.orgId}`);
    await page.getByRole("button", { name: "Act as this org" }).click();
    await page.getByRole("dialog", { name: "Act as this org" }).getByRole("button", { name: "Start impersonating" }).click();
    await expect(page.getByRole("region", { name: "Impersonation" })).toBeVisible();
    await page.waitForLoadState("networkidle");
    const problems = await violations(page);
    if (problems.length) found["/dashboard (impersonating)"] = problems;
    await screenshot(page, `admin-impersonating-${theme}`);
    expect(found).toEqual({});
  });
}
