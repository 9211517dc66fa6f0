import { expect, test } from "@playwright/test";
import { ADD_FLOW, newTenant, registerFlow, screenshot, signIn } from "./support";

test("a schedule made with the cron helper previews its next fire times in its zone", async ({ page, request }) => {
  const tenant = await newTenant(request);
  await registerFlow(request, tenant, "hello", ADD_FLOW);
  await signIn(page, tenant, "/schedules");
  await page.getByRole("button", { name: "New schedule" }).first().click();
  const form = page.getByRole("form", { name: "New schedule" });
  await form.getByLabel("Schedule ID").fill("hello-weekdays");
  await form.getByLabel("Flow", { exact: true }).selectOption("hello");
  await form.getByLabel("Cron", { exact: true }).check();
  await form.getByLabel("Preset").selectOption({ label: "Weekdays (Monday to Friday) at a time" });
  await form.getByLabel("Time of day").fill("06:30");
  await expect(form.getByLabel("Cron expression")).toHaveValue("30 6 * * 1-5");
  await form.getByLabel("Time zone").fill("Europe/Paris");
  const preview = form.getByRole("list", { name: "Next fire times" });
  await expect(preview.getByRole("listitem")).toHaveCount(5);
  await expect(preview.getByRole("listitem").first()).toContainText("06:30 AM GMT+1"); // in Paris, in December
  await form.getByLabel("Parameters (JSON object)").fill('{"a": 1, "b": 2}');
  await screenshot(page, "schedule-new");
  await form.getByRole("button", { name: "Create schedule" }).click();
  await expect(page.getByRole("link", { name: "hello-weekdays" })).toBeVisible();
  const saved = await (await request.get("/v1/schedules/hello-weekdays", { headers: tenant.headers })).json();
  expect(saved.cron_expression).toBe("30 6 * * 1-5");
  expect(saved.timezone).toBe("Europe/Paris");
  expect(new Date(saved.next_run_at).getUTCDay()).not.toBe(0);
  await screenshot(page, "schedules");
});

test("a webhook sensor shows its URL to copy, and a POST to it starts the flow", async ({ page, request }) => {
  const tenant = await newTenant(request);
  await registerFlow(request, tenant, "hello", ADD_FLOW);
  const sensor = await (
    await request.post("/v1/sensors", {
      headers: tenant.headers,
      data: { name: "orders hook", sensor_type: "webhook", flow_name: "hello", flow_params_json: { a: 2, b: 3 } },
    })
  ).json();
  await signIn(page, tenant, `/sensors/${sensor.sensor_id}`);
  await page.getByRole("button", { name: "Copy URL" }).click();
  const url = await page.evaluate(() => navigator.clipboard.readText());
  expect(url).toMatch(/\/v1\/webhooks\//);
  const fired = await request.post(url, { data: { order: 42 } });
  expect(fired.status()).toBe(202);
  await expect(page.getByRole("link", { name: /run/i }).first()).toBeVisible();
  await screenshot(page, "sensor");
});
