// Helpers for rollout tests on the local platform: engines with a state directory, plans that run
// the real demo service (python3 examples/demo-service/app.py), HTTP traffic through the proxy
// over keep-alive connections, and a check that no demo-service process of a test survives.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { Engine, tempDir } from './helpers.mjs'

/** The demo service every rollout test runs. */
export const APP = fileURLToPath(new URL('../../examples/demo-service/app.py', import.meta.url))

/** A service name no other test (or test file running at the same time) uses. */
export function uniqueService(prefix = 'shop') {
  return `${prefix}-${randomBytes(4).toString('hex')}`
}

/**
 * An engine on a fresh database with the local platform registered; closed after the test even
 * when it fails (the test itself closes it first and checks that nothing survives).
 */
export async function localEngine(t, options = {}) {
  const dir = tempDir()
  const engine = await Engine.open(join(dir, 'loco.db'), { localStateDir: join(dir, 'state'), ...options })
  t.after(() => engine.close().catch(() => {}))
  return { engine, dir }
}

/** Creates and approves a deployment of `service` in `environment`; returns its id. */
export async function approved(engine, service, version, environment = 'staging') {
  const d = await engine.create({
    service,
    environment,
    version,
    requester: 'alice@example.com',
    workRefs: ['OPS-7'],
    rollbackPlan: 'roll back to the previous release',
  })
  await engine.approve(d.id, 'bob@example.com')
  return d.id
}

/** A plan running the demo service as `version`, checked over HTTP, with `overrides` applied. */
export function plan(version, { env = {}, ...overrides } = {}) {
  return {
    platform: 'local',
    strategy: { type: 'immediate' },
    release: { version, command: ['python3', APP], env },
    health: {
      probes: [{ type: 'http', path: '/health' }],
      timeout_seconds: 2,
      retries: 20,
      backoff_initial_seconds: 0.05,
      backoff_max_seconds: 0.2,
      interval_seconds: 0.5,
    },
    ...overrides,
  }
}

/** Canary analysis on the proxy's measurements, judged quickly enough for tests. */
export function analysis(thresholds = { min_samples: 20 }, extra = {}) {
  return {
    source: { type: 'platform' },
    thresholds,
    monitor_seconds: 0,
    pause_timeout_seconds: 120,
    poll_seconds: 0.25,
    inconclusive_extensions: 3,
    ...extra,
  }
}

/** `GET /` through the proxy at `endpoint` (`host:port`) on `agent`'s connections. */
export function get(endpoint, agent) {
  const [host, port] = endpoint.split(':')
  return new Promise((resolve, reject) => {
    const request = http.get({ host, port: Number(port), path: '/', agent }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk) => (body += chunk))
      response.on('end', () =>
        resolve({ status: response.statusCode, version: response.headers['x-loco-version'], body }),
      )
      response.on('error', reject)
    })
    request.on('error', reject)
  })
}

/** Sends `n` requests one after another and counts the versions that answered; all must be 200. */
export async function versions(endpoint, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const seen = {}
  try {
    for (let i = 0; i < n; i++) {
      const { status, version, body } = await get(endpoint, agent)
      assert.equal(status, 200, body)
      assert.equal(JSON.parse(body).version, version, 'the header names the version that answered')
      seen[version] = (seen[version] ?? 0) + 1
    }
  } finally {
    agent.destroy()
  }
  return seen
}

/** Keeps `clients` keep-alive connections busy with `GET /` through the proxy until stopped. */
export class Traffic {
  #stopped = false
  #loops
  #agent

  constructor(endpoint, clients = 4) {
    this.sent = 0
    this.statuses = {}
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: clients })
    this.#loops = Array.from({ length: clients }, () => this.#loop(endpoint))
  }

  async #loop(endpoint) {
    while (!this.#stopped) {
      try {
        const { status } = await get(endpoint, this.#agent)
        this.sent++
        this.statuses[status] = (this.statuses[status] ?? 0) + 1
      } catch (error) {
        // A connection the proxy closed while switching releases: count it and go on.
        this.statuses[error.code ?? 'error'] = (this.statuses[error.code ?? 'error'] ?? 0) + 1
      }
    }
  }

  async stop() {
    this.#stopped = true
    await Promise.all(this.#loops)
    this.#agent.destroy()
  }
}

/** Waits (without a timer) for the first event of `subscription` that `matches`, then ends it. */
export async function nextMatching(subscription, matches) {
  try {
    for await (const event of subscription) {
      if (matches(event)) return event
    }
    throw new Error('the subscription ended before the awaited event')
  } finally {
    await subscription.return()
  }
}

/** The live processes started for `service` (their environment has `LOCO_SERVICE=service`). */
export function serviceProcesses(service) {
  const marker = `\0LOCO_SERVICE=${service}\0`
  const found = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let environ
    try {
      // A zombie (exited, not yet reaped) has an empty environment, so it does not count.
      environ = `\0${readFileSync(`/proc/${entry}/environ`, 'latin1')}`
    } catch {
      continue // gone meanwhile
    }
    if (environ.includes(marker)) found.push(Number(entry))
  }
  return found
}

/** Closes the engine and asserts that no process of `service` survives it. */
export async function closeAndCheck(engine, service) {
  await engine.close()
  assert.deepEqual(serviceProcesses(service), [], `no ${service} process survives close()`)
}
