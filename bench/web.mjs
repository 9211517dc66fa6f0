// The web app in a real browser: cold loads, the JavaScript they need, and the run page's frame
// rate while a 200-node run changes its nodes' statuses.
//
//   node bench/web.mjs [--rounds 5] [--parallel 20] [--sleep 0.8]
//
// Starts `dagy server` (SQLite, fresh DAGY_HOME, embedded worker, the build in
// src/dagy/server/webapp: `make web` first) and drives Debian's Chromium headless (CHROMIUM,
// default /usr/bin/chromium) with Playwright from web/node_modules, on loopback.
// - Cold load: a new browser context each round (empty cache), signed in; the time from navigation
//   start until the page is usable: the dashboard's widgets drawn, the run page's 200 graph nodes
//   drawn. Median of the rounds.
// - JavaScript: gzip bytes of the scripts each cold load fetched (the server gzips them).
// - Frame rate: the run page open while a run of 200 nodes (20 layers of 10, each node sleeping
//   --sleep seconds, --parallel at a time) goes from queued to completed: frames counted with
//   requestAnimationFrame over the whole run, and the frames longer than 50 ms.
import { parseArgs } from "node:util";
import { launchBrowser, median, round1, signedInContext, startFrames, startServer, stopFrames } from "./browser.mjs";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    parallel: { type: "string", default: "20" },
    sleep: { type: "string", default: "0.8" },
  },
});
const ROUNDS = Number(args.rounds);

/** 200 python nodes: 20 layers of 10, each node of a layer after every node of the one before. */
function wideFlow(sleep) {
  const nodes = [];
  const edges = [];
  const code = `import time\n\ndef main(inputs, params):\n    time.sleep(${sleep})\n    return {}\n`;
  for (let layer = 0; layer < 20; layer++) {
    for (let i = 0; i < 10; i++) {
      nodes.push({ id: `n${layer}_${i}`, type: "python_function", data: { code } });
      if (layer > 0) edges.push({ source: `n${layer - 1}_${i}`, target: `n${layer}_${i}` });
    }
  }
  return { nodes, edges };
}

async function waitRun(api, headers, runId) {
  for (;;) {
    const run = await api("GET", `/runs/${runId}`, undefined, headers);
    if (["completed", "failed", "cancelled"].includes(run.status)) return run;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One cold load of `path`: ms until `ready` holds in the page, and the gzip bytes of its scripts. */
async function coldLoad(browser, base, tenant, path, ready) {
  const context = await signedInContext(browser, tenant);
  const page = await context.newPage();
  await page.goto(`${base}${path}`);
  await page.waitForFunction(ready, undefined, { timeout: 30_000, polling: "raf" });
  const ms = await page.evaluate(() => performance.now());
  const js = await page.evaluate(() =>
    performance
      .getEntriesByType("resource")
      .filter((e) => e.name.endsWith(".js"))
      .reduce((sum, e) => sum + e.encodedBodySize, 0),
  );
  await context.close();
  return { ms, js };
}

async function main() {
  const server = await startServer("web", { DAGY_MAX_PARALLEL_NODES: args.parallel });
  const { api, base } = server;
  try {
    const tenant = await server.tenant("Bench");
    const { headers } = tenant;
    await api("POST", "/flows", { flow_name: "wide200", flow_spec: wideFlow(Number(args.sleep)) }, headers);
    const first = await api("POST", "/runs", { flow_name: "wide200" }, headers);
    await waitRun(api, headers, first.run_id);

    const browser = await launchBrowser();
    const results = {};
    const pages = {
      dashboard: ["/dashboard", () => document.querySelectorAll("main h2").length >= 3],
      run200: [`/runs/${first.run_id}`, () => document.querySelectorAll(".react-flow__node").length >= 200],
    };
    for (const [name, [path, ready]] of Object.entries(pages)) {
      const rounds = [];
      for (let i = 0; i < ROUNDS; i++) rounds.push(await coldLoad(browser, base, tenant, path, ready));
      results[name] = {
        cold_load_ms: Math.round(median(rounds.map((r) => r.ms))),
        cold_load_ms_rounds: rounds.map((r) => Math.round(r.ms)),
        js_gzip_kb: Math.round(median(rounds.map((r) => r.js)) / 102.4) / 10,
      };
    }

    // The frame rate while a run changes its nodes' statuses.
    const context = await signedInContext(browser, tenant);
    const page = await context.newPage();
    const run = await api("POST", "/runs", { flow_name: "wide200" }, headers);
    await page.goto(`${base}/runs/${run.run_id}`);
    await page.waitForFunction(() => document.querySelectorAll(".react-flow__node").length >= 200, undefined, { timeout: 30_000 });
    await startFrames(page);
    const started = Date.now();
    const done = await waitRun(api, headers, run.run_id);
    const seconds = (Date.now() - started) / 1000;
    await page.waitForTimeout(2_500); // the page's last refresh after the run ends
    const frames = await stopFrames(page);
    const changes = await api("GET", `/runs/${run.run_id}/tasks?limit=1000`, undefined, headers);
    results.run_page_live = {
      run_status: done.status,
      run_seconds: round1(seconds),
      node_status_changes_per_second: Math.round(((changes.items?.length ?? 0) * 2) / seconds),
      fps: round1(frames.fps),
      frames_over_50ms: frames.long,
      worst_frame_ms: Math.round(frames.worst),
    };
    await context.close();
    await browser.close();
    console.log(JSON.stringify(results, null, 2));
  } finally {
    server.stop();
  }
}

await main();
