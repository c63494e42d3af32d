// Rollouts on the local platform from Node: real demo-service processes behind the core's
// weighted proxy, real HTTP traffic through it, canary analysis on the proxy's measurements.
// Every test closes its engine and checks that none of its processes survives.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { Engine, tempDir } from './helpers.mjs'

import {
  APP,
  analysis,
  approved,
  closeAndCheck,
  localEngine,
  nextMatching,
  plan,
  serviceProcesses,
  Traffic,
  uniqueService,
  versions,
} from './rollout-helpers.mjs'

/** An engine with `v1` of a fresh service released (immediate) and serving through the proxy. */
async function withV1(t, options) {
  const { engine, dir } = await localEngine(t, options)
  const service = uniqueService()
  const v1 = await approved(engine, service, 'v1')
  const first = await engine.runRollout(v1, plan('v1'), 'deploy-bot')
  assert.equal(first.state, 'succeeded', JSON.stringify(first.failure))
  return { engine, dir, service, v1, first, endpoint: first.progress.endpoint }
}

test('a healthy canary is promoted through every step and then serves all traffic', async (t) => {
  const { engine, service, v1, first, endpoint } = await withV1(t)
  assert.match(endpoint, /^127\.0\.0\.1:\d+$/)
  assert.deepEqual(await versions(endpoint, 6), { v1: 6 })

  const v2 = await approved(engine, service, 'v2')
  const traffic = new Traffic(endpoint)
  // This test is about promotion: a noise floor of 250 ms keeps a fresh Python process's
  // latency hiccups on a loaded machine from being judged.
  const canary = plan('v2', {
    strategy: { type: 'canary', steps: [10, 50], interval_seconds: 2 },
    analysis: analysis({ min_samples: 20, latency_noise_floor_ms: 250 }, { monitor_seconds: 1 }),
  })
  const rollout = await engine.runRollout(v2, canary, 'deploy-bot')
  await traffic.stop()

  assert.equal(rollout.state, 'succeeded', JSON.stringify(rollout.failure))
  assert.equal(rollout.failure, null)
  assert.equal(rollout.previous.version, 'v1')
  assert.equal(rollout.previous.deploymentId, v1)
  assert.deepEqual(rollout.progress.traffic, [{ version: 'v2', percent: 100 }])
  assert.equal(rollout.progress.completedSteps, rollout.progress.totalSteps)
  assert.equal(rollout.progress.analysis.verdict, 'pass')
  assert.equal(rollout.plan.strategy.type, 'canary', 'the plan comes back as the snake_case document')
  assert.deepEqual(rollout.plan.strategy.steps, [10, 50])
  assert.equal(rollout.plan.analysis.thresholds.latency_noise_floor_ms, 250)
  assert.equal((await engine.get(v2)).status, 'succeeded')

  const events = await engine.events(v2)
  const promotions = events.filter((e) => e.kind === 'canary_promoted').map((e) => [e.data.from_percent, e.data.to_percent])
  assert.deepEqual(promotions, [
    [10, 50],
    [50, 100],
  ])
  // One pass each for 10 %, 50 % and the monitoring window; a window with too few requests is
  // inconclusive and observed again.
  const verdicts = events.filter((e) => e.kind === 'analysis').map((e) => e.data.judgement.verdict)
  assert.equal(verdicts.filter((v) => v === 'pass').length, 3, `${verdicts}`)
  assert.ok(
    verdicts.every((v) => v === 'pass' || v === 'inconclusive'),
    `${verdicts}`,
  )
  assert.ok(traffic.statuses[200] > 0)
  assert.equal(traffic.statuses[500], undefined, 'a healthy release fails no request')

  // Through the proxy on keep-alive connections, every answer now comes from v2.
  assert.deepEqual(await versions(endpoint, 10), { v2: 10 })
  const releases = await engine.releases(service, 'staging')
  assert.deepEqual(
    releases.map((r) => [r.version, r.deploymentId, r.retiredAt === null]),
    [
      ['v2', v2, true],
      ['v1', v1, false],
    ],
  )
  assert.deepEqual(releases[0].spec.command, ['python3', first.plan.release.command[1]])
  assert.deepEqual(
    (await engine.releases(service, 'staging', 1)).map((r) => r.version),
    ['v2'],
  )
  const oldPids = first.progress.instances.map((i) => i.pid)
  const live = serviceProcesses(service)
  assert.ok(
    oldPids.every((pid) => !live.includes(pid)),
    'the old release was stopped',
  )
  assert.deepEqual(
    live,
    rollout.progress.instances.filter((i) => i.version === 'v2' && i.state === 'running').map((i) => i.pid),
  )
  await closeAndCheck(engine, service)
})

