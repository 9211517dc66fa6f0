import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { ADD_FLOW, newTenant, registerFlow, screenshot, signIn } from "./support";

const node = (page: Page, id: string) => page.locator(`.react-flow__node[data-id="${id}"]`);

/** Drags a node type from the panel onto the canvas (HTML5 drag and drop) at a point of the pane. */
async function dropNode(page: Page, nodeType: string, x: number, y: number) {
  await page.locator(`.bp-item[data-node-type="${nodeType}"]`).dragTo(page.locator(".bld-canvas .react-flow__pane"), {
    targetPosition: { x, y },
  });
}

/** Drags with the mouse from one node's output handle to another's input handle. */
async function connect(page: Page, from: string, to: string) {
  const source = node(page, from).locator(".react-flow__handle.source").first();
  const target = node(page, to).locator(".react-flow__handle.target").first();
  const a = (await source.boundingBox())!;
  const b = (await target.boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2 + 10, { steps: 5 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
}

test("a flow built by dragging, connecting and configuring is registered and runs", async ({ page, request }) => {
  const tenant = await newTenant(request);
  await signIn(page, tenant, "/builder");
  await expect(page.getByRole("heading", { name: "Flow builder" })).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: "Not saved yet" })).toBeVisible();

  // Three nodes dragged from the panel; the first change creates the draft and moves the URL to it.
  await dropNode(page, "python_function", 250, 60);
  await expect(node(page, "python_function")).toBeVisible();
  await expect(page).toHaveURL(/\/builder\/[\w-]+$/);
  await dropNode(page, "delay", 250, 220);
  await dropNode(page, "python_function", 250, 380);
  await expect(page.locator(".react-flow__node")).toHaveCount(3);
  await expect(node(page, "python_function_2")).toBeVisible();

  // Connect output → input by mouse; the server checks each connection first.
  await connect(page, "python_function", "delay");
  await expect(page.locator(".react-flow__edge")).toHaveCount(1);
  await connect(page, "delay", "python_function_2");
  await expect(page.locator(".react-flow__edge")).toHaveCount(2);
  // The delay's input takes one edge: a second one is refused with the server's reason.
  await connect(page, "python_function_2", "delay");
  await expect(page.getByRole("alert").filter({ hasText: "was not connected" })).toContainText("takes at most one edge");
  await expect(page.locator(".react-flow__edge")).toHaveCount(2);
  await screenshot(page, "builder-refused-connection");

  // Registering with config missing: the server's problems are pinned to the nodes they name.
  await page.getByLabel("Flow name").fill("builder-e2e");
  await page.getByRole("button", { name: "Register" }).click();
  await expect(page.getByRole("list", { name: "Problems found when registering" })).toContainText("seconds");
  await expect(node(page, "delay").locator(".bn-invalid")).toBeVisible();
  await expect(node(page, "delay")).toContainText("seconds");
  await screenshot(page, "builder-problems");

  // Configure: select a node, fill its form (code in CodeMirror, a number).
  await node(page, "python_function").locator(".bn-id").click();
  const form = page.getByRole("form", { name: "Configure python_function" });
  await form.locator(".cm-content").fill("def main(inputs, params): return {'greeting': 'hi'}");
  await node(page, "delay").locator(".bn-id").click();
  await page.getByRole("form", { name: "Configure delay" }).getByLabel("Seconds").fill("0");
  await node(page, "python_function_2").locator(".bn-id").click();
  await page
    .getByRole("form", { name: "Configure python_function_2" })
    .locator(".cm-content")
    .fill("def main(inputs, params): print('got', inputs); return {'upstream': sorted(inputs)}");
  await expect(page.getByRole("status").filter({ hasText: /^✓?\s*Saved$|^Saved$/ })).toBeVisible();
  const draftUrl = page.url();

  // Reopening the draft's URL restores its nodes, edges and config.
  await page.goto(draftUrl);
  await expect(page.locator(".react-flow__node")).toHaveCount(3);
  await expect(page.locator(".react-flow__edge")).toHaveCount(2);
  await expect(page.getByLabel("Flow name")).toHaveValue("builder-e2e");
  await node(page, "delay").locator(".bn-id").click();
  await expect(page.getByRole("form", { name: "Configure delay" }).getByLabel("Seconds")).toHaveValue("0");
  await screenshot(page, "builder-restored");

  // Register, then run it from the trigger page and see it complete.
  await page.getByRole("button", { name: "Register" }).click();
  const registered = page.getByRole("status").filter({ hasText: "Registered" });
  await expect(registered).toContainText("builder-e2e version 1");
  await expect(registered.getByRole("link", { name: "builder-e2e" })).toHaveAttribute("href", "/flows/builder-e2e");
  await screenshot(page, "builder-registered");
  await registered.getByRole("link", { name: "Run it" }).click();
  await expect(page).toHaveURL(/\/runs\/new\?flow=builder-e2e/);
  await page.getByRole("button", { name: "Trigger run" }).click();
  await expect(page).toHaveURL(/\/runs\/run_\w+$/);
  await expect(page.getByRole("status", { name: "Run status" })).toContainText("completed", { timeout: 30_000 });
  await expect(page.locator(".react-flow__node.status-completed")).toHaveCount(3);
  await screenshot(page, "builder-run");
});

