// Platforms written in JavaScript (`Platform` in index.d.ts) under the real orchestrator: every
// strategy on async and plain methods, throws and rejections from each method, methods that never
// settle or block the event loop, capabilities that refuse a strategy, objects that are not
// platforms, bad answers, logs and metrics from the platform itself, recovery after the engine's
// process is killed, and many rollouts at once on one platform.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { Engine, rejection, tempDb, tempDir } from './helpers.mjs'
import {
  AsyncSim,
  CAPABILITIES,
  FilePlatform,
  HEALTH,
  STRATEGIES,
  approved,
  hostPlan,
  plainSim,
} from './host-platform-fleet.mjs'

/** An engine on a fresh database with `platforms`, closed after the test. */
async function open(t, platforms) {
  const engine = await Engine.open(tempDb(), { platforms })
  t.after(() => engine.close().catch(() => {}))
  return engine
}

/** Everything recorded about a deployment's rollout, as text to search. */
async function story(engine, id, rollout) {
  return JSON.stringify(await engine.events(id)) + JSON.stringify(rollout.failure)
}

for (const strategy of Object.keys(STRATEGIES)) {
  test(`the ${strategy} strategy runs on a platform with async methods`, async (t) => {
    const sim = new AsyncSim()
    const engine = await open(t, [sim])
    const v1 = await approved(engine, 'shop', 'v1')
    assert.equal((await engine.runRollout(v1, hostPlan('v1', 'immediate', { instances: 3 }), 'ops')).state, 'succeeded')
    const v2 = await approved(engine, 'shop', 'v2')
    const rollout = await engine.runRollout(v2, hostPlan('v2', strategy, { instances: 3 }), 'ops')
    assert.equal(rollout.state, 'succeeded', JSON.stringify(rollout.failure))
    assert.equal((await engine.get(v2)).status, 'succeeded')
    assert.deepEqual(rollout.progress.traffic, [{ version: 'v2', percent: 100 }])
    const platformIds = new Set(Object.values(sim.fleet.instances).map((i) => i.platformId))
    for (const instance of rollout.progress.instances.filter((i) => i.version === 'v2')) {
      assert.ok(platformIds.has(instance.platformId), 'the platform ids it answered are recorded')
    }
    assert.deepEqual(
      (await engine.releases('shop', 'staging')).map((r) => r.version),
      ['v2', 'v1'],
    )
    assert.deepEqual(sim.fleet.traffic['shop/staging'], [{ version: 'v2', percent: 100 }])
    assert.deepEqual(sim.fleet.running(), ['v2', 'v2', 'v2'])
    // The platform sees the release as the core has it (a document: snake_case), secrets revealed.
    const release = sim.fleet.releases.at(-1)
    assert.deepEqual(release.secret_env, { TOKEN: 's3cret' })
    assert.equal(release.image, 'registry.example/shop:v2')
    if (strategy === 'canary') {
      const shares = sim.fleet.splits.map((split) => split.map((w) => [w.version, w.percent]))
      assert.deepEqual(shares.slice(-3), [
        [
          ['v2', 10],
          ['v1', 90],
        ],
        [
          ['v2', 50],
          ['v1', 50],
        ],
        [['v2', 100]],
      ])
    }
  })
}

test('plain methods and a capabilities method work, registered with registerPlatform', async (t) => {
  const engine = await Engine.openInMemory()
  t.after(() => engine.close().catch(() => {}))
  const plain = plainSim('plain')
  engine.registerPlatform(plain)
  for (const version of ['v1', 'v2']) {
    const id = await approved(engine, 'shop', version)
    const rollout = await engine.runRollout(id, hostPlan(version, 'canary', { platform: 'plain' }), 'ops')
    assert.equal(rollout.state, 'succeeded', JSON.stringify(rollout.failure))
  }
  assert.deepEqual(plain.fleet.running(), ['v2', 'v2'])
  assert.deepEqual(plain.fleet.traffic['shop/staging'], [{ version: 'v2', percent: 100 }])
  // Registering again under the same name replaces it.
  const replacement = plainSim('plain')
  engine.registerPlatform(replacement)
  const v3 = await approved(engine, 'shop', 'v3')
  assert.equal((await engine.runRollout(v3, hostPlan('v3', 'immediate', { platform: 'plain' }), 'ops')).state, 'succeeded')
  assert.deepEqual(replacement.fleet.calls.slice(0, 1), ['deploy'])
})

