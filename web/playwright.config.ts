import { defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// End-to-end tests: Debian's Chromium (browsers are not downloaded here), headless, against a real
// `dagy server` started for the run on a fresh home (SQLite, embedded worker) and serving the
// build in src/dagy/server/webapp (`npm run build` first; `make test` does).
// The config is read again in each test worker process: the runner's choice is passed on in the env.
process.env.DAGY_E2E_PORT ??= String(20_000 + (process.pid % 20_000));
const port = Number(process.env.DAGY_E2E_PORT);
const baseURL = `http://127.0.0.1:${port}`;
// e2e/support.ts signs in as the first; the second starts with no org (a newcomer's first steps).
const SUPERADMINS = "owner@e2e.dagy.test,newcomer@e2e.dagy.test";

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results/output",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    headless: true,
    viewport: { width: 1366, height: 800 }, // a laptop screen
    launchOptions: { executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium" },
    permissions: ["clipboard-read", "clipboard-write"],
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  webServer: {
    command: `${process.env.DAGY_BIN ?? "../.venv/bin/dagy"} server --port ${port}`,
    url: `${baseURL}/v1/health`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      DAGY_HOME: (process.env.DAGY_E2E_HOME ??= mkdtempSync(join(tmpdir(), "dagy-e2e-"))),
      DAGY_SUPERADMIN_EMAILS: SUPERADMINS,
      DAGY_HOST: "127.0.0.1",
      DAGY_RATE_LIMIT_PER_MINUTE: "100000",
      // The alerts test's webhook receiver listens on loopback, which the SSRF guard refuses otherwise.
      DAGY_ALLOW_PRIVATE_NETWORK: "true",
    },
  },
});
