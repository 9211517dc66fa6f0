import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { ADD_FLOW, newTenant, registerFlow, screenshot, signIn } from "./support";

type Received = { path: string; headers: IncomingHttpHeaders; body: Record<string, unknown> };

/** An HTTP receiver on loopback that records each POST it gets (the webhook channel's target).
 * The server must allow private addresses for it: DAGY_ALLOW_PRIVATE_NETWORK=true. */
async function receiver() {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body: raw ? JSON.parse(raw) : {} });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/dagy`, received, close: () => new Promise((resolve) => server.close(resolve)) };
}

test("a webhook channel and a rule made in the UI: the test send reaches the receiver, a run's alert is in the history", async ({ page, request }) => {
  const hook = await receiver();
  try {
    const tenant = await newTenant(request);
    await registerFlow(request, tenant, "adder", ADD_FLOW);
    await signIn(page, tenant, "/settings/notifications");
    await expect(page.getByRole("heading", { name: "No channels yet" })).toBeVisible();

    // The channel: a webhook with a header and a signing secret, both masked once saved.
    await page.getByLabel("Channel type").selectOption("webhook");
    await page.getByLabel("Channel name").fill("Ops receiver");
    await page.getByLabel("URL", { exact: true }).fill(hook.url);
    await page.getByLabel("Headers (optional)").fill("X-Team: data");
    await page.getByLabel("Signing secret (optional)", { exact: true }).fill("sh-secret");
    await page.getByRole("button", { name: "Create channel" }).click();
    const channelRow = page.getByRole("table", { name: "Channels" }).getByRole("row", { name: /Ops receiver/ });
    await expect(channelRow).toContainText("Webhook");
    await channelRow.getByRole("button", { name: "Settings" }).click();
    const settings = page.getByRole("definition").filter({ hasText: "********" });
    await expect(settings).toHaveCount(2); // the header's value and the secret
    await expect(page.getByText("sh-secret")).toHaveCount(0);

    // The rule: successes of the flow "adder", to that channel.
    await page.getByLabel("Rule name").fill("Adder done");
    await page.getByLabel("When").selectOption("on_success");
    await page.getByLabel("Flow (optional)").fill("adder");
    await page.getByRole("group", { name: "Send to" }).getByLabel(/Ops receiver/).check();
    await page.getByRole("button", { name: "Create rule" }).click();
    const ruleRow = page.getByRole("table", { name: "Alert rules" }).getByRole("row", { name: /Adder done/ });
    await expect(ruleRow).toContainText("A run succeeds");
    await expect(ruleRow).toContainText("Ops receiver");
    await screenshot(page, "notifications");

    // Send test: the UI says delivered, and the receiver got the test message.
    await ruleRow.getByRole("button", { name: "Send test" }).click();
    const result = page.getByLabel("Test of Adder done");
    await expect(result).toContainText("Sent: Test notification sent to 1 channel");
    await expect(result).toContainText("Ops receiver (webhook): delivered");
    expect(hook.received).toHaveLength(1);
    const test = hook.received[0];
    expect(test.path).toBe("/hooks/dagy");
    expect(test.headers["x-team"]).toBe("data");
    expect(test.headers["x-dagy-signature"]).toBeTruthy();
    expect(JSON.stringify(test.body)).toContain('"test"');
    await screenshot(page, "notifications-test-sent");

    // A real run of the flow: its success is delivered through the outbox and listed.
    const run = await (await request.post("/v1/runs", { headers: tenant.headers, data: { flow_name: "adder", parameters: { a: 1, b: 2 } } })).json();
    await ruleRow.getByRole("button", { name: "Deliveries" }).click();
    const history = page.getByRole("table", { name: "Deliveries of Adder done" });
    await expect(history.getByRole("row", { name: new RegExp(run.run_id) })).toContainText("sent", { timeout: 30_000 });
    expect(hook.received.some((r) => JSON.stringify(r.body).includes(run.run_id))).toBe(true);
    await screenshot(page, "notifications-deliveries");
    const axe = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
    expect(axe.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(" | ")}`)).toEqual([]);

    // The channel cannot go while the rule uses it; after the rule, it can.
    await channelRow.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("button", { name: "Delete channel" }).click();
    await expect(page.getByRole("dialog", { name: "Delete" }).getByRole("alert")).toBeVisible();
    await page.getByRole("dialog", { name: "Delete" }).getByRole("button", { name: "Cancel" }).click();
    await ruleRow.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("button", { name: "Delete rule" }).click();
    await expect(page.getByRole("heading", { name: "No alert rules yet" })).toBeVisible();
    await channelRow.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("button", { name: "Delete channel" }).click();
    await expect(page.getByRole("heading", { name: "No channels yet" })).toBeVisible();
  } finally {
    await hook.close();
  }
});
