// The dashboard in headless Chromium against a real `loco serve` (authentication on) running the
// demo service on the local platform: a viewer sees the list and no approve button, an approver
// approves through the UI and sees `approved` live, a canary's traffic split moves on the page, and
// a bad canary is rolled back automatically while the page watches. Screenshots go to
// target/browser/. Every wait is bounded; the server and its instances are stopped at the end.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";

import {
  Api,
  DEMO_APP,
  LocoServer,
  OUT,
  Traffic,
  killService,
  launchChromium,
  serviceProcesses,
  until,
} from "./loco.mjs";

/** The deployments' service: its demo-service processes carry the name (LOCO_SERVICE). */
const SERVICE = `browser-shop-${process.pid}`;
const STEP = { timeout: 60_000 };
/** Longest wait for something the page must show. */
const SHOW = 30_000;

let server;
let browser;
let page;
let traffic;
let tokens;
let endpoint;
const ids = {};
const pageErrors = [];
const started = Date.now();

function log(message) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${message}`);
}

function plan(version, strategy, env = {}, analysis = undefined) {
  const plan = {
    platform: "local",
    strategy,
    release: { version, service: "demo", env },
    instances: 1,
    health: {
      probes: [{ type: "http", path: "/health" }],
      timeout_seconds: 2,
      retries: 20,
      backoff_initial_seconds: 0.05,
      backoff_max_seconds: 0.2,
      interval_seconds: 0.5,
    },
  };
  if (analysis) plan.analysis = analysis;
  return plan;
}

/** A new deployment of SERVICE (requested by the admin), optionally approved; its id. */
async function deployment(version, { approved = false } = {}) {
  const body = {
    service: SERVICE,
    environment: "staging",
    version,
    work_refs: ["SHOP-1"],
    rollback_plan: "the previous release is restored",
  };
  const created = await server.admin.expect(201, "POST", "/api/v1/deployments", body);
  if (approved) {
    await tokens.approver.expect(200, "POST", `/api/v1/deployments/${created.id}/approve`, { note: "api" });
  }
  return created.id;
}

async function rolloutOf(id) {
  return server.admin.expect(200, "GET", `/api/v1/deployments/${id}/rollout`);
}

async function signIn(api) {
  await page.getByTestId("token").fill(api.token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("sign-out").waitFor({ timeout: SHOW });
}

async function signOut() {
  await page.getByTestId("sign-out").click();
  await page.getByTestId("sign-in").waitFor({ timeout: SHOW });
}

/** Marks the document, so a later check can tell it was not reloaded. */
async function markDocument() {
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
}

async function assertSameDocument() {
  assert.equal(await page.evaluate(() => window.__sameDocument === true), true, "the page was not reloaded");
}

async function showDeployment(id) {
  await page.evaluate((hash) => {
    location.hash = hash;
  }, `#/deployments/${id}`);
  await page.locator(`[data-testid="events"] tbody tr`).first().waitFor({ timeout: SHOW });
}

async function statusShown() {
  return page.getByTestId("status").textContent({ timeout: SHOW });
}

before(
  async () => {
    log(`starting loco serve and chromium; screenshots in ${OUT}`);
    server = await LocoServer.start();
    browser = await launchChromium();
    tokens = {
      viewer: await server.token("viewer", ["viewer"]),
      approver: await server.token("approver", ["approver"]),
      deployer: await server.token("deployer", ["deployer"]),
    };
    await server.admin.expect(200, "PUT", "/api/v1/services/demo", {
      name: "demo",
      command: ["python3", DEMO_APP],
      allowed_env: ["FAILURE_RATE", "LATENCY_MS"],
    });
    // v1 serves first, so the canaries below have a baseline to be compared with.
    const v1 = await deployment("1.0.0", { approved: true });
    await tokens.deployer.expect(202, "POST", `/api/v1/deployments/${v1}/rollout`, {
      plan: plan("v1", { type: "immediate" }),
    });
    const done = await until(60_000, "v1 is released", async () => {
      const r = await rolloutOf(v1);
      return ["running", "paused", "rolling_back"].includes(r.state) ? null : r;
    });
    assert.equal(done.state, "succeeded", JSON.stringify(done));
    endpoint = done.progress.endpoint;
    ids.pending = await deployment("2.0.0");
    ids.markup = await deployment('<img src=x onerror="window.__injected=1">');
    log(`server ${server.url}, v1 serving at ${endpoint}`);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(SHOW);
    page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("console", (message) => {
      const text = message.text();
      // Chromium logs every non-2xx answer (a 404 for a deployment without a rollout, the 409 above);
      // the page shows those itself. Script errors and Content-Security-Policy violations count.
      if (message.type() === "error" && !text.startsWith("Failed to load resource: the server responded")) {
        pageErrors.push(text);
      }
    });
    await page.goto(server.url, { timeout: SHOW });
  },
  { timeout: 120_000 },
);

// Killed from outside (the script's hard time limit, Ctrl-C): no `after` hook runs, so stop the
// server and its instances here.
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.once(signal, () => {
    server?.child.kill("SIGKILL");
    killService(SERVICE);
    process.exit(1);
  });
}