for (const [method, state, code] of [
  ['deploy', 'rolled_back', 'step_failed'],
  ['health', 'rolled_back', 'health_check_failed'],
  ['setTraffic', 'rolled_back', 'step_failed'],
  ['restore', 'rollback_failed', 'rollback_failed'],
]) {
  for (const how of ['async', 'plain']) {
    test(`an error from ${method}() (${how}) ends the rollout ${state}, its message and stack recorded`, async (t) => {
      const sim = how === 'async' ? new AsyncSim() : plainSim()
      if (method === 'restore') sim.fleet.throwIn.deploy = 'registry unreachable'
      sim.fleet.throwIn[method] = `${method} exploded`
      const engine = await open(t, [sim])
      const v1 = await approved(engine, 'shop', 'v1')
      assert.equal((await engine.runRollout(v1, hostPlan('v1'), 'ops')).state, 'succeeded')
      const v2 = await approved(engine, 'shop', 'v2')
      const rollout = await engine.runRollout(v2, hostPlan('v2', 'canary'), 'ops')
      assert.equal(rollout.state, state, JSON.stringify(rollout.failure))
      assert.equal(rollout.failure.code, code)
      const told = await story(engine, v2, rollout)
      // The error's message and where it was thrown reach the record.
      assert.match(told, new RegExp(`${method}\\(\\) threw Error: ${method} exploded \\[host-platform-fleet.mjs:\\d+ in `))
      if (state === 'rolled_back') {
        assert.equal((await engine.get(v2)).status, 'rolled_back')
        assert.deepEqual(sim.fleet.running(), ['v1', 'v1'])
        assert.deepEqual(sim.fleet.traffic['shop/staging'], [{ version: 'v1', percent: 100 }])
      } else {
        assert.match(told, /registry unreachable/)
      }
    })
  }
}

test('a rejection with a value that is not an Error is recorded as String(value) says', async (t) => {
  const sim = new AsyncSim()
  sim.deploy = async () => Promise.reject('the registry said no') // eslint-disable-line prefer-promise-reject-errors
  const engine = await open(t, [sim])
  const id = await approved(engine, 'shop', 'v1')
  const rollout = await engine.runRollout(id, hostPlan('v1'), 'ops')
  assert.equal(rollout.state, 'rolled_back')
  assert.match(rollout.failure.message, /deploy\(\) threw the registry said no/)
})

test('a method that never settles fails at the time limit, and the engine goes on', async (t) => {
  const sim = new AsyncSim()
  sim.hang.add('deploy')
  const quick = { ...HEALTH, timeout_seconds: 0.3, retries: 0 }
  const engine = await open(t, [sim])
  const v1 = await approved(engine, 'shop', 'v1')
  assert.equal((await engine.runRollout(v1, hostPlan('v1', 'immediate', { health: quick }), 'ops')).state, 'succeeded')
  const v2 = await approved(engine, 'shop', 'v2')
  const started = performance.now()
  const rollout = await engine.runRollout(v2, hostPlan('v2', 'immediate', { health: quick }), 'ops')
  assert.ok(performance.now() - started < 10_000)
  assert.equal(rollout.state, 'rolled_back')
  assert.match(rollout.failure.message, /deploy on platform 'sim' did not answer within 0.3 s/)
  // The engine (and the platform) still work.
  sim.hang.clear()
  const v3 = await approved(engine, 'shop', 'v3')
  assert.equal((await engine.runRollout(v3, hostPlan('v3', 'immediate', { health: quick }), 'ops')).state, 'succeeded')
  assert.deepEqual(sim.fleet.running(), ['v3', 'v3'])
})

