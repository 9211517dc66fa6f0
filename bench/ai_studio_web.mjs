// AI Studio in a real browser: how soon a streamed turn's first words are on the page.
//
//   DAGY_WEB_DIR=/path/to/build node bench/ai_studio_web.mjs [--turns 20] [--tier fast]
//
// Starts `dagy server` (bench/browser.mjs: SQLite, fresh DAGY_HOME, the default embedded planner,
// the web build in src/dagy/server/webapp or DAGY_WEB_DIR: `make web` first) and drives Debian's
// Chromium headless with Playwright, on loopback. A super admin grants the org credits; one session takes --turns build turns (after
// one warm-up turn that is not counted).
// Measured in the page, with performance.now():
// - t0: the click on "Send" (a capturing click listener, so Playwright's own checks are excluded);
// - first token: a MutationObserver sees the reply's first streamed words in the DOM;
// - first frame: the requestAnimationFrame after that, i.e. when the browser paints them;
// - done: the turn stored and shown in the history (the live reply gives way to it).
// Reports median, p95 and max of each over the turns. Target: first token <= 100 ms.
import { parseArgs } from "node:util";
import { launchBrowser, median, p95, round1, signedInContext, startServer } from "./browser.mjs";

const { values: args } = parseArgs({
  options: {
    turns: { type: "string", default: "20" },
    tier: { type: "string", default: "fast" },
  },
});
const TURNS = Number(args.turns);
// A request the embedded planner builds into five steps (tests/server/ai_studio_planner/corpus.yaml).
const REQUEST =
  "Build a workflow that reads JSON from S3, validates schema, normalizes records, deduplicates, and writes back to S3.";

/** In the page: times each turn from the click on Send to its first streamed words. */
function instrument() {
  const w = window;
  w.__turns = [];
  let current = null;
  document.addEventListener(
    "click",
    (e) => {
      if (e.target instanceof Element && e.target.closest(".studio-composer button[type=submit]")) {
        current = { t0: performance.now(), token: null, frame: null };
        w.__turns.push(current);
      }
    },
    true,
  );
  new MutationObserver(() => {
    if (!current || current.token !== null) return;
    const live = document.querySelector(".studio-live-text");
    if (live && live.textContent) {
      const turn = current;
      turn.token = performance.now() - turn.t0;
      requestAnimationFrame(() => {
        turn.frame = performance.now() - turn.t0;
      });
    }
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
}

async function main() {
  const server = await startServer("ai-studio-web");
  const { api, base } = server;
  try {
    const tenant = await server.tenant("Bench AI Studio");
    const { headers } = tenant;
    await api("POST", `/admin/customers/${tenant.orgId}/credits`, { amount: 10_000, reason: "bench" }, headers);
    const studio = await api("POST", "/ai-studio/sessions", { title: "Bench", tier: args.tier }, headers);

    const browser = await launchBrowser();
    const page = await (await signedInContext(browser, tenant)).newPage();
    await page.goto(`${base}/ai-studio/${studio.session_id}`);
    const box = page.getByRole("textbox", { name: "Message" });
    await box.waitFor();
    await page.evaluate(instrument);

    const results = [];
    for (let i = 0; i <= TURNS; i++) {
      await box.fill(REQUEST);
      await page.getByRole("button", { name: "Send" }).click();
      // Done: this turn is in the history and the live reply has given way to it.
      await page.waitForFunction(
        (n) => document.querySelectorAll(".studio-log .studio-msg-meta").length === n && !document.querySelector(".studio-live-text"),
        i + 1,
        { timeout: 30_000, polling: "raf" },
      );
      const turn = await page.evaluate(() => {
        const t = window.__turns.at(-1);
        return { token: t.token, frame: t.frame, done: performance.now() - t.t0 };
      });
      if (turn.token === null) throw new Error(`turn ${i}: no streamed words were seen: ${JSON.stringify(await page.evaluate(() => window.__turns))}`);
      if (i > 0) results.push(turn); // the first turn warms the server and the page up
    }
    await browser.close();

    const pick = (key) => results.map((r) => r[key]).filter((x) => x !== null);
    const summary = (xs) => ({ median: round1(median(xs)), p95: round1(p95(xs)), max: round1(Math.max(...xs)) });
    const report = {
      turns: results.length,
      tier: args.tier,
      click_to_first_token_ms: summary(pick("token")),
      click_to_first_token_frame_ms: summary(pick("frame")),
      click_to_turn_shown_ms: summary(pick("done")),
      first_token_ms_each: pick("token").map(round1),
      target_first_token_ms: 100,
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
