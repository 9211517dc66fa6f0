import { expect, test } from "@playwright/test";
import { newTenant, screenshot, signIn, SUPERADMIN } from "./support";

test("the landing page comes from /ui/marketing and leads to sign-in", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
  await screenshot(page, "landing");
  await page.getByRole("link", { name: "Sign in" }).first().click();
  await expect(page).toHaveURL(/\/login$/);
});

test("a user signs in with their email, in the server's mode, and lands on the dashboard", async ({ page, request }) => {
  await newTenant(request); // the user has an org
  await page.goto("/login");
  await expect(page.locator('meta[name="dagy-auth-mode"]')).toHaveAttribute("content", "email");
  await screenshot(page, "sign-in");
  await page.getByLabel("Email").fill(SUPERADMIN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Runs" })).toBeVisible();
  await screenshot(page, "dashboard");
});

test("a newcomer with no org is asked to create one", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Email").fill("newcomer@e2e.dagy.test");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Organization name").fill("Newcomer's team");
  await page.getByRole("button", { name: "Create organization" }).click();
  await expect(page.getByRole("combobox", { name: "Organization", exact: true })).toContainText("Newcomer's team");
  await expect(page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Runs" })).toBeVisible();
  await screenshot(page, "first-org");
});

test("an unknown page of the app is the app's own not-found page, the API keeps its 404", async ({ page, request }) => {
  await signIn(page, await newTenant(request), "/no/such/page");
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  const api = await request.get("/v1/no/such/route");
  expect(api.status()).toBe(404);
});

test("by keyboard alone: sign in, skip to the content, open a page from the sidebar", async ({ page, request }) => {
  await newTenant(request);
  await page.goto("/login");
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("Email")).toBeFocused();
  await page.keyboard.type(SUPERADMIN);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/dashboard$/);
  // As a user does: Tab once the dashboard is drawn (the sign-in form may still hold the focus
  // for a moment after the address changes).
  await expect(page.getByRole("heading", { name: "Dashboard", level: 1 })).toBeVisible();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.locator("main#content")).toBeFocused();
  const flows = page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Flows" });
  await flows.focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/flows$/);
});
