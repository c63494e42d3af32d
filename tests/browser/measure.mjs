// Measures the dashboard against a large database (not a test; nothing is asserted):
//
//   node tests/browser/measure.mjs [DEPLOYMENTS]      # default 100000
//
// Seeds DEPLOYMENTS deployments through the HTTP API (`POST /api/v1/deployments`, 32 concurrent
// keep-alive clients, the server's rate limit off), then times in headless Chromium: loading the
// page, signing in until the list's first page is drawn, filtering, the next page, and opening a
// deployment (including the audit verification, which walks the whole chain). Medians of 5.

import { join } from "node:path";

import { LocoServer, OUT, launchChromium, sleep } from "./loco.mjs";

const COUNT = Number(process.argv[2] ?? 100_000);
const CLIENTS = 32;
const RUNS = 5;
const SERVICES = 100;
const ENVIRONMENTS = ["staging", "production", "dev", "qa"];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0)} ms`;

async function seed(server) {
  let next = 0;
  const started = performance.now();
  const client = async () => {
    while (next < COUNT) {
      const i = next++;
      const body = {
        service: `svc-${i % SERVICES}`,
        environment: ENVIRONMENTS[Math.floor(i / SERVICES) % ENVIRONMENTS.length],
        version: `1.${Math.floor(i / 1000)}.${i % 1000}`,
        work_refs: [`LOAD-${i}`],
        rollback_plan: "redeploy the previous version",
        risk: "low",
      };
      await server.admin.expect(201, "POST", "/api/v1/deployments", body);
      if (i % 10_000 === 0 && i > 0)
        console.log(`  ${i} created, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  return performance.now() - started;
}

async function time(what, action) {
  const started = performance.now();
  await action();
  return performance.now() - started;
}

const server = await LocoServer.start(["--rate-limit", "0"]);
const browser = await launchChromium();
try {
  console.log(`seeding ${COUNT} deployments through the API with ${CLIENTS} clients…`);
  const seeded = await seed(server);
  console.log(`seeded ${COUNT} in ${(seeded / 1000).toFixed(1)} s (${Math.round(COUNT / (seeded / 1000))}/s)`);

  const viewer = await server.token("viewer", ["viewer"]);
  const api = [];
  for (let i = 0; i < 20; i++) {
    api.push(await time("list", () => viewer.expect(200, "GET", "/api/v1/deployments?limit=50")));
  }

  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.setDefaultTimeout(60_000);
  const rows = page.locator(`[data-testid="deployments"] tbody tr[data-id]`);
  const results = { load: [], signIn: [], total: [], filter: [], older: [], open: [], audit: [] };
  for (let run = 0; run < RUNS; run++) {
    const load = await time("load", async () => {
      await page.goto(server.url);
      await page.getByTestId("token").waitFor();
    });
    const signIn = await time("sign in", async () => {
      await page.getByTestId("token").fill(viewer.token);
      await page.getByRole("button", { name: "Sign in" }).click();
      await rows.nth(49).waitFor();
    });
    results.load.push(load);
    results.signIn.push(signIn);
    results.total.push(load + signIn);
    const first = await rows.first().getAttribute("data-id");
    results.older.push(
      await time("older", async () => {
        await page.getByTestId("older").click();
        await page.waitForFunction(
          (id) => document.querySelector(`[data-testid="deployments"] tbody tr`)?.getAttribute("data-id") !== id,
          first,
        );
        await rows.nth(49).waitFor();
      }),
    );
    results.filter.push(
      await time("filter", async () => {
        await page.locator('input[name="service"]').fill("svc-7");
        await page.locator('select[name="status"]').selectOption("pending_approval");
        await page.getByRole("button", { name: "Filter" }).click();
        await page.waitForFunction(() => {
          const cells = [...document.querySelectorAll(`[data-testid="deployments"] tbody tr[data-id] a`)];
          return cells.length === 50 && cells.every((a) => a.textContent?.startsWith("svc-7 "));
        });
      }),
    );
    results.open.push(
      await time("open", async () => {
        await rows.first().locator("a").click();
        await page.getByTestId("status").waitFor();
      }),
    );
    results.audit.push(await time("audit", () => page.getByTestId("audit").waitFor({ timeout: 120_000 })));
    if (run === 0) await page.screenshot({ path: join(OUT, `deployment-${COUNT}.png`) });
    await sleep(200);
  }
  console.log(`\n${COUNT} deployments; medians of ${RUNS} runs (each a fresh page load, so a fresh sign-in):`);
  console.log(`  GET /api/v1/deployments?limit=50 (API only, median of 20): ${ms(median(api))}`);
  console.log(`  page load until the sign-in form is ready: ${ms(median(results.load))}`);
  console.log(`  sign-in until the list's 50 rows are drawn: ${ms(median(results.signIn))}`);
  console.log(`  page load + sign-in + first page: ${ms(median(results.total))}`);
  console.log(`  next page (cursor): ${ms(median(results.older))}`);
  console.log(`  filter service + status: ${ms(median(results.filter))}`);
  console.log(`  open a deployment until its record is drawn: ${ms(median(results.open))}`);
  console.log(`  then the audit verification shown (walks every event): ${ms(median(results.audit))}`);
} finally {
  await browser.close();
  await server.stop();
}
