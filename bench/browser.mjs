// What the browser benchmarks (web.mjs, builder.mjs, ai_studio_web.mjs) share: Playwright's
// Chromium from web/node_modules, a `dagy server` started on a fresh home on loopback, a tenant
// signed in through the API and in a browser context, frame counting, and statistics.
//
// The server: SQLite, a fresh DAGY_HOME, the embedded worker, serving the web build in
// src/dagy/server/webapp (`make web` first) or DAGY_WEB_DIR's. Chromium is Debian's (CHROMIUM,
// default /usr/bin/chromium), headless.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = new URL("..", import.meta.url).pathname;
const { chromium } = createRequire(join(ROOT, "web/package.json"))("@playwright/test");
const EMAIL = "bench@dagy.test";

const sorted = (xs) => [...xs].sort((a, b) => a - b);
export const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];
export const p95 = (xs) => sorted(xs)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];
export const round1 = (x) => Math.round(x * 10) / 10;

/**
 * Starts `dagy server` (`env` added to its environment; the bench user is a super admin) and
 * waits until it answers. Returns its base URL, a JSON caller of its API, a tenant maker and stop().
 */
export async function startServer(name, env = {}) {
  const port = 21_000 + (process.pid % 20_000);
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(join(ROOT, ".venv/bin/dagy"), ["server", "--port", String(port)], {
    env: {
      ...process.env,
      DAGY_HOME: mkdtempSync(join(tmpdir(), `dagy-bench-${name}-`)),
      DAGY_HOST: "127.0.0.1",
      DAGY_SUPERADMIN_EMAILS: EMAIL,
      DAGY_RATE_LIMIT_PER_MINUTE: "1000000",
      ...env,
    },
    stdio: "ignore",
  });

  async function api(method, path, body, headers = {}) {
    const response = await fetch(`${base}/v1${path}`, {
      method,
      headers: { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  /** The bench user signed in, in a new org of theirs: its token, org and request headers. */
  async function tenant(orgName) {
    const { access_token: token } = await api("POST", "/auth/login", { email: EMAIL });
    const { org_id: orgId } = await api("POST", "/orgs", { org_name: orgName }, { Authorization: `Bearer ${token}` });
    return { token, orgId, headers: { Authorization: `Bearer ${token}`, "X-Org-Id": orgId } };
  }

  const server = { base, api, tenant, stop: () => child.kill("SIGTERM") };
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${base}/v1/health`)).ok) return server;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  server.stop();
  throw new Error("the server did not start");
}

export const launchBrowser = () => chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true });

/** A new browser context on a laptop screen, signed in as `tenant` (the app's localStorage keys). */
export async function signedInContext(browser, tenant) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  await context.addInitScript(({ token, orgId }) => {
    localStorage.setItem("dagy.token", token);
    localStorage.setItem("dagy.org", orgId);
  }, { token: tenant.token, orgId: tenant.orgId });
  return context;
}

/** Starts counting the page's frames (requestAnimationFrame). */
export async function startFrames(page) {
  await page.evaluate(() => {
    const state = (window.__frames = { times: [], stop: false });
    const tick = (t) => {
      state.times.push(t);
      if (!state.stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

/** Stops counting: frames per second, the frames longer than 50 ms, and the longest (ms). */
export async function stopFrames(page) {
  const frames = await page.evaluate(() => {
    window.__frames.stop = true;
    const t = window.__frames.times;
    const gaps = t.slice(1).map((x, i) => x - t[i]);
    return { count: t.length, span: (t[t.length - 1] - t[0]) / 1000, long: gaps.filter((g) => g > 50).length, worst: Math.max(...gaps) };
  });
  return { fps: frames.count / frames.span, long: frames.long, worst: frames.worst };
}