test('a method blocking the event loop does not stall the engine', async (t) => {
  const sim = new AsyncSim()
  sim.block.deploy = 1000
  const quick = { ...HEALTH, timeout_seconds: 0.2, retries: 0 }
  const engine = await open(t, [sim])
  const v1 = await approved(engine, 'shop', 'v1')
  assert.equal((await engine.runRollout(v1, hostPlan('v1', 'immediate', { health: quick }), 'ops')).state, 'succeeded')
  const v2 = await approved(engine, 'shop', 'v2')
  const rollout = await engine.runRollout(v2, hostPlan('v2', 'immediate', { health: quick }), 'ops')
  // The time limit fired on Loco's threads while the loop was blocked (the failure was recorded
  // before it was free again); the rollback's calls ran once it was.
  assert.equal(rollout.state, 'rolled_back')
  assert.match(rollout.failure.message, /did not answer within 0.2 s/)
  const failed = (await engine.events(v2)).find((e) => e.kind === 'failed')
  assert.match(failed.note, /did not answer within 0.2 s/)
  assert.ok(Date.parse(failed.at) < sim.unblockedAt, `recorded at ${failed.at}, the loop was free at ${sim.unblockedAt}`)
  assert.equal((await engine.get(v1)).status, 'succeeded')
  assert.deepEqual(sim.fleet.traffic['shop/staging'], [{ version: 'v1', percent: 100 }])
})

test('capabilities that cannot split traffic refuse a canary before anything runs', async (t) => {
  const sim = new AsyncSim('swap', 'atomic_swap')
  const engine = await open(t, [sim])
  const id = await approved(engine, 'shop', 'v1')
  const refused = await rejection(engine.startRollout(id, hostPlan('v1', 'canary', { platform: 'swap' }), 'ops'))
  assert.equal(refused.code, 'validation_error')
  assert.deepEqual(
    refused.details.map((d) => d.field),
    ['strategy'],
  )
  assert.match(refused.message, /traffic: atomic_swap/)
  assert.deepEqual(sim.fleet.calls, [], 'refused before anything ran')
  const rollout = await engine.runRollout(id, hostPlan('v1', 'blue_green', { platform: 'swap' }), 'ops')
  assert.equal(rollout.state, 'succeeded')
})

/** The `TypeError` that registering `object` throws. */
function refusal(engine, object) {
  try {
    engine.registerPlatform(object)
  } catch (error) {
    return error
  }
  throw new Error('not refused')
}

test('objects that are not platforms are refused, naming what is wrong', async (t) => {
  const engine = await Engine.openInMemory()
  t.after(() => engine.close().catch(() => {}))
  const { setTraffic: _, ...incomplete } = plainSim('incomplete')
  const cases = [
    [incomplete, ['setTraffic'], /platform 'incomplete' has no setTraffic\(\) method/],
    [42, ['platform'], /must be an object/],
    [{ ...plainSim(), name: '' }, ['name'], /non-empty string/],
    [{ ...plainSim(), capabilities: () => ({ ...CAPABILITIES, traffic: 'teleport' }) }, ['capabilities.traffic'], /percentage/],
    [{ ...plainSim(), capabilities: { ...CAPABILITIES, logs: true } }, ['capabilities.logs'], /no logs\(\) method/],
    [{ ...plainSim(), capabilities: { ...CAPABILITIES, metrics: true } }, ['capabilities.metrics'], /no stats\(\) method/],
    [{ ...plainSim(), capabilities: { traffic: 'percentage', nativeRollback: false, logs: false } }, ['capabilities.metrics'], /is missing/],
    [{ ...plainSim(), capabilities: async () => CAPABILITIES }, ['capabilities'], /not a Promise/],
    [{ ...plainSim(), capabilities: undefined }, ['capabilities'], /is missing/],
    [
      {
        ...plainSim(),
        capabilities() {
          throw new RangeError('no capabilities today')
        },
      },
      ['capabilities'],
      /RangeError: no capabilities today/,
    ],
  ]
  for (const [object, fields, message] of cases) {
    const error = refusal(engine, object)
    assert.ok(error instanceof TypeError, String(error))
    assert.equal(error.code, 'validation_error')
    assert.deepEqual(
      error.details.map((d) => d.field),
      fields,
      error.message,
    )
    assert.match(error.message, message)
  }
  // In the options of open, each problem is named under `platforms[i]`, with the other options'.
  const error = await rejection(
    Engine.openInMemory({ platforms: [plainSim(), incomplete], leaseSeconds: 'long' }),
  )
  assert.ok(error instanceof TypeError)
  assert.deepEqual(
    error.details.map((d) => d.field),
    ['leaseSeconds', 'platforms[1].setTraffic'],
  )
  const notAList = await rejection(Engine.openInMemory({ platforms: plainSim() }))
  assert.deepEqual(
    notAList.details.map((d) => d.field),
    ['platforms'],
  )
})