test("keyboard: add from the panel, undo/redo, copy/paste, delete; a version opens in the builder", async ({ page, request }) => {
  const tenant = await newTenant(request);
  const flow_spec = {
    nodes: [
      { id: "first", type: "python_function", data: { code: "def main(inputs, params): return 1" } },
      { id: "second", type: "python_function", data: { code: "def main(inputs, params): return 2" } },
    ],
    edges: [{ source: "first", target: "second" }],
  };
  const created = await request.post("/v1/flows", { headers: tenant.headers, data: { flow_name: "from-api", flow_spec } });
  expect(created.status(), await created.text()).toBe(201);

  // "Open in builder" on the flow's page copies the version into a new draft.
  await signIn(page, tenant, "/flows/from-api");
  await page.getByRole("link", { name: "Open version 1 in the builder" }).click();
  await expect(page).toHaveURL(/\/builder\/[\w-]+$/);
  await expect(page.locator(".react-flow__node")).toHaveCount(2);
  await expect(page.locator(".react-flow__edge")).toHaveCount(1);
  await expect(page.getByLabel("Flow name")).toHaveValue("from-api");

  // Keyboard add: the panel's item pressed with Enter.
  await page.getByRole("searchbox", { name: "Search" }).fill("delay");
  await page.locator('.bp-item[data-node-type="delay"]').focus();
  await page.keyboard.press("Enter");
  await expect(page.locator(".react-flow__node")).toHaveCount(3);
  await expect(page.getByRole("form", { name: "Configure delay" })).toBeVisible();

  // Undo removes it, redo brings it back.
  await page.locator(".react-flow__pane").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("Control+z");
  await expect(page.locator(".react-flow__node")).toHaveCount(2);
  await page.keyboard.press("Control+Shift+z");
  await expect(page.locator(".react-flow__node")).toHaveCount(3);

  // Copy/paste the selected node: a copy with a new id.
  await node(page, "first").locator(".bn-id").click();
  await page.keyboard.press("Control+c");
  await page.keyboard.press("Control+v");
  await expect(node(page, "first_copy")).toBeVisible();
  await expect(page.locator(".react-flow__node")).toHaveCount(4);

  // Delete removes the selection (the pasted copy).
  await page.keyboard.press("Delete");
  await expect(page.locator(".react-flow__node")).toHaveCount(3);
  await page.getByRole("button", { name: "Auto-layout" }).click();
  await expect(page.getByRole("status").filter({ hasText: /Saved$/ })).toBeVisible();
  await screenshot(page, "builder-keyboard");

  // A new canvas from here; the draft just edited is listed to go back to.
  await page.getByRole("link", { name: "Start a new flow" }).click();
  await expect(page).toHaveURL(/\/builder$/);
  await expect(page.locator(".react-flow__node")).toHaveCount(0);
  await expect(page.getByRole("status").filter({ hasText: "Not saved yet" })).toBeVisible();
  await page.getByRole("link", { name: "from-api (from version 1)" }).click();
  await expect(page.locator(".react-flow__node")).toHaveCount(3);
});

for (const theme of ["light", "dark"] as const) {
  test(`the builder passes axe's WCAG A/AA rules in the ${theme} theme, and lists the org's node types`, async ({ page, request }) => {
    const tenant = await newTenant(request);
    await registerFlow(request, tenant, "hello", ADD_FLOW);
    const custom = await request.post("/v1/nodes/registry", {
      headers: tenant.headers,
      data: {
        node_type: "acme_enricher",
        label: "Acme Enricher",
        description: "Adds Acme data to records",
        category: "transform",
        connectors: [
          { id: "data_in", name: "Input", direction: "inbound", data_types: ["json"] },
          { id: "data_out", name: "Output", direction: "outbound", data_types: ["json"] },
        ],
        config_schema: [{ name: "api_key", label: "API key", type: "secret", required: true }],
      },
    });
    expect(custom.status(), await custom.text()).toBe(201);
    await page.addInitScript((t) => localStorage.setItem("dagy.theme", t), theme);
    await signIn(page, tenant, "/builder?flow=hello&version=1");
    await expect(page).toHaveURL(/\/builder\/[\w-]+$/);
    await expect(page.getByRole("heading", { name: "Your organization's" })).toBeVisible();
    await page.getByRole("searchbox", { name: "Search" }).fill("acme");
    await page.getByRole("button", { name: /Acme Enricher/ }).click();
    const form = page.getByRole("form", { name: "Configure acme_enricher" });
    await expect(form.getByLabel("API key")).toBeVisible();
    await expect(form).toContainText("No secrets yet");
    await node(page, "add").locator(".bn-id").click();
    await expect(page.getByRole("form", { name: "Configure add" }).locator(".cm-content")).toContainText("def main");
    await page.waitForLoadState("networkidle");
    const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
    const problems = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
    await screenshot(page, `builder-${theme}`);
    expect(problems).toEqual([]);
  });
}
