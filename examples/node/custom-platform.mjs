// A platform written in JavaScript: its instances are machines of a fake cloud API kept in memory
// (a stand-in for your own infrastructure's client), and Loco's orchestrator drives it through
// canaries — deploy, health checks, traffic 20 % → 50 % → 100 %, stopping the old release — exactly
// as it drives its built-in platforms. The platform also measures its own traffic (`stats`), so
// canary analysis judges each release on it: a healthy release is promoted, one failing 60 % of
// its requests is rolled back.
// Run: cd examples/node && npm ci && node custom-platform.mjs
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine } from '@loco/engine'

/** The fake cloud: machines, a load balancer's split, and the requests it served. */
class FakeCloudApi {
  machines = new Map()
  split = []
  requests = [] // { version, failed, latencyMs, at }

  /** Serves `n` requests, spread over the versions by the split; a release fails at its rate. */
  serve(n) {
    for (let i = 0; i < n; i++) {
      let pick = Math.random() * 100
      const weight = this.split.find((w) => (pick -= w.percent) < 0)
      if (!weight) continue
      const machine = [...this.machines.values()].find((m) => m.version === weight.version && m.running)
      if (!machine) continue
      this.requests.push({
        version: weight.version,
        failed: Math.random() < machine.failureRate,
        latencyMs: 8 + Math.random() * 12,
        at: Date.now(),
      })
    }
  }
}

/** Implements the `Platform` interface of @loco/engine over the fake cloud, recording each call. */
class FakeCloudPlatform {
  name = 'fake-cloud'
  capabilities = { traffic: 'percentage', nativeRollback: false, logs: true, metrics: true }
  calls = []

  constructor(api) {
    this.api = api
  }

  #instance(machine) {
    return { id: machine.id, version: machine.version, state: machine.running ? 'running' : 'stopped', platformId: machine.vm }
  }

  // Instance ids are chosen (and recorded) by Loco; the platform starts what it is asked to.
  async deploy(target, release, instanceIds) {
    this.calls.push(`deploy ${release.version} x${instanceIds.length}`)
    const failureRate = Number(release.env.FAILURE_RATE ?? 0)
    for (const id of instanceIds) {
      this.api.machines.set(id, { id, version: release.version, failureRate, running: true, vm: `vm-${id.slice(-6).toLowerCase()}` })
    }
    return instanceIds.map((id) => this.#instance(this.api.machines.get(id)))
  }

  async setTraffic(target, split) {
    this.calls.push(`traffic ${split.map((w) => `${w.version}=${w.percent}%`).join(', ')}`)
    this.api.split = split
  }

  async stop(target, instances) {
    this.calls.push(`stop x${instances.length}`)
    for (const instance of instances) {
      const machine = this.api.machines.get(instance.id)
      if (machine) machine.running = false
    }
  }

  async health(target, instance) {
    return this.api.machines.get(instance.id)?.running ? 'running' : { state: 'exited', reason: 'machine stopped' }
  }

  async status(target) {
    return { endpoint: 'https://shop.fake-cloud.example', traffic: this.api.split, instances: [...this.api.machines.values()].map((m) => this.#instance(m)) }
  }

  async restore(target, release, known, replacementIds) {
    this.calls.push(`restore ${release.version}`)
    const alive = known.filter((k) => this.api.machines.get(k.id)?.running)
    const missing = Math.max(known.length - alive.length, alive.length ? 0 : 1)
    const started = missing ? await this.deploy(target, release, replacementIds.slice(0, missing)) : []
    return [...alive.map((k) => this.#instance(this.api.machines.get(k.id))), ...started]
  }

  async testConnection() {}

  async *logs(target, instanceId) {
    yield `machine ${this.api.machines.get(instanceId)?.vm} booted`
  }

  // The platform's own measurements, which canary analysis reads (`analysis.source: platform`).
  async stats(target, version, windowSeconds) {
    const since = Date.now() - windowSeconds * 1000
    const seen = this.api.requests.filter((r) => r.version === version && r.at >= since)
    return { requests: seen.length, errors: seen.filter((r) => r.failed).length, latenciesMs: seen.map((r) => r.latencyMs) }
  }
}

const api = new FakeCloudApi()
const platform = new FakeCloudPlatform(api)
const load = setInterval(() => api.serve(10), 10) // about 1,000 requests a second
const dir = mkdtempSync(join(tmpdir(), 'loco-custom-platform-'))
const engine = await Engine.open(join(dir, 'loco.db'), { platforms: [platform] })

// The plan is the same JSON document in every language: snake_case keys, as in docs/rollouts.md.
const plan = (version, strategy, env = {}) => ({
  platform: 'fake-cloud',
  strategy,
  release: { version, image: `registry.example/shop:${version}`, env },
  instances: 2,
  health: { probes: [], retries: 1, backoff_initial_seconds: 0.05, interval_seconds: 0.1 },
  analysis: {
    source: { type: 'platform' },
    thresholds: { min_samples: 30 },
    monitor_seconds: 0.5,
    poll_seconds: 0.1,
    inconclusive_extensions: 4,
    pause_timeout_seconds: 30,
  },
})
const canary = { type: 'canary', steps: [20, 50], interval_seconds: 0.5 }

async function release(version, strategy, env) {
  const d = await engine.create({
    service: 'shop',
    environment: 'staging',
    version,
    requester: 'alice@example.com',
    workRefs: ['SHOP-1'],
    rollbackPlan: 'roll back to the previous release',
  })
  await engine.approve(d.id, 'bob@example.com')
  return engine.runRollout(d.id, plan(version, strategy, env), 'deploy-bot')
}

try {
  const first = await release('1.0.0', { type: 'immediate' })
  console.log(`1.0.0: ${first.state}`)
  const healthy = await release('1.1.0', canary)
  const judged = healthy.progress.analysis
  console.log(`1.1.0: ${healthy.state}, traffic ${JSON.stringify(healthy.progress.traffic)}`)
  console.log(`  analysis: ${judged.verdict} on ${judged.canary.requests} canary requests, error rate ${judged.canary.errorRate}`)
  for await (const line of engine.logs(healthy.deploymentId, healthy.progress.instances[0].id)) {
    console.log(`  logs: ${line.line}`) // from the platform's logs()
    break
  }
  const faulty = await release('1.2.0', canary, { FAILURE_RATE: '0.6' })
  console.log(`1.2.0: ${faulty.state} (${faulty.failure.code}): ${faulty.failure.message}`)
  for (const line of platform.calls) console.log(`  platform: ${line}`)

  const running = [...api.machines.values()].filter((m) => m.running).map((m) => m.version)
  if (first.state !== 'succeeded' || healthy.state !== 'succeeded' || faulty.state !== 'rolled_back') {
    throw new Error('unexpected outcome')
  }
  if (running.join() !== '1.1.0,1.1.0' || api.split.map((w) => `${w.version}=${w.percent}`).join() !== '1.1.0=100') {
    throw new Error(`1.1.0 should serve everything; running ${running}, split ${JSON.stringify(api.split)}`)
  }
} finally {
  clearInterval(load)
  await engine.close()
  rmSync(dir, { recursive: true, force: true })
}