for (const [method, answer, named] of [
  ['deploy', [{ id: 'ins_x', version: 'v2' }], 'deploy() returned a bad shape: result[0].state: is missing'],
  ['deploy', [{ id: 7, version: 'v2', state: 'running' }], 'deploy() returned a bad shape: result[0].id: invalid type: integer `7`'],
  ['deploy', [{ id: 'ins_x', version: 'v2', state: 'running', platformId: 5 }], 'result[0].platformId: invalid type: integer `5`'],
  ['deploy', { not: 'a list' }, 'deploy() returned a bad shape: result: invalid type: map'],
  ['deploy', 10n, 'deploy() returned a value JSON cannot hold (TypeError: Do not know how to serialize a BigInt)'],
  ['health', { state: 'exited' }, 'health() returned a bad shape: result.reason: is missing'],
  ['health', 'sleeping', 'health() returned a bad shape: result.state: unknown variant `sleeping`'],
]) {
  test(`a bad answer from ${method}() is a platform error naming the field: ${named}`, async (t) => {
    const sim = plainSim()
    sim.fleet.answer[method] = answer
    const engine = await open(t, [sim])
    const id = await approved(engine, 'shop', 'v2')
    const rollout = await engine.runRollout(id, hostPlan('v2'), 'ops')
    assert.equal(rollout.state, 'rolled_back')
    const told = await story(engine, id, rollout)
    assert.ok(told.includes(named), told)
  })
}

