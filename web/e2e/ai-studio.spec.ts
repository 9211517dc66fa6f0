import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { newTenant, screenshot, signIn } from "./support";

/** axe-core's WCAG 2 A/AA violations on the page as it is now (as a11y.spec.ts checks). */
async function violations(page: Page) {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
}

// A request the embedded planner builds into five steps (tests/server/ai_studio_planner/corpus.yaml).
const BUILD =
  "Build a workflow that reads JSON from S3, validates schema, normalizes records, deduplicates, and writes back to S3.";

test("a session builds a workflow from a streamed turn, takes an attachment, and registers the flow", async ({ page, request }) => {
  const tenant = await newTenant(request);
  // A new org has no credits; the e2e user is a super admin and grants some.
  const granted = await request.post(`/v1/admin/customers/${tenant.orgId}/credits`, {
    headers: tenant.headers,
    data: { amount: 50, reason: "e2e" },
  });
  expect(granted.status(), await granted.text()).toBe(200);

  await signIn(page, tenant, "/ai-studio");
  await expect(page.getByRole("heading", { name: "No sessions yet" })).toBeVisible();
  await screenshot(page, "ai-studio-empty");

  await page.getByRole("button", { name: "New session" }).click();
  await expect(page).toHaveURL(/\/ai-studio\/ais_/);
  await expect(page.getByRole("heading", { name: "New session", level: 1 })).toBeVisible();
  await expect(page.getByTestId("credits-balance")).toHaveText("50");
  await expect(page.getByLabel("Model tier")).toHaveValue("standard");
  await expect(page.getByRole("heading", { name: "Describe the workflow you want" })).toBeVisible();

  // Rename it, and change its tier (priced in the select).
  await page.getByRole("button", { name: "Rename" }).click();
  await page.getByLabel("Session title").fill("Orders cleanup");
  await page.getByRole("button", { name: "Save title" }).click();
  await expect(page.getByRole("heading", { name: "Orders cleanup", level: 1 })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Sessions" }).getByRole("link", { name: /Orders cleanup/ })).toBeVisible();
  await page.getByLabel("Model tier").selectOption({ label: "Fast — 1 credit per turn" });
  await expect(page.getByLabel("Model tier")).toHaveValue("fast");

  // A data file gives the turn its records' fields: upload it (initiate, PUT, complete).
  await page.getByLabel("Attach files").setInputFiles({
    name: "orders.csv",
    mimeType: "text/csv",
    buffer: Buffer.from("id,email,amount\n1,a@example.com,10.5\n2,b@example.com,3\n"),
  });
  const attached = page.getByRole("region", { name: "Attachments" }).getByRole("listitem").filter({ hasText: "orders.csv" });
  await expect(attached).toContainText("fields: id, email, amount");

  // Send the turn: the reply streams in, then the workflow is drawn and validated.
  await page.getByRole("textbox", { name: "Message" }).fill(BUILD);
  await page.getByRole("button", { name: "Send" }).click();
  const log = page.getByRole("list", { name: "Messages" });
  await expect(log.getByText(BUILD)).toBeVisible();
  await expect(log.getByText(/I built a 5-step workflow/)).toBeVisible();
  await expect(page.getByRole("figure", { name: "Workflow graph of 5 steps" })).toBeVisible();
  await expect(page.locator(".studio-graph .react-flow__node")).toHaveCount(5);
  await expect(page.getByText("✓ Passes the flow validator.")).toBeVisible();
  await expect(log.getByText("built a workflow · 1 credit")).toBeVisible();
  await expect(page.getByTestId("credits-balance")).toHaveText("49");
  await expect(page.getByRole("textbox", { name: "Message" })).toHaveValue("");
  await screenshot(page, "ai-studio-built");
  expect(await violations(page)).toEqual([]);

  // A modify turn edits the canvas: the graph is redrawn with one step fewer.
  await page.getByRole("textbox", { name: "Message" }).fill("remove the deduplication step");
  await page.keyboard.press("Enter");
  await expect(log.getByText(/I changed the workflow: removed Deduplicate by id/)).toBeVisible();
  await expect(page.getByRole("figure", { name: "Workflow graph of 4 steps" })).toBeVisible();
  await expect(log.getByText("changed the workflow · 1 credit")).toBeVisible();
  await expect(page.getByTestId("credits-balance")).toHaveText("48");

  // The attachment is removed again.
  await attached.getByRole("button", { name: "Remove orders.csv" }).click();
  await expect(attached).toHaveCount(0);

  // Register the canvas as a flow, then see it on its page.
  await expect(page.getByLabel("Flow name")).toHaveValue("orders-cleanup"); // offered from the session's title
  await page.getByRole("button", { name: "Register this flow" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Registered orders-cleanup, version 1." })).toBeVisible();
  const flow = await request.get("/v1/flows/orders-cleanup/latest", { headers: tenant.headers });
  expect(flow.status()).toBe(200);
  const bound = await request.get("/v1/ai-studio/sessions/by-flow/orders-cleanup", { headers: tenant.headers });
  expect(bound.status()).toBe(200);
  await screenshot(page, "ai-studio-registered");
  await page.getByRole("link", { name: "orders-cleanup" }).first().click();
  await expect(page).toHaveURL(/\/flows\/orders-cleanup$/);
  await expect(page.getByRole("heading", { name: "orders-cleanup", level: 1 })).toBeVisible();

  // "Open in builder" makes a DAG draft of the canvas and goes to it.
  await page.goBack();
  await page.getByRole("button", { name: "Open in builder" }).click();
  await expect(page).toHaveURL(/\/builder\/draft_/);
  const draftId = new URL(page.url()).pathname.split("/").pop()!;
  const draft = await (await request.get(`/v1/dag-drafts/${draftId}`, { headers: tenant.headers })).json();
  expect(draft.canvas_json.nodes).toHaveLength(4);
});

test("without credits a turn is refused with the API's message; a session is archived and deleted", async ({ page, request }) => {
  const tenant = await newTenant(request);
  await page.addInitScript(() => localStorage.setItem("dagy.theme", "dark"));
  await signIn(page, tenant, "/ai-studio");
  await page.getByRole("button", { name: "New session" }).click();
  await expect(page.getByTestId("credits-balance")).toHaveText("0");
  await expect(page.getByText(/A turn on this tier costs 4 credits and your organization has 0/)).toBeVisible();

  await page.getByRole("textbox", { name: "Message" }).fill("Build an S3 validation workflow");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByRole("alert")).toHaveText("A turn costs 4 credits; the organization has 0.credits: 4 needed, 0 available");
  // The refused message stays in the composer, to send again once there are credits.
  await expect(page.getByRole("textbox", { name: "Message" })).toHaveValue("Build an S3 validation workflow");
  await expect(page.getByRole("list", { name: "Messages" })).toHaveCount(0);
  await screenshot(page, "ai-studio-no-credits");
  expect(await violations(page)).toEqual([]);

  // Archived: no more turns; listed only with "Show archived".
  await page.getByRole("button", { name: "Archive" }).click();
  await expect(page.getByText("archived", { exact: true })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Message" })).toBeDisabled();
  const sessions = page.getByRole("navigation", { name: "Sessions" });
  await expect(sessions.getByRole("link")).toHaveCount(0);
  await sessions.getByLabel("Show archived").check();
  await expect(sessions.getByRole("link", { name: /New session/ })).toBeVisible();

  // Deleted after confirming: gone from the list and the API.
  const sessionId = new URL(page.url()).pathname.split("/").pop()!;
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete session" }).click();
  await expect(page).toHaveURL(/\/ai-studio$/);
  await expect(sessions.getByRole("link")).toHaveCount(0);
  expect((await request.get(`/v1/ai-studio/sessions/${sessionId}`, { headers: tenant.headers })).status()).toBe(404);
});
