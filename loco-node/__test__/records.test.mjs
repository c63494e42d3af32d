// The shape of every record the package returns, against the core's data model
// (schema/loco.schema.json): every property present (`null` when empty), camelCase, in the order
// the core declares it; documents (a rollout's plan, a release's spec, an event's data) keep their
// snake_case keys at every depth; errors carry the core's facts as properties.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { Engine, camel, rejection, request } from './helpers.mjs'
import { approved, closeAndCheck, localEngine, plan, uniqueService } from './rollout-helpers.mjs'

const defs = JSON.parse(readFileSync(new URL('../../schema/loco.schema.json', import.meta.url), 'utf8')).$defs

/** The keys a record of `name` has, in the core's declaration order (the schema's `required`). */
function keys(name) {
  return defs[name].required.map(camel)
}

test('deployments, pages, events and audit reports have every core field, camelCase, in order', async () => {
  const engine = await Engine.openInMemory()
  const created = await engine.create(request())
  assert.deepEqual(Object.keys(created), keys('Deployment'))
  assert.equal(created.risk, null)
  assert.equal(created.reviewedBy, null)
  const approved = await engine.approve(created.id, 'bob', 'fine')
  assert.deepEqual(Object.keys(approved), keys('Deployment'))
  assert.match(approved.reviewedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
  assert.deepEqual(approved.workRefs, ['PAY-142'])

  const page = await engine.list({ limit: 1 })
  assert.deepEqual(Object.keys(page), keys('Page'))
  assert.deepEqual(page.items, [approved])
  assert.equal(page.nextCursor, null)

  const events = await engine.events(created.id)
  for (const event of events) assert.deepEqual(Object.keys(event), keys('Event'))
  assert.deepEqual(
    events.map((e) => [e.kind, e.fromStatus, e.toStatus, e.note]),
    [
      ['created', null, 'pending_approval', null],
      ['approved', 'pending_approval', 'approved', 'fine'],
    ],
  )
  const { workRefs, rollbackPlan, ...rest } = request()
  assert.deepEqual(
    events[0].data,
    { ...rest, work_refs: workRefs, rollback_plan: rollbackPlan, risk: null },
    'created carries the request, a document with snake_case keys',
  )
  assert.equal(events[1].data, null)
  assert.equal(typeof events[0].seq, 'number')

  const audit = await engine.verifyAudit()
  assert.deepEqual(Object.keys(audit), keys('AuditReport'))
  assert.deepEqual(audit, {
    valid: true,
    eventsChecked: 2,
    deploymentsChecked: 1,
    deploymentsStatusOnly: 0,
    headHash: events[1].hash,
    exportedHeadSeq: null,
    firstBroken: null,
  })
  const head = await engine.auditHead()
  assert.deepEqual(Object.keys(head), keys('AuditHead'))
  assert.deepEqual(head, { seq: 2, hash: events[1].hash, hmac: null, at: events[1].at })
  const against = await engine.verifyAuditAgainst(head)
  assert.deepEqual([against.valid, against.exportedHeadSeq], [true, 2])
  const ahead = await engine.verifyAuditAgainst(JSON.stringify({ ...head, seq: 3 }))
  assert.equal(ahead.valid, false)
  assert.match(ahead.firstBroken.reason, /chain ends at #2/)
  const bad = await rejection(engine.verifyAuditAgainst({ seq: 2, hash: 'abc' }))
  assert.deepEqual([bad.code, bad.details.map((d) => d.field)], ['validation_error', ['head.hash']])
  await engine.close()
})

test('every fact of an error is a camelCase property, and no other', async () => {
  const engine = await Engine.openInMemory()
  const d = await engine.create(request())
  const facts = (error) => Object.keys(error).filter((k) => k !== 'code' && k !== 'details').sort()
  const transition = await rejection(engine.succeed(d.id, 'deploy-bot'))
  assert.deepEqual(facts(transition), ['action', 'deploymentId', 'from', 'fromStatus'])
  const self = await rejection(engine.approve(d.id, 'alice@example.com'))
  assert.deepEqual(facts(self), ['action', 'actor', 'deploymentId'])
  const key = (await engine.create(request(), 'k1')) && (await rejection(engine.create(request({ version: '2' }), 'k1')))
  assert.deepEqual(facts(key), ['idempotencyKey'])
  const invalid = await rejection(engine.create(request({ service: '' })))
  assert.deepEqual(facts(invalid), [])
  assert.deepEqual(
    invalid.details.map((e) => e.field),
    ['service'],
  )
  await engine.close()
  assert.deepEqual(facts(await rejection(engine.get(d.id))), [])
})

test('a rollout is camelCase except its plan and its releases spec, which stay snake_case', async (t) => {
  const { engine } = await localEngine(t)
  const service = uniqueService()
  const first = await engine.runRollout(await approved(engine, service, 'v1'), plan('v1'), 'deploy-bot')
  const rollout = await engine.runRollout(await approved(engine, service, 'v2'), plan('v2'), 'deploy-bot')
  assert.equal(rollout.state, 'succeeded', JSON.stringify(rollout.failure))
  assert.deepEqual(Object.keys(rollout), keys('Rollout'))
  assert.deepEqual(Object.keys(rollout.progress), keys('RolloutProgress'))
  assert.deepEqual(Object.keys(rollout.progress.instances[0]), keys('Instance'))
  assert.deepEqual(Object.keys(rollout.previous), keys('Release'))
  assert.equal(rollout.previous.deploymentId, first.deploymentId)
  // The plan comes back as the document it was, every default filled in.
  assert.deepEqual(Object.keys(rollout.plan).sort(), Object.keys(defs.RolloutPlan.properties).sort())
  assert.deepEqual(Object.keys(rollout.plan.health).sort(), Object.keys(defs.HealthSpec.properties).sort())
  assert.equal(rollout.plan.health.backoff_initial_seconds, 0.05)
  assert.equal(rollout.plan.analysis, null)
  assert.deepEqual(rollout.previous.spec, {
    version: 'v1',
    command: plan('v1').release.command,
    env: {},
    image: null,
    commit: null,
    secret_env: {},
    service: null,
    working_dir: null,
  })

  const [release] = await engine.releases(service, 'staging', 1)
  assert.deepEqual(Object.keys(release), keys('Release'))
  assert.deepEqual(Object.keys(release.spec).sort(), Object.keys(defs.ReleaseSpec.properties).sort())
  const steps = (await engine.events(rollout.deploymentId)).filter((e) => e.kind === 'step_progress')
  assert.ok(steps.length > 0)
  for (const { data } of steps) {
    assert.ok(Object.keys(data).every((k) => k === k.toLowerCase()), `event data keeps its keys: ${Object.keys(data)}`)
  }
  assert.ok(steps.some((e) => 'running_new_instances' in e.data))
  await closeAndCheck(engine, service)
})
