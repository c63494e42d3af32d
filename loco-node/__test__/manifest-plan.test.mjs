// A start without a plan: `manifestPlan` is the rollout plan a deployment's stage sets in the
// manifest it was created under, and `startRollout(id, null, actor)` runs it on the local platform
// (real demo-service processes) with the deployment's version. Without such a plan both refuse with
// a `validation_error` on `plan`; a plan of the wrong type is still an argument error.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { rejection } from './helpers.mjs'
import { APP, approved, closeAndCheck, localEngine, uniqueService, versions } from './rollout-helpers.mjs'

/** A manifest of `service` whose dev stage runs the demo service and whose staging stage sets no rollout. */
function manifest(service) {
  return `apiVersion: loco/v1
service: ${service}
stages:
  - environment: dev
    rollout:
      platform: local
      strategy: {type: immediate}
      release:
        command: [python3, ${JSON.stringify(APP)}]
      health:
        probes: [{type: http, path: /health}]
        timeout_seconds: 2
        retries: 20
        backoff_initial_seconds: 0.05
        backoff_max_seconds: 0.2
        interval_seconds: 0.5
  - environment: staging
`
}

/** Asserts that `error` is the core's (not an argument's) `validation_error` on `plan` matching `message`. */
function assertNoPlan(error, message) {
  assert.ok(!(error instanceof TypeError), `${error}`)
  assert.equal(error.code, 'validation_error', `${error}`)
  assert.deepEqual(
    error.details.map((d) => d.field),
    ['plan'],
  )
  assert.match(error.message, message)
}

test('a start without a plan rolls out the plan the stage sets in the manifest', async (t) => {
  const { engine } = await localEngine(t)
  const service = uniqueService('web')

  const before = await approved(engine, service, 'v0', 'dev')
  assertNoPlan(await rejection(engine.manifestPlan(before)), /was not created under a manifest/)
  assertNoPlan(await rejection(engine.startRollout(before, null, 'ops')), /was not created under a manifest/)
  assertNoPlan(await rejection(engine.startRollout(before, undefined, 'ops')), /was not created under a manifest/)
  assert.equal((await engine.get(before)).status, 'approved', 'nothing started')

  await engine.applyManifest(manifest(service), 'root')
  const id = await approved(engine, service, 'v1', 'dev')
  const staged = await engine.manifestPlan(id)
  // A document with every default filled in; the deployment's version fills the empty one.
  assert.equal(staged.platform, 'local')
  assert.deepEqual(staged.strategy, { type: 'immediate' })
  assert.deepEqual(staged.release.command, ['python3', APP])
  assert.equal(staged.release.version, '')
  assert.equal(staged.health.backoff_max_seconds, 0.2)
  assert.equal(staged.instances, 1)
  assert.equal(staged.analysis, null)
  assert.equal(staged.on_restart, 'rollback')
  assert.equal(staged.scale_down_delay_seconds, 0)
  assert.ok('scripts' in staged && 'validation' in staged, JSON.stringify(staged))

  const started = await engine.startRollout(id, null, 'ops')
  assert.equal(started.deploymentId, id)
  const rollout = await engine.waitRollout(id)
  assert.equal(rollout.state, 'succeeded', JSON.stringify(rollout.failure))
  assert.equal(rollout.plan.release.version, 'v1')
  assert.deepEqual(rollout.plan.release.command, ['python3', APP])
  assert.deepEqual(await versions(rollout.progress.endpoint, 3), { v1: 3 })

  const promoted = await engine.promote(id, 'alice@example.com')
  assert.equal(promoted.environment, 'staging')
  assertNoPlan(await rejection(engine.manifestPlan(promoted.id)), /stage 'staging' of version 1 .* sets no rollout/)

  const missing = await rejection(engine.manifestPlan('dep_missing'))
  assert.equal(missing.code, 'not_found', `${missing}`)
  await closeAndCheck(engine, service)
})

test('a plan or an id of the wrong type is still an argument error', async (t) => {
  const { engine } = await localEngine(t)
  const id = await approved(engine, uniqueService('web'), 'v1', 'dev')
  for (const [call, field, message] of [
    [() => engine.startRollout(id, 42, 'ops'), 'plan', 'must be an object or a JSON string; got number'],
    [() => engine.startRollout(id, [], 'ops'), 'plan', 'must be an object or a JSON string; got object'],
    [() => engine.startRollout(id, true, 'ops'), 'plan', 'must be an object or a JSON string; got boolean'],
    [() => engine.manifestPlan(42), 'id', 'must be a string; got number'],
    [() => engine.manifestPlan(), 'id', 'must be a string; got undefined'],
  ]) {
    const error = await rejection(call())
    assert.ok(error instanceof TypeError, `${error}`)
    assert.equal(error.code, 'validation_error')
    assert.deepEqual(error.details, [{ field, message }])
  }
  assert.equal((await engine.get(id)).status, 'approved', 'nothing started')
  await engine.close()
})