after(async () => {
  const stops = [traffic?.stop(), browser?.close(), server?.stop()];
  await Promise.allSettled(stops);
  killService(SERVICE);
  log("server, browser and instances stopped");
});

test("a viewer sees the deployments list and opens a pending deployment with no approve button", STEP, async () => {
  await page.getByTestId("sign-in").waitFor();
  await signIn(tokens.viewer);
  const rows = page.locator(`[data-testid="deployments"] tbody tr[data-id]`);
  await rows.first().waitFor();
  assert.equal(await rows.count(), 3, "v1, the pending one and the one with markup");
  const live = page.getByTestId("live");
  await until(SHOW, "the all-events stream is open", async () => (await live.textContent()) === "live");

  // Deployment fields are shown as text, never as markup.
  const markup = page.locator(`tr[data-id="${ids.markup}"] td`).nth(1);
  assert.equal(await markup.textContent(), '<img src=x onerror="window.__injected=1">');
  assert.equal(await page.locator(`[data-testid="deployments"] img`).count(), 0);
  assert.equal(await page.evaluate(() => window.__injected), undefined);

  // Live: a deployment created now appears without reloading.
  await markDocument();
  const fresh = await deployment("2.0.1");
  await page.locator(`tr[data-id="${fresh}"]`).waitFor();
  assert.equal(await rows.count(), 4);
  await assertSameDocument();
  await page.screenshot({ path: join(OUT, "list.png"), fullPage: true });

  // Filters: only v1 has succeeded; clearing shows every deployment again.
  await page.locator('select[name="status"]').selectOption("succeeded");
  await page.getByRole("button", { name: "Filter" }).click();
  await until(SHOW, "only the succeeded deployment is listed", async () => (await rows.count()) === 1);
  assert.equal(await page.locator(`[data-testid="deployments"] tbody [data-status]`).textContent(), "succeeded");
  await page.getByRole("button", { name: "Clear" }).click();
  await until(SHOW, "every deployment is listed again", async () => (await rows.count()) === 4);

  await page.locator(`tr[data-id="${ids.pending}"] a`).click();
  assert.equal(await statusShown(), "pending_approval");
  await page.getByTestId("no-actions").waitFor();
  assert.equal(await page.locator("[data-action]").count(), 0, "the viewer's grants allow no action: no buttons");
  assert.equal(await page.getByTestId("no-actions").textContent(), "Your grants allow no action on this deployment.");
  assert.equal(await page.getByTestId("audit").count(), 0, "the chain is verified on request only");
  await page.getByTestId("verify-audit").click();
  const audit = page.getByTestId("audit");
  await audit.waitFor();
  assert.equal(await audit.getAttribute("data-valid"), "true");
  assert.equal(await page.locator(`[data-testid="events"] tbody tr`).count(), 1, "its history: created");
});

test("an approver approves through the UI with a note and sees it approved without a reload", STEP, async () => {
  await signOut();
  await signIn(tokens.approver);
  // The address still names the deployment: signing in again shows it.
  assert.equal(await statusShown(), "pending_approval");
  await markDocument();
  await page.locator('[data-action="approve"]').click();
  await page.getByTestId("note").fill("looks good to me");
  await page.getByTestId("confirm").click();
  await until(SHOW, "the status turns approved", async () => (await statusShown()) === "approved");
  await page.locator(`[data-testid="events"] tbody tr[data-kind="approved"]`).waitFor();
  const approvedRow = await page.locator(`[data-testid="events"] tbody tr[data-kind="approved"]`).textContent();
  assert.match(approvedRow, /approver/);
  assert.match(approvedRow, /looks good to me/);
  await assertSameDocument();
  const after = await server.admin.expect(200, "GET", `/api/v1/deployments/${ids.pending}`);
  assert.equal(after.status, "approved");
  assert.equal(after.reviewed_by, "approver");

  assert.equal(await page.locator('[data-action="approve"]').count(), 0, "approve no longer applies");

  // A refusal shows the API's code and message: someone approves while this page's reject waits.
  const raced = await deployment("2.0.2");
  await showDeployment(raced);
  await page.locator('[data-action="reject"]').click();
  await page.getByTestId("note").fill("no tests");
  await tokens.approver.expect(200, "POST", `/api/v1/deployments/${raced}/approve`, { note: "elsewhere" });
  await until(SHOW, "the page shows the approval made elsewhere", async () => (await statusShown()) === "approved");
  await page.getByTestId("confirm").click();
  const refusal = page.getByTestId("action-error");
  await refusal.waitFor();
  assert.equal(await refusal.getAttribute("data-code"), "invalid_transition");
  assert.match(await refusal.textContent(), /^invalid_transition: .*approved/);
  await showDeployment(ids.pending);
});

