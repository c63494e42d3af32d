// A canary rollout on this machine from Node: the demo service (python3) runs as real processes
// behind Loco's local proxy, traffic flows through it, a release failing 60 % of its requests is
// rolled back by the canary analysis, and a healthy one is promoted to 100 %.
// Run: cd examples/node && npm ci && node rollout.mjs
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { Engine } from '@loco/engine'

const app = fileURLToPath(new URL('../demo-service/app.py', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'loco-rollout-'))
const engine = await Engine.open(join(dir, 'loco.db'), {
  localStateDir: join(dir, 'state'), // registers the `local` platform
  // Judge after 20 requests per side; ignore latency differences under 250 ms (a fresh Python
  // process on a busy machine has hiccups of tens of milliseconds).
  thresholds: { staging: { min_samples: 20, latency_noise_floor_ms: 250 } },
})

// The plan is the same JSON document in every language: snake_case keys, as in docs/rollouts.md.
const plan = (version, strategy, env = {}) => ({
  platform: 'local',
  strategy,
  release: { version, command: ['python3', app], env },
  health: { probes: [{ type: 'http', path: '/health' }], retries: 20, backoff_initial_seconds: 0.05 },
})
// A canary observed for 2 s at 25 % and at 50 %, judged on the proxy's measurements, then
// watched for 1 s at 100 % before the old release is stopped.
const canary = (version, env) => ({
  ...plan(version, { type: 'canary', steps: [25, 50], interval_seconds: 2 }, env),
  analysis: { monitor_seconds: 1, poll_seconds: 0.25, inconclusive_extensions: 4, pause_timeout_seconds: 30 },
})

async function approved(version) {
  const d = await engine.create({
    service: 'shop',
    environment: 'staging',
    version,
    requester: 'alice@example.com',
    workRefs: ['SHOP-1'],
    rollbackPlan: 'Loco restores the previous release',
  })
  await engine.approve(d.id, 'bob@example.com')
  return d.id
}

// Live progress: promotions, verdicts and the lifecycle's ends, as they are committed.
const watcher = (async () => {
  for await (const e of engine.subscribe()) {
    if (e.kind === 'canary_promoted') console.log(`    ${e.note}`)
    if (e.kind === 'analysis') console.log(`    analysis: ${e.data.judgement.verdict}`)
    if (['failed', 'rolled_back', 'succeeded'].includes(e.kind)) console.log(`    ${e.kind}: ${e.note ?? ''}`)
  }
})()

// v1: the first release, all at once.
const first = await engine.runRollout(await approved('1.0.0'), plan('1.0.0', { type: 'immediate' }), 'deploy-bot')
const endpoint = first.progress.endpoint
console.log(`1.0.0 ${first.state}; the service answers on http://${endpoint}/`)

// Steady traffic through the proxy, on keep-alive connections, counting who answered.
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
const answered = {}
let sending = true
const get = () =>
  new Promise((resolve) => {
    const [host, port] = endpoint.split(':')
    http
      .get({ host, port, path: '/', agent }, (res) => {
        const key = `${res.headers['x-loco-version']} ${res.statusCode}`
        answered[key] = (answered[key] ?? 0) + 1
        res.resume().on('end', resolve)
      })
      .on('error', resolve)
  })
const clients = Array.from({ length: 4 }, async () => {
  while (sending) await get()
})

console.log('1.1.0 (fails 60 % of requests) as a canary:')
const bad = await engine.runRollout(await approved('1.1.0'), canary('1.1.0', { FAILURE_RATE: '0.6' }), 'deploy-bot')
console.log(`1.1.0 ${bad.state}: ${bad.failure?.code} — ${bad.failure?.message}`)

console.log('1.2.0 (healthy) as a canary:')
const good = await engine.runRollout(await approved('1.2.0'), canary('1.2.0'), 'deploy-bot')
console.log(`1.2.0 ${good.state}; traffic: ${good.progress.traffic.map((w) => `${w.version} ${w.percent}%`).join(', ')}`)

sending = false
await Promise.all(clients)
agent.destroy()
console.log('responses seen through the proxy (version status: count):', answered)
const releases = await engine.releases('shop', 'staging')
console.log(`releases, newest first: ${releases.map((r) => r.version + (r.retiredAt ? '' : ' (current)')).join(', ')}`)

await engine.close() // stops every process the local platform started
await watcher
rmSync(dir, { recursive: true, force: true })
if (bad.state !== 'rolled_back' || good.state !== 'succeeded') {
  console.error('unexpected outcome')
  process.exitCode = 1
}
