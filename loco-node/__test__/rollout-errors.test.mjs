// Every error a rollout call can end in, thrown with its core code and structured properties:
// conflicts, pauses, plan and threshold validation (field names as written in the document),
// missing rollouts, platform failures, a failed restore, and arguments of the wrong type.
import assert from 'node:assert/strict'
import { chmodSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { Engine, rejection, request, tempDb, tempDir } from './helpers.mjs'
import { APP, approved, closeAndCheck, localEngine, plan, uniqueService } from './rollout-helpers.mjs'

/** A canary that stays at its first share for ten minutes: a rollout that is surely running. */
const longCanary = (version) => plan(version, { strategy: { type: 'canary', steps: [50], interval_seconds: 600 } })

test('rollout_conflict, rollout_in_progress and rollout_not_paused while a rollout runs', async (t) => {
  const { engine } = await localEngine(t)
  const service = uniqueService()
  const first = await approved(engine, service, 'v1')
  const started = await engine.startRollout(first, longCanary('v1'), 'deploy-bot')
  assert.equal(started.state, 'running')
  assert.equal(started.previous, null, "a service's first release has nothing to restore")

  const second = await approved(engine, service, 'v2')
  const conflict = await rejection(engine.startRollout(second, longCanary('v2'), 'deploy-bot'))
  assert.equal(conflict.code, 'rollout_conflict')
  assert.equal(conflict.service, service)
  assert.equal(conflict.environment, 'staging')
  assert.equal(conflict.activeDeploymentId, first)
  assert.deepEqual(conflict.details, [])
  assert.equal((await engine.get(second)).status, 'approved', 'the refused start changed nothing')

  const inProgress = await rejection(engine.succeed(first, 'deploy-bot'))
  assert.equal(inProgress.code, 'rollout_in_progress')
  assert.equal(inProgress.deploymentId, first)

  const notPaused = await rejection(engine.overrideRollout(first, 'carol', 'go on'))
  assert.equal(notPaused.code, 'rollout_not_paused')
  assert.equal(notPaused.deploymentId, first)
  assert.equal(notPaused.state, 'running')
  const noNote = await rejection(engine.overrideRollout(first, 'carol', ' '))
  assert.equal(noNote.code, 'validation_error')
  assert.deepEqual(
    noNote.details.map((d) => d.field),
    ['note'],
  )

  const active = await engine.rollouts({ activeOnly: true })
  assert.deepEqual(
    active.map((r) => [r.deploymentId, r.state]),
    [[first, 'running']],
  )
  // Rolling back a first release stops its instances; it gets no traffic.
  assert.equal((await engine.rollback(first, 'carol', 'not now')).status, 'rolled_back')
  assert.equal((await engine.rollout(first)).state, 'rolled_back')
  assert.deepEqual(await engine.rollouts({ activeOnly: true }), [])
  await closeAndCheck(engine, service)
})

test('plans are validated by the core, with field names as written in the plan', async (t) => {
  const { engine } = await localEngine(t)
  const service = uniqueService()
  const id = await approved(engine, service, 'v1')
  const cases = [
    [{ strategy: { type: 'canary', steps: [50, 25], interval_seconds: 1 } }, ['strategy.steps[1]']],
    [{ strategy: { type: 'canary', steps: [0], interval_seconds: -1 } }, ['strategy.steps[0]', 'strategy.interval_seconds']],
    [{ strategy: { type: 'rolling', max_surge: 0, max_unavailable: 0 } }, ['strategy.max_surge']],
    [{ instances: 0, health: { retries: 1000, probes: [{ type: 'http', path: 'health' }] } }, ['instances', 'health.retries', 'health.probes[0].path']],
    [{ colour: 'red' }, ['colour']],
    [{ instances: '2' }, ['instances']],
    [{ analysis: { monitor_seconds: 4000, thresholds: { alpha: 2 } } }, ['analysis.monitor_seconds', 'analysis.thresholds.alpha']],
    [{ platform: 'railway' }, ['platform']],
  ]
  for (const [overrides, fields] of cases) {
    const error = await rejection(engine.startRollout(id, { ...plan('v1'), ...overrides }, 'deploy-bot'))
    assert.ok(!(error instanceof TypeError), JSON.stringify(overrides))
    assert.equal(error.code, 'validation_error', JSON.stringify(overrides))
    assert.deepEqual(
      error.details.map((d) => d.field),
      fields,
      JSON.stringify(overrides),
    )
  }
  const unknownStrategy = await rejection(engine.runRollout(id, { ...plan('v1'), strategy: { type: 'yolo' } }, 'ops'))
  assert.equal(unknownStrategy.code, 'validation_error')
  assert.match(unknownStrategy.details[0].message, /unknown variant `yolo`/)
  // A JSON string is the same document.
  const asText = await rejection(engine.startRollout(id, JSON.stringify({ ...plan('v1'), colour: 'red' }), 'ops'))
  assert.deepEqual(
    asText.details.map((d) => d.field),
    ['colour'],
  )
  const malformed = await rejection(engine.startRollout(id, '{"platform": ', 'ops'))
  assert.equal(malformed.code, 'validation_error')
  assert.equal(malformed.details.length, 1)
  const noActor = await rejection(engine.startRollout(id, plan('v1'), ' '))
  assert.deepEqual(
    noActor.details.map((d) => d.field),
    ['actor'],
  )
  assert.equal((await engine.get(id)).status, 'approved', 'nothing was started')
  await assert.rejects(engine.rollout(id), { code: 'not_found' })
  await closeAndCheck(engine, service)
})

test('a plan naming the local platform needs an engine opened with localStateDir', async () => {
  const engine = await Engine.open(tempDb())
  const d = await engine.create(request())
  await engine.approve(d.id, 'bob')
  const error = await rejection(engine.startRollout(d.id, plan('1.4.0'), 'ops'))
  assert.equal(error.code, 'validation_error')
  assert.deepEqual(
    error.details.map((e) => e.field),
    ['platform'],
  )
  assert.match(error.details[0].message, /no platform named 'local'/)
  await engine.close()
})

test('not_found and invalid_transition: no rollout, no deployment, not approved', async (t) => {
  const { engine } = await localEngine(t)
  const d = await engine.create(request({ service: uniqueService() }))
  for (const call of [() => engine.rollout(d.id), () => engine.waitRollout(d.id), () => engine.logs(d.id, 'ins_x').next()]) {
    const error = await rejection(call())
    assert.equal(error.code, 'not_found', `${call}`)
    assert.equal(error.deploymentId, d.id)
    assert.equal(error.message, `deployment '${d.id}' has no rollout`)
  }
  const missing = 'dep_00000000000000000000000000'
  const unknown = await rejection(engine.startRollout(missing, plan('v1'), 'ops'))
  assert.equal(unknown.code, 'not_found')
  assert.equal(unknown.deploymentId, missing)
  const pending = await rejection(engine.runRollout(d.id, plan('v1'), 'ops'))
  assert.equal(pending.code, 'invalid_transition')
  assert.equal(pending.fromStatus, 'pending_approval')
  assert.equal(pending.from, 'pending_approval')
  assert.equal(pending.action, 'start')
  assert.deepEqual(await engine.rollouts(), [])
  assert.deepEqual(await engine.releases(d.service, d.environment), [])
  for (const limit of [0, 501]) {
    const outside = await rejection(engine.releases(d.service, d.environment, limit))
    assert.ok(!(outside instanceof TypeError))
    assert.equal(outside.code, 'validation_error', `limit ${limit}`)
    assert.deepEqual(
      outside.details.map((e) => [e.field, e.message]),
      [['limit', `must be between 1 and 500; got ${limit}`]],
    )
  }
  assert.deepEqual(await engine.releases(d.service, d.environment, 500), [])
  await engine.close()
})

test('platform_error: an unusable state dir, and logs of an instance that does not run here', async (t) => {
  const file = join(tempDir(), 'a-file')
  writeFileSync(file, 'not a directory')
  const cannot = await rejection(Engine.open(tempDb(), { localStateDir: join(file, 'state') }))
  assert.equal(cannot.code, 'platform_error')
  assert.equal(cannot.platform, 'local')
  assert.match(cannot.message, /^platform 'local' failed: cannot create /)

  const { engine } = await localEngine(t)
  const service = uniqueService()
  const id = await approved(engine, service, 'v1')
  await engine.runRollout(id, plan('v1'), 'ops')
  const error = await rejection(engine.logs(id, 'ins_00000000000000000000000000').next())
  assert.equal(error.code, 'platform_error')
  assert.equal(error.platform, 'local')
  assert.match(error.message, /instance ins_0+ is not running on this engine/)
  await closeAndCheck(engine, service)
})

test('rollback_failed: the release to restore can no longer start', async (t) => {
  const { engine, dir } = await localEngine(t)
  const service = uniqueService()
  // v1 runs through a launcher script that is deleted once v2 replaced it.
  const launcher = join(dir, 'run-v1.sh')
  writeFileSync(launcher, `#!/bin/sh\nexec python3 ${APP}\n`)
  chmodSync(launcher, 0o755)
  const v1 = await approved(engine, service, 'v1')
  const first = await engine.runRollout(v1, { ...plan('v1'), release: { version: 'v1', command: [launcher] } }, 'ops')
  assert.equal(first.state, 'succeeded', JSON.stringify(first.failure))
  const v2 = await approved(engine, service, 'v2')
  assert.equal((await engine.runRollout(v2, plan('v2'), 'ops')).state, 'succeeded')
  rmSync(launcher)

  const error = await rejection(engine.rollback(v2, 'carol', 'back to v1'))
  assert.equal(error.code, 'rollback_failed')
  assert.equal(error.deploymentId, v2)
  assert.match(error.message, new RegExp(`^rollback of deployment '${v2}' failed: .*cannot start`))
  const rollout = await engine.rollout(v2)
  assert.equal(rollout.state, 'rollback_failed')
  assert.equal(rollout.failure.code, 'rollback_failed')
  await closeAndCheck(engine, service)
})

test('threshold documents are validated by the core, with the environment in the field name', async () => {
  const error = await rejection(
    Engine.open(tempDb(), { thresholds: { production: { min_samples: 0, alpha: 2 }, staging: { minSamples: 5 } } }),
  )
  assert.ok(!(error instanceof TypeError))
  assert.equal(error.code, 'validation_error')
  // Every environment is checked, so one error names every bad field, with its full path.
  assert.deepEqual(
    error.details.map((d) => d.field),
    ['thresholds.production.min_samples', 'thresholds.production.alpha', 'thresholds.staging.minSamples'],
  )
  assert.match(error.details[2].message, /^unknown field `minSamples`, expected one of `min_samples`/)
  const malformed = await rejection(Engine.openInMemory({ thresholds: { staging: '{"min_samples": ' } }))
  assert.deepEqual(
    malformed.details.map((d) => d.field),
    ['thresholds.staging'],
  )
  const engine = await Engine.openInMemory({ thresholds: { staging: '{"min_samples": 5}' } })
  assert.throws(
    () => engine.setThresholds('production', { critical_error_rate: 1.5 }),
    (e) =>
      !(e instanceof TypeError) &&
      e.code === 'validation_error' &&
      e.details[0].field === 'thresholds.production.critical_error_rate',
  )
  assert.throws(
    () => engine.setThresholds('production', { critical_error_rate: 'high' }),
    (e) =>
      e.code === 'validation_error' &&
      e.details[0].field === 'thresholds.production.critical_error_rate' &&
      /^invalid type: string "high", expected f64/.test(e.details[0].message),
  )
  engine.setThresholds('production', {})
  await engine.close()
})

test('arguments of the wrong type reject with a TypeError coded validation_error', async () => {
  const engine = await Engine.openInMemory()
  const d = await engine.create(request())
  const cyclic = { ...plan('v1') }
  cyclic.self = cyclic
  const cases = [
    [() => engine.startRollout(d.id, 42, 'ops'), [['plan', 'must be an object or a JSON string; got number']]],
    [() => engine.startRollout(d.id, [plan('v1')], 'ops'), [['plan', 'must be an object or a JSON string; got object']]],
    [() => engine.runRollout(d.id, undefined, 'ops'), [['plan', 'must be an object or a JSON string; got undefined']]],
    [() => engine.runRollout(d.id, { ...plan('v1'), instances: 1n }, 'ops'), [['plan', /^cannot be written as JSON: .*BigInt/]]],
    [() => engine.startRollout(d.id, cyclic, 'ops'), [['plan', /^cannot be written as JSON: .*circular/]]],
    [() => engine.startRollout(7, plan('v1'), ['ops']), [['id', 'must be a string; got number'], ['actor', 'must be a string; got object']]],
    [() => engine.waitRollout(null), [['id', 'must be a string; got null']]],
    [() => engine.rollout({}), [['id', 'must be a string; got object']]],
    [() => engine.rollouts('active'), [['query', 'must be an object; got string']]],
    [() => engine.rollouts({ activeOnly: 'yes' }), [['activeOnly', 'must be a boolean; got string']]],
    [() => engine.rollouts({ active_only: true }), [['active_only', 'is not a property of query; expected one of activeOnly']]],
    [() => engine.releases('checkout', 3), [['environment', 'must be a string; got number']]],
    [() => engine.releases('checkout', 'staging', 2.5), [['limit', 'must be a whole number from 0 to 4294967295; got 2.5']]],
    [() => engine.overrideRollout(d.id, 'carol', false), [['note', 'must be a string; got boolean']]],
    [() => Engine.open(tempDb(), 'state'), [['options', 'must be an object; got string']]],
    [() => Engine.open(tempDb(), { stateDir: 'x' }), [['stateDir', 'is not a property of options; expected one of localStateDir, platforms, probes, metricSources, thresholds, releaseRetention, leaseSeconds']]],
    [() => Engine.openInMemory({ localStateDir: 1 }), [['localStateDir', 'must be a string; got number']]],
    [() => Engine.openInMemory({ thresholds: [] }), [['thresholds', 'must be an object; got object']]],
    [() => Engine.openInMemory({ thresholds: { prod: 5 } }), [['thresholds.prod', 'must be an object or a JSON string; got number']]],
  ]
  for (const [call, expected] of cases) {
    const error = await rejection(call())
    assert.ok(error instanceof TypeError, `${call}: ${error}`)
    assert.equal(error.code, 'validation_error', `${call}`)
    assert.equal(error.details.length, expected.length, `${call}`)
    for (const [i, [field, message]] of expected.entries()) {
      assert.equal(error.details[i].field, field, `${call}`)
      if (message instanceof RegExp) assert.match(error.details[i].message, message, `${call}`)
      else assert.equal(error.details[i].message, message, `${call}`)
    }
  }
  for (const [call, field] of [
    [() => engine.logs(d.id, 5), 'instanceId'],
    [() => engine.logs(undefined, 'ins_x'), 'id'],
    [() => engine.setThresholds('production', 0.5), 'thresholds'],
    [() => engine.setThresholds(null, {}), 'environment'],
  ]) {
    assert.throws(call, (e) => e instanceof TypeError && e.code === 'validation_error' && e.details[0].field === field)
  }
  assert.equal((await engine.get(d.id)).status, 'pending_approval', 'nothing was written')
  await engine.close()
})

test('saveThresholds outlives the engine, setThresholds does not, a bad document stores nothing', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  assert.equal(await engine.saveThresholds('Production', { min_samples: 7, critical_error_rate: 0.3 }), undefined)
  engine.setThresholds('staging', { min_samples: 9 })
  const now = await engine.thresholds()
  assert.deepEqual([now.production.min_samples, now.staging.min_samples], [7, 9])
  const bad = await rejection(engine.saveThresholds('qa', { min_samples: 0 }))
  assert.equal(bad.code, 'validation_error')
  assert.deepEqual(bad.details.map((d) => d.field), ['thresholds.qa.min_samples'])
  await engine.close()

  const later = await Engine.open(path)
  const after = await later.thresholds()
  assert.deepEqual(Object.keys(after), ['production'], 'only saved thresholds are loaded by a later engine')
  assert.equal(after.production.min_samples, 7)
  assert.equal(after.production.critical_error_rate, 0.3)
  assert.equal(after.production.alpha, 0.05, 'every field is filled in')
  await later.close()
})
