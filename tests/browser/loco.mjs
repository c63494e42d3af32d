// Helpers of the browser tests: a `loco serve` child on a temp database (authentication on, the
// admin token from LOCO_ADMIN_TOKEN), an API client per token, load through the local proxy,
// headless Debian Chromium, and a cleanup that stops everything started, even after a failure.
// Network: 127.0.0.1 only.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const LOCO = process.env.LOCO_BIN ?? join(ROOT, "target", "debug", "loco");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const OUT = join(ROOT, "target", "browser");
export const DEMO_APP = join(ROOT, "examples", "demo-service", "app.py");

/** The admin token the server registers (`LOCO_ADMIN_TOKEN`; its subject is `admin`). */
export const ADMIN_TOKEN = "loco_browser-admin-token-0123456789abcdefghijklmnop";

/** Rejects after `ms` with a message naming what did not happen. */
export function within(ms, what, promise) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value, at most `ms`. */
export async function until(ms, what, check, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(every);
  }
}

/** The Loco HTTP API with one token. */
export class Api {
  constructor(url, token) {
    this.url = url;
    this.token = token;
  }

  async call(method, path, body) {
    const headers = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(this.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await response.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // Not JSON.
    }
    return { status: response.status, body: json, text };
  }

  /** `method path` that must answer `status`; its JSON body. */
  async expect(status, method, path, body) {
    const reply = await this.call(method, path, body);
    if (reply.status !== status) {
      throw new Error(`${method} ${path}: expected ${status}, got ${reply.status} ${reply.text}`);
    }
    return reply.body;
  }
}

/** A `loco serve` child on a fresh database; `stop()` ends it and the instances it runs. */
export class LocoServer {
  static async start(extraArgs = [], env = {}) {
    if (!existsSync(LOCO)) throw new Error(`${LOCO} is missing: run cargo build -p loco-cli first`);
    const dir = mkdtempSync(join(tmpdir(), "loco-browser-"));
    const args = ["serve", "--addr", "127.0.0.1:0", "--db", join(dir, "loco.db"), ...extraArgs];
    const child = spawn(LOCO, args, {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, RUST_LOG: "warn", LOCO_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const server = new LocoServer(child, dir);
    const stderr = [];
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      stderr.push(chunk);
      if (stderr.length > 200) stderr.shift();
    });
    server.stderr = stderr;
    const lines = createInterface({ input: child.stdout });
    const first = await within(
      30_000,
      "loco serve prints its listening line",
      new Promise((resolve, reject) => {
        lines.once("line", resolve);
        child.once("exit", (code) => reject(new Error(`loco serve exited (${code}): ${stderr.join("")}`)));
      }),
    );
    const match = /^loco listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(first.trim());
    if (!match) throw new Error(`unexpected first line of loco serve: ${first}`);
    server.url = match[1];
    server.admin = new Api(server.url, ADMIN_TOKEN);
    return server;
  }

  constructor(child, dir) {
    this.child = child;
    this.dir = dir;
  }

  /** A new token of `subject` with `grants`; its API client. */
  async token(subject, grants) {
    const created = await this.admin.expect(201, "POST", "/api/v1/tokens", { name: subject, subject, grants });
    return new Api(this.url, created.secret);
  }

  /** SIGTERM (the server stops its instances and closes its engine), SIGKILL after 20 s. */
  async stop() {
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      try {
        await within(20_000, "loco serve stops", exited);
      } catch {
        child.kill("SIGKILL");
        await within(5_000, "loco serve is killed", exited).catch(() => undefined);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Live processes whose environment holds `LOCO_SERVICE=<service>` (a service's instances). */
export function serviceProcesses(service) {
  const needle = `LOCO_SERVICE=${service}`;
  const found = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const environ = readFileSync(`/proc/${name}/environ`, "latin1");
      if (environ.split("\0").includes(needle)) found.push(Number(name));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

/** Kills instances of `service` a failed run left behind. */
export function killService(service) {
  for (const pid of serviceProcesses(service)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Clients sending `GET /` through a proxy until stopped; counts answers per version and status. */
export class Traffic {
  constructor(endpoint, clients = 4) {
    this.counts = new Map();
    this.running = true;
    this.loops = Array.from({ length: clients }, () => this.loop(`http://${endpoint}/`));
  }

  async loop(url) {
    while (this.running) {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        await response.arrayBuffer();
        const key = `${response.headers.get("x-loco-version") ?? "?"} ${response.status}`;
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      } catch {
        await sleep(50);
      }
      await sleep(5);
    }
  }

  async stop() {
    this.running = false;
    await within(10_000, "the traffic clients stop", Promise.all(this.loops));
  }
}

/** Headless Debian Chromium, with a clear message when it is not installed. */
export async function launchChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium) or set CHROMIUM=/path/to/chromium`,
    );
  }
  mkdirSync(OUT, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    // As root Chromium needs --no-sandbox; the rest keeps it from calling home on a closed network.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