test("a canary's traffic split moves on the deployment page without a reload", STEP, async () => {
  traffic = new Traffic(endpoint, 4);
  await markDocument();
  await tokens.deployer.expect(202, "POST", `/api/v1/deployments/${ids.pending}/rollout`, {
    plan: plan(
      "v2",
      { type: "canary", steps: [20, 50], interval_seconds: 4 },
      { FAILURE_RATE: "0" },
      { thresholds: { min_samples: 20 }, poll_seconds: 0.25, monitor_seconds: 2, pause_timeout_seconds: 60 },
    ),
  });
  const splits = new Set();
  let screenshot = false;
  let followed = false;
  await until(
    90_000,
    "the canary succeeds on the page",
    async () => {
      const split = await page
        .getByTestId("traffic-split")
        .textContent({ timeout: 1_000 })
        .catch(() => null);
      if (split) splits.add(split);
      if (!followed && (await page.locator("[data-instance]").count()) > 0) {
        // Follow the new release's instance: its first line says it listens.
        await page.locator("[data-instance]").first().click();
        followed = true;
      }
      if (!screenshot && split?.includes("v2 50%")) {
        await page.locator("svg.chart").first().waitFor({ timeout: SHOW });
        await page.screenshot({ path: join(OUT, "canary.png"), fullPage: true });
        screenshot = true;
      }
      const state = await page
        .getByTestId("rollout-state")
        .textContent({ timeout: 1_000 })
        .catch(() => null);
      return state === "succeeded";
    },
    100,
  );
  log(`splits seen: ${[...splits].join(" | ")}`);
  const withBoth = [...splits].filter((s) => s.includes("v1") && s.includes("v2"));
  assert.ok(withBoth.length >= 2, `two different canary splits seen: ${[...splits].join(" | ")}`);
  assert.ok(splits.has("v2 100%"), [...splits].join(" | "));
  assert.ok(screenshot, "a screenshot mid-canary (v2 at 50 %)");
  assert.equal(await statusShown(), "succeeded");
  assert.ok((await page.locator("svg.chart").count()) >= 2, "error rate and latency charts");
  assert.ok(followed, "an instance's logs were followed");
  await until(SHOW, "the instance's output is shown", async () =>
    /listening on 127\.0\.0\.1/.test((await page.getByTestId("log-lines").textContent()) ?? ""),
  );
  await assertSameDocument();
});

test("a bad canary is rolled back automatically and the page shows rolled_back without a reload", STEP, async () => {
  const bad = await deployment("3.0.0", { approved: true });
  await showDeployment(bad);
  assert.equal(await statusShown(), "approved");
  await markDocument();
  await tokens.deployer.expect(202, "POST", `/api/v1/deployments/${bad}/rollout`, {
    plan: plan(
      "v3",
      { type: "canary", steps: [20, 50], interval_seconds: 30 },
      { FAILURE_RATE: "1" },
      { thresholds: { min_samples: 20 }, poll_seconds: 0.25, monitor_seconds: 0, pause_timeout_seconds: 60 },
    ),
  });
  await until(45_000, "the page shows the deployment rolled_back", async () => (await statusShown()) === "rolled_back");
  await until(
    SHOW,
    "the rollout's state is rolled_back",
    async () => (await page.getByTestId("rollout-state").textContent()) === "rolled_back",
  );
  assert.match(await page.getByTestId("failure").textContent(), /^analysis_critical: /);
  assert.equal(await page.getByTestId("traffic-split").textContent(), "v2 100%");
  await assertSameDocument();
  await page.screenshot({ path: join(OUT, "rolled-back.png"), fullPage: true });
  const rollout = await rolloutOf(bad);
  assert.equal(rollout.state, "rolled_back");
  assert.equal(rollout.failure.code, "analysis_critical");
});

test("the token lives in memory only: a reload asks to sign in again", STEP, async () => {
  await traffic.stop();
  await page.reload({ timeout: SHOW });
  await page.getByTestId("sign-in").waitFor();
  assert.equal(await page.getByTestId("sign-out").count(), 0);
  const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
  assert.deepEqual(stored, [0, 0, ""]);
  assert.deepEqual(pageErrors, [], "no script error and no Content-Security-Policy violation on the page");
  await server.stop();
  assert.deepEqual(serviceProcesses(SERVICE), [], "the server stopped every instance");
  log(`browser test done`);
});

test("a --no-auth server needs no sign-in: actions are taken under the name typed in", STEP, async () => {
  const open = await LocoServer.start(["--no-auth"]);
  try {
    const api = new Api(open.url, "unused");
    const body = {
      service: SERVICE,
      environment: "staging",
      version: "9.0.0",
      requester: "alice",
      work_refs: ["SHOP-9"],
      rollback_plan: "redeploy",
    };
    const created = await api.expect(201, "POST", "/api/v1/deployments", body);
    await page.goto(open.url, { timeout: SHOW });
    await page.locator(`tr[data-id="${created.id}"] a`).click();
    assert.equal(await page.getByTestId("sign-in").count(), 0);
    await page.getByTestId("actor").fill("carol");
    await page.locator('[data-action="approve"]').click();
    await page.getByTestId("confirm").click();
    await until(SHOW, "the status turns approved", async () => (await statusShown()) === "approved");
    const approved = await api.expect(200, "GET", `/api/v1/deployments/${created.id}`);
    assert.equal(approved.reviewed_by, "carol");
    assert.deepEqual(pageErrors, [], "no script error and no Content-Security-Policy violation on the page");
  } finally {
    await open.stop();
  }
});