test('a platform with logs: lines are strings or LogLine objects, a bad one ends the output saying why', async (t) => {
  const sim = new AsyncSim()
  sim.capabilities = { ...CAPABILITIES, logs: true }
  let returned = false
  sim.logs = async function* logs(target, instanceId) {
    try {
      if (instanceId.endsWith('!')) yield 42
      yield `${target.service} started ${instanceId}`
      yield { stream: 'stderr', line: 'warming up' }
      for (let n = 0; ; n++) {
        await new Promise((resolve) => setTimeout(resolve, 5)) // a live stream: a line now and then
        yield `tick ${n}`
      }
    } finally {
      returned = true
    }
  }
  const engine = await open(t, [sim])
  const id = await approved(engine, 'shop', 'v1')
  const rollout = await engine.runRollout(id, hostPlan('v1'), 'ops')
  const instance = rollout.progress.instances[0]
  const logs = engine.logs(id, instance.id)
  assert.deepEqual(await logs.next(), {
    done: false,
    value: { instanceId: instance.id, stream: 'stdout', line: `shop started ${instance.id}` },
  })
  // The same iterator goes on with the following lines, live ones included.
  assert.deepEqual((await logs.next()).value, { instanceId: instance.id, stream: 'stderr', line: 'warming up' })
  assert.equal((await logs.next()).value.line, 'tick 0')
  assert.equal((await logs.next()).value.line, 'tick 1')
  await logs.return()
  for (let i = 0; i < 100 && !returned; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.ok(returned, "leaving the loop ran the generator's finally")
  const bad = engine.logs(id, `${instance.id}!`)
  const first = await bad.next()
  assert.equal(first.value.stream, 'stderr')
  assert.equal((await bad.next()).done, true)
  assert.match(first.value.line, /^\[loco\] logs\(\): logs\(\) returned a bad shape: result: invalid type: integer `42`/)

  const quiet = new AsyncSim('quiet')
  engine.registerPlatform(quiet)
  const other = await approved(engine, 'quiet', 'v1')
  const done = await engine.runRollout(other, hostPlan('v1', 'immediate', { platform: 'quiet' }), 'ops')
  const error = await rejection(engine.logs(other, done.progress.instances[0].id).next())
  assert.equal(error.code, 'platform_error')
  assert.match(error.message, /keeps no logs/)
})

/** A platform measuring its own traffic: `stats` answers from `rates` (errors per version). */
function measuredSim(rates) {
  const sim = new AsyncSim('measured')
  sim.capabilities = { ...CAPABILITIES, metrics: true }
  sim.asked = []
  sim.stats = async (target, version, windowSeconds) => {
    sim.asked.push([target.service, version, windowSeconds])
    const latenciesMs = Array.from({ length: 200 }, (_, i) => 20 + (i % 10))
    return { requests: 200, errors: Math.round(200 * (rates[version] ?? 0)), latenciesMs }
  }
  return sim
}

const ANALYSIS = {
  source: { type: 'platform' },
  thresholds: { min_samples: 50 },
  monitor_seconds: 0,
  pause_timeout_seconds: 30,
  poll_seconds: 0.02,
  inconclusive_extensions: 0,
}

test('stats() makes a platform its own metric source: a healthy canary passes, a failing one rolls back', async (t) => {
  const sim = measuredSim({ v1: 0, v2: 0, v3: 0.8 })
  const engine = await open(t, [sim])
  const plan = (version) => hostPlan(version, 'canary', { platform: 'measured', analysis: ANALYSIS })
  for (const version of ['v1', 'v2']) {
    const id = await approved(engine, 'shop', version)
    const rollout = await engine.runRollout(id, plan(version), 'ops')
    assert.equal(rollout.state, 'succeeded', JSON.stringify(rollout.failure))
  }
  assert.ok(sim.asked.some(([service, version]) => service === 'shop' && version === 'v2'))
  const v3 = await approved(engine, 'shop', 'v3')
  const rollout = await engine.runRollout(v3, plan('v3'), 'ops')
  assert.equal(rollout.state, 'rolled_back')
  assert.equal(rollout.failure.code, 'analysis_critical')
  const judged = rollout.progress.analysis
  assert.equal(judged.canary.requests, 200)
  assert.equal(judged.canary.errorRate, 0.8)
  assert.equal(judged.canary.p50Ms, 24, 'percentiles come from the raw latencies')
  // A platform without stats() is no metric source.
  engine.registerPlatform(new AsyncSim('blind'))
  const blind = await approved(engine, 'blind', 'v1')
  const refused = await rejection(
    engine.startRollout(blind, hostPlan('v1', 'canary', { platform: 'blind', analysis: ANALYSIS }), 'ops'),
  )
  assert.deepEqual(
    refused.details.map((d) => d.field),
    ['analysis.source'],
  )
})

test('a rollout whose engine was killed is recovered through the re-registered platform', async () => {
  const dir = tempDir()
  const db = join(dir, 'loco.db')
  const state = join(dir, 'fleet.json')
  const child = spawn(process.execPath, [fileURLToPath(new URL('host-platform-child.mjs', import.meta.url)), db, state], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal)))
  let output = ''
  const facts = await new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk) => {
      output += chunk
      if (output.includes('\n')) resolve(JSON.parse(output))
    })
    child.on('exit', () => reject(new Error(`the child exited early: ${output}`)))
  })
  child.kill('SIGKILL')
  assert.equal(await exited, 'SIGKILL')
  const platform = new FilePlatform(state)
  assert.deepEqual(
    Object.values(platform.fleet().instances)
      .filter((i) => i.state === 'running')
      .map((i) => i.version)
      .sort(),
    ['v1', 'v1', 'v2'],
  )

  const engine = await Engine.open(db, { platforms: [platform] })
  try {
    const recovered = await engine.rollout(facts.v2)
    assert.equal(recovered.state, 'rolled_back', 'recovered while opening')
    assert.equal(recovered.failure.code, 'engine_restarted')
    assert.equal((await engine.get(facts.v2)).status, 'rolled_back')
    assert.equal((await engine.get(facts.v1)).status, 'succeeded')
    assert.deepEqual(await engine.rollouts({ activeOnly: true }), [])
  } finally {
    await engine.close()
  }
  const fleet = platform.fleet()
  assert.deepEqual(fleet.traffic['shop/staging'], [{ version: 'v1', percent: 100 }])
  assert.deepEqual(fleet.running(), ['v1', 'v1'], "the canary instance was stopped, v1's were kept")
  assert.ok(fleet.calls.includes('restore'))
})

test('a hundred concurrent rollouts on one platform', async (t) => {
  const sim = new AsyncSim()
  const engine = await open(t, [sim])
  const started = performance.now()
  const ids = await Promise.all(Array.from({ length: 100 }, (_, n) => approved(engine, `svc-${n}`, 'v1')))
  const rollouts = await Promise.all(
    ids.map((id) => engine.runRollout(id, hostPlan('v1', 'canary', { instances: 1 }), 'ops')),
  )
  assert.deepEqual(
    rollouts.map((r) => r.state),
    Array(100).fill('succeeded'),
  )
  assert.ok(performance.now() - started < 20_000)
  assert.equal(Object.keys(sim.fleet.traffic).length, 100)
  for (const split of Object.values(sim.fleet.traffic)) assert.deepEqual(split, [{ version: 'v1', percent: 100 }])
})
