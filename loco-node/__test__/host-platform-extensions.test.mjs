// Health probes and metric sources written in JavaScript (`HealthProbe`, `MetricSource` in
// index.d.ts) under the real orchestrator: a canary judged by a registered source, probes gating
// instances (failing, throwing, never settling; async and plain), plans naming what is not
// registered, bad answers named by field, errors summarized, and objects that are neither refused.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Engine, rejection, tempDb } from './helpers.mjs'
import { AsyncSim, HEALTH, approved, hostPlan, plainSim } from './host-platform-fleet.mjs'

/** Versions whose canary fails three requests in four (a critical error rate). */
const BAD = 'v2'

/** What a monitoring API reports for `version` over any window: 200 requests, p99 40 ms. */
function window(version) {
  const errors = version === BAD ? 150 : 1
  return { requests: 200, errors, errorRate: errors / 200, p50Ms: 12, p95Ms: 30, p99Ms: 40, cpuPercent: null }
}

/** A metric source with an async `stats`; records every question it is asked. */
class Monitoring {
  asked = []
  answer = undefined
  failWith = undefined

  constructor(name = 'monitoring') {
    this.name = name
  }

  async stats(target, version, windowSeconds) {
    await new Promise((resolve) => setImmediate(resolve))
    this.asked.push([`${target.service}/${target.environment}`, version, windowSeconds])
    if (this.failWith) throw new Error(this.failWith)
    return this.answer ?? window(version)
  }
}

const HOST_SOURCE = { type: 'host', name: 'monitoring' }

/** A one-step canary of `version` judged quickly from `source`; an inconclusive window pauses, and
 * a pause rolls back after 0.3 s. */
function analysed(version, source, overrides = {}) {
  return {
    ...hostPlan(version, 'canary', overrides),
    strategy: { type: 'canary', steps: [25], interval_seconds: 0.3 },
    analysis: {
      source,
      thresholds: { min_samples: 50 },
      monitor_seconds: 0,
      poll_seconds: 0.05,
      pause_timeout_seconds: 0.3,
      inconclusive_extensions: 0,
    },
  }
}

/** An immediate rollout of `version` whose health checks run the host probes `names`. */
function probing(version, names, health = {}) {
  return hostPlan(version, 'immediate', {
    health: { ...HEALTH, probes: names.map((name) => ({ type: 'host', name })), retries: 0, ...health },
  })
}

/** An engine on a fresh database with these open options, closed after the test. */
async function open(t, options) {
  const engine = await Engine.open(tempDb(), options)
  t.after(() => engine.close().catch(() => {}))
  return engine
}

async function story(engine, id, rollout) {
  return JSON.stringify(await engine.events(id)) + JSON.stringify(rollout.failure)
}

test('a metric source judges the canary: a failing release rolls back, a healthy one passes', async (t) => {
  const sim = new AsyncSim()
  const monitoring = new Monitoring()
  const engine = await open(t, { platforms: [sim], metricSources: [monitoring] })
  const v1 = await approved(engine, 'shop', 'v1')
  assert.equal((await engine.runRollout(v1, hostPlan('v1'), 'ops')).state, 'succeeded')
  const v2 = await approved(engine, 'shop', 'v2')
  const bad = await engine.runRollout(v2, analysed('v2', HOST_SOURCE), 'ops')
  assert.equal(bad.state, 'rolled_back', JSON.stringify(bad.failure))
  assert.equal(bad.failure.code, 'analysis_critical')
  assert.match(bad.failure.message, /error rate/)
  const v3 = await approved(engine, 'shop', 'v3')
  const good = await engine.runRollout(v3, analysed('v3', HOST_SOURCE), 'ops')
  assert.equal(good.state, 'succeeded', JSON.stringify(good.failure))
  assert.equal(good.progress.analysis.verdict, 'pass')
  assert.equal(good.progress.analysis.canary.requests, 200)
  assert.deepEqual(sim.fleet.running(), ['v3', 'v3'])
  const asked = new Set(monitoring.asked.map(([target, version]) => `${target} ${version}`))
  // The canary and, while it still takes traffic, the baseline, over the window observed so far.
  for (const version of ['v1', 'v2', 'v3']) assert.ok(asked.has(`shop/staging ${version}`), version)
  assert.ok(monitoring.asked.every(([, , seconds]) => seconds > 0 && seconds < 5))
})

test('a metric source with a plain stats() registered later judges the canary', async (t) => {
  const engine = await open(t, { platforms: [plainSim()] })
  const asked = []
  engine.registerMetricSource({
    name: 'datadog',
    stats: (target, version) => {
      asked.push(version)
      return window(version)
    },
  })
  assert.equal((await engine.runRollout(await approved(engine, 'shop', 'v1'), hostPlan('v1'), 'ops')).state, 'succeeded')
  const v2 = await approved(engine, 'shop', 'v2')
  const rollout = await engine.runRollout(v2, analysed('v2', { type: 'host', name: 'datadog' }), 'ops')
  assert.equal(rollout.state, 'rolled_back')
  assert.equal(rollout.failure.code, 'analysis_critical')
  assert.ok(asked.includes(BAD))
})

