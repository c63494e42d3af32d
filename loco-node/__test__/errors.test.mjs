// Every error code the Node API can produce, thrown as an Error with `.code` and `.details`, and
// arguments of the wrong JavaScript type rejected as a TypeError, never a crash.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'

import { Engine, rejection, request, tempDb, tempDir } from './helpers.mjs'

async function openEngine() {
  return Engine.open(tempDb())
}

test('validation_error lists every bad field in camelCase, in the core order', async () => {
  const engine = await openEngine()
  const error = await rejection(engine.create(request({ service: '  ', workRefs: ['PAY-1', ' '], rollbackPlan: '' })))
  assert.ok(error instanceof Error)
  assert.ok(!(error instanceof TypeError))
  assert.equal(error.code, 'validation_error')
  assert.deepEqual(
    error.details.map((d) => d.field),
    ['service', 'workRefs[1]', 'rollbackPlan'],
  )
  assert.match(error.message, /^invalid input: service: .*workRefs\[1\]: .*rollbackPlan: /)
  const missingRisk = await rejection(engine.create(request({ environment: 'PROD' })))
  assert.deepEqual(missingRisk.details, [{ field: 'risk', message: 'is required' }])
  const blankNote = await rejection(engine.reject('dep_x', 'bob', '  '))
  assert.equal(blankNote.code, 'validation_error', 'input is checked before existence')
  assert.deepEqual(
    blankNote.details.map((d) => d.field),
    ['note'],
  )
  const key = await rejection(engine.create(request(), ' '))
  assert.deepEqual(
    key.details.map((d) => d.field),
    ['idempotencyKey'],
  )
  const limit = await rejection(engine.list({ limit: 501 }))
  assert.deepEqual(
    limit.details.map((d) => d.field),
    ['limit'],
  )
  const status = await rejection(engine.list({ status: 'done' }))
  assert.equal(status.code, 'validation_error')
  assert.deepEqual(
    status.details.map((d) => d.field),
    ['status'],
  )
  assert.equal((await engine.list()).items.length, 0, 'nothing was written')
  await engine.close()
})

test('not_found names the missing deployment', async () => {
  const engine = await openEngine()
  const missing = 'dep_00000000000000000000000000'
  for (const call of [() => engine.get(missing), () => engine.events(missing), () => engine.approve(missing, 'bob')]) {
    const error = await rejection(call())
    assert.equal(error.code, 'not_found')
    assert.equal(error.deploymentId, 'dep_00000000000000000000000000')
    assert.deepEqual(error.details, [])
  }
  await engine.close()
})

test('invalid_transition carries fromStatus (also as from) and action', async () => {
  const engine = await openEngine()
  const d = await engine.create(request())
  const error = await rejection(engine.succeed(d.id, 'deploy-bot'))
  assert.equal(error.code, 'invalid_transition')
  assert.equal(error.fromStatus, 'pending_approval')
  assert.equal(error.from, 'pending_approval')
  assert.equal(error.action, 'succeed')
  assert.equal(error.deploymentId, d.id)
  assert.equal(error.message, `deployment '${d.id}' is pending_approval; cannot succeed`)
  await engine.close()
})

test('self_approval: the requester may not review, whatever the case or spacing', async () => {
  const engine = await openEngine()
  const d = await engine.create(request())
  for (const [action, actor] of [
    ['approve', 'alice@example.com'],
    ['reject', ' Alice@Example.COM '],
  ]) {
    const error = await rejection(engine[action](d.id, actor, 'mine'))
    assert.equal(error.code, 'self_approval')
    assert.equal(error.action, action)
    assert.equal(error.actor, actor)
  }
  assert.equal((await engine.get(d.id)).status, 'pending_approval')
  await engine.close()
})

test('idempotency: same key and body returns the original, another body conflicts', async () => {
  const engine = await openEngine()
  const first = await engine.create(request(), 'req-1')
  const again = await engine.create(request(), 'req-1')
  assert.equal(again.id, first.id)
  const error = await rejection(engine.create(request({ version: '9.9.9' }), 'req-1'))
  assert.equal(error.code, 'idempotency_conflict')
  assert.equal(error.idempotencyKey, 'req-1')
  assert.equal((await engine.list()).items.length, 1)
  await engine.close()
})

