// The flow builder's frame rate while a node of a 200-node draft is dragged around.
//
//   node bench/builder.mjs [--seconds 2] [--rounds 3]
//
// Starts `dagy server` (bench/browser.mjs: SQLite, fresh DAGY_HOME, serving the build in
// src/dagy/server/webapp, or DAGY_WEB_DIR's: `make web` first). Creates a draft
// of 200 python nodes (20 layers of 10, each fed by the one above) through the API, opens
// /builder/<draft> in Debian's Chromium headless (CHROMIUM, default /usr/bin/chromium), then holds
// one node with the mouse and moves it in circles for --seconds, mouse moves back to back,
// counting requestAnimationFrame frames. Prints the median frames per second of the rounds
// (target: at least 30) and the frames longer than 50 ms.
import { parseArgs } from "node:util";
import { launchBrowser, median, round1, signedInContext, startFrames, startServer, stopFrames } from "./browser.mjs";

const { values: args } = parseArgs({
  options: { seconds: { type: "string", default: "2" }, rounds: { type: "string", default: "3" } },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);

/** The builder's canvas of 200 python nodes: 20 layers of 10, laid out on a grid. */
function wideCanvas() {
  const nodes = [];
  const edges = [];
  const code = "def main(inputs, params): return {}";
  for (let layer = 0; layer < 20; layer++) {
    for (let i = 0; i < 10; i++) {
      const id = `n${layer}_${i}`;
      nodes.push({ id, type: "python_function", position: { x: i * 230, y: layer * 120 }, data: { code } });
      if (layer > 0) {
        const source = `n${layer - 1}_${i}`;
        edges.push({ id: `e_${source}_${id}`, source, target: id, sourceHandle: "data_out", targetHandle: "data_in" });
      }
    }
  }
  return { nodes, edges };
}

async function dragRound(page, base, draftId) {
  await page.goto(`${base}/builder/${draftId}`);
  await page.waitForFunction(() => document.querySelectorAll(".react-flow__node").length >= 200, undefined, { timeout: 30_000 });
  const handle = page.locator('.react-flow__node[data-id="n10_5"] .bn-id');
  const box = await handle.boundingBox();
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  await startFrames(page);
  const started = Date.now();
  let step = 0;
  while (Date.now() - started < SECONDS * 1000) {
    const angle = step++ / 10;
    // As fast as the browser takes them (each move waits for Chromium to dispatch it).
    await page.mouse.move(cx + Math.cos(angle) * 120, cy + Math.sin(angle) * 80);
  }
  const frames = await stopFrames(page);
  await page.mouse.up();
  const moved = await page.locator('.react-flow__node[data-id="n10_5"]').boundingBox();
  return { ...frames, moves: step, moved: Math.round(Math.hypot(moved.x - box.x, moved.y - box.y)) };
}

async function main() {
  const server = await startServer("builder");
  const { api, base } = server;
  try {
    const tenant = await server.tenant("Bench builder");
    const { headers } = tenant;
    const draft = await api("POST", "/dag-drafts", { name: "Bench 200 nodes", canvas_json: wideCanvas() }, headers);
    const browser = await launchBrowser();
    const page = await (await signedInContext(browser, tenant)).newPage();
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await dragRound(page, base, draft.draft_id));
    await browser.close();
    await api("DELETE", `/dag-drafts/${draft.draft_id}`, undefined, headers);
    console.log(
      JSON.stringify(
        {
          builder_drag_200_nodes: {
            fps: round1(median(rounds.map((r) => r.fps))),
            fps_rounds: rounds.map((r) => round1(r.fps)),
            frames_over_50ms: rounds.map((r) => r.long),
            worst_frame_ms: Math.round(Math.max(...rounds.map((r) => r.worst))),
            mouse_moves_per_round: rounds.map((r) => r.moves),
            node_moved_px: rounds.map((r) => r.moved),
            target_fps: 30,
          },
        },
        null,
        2,
      ),
    );
  } finally {
    server.stop();
  }
}

await main();