test('a release failing 60 % of requests is rolled back on the analysis (analysis_critical)', async (t) => {
  const { engine, service, endpoint } = await withV1(t)
  const v2 = await approved(engine, service, 'v2')
  const traffic = new Traffic(endpoint)
  const bad = plan('v2', {
    env: { FAILURE_RATE: '0.6' },
    strategy: { type: 'canary', steps: [20, 50], interval_seconds: 30 },
    analysis: analysis(),
  })
  const rollout = await engine.runRollout(v2, bad, 'deploy-bot')
  await traffic.stop()

  assert.equal(rollout.state, 'rolled_back')
  assert.equal(rollout.failure.code, 'analysis_critical')
  assert.match(rollout.failure.message, /above the critical 50%/)
  assert.equal(rollout.progress.analysis.verdict, 'fail')
  assert.equal(rollout.progress.analysis.severity, 'critical')
  assert.ok(rollout.progress.analysis.canary.requests >= 10)
  assert.deepEqual(rollout.progress.traffic, [{ version: 'v1', percent: 100 }])
  assert.equal((await engine.get(v2)).status, 'rolled_back')
  const events = await engine.events(v2)
  const kinds = events.map((e) => e.kind)
  assert.ok(!kinds.includes('canary_promoted'), 'never promoted past 20 %')
  const critical = events.find((e) => e.kind === 'analysis' && e.data.judgement.severity === 'critical')
  assert.ok(critical, 'the deciding analysis is recorded')
  const lifecycle = events.filter((e) => e.toStatus !== null).map((e) => [e.kind, e.actor])
  assert.deepEqual(lifecycle, [
    ['created', 'alice@example.com'],
    ['approved', 'bob@example.com'],
    ['started', 'deploy-bot'],
    ['failed', 'loco'],
    ['rolled_back', 'loco'],
  ])
  assert.ok(traffic.statuses[500] > 0, 'the bad release did fail requests')
  assert.deepEqual(await versions(endpoint, 12), { v1: 12 })
  await closeAndCheck(engine, service)
})

test('rollback during a running canary restores the previous release', async (t) => {
  const { engine, service, endpoint } = await withV1(t)
  const v2 = await approved(engine, service, 'v2')
  const atHalf = nextMatching(
    engine.subscribe(),
    (e) => e.deploymentId === v2 && e.kind === 'step_progress' && e.data.traffic?.some((w) => w.version === 'v2' && w.percent === 50),
  )
  const started = await engine.startRollout(
    v2,
    plan('v2', { strategy: { type: 'canary', steps: [50], interval_seconds: 600 } }),
    'deploy-bot',
  )
  assert.equal(started.deploymentId, v2)
  assert.equal(started.state, 'running', 'the rollout goes on in the background')
  await atHalf
  // The proxy really splits: smooth weighted round robin sends every second request to v2.
  assert.deepEqual(await versions(endpoint, 20), { v1: 10, v2: 10 })
  const running = await engine.rollout(v2)
  assert.equal(running.state, 'running')
  const v2Pids = running.progress.instances.filter((i) => i.version === 'v2').map((i) => i.pid)
  assert.equal(v2Pids.length, 1)

  const d = await engine.rollback(v2, 'carol@example.com', 'stop the canary')
  assert.equal(d.status, 'rolled_back')
  const rollout = await engine.waitRollout(v2)
  assert.equal(rollout.state, 'rolled_back')
  assert.equal(rollout.failure.code, 'rollback_requested')
  assert.match(rollout.failure.message, /carol@example.com requested a rollback: stop the canary/)
  assert.deepEqual(rollout.progress.traffic, [{ version: 'v1', percent: 100 }])
  assert.deepEqual(await versions(endpoint, 12), { v1: 12 })
  assert.ok(
    v2Pids.every((pid) => !serviceProcesses(service).includes(pid)),
    'the canary was stopped',
  )
  const rolledBack = (await engine.events(v2)).filter((e) => e.kind === 'rolled_back')
  assert.deepEqual(
    rolledBack.map((e) => e.actor),
    ['carol@example.com'],
  )
  await closeAndCheck(engine, service)
})

test('logs follow an instance: its listening line first, and return() ends the stream', async (t) => {
  const { engine, service, v1, first } = await withV1(t)
  const instance = first.progress.instances[0]
  assert.equal(instance.state, 'running')
  assert.equal(typeof instance.pid, 'number')
  const logs = engine.logs(v1, instance.id)
  let listening
  for await (const line of logs) {
    assert.equal(line.instanceId, instance.id)
    if (line.line.includes('listening on')) {
      listening = line
      break
    }
  }
  assert.deepEqual(listening, {
    instanceId: instance.id,
    stream: 'stdout',
    line: `demo-service v1 listening on ${instance.address}`,
  })
  assert.deepEqual(await logs.next(), { done: true }, 'leaving the loop ended the stream')

  // A follower waiting for a new line ends when the engine stops the instance.
  const follower = engine.logs(v1, instance.id)
  assert.deepEqual(await follower.next(), { done: false, value: listening }, 'recent lines come first')
  const waiting = follower.next()
  await closeAndCheck(engine, service)
  assert.deepEqual(await waiting, { done: true })
})