test('a plan naming an unregistered probe or source is refused, naming the fields', async (t) => {
  const sim = plainSim()
  const engine = await open(t, { platforms: [sim], probes: { ready: () => true }, metricSources: [new Monitoring()] })
  const id = await approved(engine, 'shop', 'v1')
  const health = { ...HEALTH, probes: [{ type: 'host', name: 'ready' }, { type: 'host', name: 'warm' }] }
  const refused = await rejection(engine.startRollout(id, analysed('v1', { type: 'host', name: 'newrelic' }, { health }), 'ops'))
  assert.equal(refused.code, 'validation_error')
  assert.deepEqual(
    refused.details.map((d) => d.field),
    ['health.probes[1].name', 'analysis.source.name'],
  )
  assert.match(refused.details[0].message, /no host probe named 'warm' is registered/)
  assert.match(refused.details[1].message, /no metric source named 'newrelic' is registered.*monitoring/)
  assert.equal((await engine.get(id)).status, 'approved')
  assert.deepEqual(sim.fleet.calls, [], 'refused before anything ran')
})

test('an async probe gates every instance, and its error rolls the release back', async (t) => {
  const sim = new AsyncSim()
  const checked = []
  async function ready(target, instance) {
    await new Promise((resolve) => setImmediate(resolve))
    checked.push([`${target.service}/${target.environment}`, instance.version, instance.id])
    if (instance.version === BAD) throw new Error(`${instance.version} answers 503 on /ready`)
  }
  const engine = await open(t, { platforms: [sim], probes: { ready } })
  const v1 = await approved(engine, 'shop', 'v1')
  assert.equal((await engine.runRollout(v1, probing('v1', ['ready']), 'ops')).state, 'succeeded')
  assert.deepEqual(checked.map((c) => c[2]).sort(), Object.keys(sim.fleet.instances).sort(), 'every instance, by its id')
  const v2 = await approved(engine, 'shop', 'v2')
  const rollout = await engine.runRollout(v2, probing('v2', ['ready']), 'ops')
  assert.equal(rollout.state, 'rolled_back')
  assert.equal(rollout.failure.code, 'health_check_failed')
  assert.match(
    rollout.failure.message,
    /host probe ready: ready\(\) threw Error: v2 answers 503 on \/ready \[host-platform-extensions.test.mjs:\d+ in ready/,
  )
  assert.deepEqual(sim.fleet.running(), ['v1', 'v1'])
})

test('a plain probe returning false fails the check; one registered again replaces the first', async (t) => {
  const sim = plainSim()
  const engine = await open(t, { platforms: [sim], probes: { warm: () => false } })
  const warm = (target, instance) => instance.version !== BAD
  engine.registerProbe('warm', warm)
  assert.equal((await engine.runRollout(await approved(engine, 'shop', 'v1'), probing('v1', ['warm']), 'ops')).state, 'succeeded')
  const v2 = await approved(engine, 'shop', 'v2')
  const rollout = await engine.runRollout(v2, probing('v2', ['warm']), 'ops')
  assert.equal(rollout.state, 'rolled_back')
  assert.match(rollout.failure.message, /host probe warm: warm\(\) returned false/)
  assert.deepEqual(sim.fleet.running(), ['v1', 'v1'])
})

test('a probe that never settles fails at the time limit', async (t) => {
  const sim = new AsyncSim()
  const engine = await open(t, { platforms: [sim] })
  engine.registerProbe('hangs', (target, instance) => (instance.version === BAD ? new Promise(() => {}) : true))
  const v1 = await approved(engine, 'shop', 'v1')
  assert.equal((await engine.runRollout(v1, probing('v1', ['hangs'], { timeout_seconds: 0.3 }), 'ops')).state, 'succeeded')
  const v2 = await approved(engine, 'shop', 'v2')
  const started = performance.now()
  const rollout = await engine.runRollout(v2, probing('v2', ['hangs'], { timeout_seconds: 0.3 }), 'ops')
  assert.ok(performance.now() - started < 10_000)
  assert.equal(rollout.state, 'rolled_back')
  assert.match(rollout.failure.message, /host probe hangs: timed out after/)
  assert.deepEqual(sim.fleet.running(), ['v1', 'v1'])
})

for (const [answer, named] of [
  [{ errors: 1 }, 'stats() returned a bad shape: result.requests: is missing'],
  [{ requests: 200, errors: '1' }, 'stats() returned a bad shape: result.errors: invalid type: string'],
  [{ requests: 200, errors: 1, p99: 40 }, 'stats() returned a bad shape: result.p99: unknown field `p99`'],
  [{ requests: 200, errors: 1, p99Ms: 'fast' }, 'stats() returned a bad shape: result.p99Ms: invalid type: string'],
  [{ requests: 20, errors: 30 }, 'stats() returned a bad shape: result.errors: 30 is more than requests (20)'],
  [[200, 1], 'stats() returned a bad shape: result: must be an object'],
]) {
  test(`bad stats are metrics unavailable, naming the field: ${named}`, async (t) => {
    const monitoring = new Monitoring()
    monitoring.answer = answer
    const engine = await open(t, { platforms: [plainSim()], metricSources: [monitoring] })
    assert.equal((await engine.runRollout(await approved(engine, 'shop', 'v1'), hostPlan('v1'), 'ops')).state, 'succeeded')
    const v2 = await approved(engine, 'shop', 'v2')
    const rollout = await engine.runRollout(v2, analysed('v2', HOST_SOURCE), 'ops')
    // No numbers: the window is inconclusive, which pauses, and the pause times out.
    assert.equal(rollout.state, 'rolled_back')
    assert.equal(rollout.failure.code, 'pause_timeout')
    const told = await story(engine, v2, rollout)
    assert.ok(told.includes(`metrics unavailable from monitoring: ${named}`), told)
  })
}

test('counts alone are enough: the error rate is computed', async (t) => {
  const monitoring = new Monitoring()
  monitoring.answer = { requests: 200, errors: 150 }
  const engine = await open(t, { platforms: [plainSim()], metricSources: [monitoring] })
  assert.equal((await engine.runRollout(await approved(engine, 'shop', 'v1'), hostPlan('v1'), 'ops')).state, 'succeeded')
  const v2 = await approved(engine, 'shop', 'v2')
  const rollout = await engine.runRollout(v2, analysed('v2', HOST_SOURCE), 'ops')
  assert.equal(rollout.failure.code, 'analysis_critical')
  const { errorRate, p99Ms, cpuPercent } = rollout.progress.analysis.canary
  assert.deepEqual([errorRate, p99Ms, cpuPercent], [0.75, null, null])
})

test('errors carry their message and where they were thrown; odd answers name the shape', async (t) => {
  const monitoring = new Monitoring()
  monitoring.failWith = 'datadog is down'
  // Only v3 gets the odd answer: the rollback's health check of v1 runs the same probe.
  const odd = (target, instance) => (instance.version === 'v3' ? 'yes' : true)
  const engine = await open(t, { platforms: [plainSim()], metricSources: [monitoring], probes: { odd } })
  assert.equal((await engine.runRollout(await approved(engine, 'shop', 'v1'), hostPlan('v1'), 'ops')).state, 'succeeded')
  const v2 = await approved(engine, 'shop', 'v2')
  const rollout = await engine.runRollout(v2, analysed('v2', HOST_SOURCE), 'ops')
  assert.equal(rollout.state, 'rolled_back')
  assert.match(
    await story(engine, v2, rollout),
    /metrics unavailable from monitoring: stats\(\) threw Error: datadog is down \[host-platform-extensions.test.mjs:\d+ in Monitoring.stats/,
  )
  const v3 = await approved(engine, 'shop', 'v3')
  const refused = await engine.runRollout(v3, probing('v3', ['odd']), 'ops')
  assert.match(refused.failure.message, /host probe odd: odd\(\) returned a bad shape: result: invalid type: string "yes"/)
})

test('objects that are not probes or metric sources are refused, naming what is wrong', async (t) => {
  const engine = await open(t, {})
  for (const [source, fields] of [
    [{ stats: async () => ({}) }, ['name']],
    [{ name: 'statless' }, ['stats']],
    [new AsyncSim(), ['stats']],
    ['datadog', ['source']],
  ]) {
    let error
    try {
      engine.registerMetricSource(source)
    } catch (thrown) {
      error = thrown
    }
    assert.ok(error instanceof TypeError, String(error))
    assert.equal(error.code, 'validation_error')
    assert.deepEqual(
      error.details.map((d) => d.field),
      fields,
    )
  }
  for (const [name, probe, fields] of [
    [' ', () => true, ['name']],
    ['ready', 5, ['probe']],
    [5, () => true, ['name']],
  ]) {
    assert.throws(
      () => engine.registerProbe(name, probe),
      (error) => error instanceof TypeError && error.details.map((d) => d.field).join() === fields.join(),
    )
  }
  const error = await rejection(Engine.openInMemory({ metricSources: [{ name: 'statless' }], probes: { ready: 5 } }))
  assert.ok(error instanceof TypeError)
  assert.deepEqual(
    error.details.map((d) => d.field),
    ['probes.ready', 'metricSources[0].stats'],
  )
})
