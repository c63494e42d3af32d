// Deploy locks from Node on real SQLite files: every vector of tests/conformance/locks.json
// (checked as the Rust runner checks them); a second start on a target rejected with
// `policy_violation` naming the holder; a forced release recorded as a `lock_released` event;
// concurrent starts of which exactly one wins; and bad arguments named as written.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { Engine, rejection, tempDb } from './helpers.mjs'

const { vectors } = JSON.parse(readFileSync(new URL('../../tests/conformance/locks.json', import.meta.url), 'utf8'))

function newDeployment(service = 'web', environment = 'production') {
  return {
    service,
    environment,
    version: '1.0.0',
    requester: 'alice',
    workRefs: ['LOCK-1'],
    rollbackPlan: 'redeploy',
    risk: 'low',
  }
}

async function approved(engine, service, environment) {
  const d = await engine.create(newDeployment(service, environment))
  await engine.approve(d.id, 'bob')
  return d.id
}

async function runStep(engine, refs, step) {
  const actor = step.actor ?? 'dana'
  switch (step.op) {
    case 'create': {
      const d = await engine.create(newDeployment(step.service, step.environment))
      refs[step.ref] = d.id
      return d
    }
    case 'approve':
      return engine.approve(refs[step.ref], 'bob')
    case 'start':
    case 'succeed':
      return engine[step.op](refs[step.ref], actor)
    case 'fail':
    case 'rollback':
      return engine[step.op](refs[step.ref], actor, 'vector')
    case 'release':
      return engine.releaseLock(step.service, step.environment, 'root', step.reason)
    default:
      throw new Error(`unknown op ${step.op}`)
  }
}

test('the vectors are there', () => {
  assert.ok(vectors.length >= 20, `${vectors.length} vectors`)
})

for (const { name, steps } of vectors) {
  test(name, async () => {
    const engine = await Engine.open(tempDb())
    const refs = {}
    try {
      for (const [n, step] of steps.entries()) {
        const at = `step ${n}`
        const expect = step.expect
        if (!expect) {
          await runStep(engine, refs, step)
          continue
        }
        if (expect.error) {
          const error = await rejection(runStep(engine, refs, step))
          assert.equal(error.code, expect.error, `${at}: ${error.message}`)
          assert.deepEqual(error.details.map((d) => d.field), expect.fields, at)
          if (expect.holder) assert.deepEqual([error.rule, error.policy], ['deploy_lock', refs[expect.holder]], at)
        } else {
          const result = await runStep(engine, refs, step)
          if (expect.released) {
            const [service, environment, ref, holder] = expect.released
            assert.deepEqual(
              [result.service, result.environment, result.deploymentId, result.holder],
              [service, environment, refs[ref], holder],
              at,
            )
          }
        }
        const names = Object.fromEntries(Object.entries(refs).map(([k, v]) => [v, k]))
        if (expect.locks) {
          const found = (await engine.locks()).map((l) => [l.service, l.environment, names[l.deploymentId], l.holder])
          assert.deepEqual(found, expect.locks, at)
        }
        for (const [ref, status] of Object.entries(expect.statuses ?? {})) {
          assert.equal((await engine.get(refs[ref])).status, status, at)
        }
      }
      assert.equal((await engine.verifyAudit()).valid, true)
    } finally {
      await engine.close()
    }
  })
}

test('a forced release is recorded on the holder, which stays started', async () => {
  const engine = await Engine.open(tempDb())
  const holder = await approved(engine)
  await engine.start(holder, 'dana')
  const waiting = await approved(engine)
  const refused = await rejection(engine.start(waiting, 'erin'))
  assert.ok(refused instanceof Error)
  assert.deepEqual([refused.code, refused.rule, refused.policy], ['policy_violation', 'deploy_lock', holder])
  assert.equal(refused.environment, 'production')
  assert.equal(refused.until, undefined)

  const [lock] = await engine.locks()
  assert.deepEqual(Object.keys(lock).sort(), ['deploymentId', 'environment', 'holder', 'service', 'since'])
  assert.equal(lock.since, (await engine.get(holder)).updatedAt)
  const wrongType = await rejection(engine.releaseLock('web', 'production', 'root', 42))
  assert.ok(wrongType instanceof TypeError)
  assert.deepEqual(wrongType.details.map((d) => d.field), ['reason'])
  const blank = await rejection(engine.releaseLock('web', 'production', 'root', ' '))
  assert.equal(blank.code, 'validation_error')
  const missing = await rejection(engine.releaseLock('web', 'staging', 'root', 'nothing there'))
  assert.deepEqual([missing.code, missing.service, missing.environment], ['not_found', 'web', 'staging'])

  assert.deepEqual(await engine.releaseLock('web', 'production', 'root', 'runner died'), lock)
  const last = (await engine.events(holder)).at(-1)
  assert.deepEqual([last.kind, last.actor, last.note], ['lock_released', 'root', 'runner died'])
  assert.deepEqual(last.data, { service: 'web', environment: 'production', holder: 'dana', since: lock.since })
  assert.equal((await engine.get(holder)).status, 'started')
  assert.equal((await engine.start(waiting, 'erin')).status, 'started')
  await engine.close()
})

test('of concurrent starts on one target exactly one wins', async () => {
  const engine = await Engine.open(tempDb())
  const ids = []
  for (let i = 0; i < 16; i++) ids.push(await approved(engine))
  const results = await Promise.allSettled(ids.map((id) => engine.start(id, 'dana')))
  const won = results.filter((r) => r.status === 'fulfilled').map((r) => r.value.id)
  const refused = results.filter((r) => r.status === 'rejected').map((r) => r.reason.code)
  assert.equal(won.length, 1)
  assert.deepEqual(refused, Array(15).fill('policy_violation'))
  assert.deepEqual((await engine.locks()).map((l) => l.deploymentId), won)
  await engine.close()
})