test('storage_error: an unopenable path, and any call after close', async () => {
  const cannotOpen = await rejection(Engine.open(join(tempDir(), 'no', 'such', 'dir', 'loco.db')))
  assert.equal(cannotOpen.code, 'storage_error')
  const engine = await openEngine()
  const d = await engine.create(request())
  await engine.close()
  for (const call of [
    () => engine.get(d.id),
    () => engine.create(request()),
    () => engine.approve(d.id, 'bob'),
    () => engine.list(),
  ]) {
    const error = await rejection(call())
    assert.equal(error.code, 'storage_error')
    assert.match(error.message, /closed/)
  }
})

test('arguments of the wrong type reject with a TypeError coded validation_error', async () => {
  const engine = await openEngine()
  const d = await engine.create(request())
  const cases = [
    [() => engine.approve(42, 'bob'), [['id', 'must be a string; got number']]],
    [() => engine.approve(undefined, 'bob'), [['id', 'must be a string; got undefined']]],
    [() => engine.approve(d.id, { name: 'bob' }), [['actor', 'must be a string; got object']]],
    [() => engine.reject(d.id, 'bob', ['why']), [['note', 'must be a string; got object']]],
    [() => engine.start(d.id, Symbol('x')), [['actor', 'must be a string; got symbol']]],
    [() => engine.get(10n), [['id', 'must be a string; got bigint']]],
    [() => engine.events(() => d.id), [['id', 'must be a string; got function']]],
    [() => engine.create('checkout'), [['request', 'must be an object; got string']]],
    [() => engine.create([request()]), [['request', 'must be an object; got object']]],
    [() => engine.create(request({ workRefs: 'PAY-1' })), [['workRefs', 'must be an array of strings; got string']]],
    [
      () => engine.create(request({ service: 1, workRefs: ['ok', false] })),
      [
        ['service', 'must be a string; got number'],
        ['workRefs[1]', 'must be a string; got boolean'],
      ],
    ],
    [() => engine.create(request(), 7), [['idempotencyKey', 'must be a string; got number']]],
    [() => engine.create(request({ commit: 0x9f2c1e7 })), [['commit', 'must be a string; got number']]],
    [() => engine.list('newest'), [['query', 'must be an object; got string']]],
    [() => engine.list({ limit: 2.5 }), [['limit', 'must be a whole number from 0 to 4294967295; got 2.5']]],
    [() => engine.list({ limit: -1 }), [['limit', 'must be a whole number from 0 to 4294967295; got -1']]],
    [() => engine.list({ limit: '10' }), [['limit', 'must be a number; got string']]],
    [() => Engine.open(42), [['path', 'must be a string; got number']]],
  ]
  for (const [call, expected] of cases) {
    const error = await rejection(call())
    assert.ok(error instanceof TypeError, `${call}: ${error}`)
    assert.equal(error.code, 'validation_error', `${call}`)
    assert.deepEqual(
      error.details.map((d) => [d.field, d.message]),
      expected,
      `${call}`,
    )
  }
  assert.equal((await engine.get(d.id)).status, 'pending_approval', 'nothing was written')
  await engine.close()
})

test('unknown request properties are refused (snake_case names included)', async () => {
  const engine = await openEngine()
  const { workRefs, rollbackPlan, ...rest } = request()
  const error = await rejection(engine.create({ ...rest, work_refs: workRefs, rollback_plan: rollbackPlan }))
  assert.ok(error instanceof TypeError)
  assert.deepEqual(
    error.details.map((d) => d.field),
    ['work_refs', 'rollback_plan'],
  )
  const list = await rejection(engine.list({ services: 'checkout' }))
  assert.deepEqual(
    list.details.map((d) => d.field),
    ['services'],
  )
  await engine.close()
})

test('absent and null optional arguments read as absent', async () => {
  const engine = await openEngine()
  const d = await engine.create(request({ risk: null }), null)
  assert.equal(d.risk, null)
  const approved = await engine.approve(d.id, 'bob', null)
  assert.equal(approved.status, 'approved')
  const events = await engine.events(d.id)
  assert.equal(events[1].note, null)
  assert.equal((await engine.list(null)).items.length, 1)
  assert.equal((await engine.list({ status: null, limit: undefined })).items.length, 1)
  await engine.close()
})

test('subscribeAfter with a bad seq throws a TypeError at once', async () => {
  const engine = await openEngine()
  for (const seq of ['1', 1.5, undefined, Number.NaN]) {
    assert.throws(
      () => engine.subscribeAfter(seq),
      (error) => error instanceof TypeError && error.code === 'validation_error' && error.details[0].field === 'seq',
    )
  }
  await engine.close()
})

test('the classes cannot be constructed directly', () => {
  assert.throws(() => new Engine())
})