test('a paused canary goes on after overrideRollout and succeeds', async (t) => {
  const { engine, service, endpoint } = await withV1(t)
  const v2 = await approved(engine, service, 'v2')
  const traffic = new Traffic(endpoint)
  // The pause is recorded in one transaction with its `step_progress` event.
  const paused = nextMatching(engine.subscribe(), (e) => e.deploymentId === v2 && e.data?.action === 'pause')
  await engine.startRollout(
    v2,
    plan('v2', {
      env: { FAILURE_RATE: '0.15' },
      strategy: { type: 'canary', steps: [30], interval_seconds: 3 },
      analysis: analysis({ min_samples: 20, latency_noise_floor_ms: 250 }),
    }),
    'deploy-bot',
  )
  await paused
  await traffic.stop()
  const rollout = await engine.rollout(v2)
  assert.equal(rollout.state, 'paused')
  assert.equal((await engine.get(v2)).status, 'started', 'a pause is not a failure')
  const judgement = rollout.progress.analysis
  assert.equal(judgement.verdict, 'fail')
  assert.equal(judgement.severity, 'high')
  assert.ok(
    judgement.reasons.some((r) => r.includes('points above the baseline')),
    `${judgement.reasons}`,
  )
  assert.ok(judgement.errorRateTest.pValue < 0.05)
  assert.ok(judgement.canary.requests >= 20 && judgement.baseline.requests >= 20)
  assert.ok(judgement.canary.errorRate > judgement.baseline.errorRate)

  const continued = await engine.overrideRollout(v2, 'carol@example.com', 'known noisy endpoint; accept')
  assert.notEqual(continued.state, 'paused')
  const done = await engine.waitRollout(v2)
  assert.equal(done.state, 'succeeded', JSON.stringify(done.failure))
  assert.equal((await engine.get(v2)).status, 'succeeded')
  const override = (await engine.events(v2)).find((e) => e.data?.action === 'override')
  assert.equal(override.actor, 'carol@example.com')
  await closeAndCheck(engine, service)
})

test('opening with the same state dir recovers a rollout whose engine was killed', async (t) => {
  const dir = tempDir()
  const [db, stateDir, service] = [join(dir, 'loco.db'), join(dir, 'state'), uniqueService()]
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./fixtures/rollout-then-hang.mjs', import.meta.url)), db, stateDir, service, APP],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  t.after(() => child.kill('SIGKILL'))
  const [line] = await once(createInterface({ input: child.stdout }), 'line')
  const { v1, v2, v1Pids, v2Pids } = JSON.parse(line)
  child.kill('SIGKILL')
  await once(child, 'exit')
  // The killed engine's instances run on, orphaned.
  assert.deepEqual(serviceProcesses(service).sort(), [...v1Pids, ...v2Pids].sort())

  const engine = await Engine.open(db, { localStateDir: stateDir })
  t.after(() => engine.close().catch(() => {}))
  const recovered = await engine.rollout(v2)
  assert.equal(recovered.state, 'rolled_back', 'recovered while opening')
  assert.equal(recovered.failure.code, 'engine_restarted')
  assert.equal((await engine.get(v2)).status, 'rolled_back')
  assert.deepEqual(await engine.rollouts({ activeOnly: true }), [])
  assert.deepEqual(
    (await engine.rollouts()).map((r) => [r.deploymentId, r.state]).sort(),
    [
      [v1, 'succeeded'],
      [v2, 'rolled_back'],
    ],
  )
  // v1's live processes were adopted and serve all traffic; the canary's were stopped.
  assert.deepEqual(serviceProcesses(service), v1Pids)
  assert.deepEqual(await versions(recovered.progress.endpoint, 6), { v1: 6 })
  await closeAndCheck(engine, service)
})

test('thresholds per environment, from the open options and from setThresholds', async (t) => {
  // A 25 % error rate is only `high` by default (a pause); these environments call it critical.
  const strict = { critical_error_rate: 0.2, min_samples: 20 }
  const { engine } = await localEngine(t, { thresholds: { staging: strict } })
  engine.setThresholds('QA', strict)
  const services = []
  for (const environment of ['staging', 'qa']) {
    const service = uniqueService()
    services.push(service)
    const v1 = await approved(engine, service, 'v1', environment)
    const { progress } = await engine.runRollout(v1, plan('v1'), 'deploy-bot')
    const traffic = new Traffic(progress.endpoint)
    const v2 = await approved(engine, service, 'v2', environment)
    const rollout = await engine.runRollout(
      v2,
      plan('v2', {
        env: { FAILURE_RATE: '0.25' },
        strategy: { type: 'canary', steps: [50], interval_seconds: 60 },
        analysis: analysis(null),
      }),
      'deploy-bot',
    )
    await traffic.stop()
    assert.equal(rollout.state, 'rolled_back', environment)
    assert.equal(rollout.failure.code, 'analysis_critical', environment)
    assert.match(rollout.failure.message, /above the critical 20%/, environment)
  }
  await engine.close()
  for (const service of services) assert.deepEqual(serviceProcesses(service), [])
})
