// Pipelines and promotion from Node on real SQLite files: pipelines are set, listed, replaced and
// removed as documents (snake_case keys in and out) and kept in the file; a create of a version in
// a stage before it succeeded in the stage before rejects with `policy_violation` (rule
// `promotion_order`), also after reopening; a promotion creates the next stage's deployment,
// requested by the promoter, with a `promoted` event naming its source; the pipeline view follows
// the version through every stage; and bad pipelines and arguments are named.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Engine, rejection, request, tempDb } from './helpers.mjs'

const WEB = { service: 'web', stages: ['dev', 'staging', 'production'], require_previous_success: true }

/** A deployment of `web` `version` in `environment`, requested by alice. */
function web(environment, version = '2.0.0') {
  return request({
    service: 'web',
    environment,
    version,
    commit: 'c0ffee1',
    risk: 'low: config only',
    workRefs: ['WEB-7'],
    rollbackPlan: 'redeploy 1.9.0',
  })
}

/** Takes deployment `id` from review to `succeeded`. */
async function succeed(engine, id) {
  await engine.approve(id, 'bob@example.com')
  await engine.start(id, 'dana')
  return engine.succeed(id, 'dana')
}

test('pipelines are documents: set, listed by service, replaced, kept in the file and removed', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  const web = await engine.setPipeline(WEB, 'admin@example.com')
  assert.deepEqual(web, WEB, 'snake_case keys, as written')

  // JSON text works as well as an object; what was left out comes back filled in.
  const api = await engine.setPipeline(JSON.stringify({ service: 'api', stages: ['qa', 'live'] }), 'admin')
  assert.deepEqual(api, { service: 'api', stages: ['qa', 'live'], require_previous_success: true })
  assert.deepEqual(await engine.pipelines(), [api, web], 'by service')

  const shorter = { service: 'web', stages: ['dev', 'production'], require_previous_success: false }
  const loose = await engine.setPipeline(shorter, 'ops')
  assert.deepEqual(loose, shorter)
  assert.deepEqual(await engine.pipelines(), [api, loose], 'replaced by service')
  await engine.close()

  const again = await Engine.open(path)
  assert.deepEqual(await again.pipelines(), [api, loose], 'kept in the file')
  assert.equal(await again.removePipeline('api'), undefined)
  assert.deepEqual(await again.pipelines(), [loose])
  const missing = await rejection(again.removePipeline('api'))
  assert.ok(missing instanceof Error)
  assert.equal(missing.code, 'not_found', missing.message)
  assert.equal(missing.service, 'api')
  await again.close()
})

test('a version created out of order is refused with rule promotion_order, also after reopening', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  await engine.setPipeline(WEB, 'admin')

  const early = await rejection(engine.create(web('staging')))
  assert.ok(early instanceof Error && !(early instanceof TypeError))
  assert.equal(early.code, 'policy_violation', early.message)
  assert.equal(early.rule, 'promotion_order')
  assert.equal(early.policy, 'web')
  assert.equal(early.environment, 'staging')
  assert.deepEqual(early.details.map((d) => d.field), ['promotion_order'])
  assert.match(early.details[0].message, /version '2\.0\.0' of 'web' has not succeeded in 'dev'/)
  assert.equal((await engine.list({ service: 'web' })).items.length, 0, 'nothing was created')

  // Skipping a stage is refused as well, and a started (not yet succeeded) deployment does not count.
  const dev = (await engine.create(web('dev'))).id
  await engine.approve(dev, 'bob@example.com')
  await engine.start(dev, 'dana')
  assert.equal((await rejection(engine.create(web('staging')))).rule, 'promotion_order')
  assert.equal((await rejection(engine.create(web('production')))).rule, 'promotion_order')
  await engine.succeed(dev, 'dana')
  await engine.close()

  const again = await Engine.open(path)
  const staging = await again.create(web('staging'))
  assert.deepEqual([staging.environment, staging.status], ['staging', 'pending_approval'])
  const other = await rejection(again.create(web('staging', '2.0.1')))
  assert.equal(other.rule, 'promotion_order', "another version's success does not count")
  // Environments outside the pipeline, and other services, take any version.
  assert.equal((await again.create(web('preview', '2.0.1'))).status, 'pending_approval')
  assert.equal((await again.create(request({ environment: 'staging' }))).status, 'pending_approval')

  await again.removePipeline('web')
  assert.equal((await again.create(web('production', '2.0.1'))).environment, 'production', 'the order is lifted')
  await again.close()
})

test('promote creates the next stage deployment, requested by the promoter, with a promoted event', async () => {
  const engine = await Engine.open(tempDb())
  await engine.setPipeline(WEB, 'admin')
  const dev = await succeed(engine, (await engine.create(web('dev'))).id)

  const staging = await engine.promote(dev.id, 'erin@example.com')
  assert.notEqual(staging.id, dev.id)
  assert.deepEqual(
    [staging.service, staging.environment, staging.version, staging.status, staging.requester],
    ['web', 'staging', '2.0.0', 'pending_approval', 'erin@example.com'],
  )
  assert.deepEqual(
    [staging.commit, staging.risk, staging.workRefs, staging.rollbackPlan],
    [dev.commit, dev.risk, dev.workRefs, dev.rollbackPlan],
    'the source deployment fields are carried over',
  )
  assert.deepEqual(await engine.get(staging.id), staging)

  const events = await engine.events(staging.id)
  assert.deepEqual(events.map((e) => e.kind), ['created', 'promoted'])
  const promoted = events[1]
  assert.deepEqual([promoted.actor, promoted.deploymentId], ['erin@example.com', staging.id])
  assert.deepEqual(promoted.data, { from_deployment: dev.id, from_environment: 'dev' }, 'a document, snake_case')
  assert.match(promoted.note, /promoted from dev/)

  // The promoted deployment goes through its own review: the promoter is its requester.
  const self = await rejection(engine.approve(staging.id, 'erin@example.com'))
  assert.equal(self.code, 'self_approval')
  await succeed(engine, staging.id)
  const production = await engine.promote(staging.id, 'frank@example.com')
  assert.deepEqual([production.environment, production.requester], ['production', 'frank@example.com'])
  assert.equal((await engine.verifyAudit()).valid, true)
  await engine.close()
})

test('promotion is refused before success, after the last stage, without a pipeline and for a missing id', async () => {
  const engine = await Engine.open(tempDb())
  await engine.setPipeline({ service: 'web', stages: ['dev', 'production'] }, 'admin')
  const dev = (await engine.create(web('dev'))).id

  const pending = await rejection(engine.promote(dev, 'erin'))
  assert.deepEqual(
    [pending.code, pending.rule, pending.environment],
    ['policy_violation', 'promotion_order', 'production'],
  )
  assert.match(pending.details[0].message, /is pending_approval; only a succeeded deployment is promoted/)
  assert.deepEqual(await engine.list({ environment: 'production' }).then((p) => p.items), [], 'nothing was created')

  await succeed(engine, dev)
  const production = await engine.promote(dev, 'erin')
  await succeed(engine, production.id)
  const last = await rejection(engine.promote(production.id, 'erin'))
  assert.deepEqual([last.code, last.details.map((d) => d.field)], ['validation_error', ['environment']])
  assert.match(last.details[0].message, /'production' is the last stage of the pipeline of 'web'/)

  const other = await succeed(engine, (await engine.create(request())).id)
  const unpiped = await rejection(engine.promote(other.id, 'erin'))
  assert.deepEqual([unpiped.code, unpiped.details.map((d) => d.field)], ['validation_error', ['service']])

  const missing = await rejection(engine.promote('dep_missing', 'erin'))
  assert.equal(missing.code, 'not_found', missing.message)
  assert.equal(missing.deploymentId, 'dep_missing')
  const noActor = await rejection(engine.promote(dev, ' '))
  assert.deepEqual([noActor.code, noActor.details.map((d) => d.field)], ['validation_error', ['actor']])
  await engine.close()
})

test('the pipeline view follows a version through every stage; without a pipeline it is not_found', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  await engine.setPipeline(WEB, 'admin')
  const empty = await engine.pipelineView('web', '2.0.0')
  assert.deepEqual(empty, {
    service: 'web',
    version: '2.0.0',
    stages: ['dev', 'staging', 'production'].map((environment) => ({
      environment,
      deploymentId: null,
      status: null,
      updatedAt: null,
    })),
    next: 'dev',
  })

  const dev = await succeed(engine, (await engine.create(web('dev'))).id)
  const staging = await engine.promote(dev.id, 'erin')
  let view = await engine.pipelineView('web', '2.0.0')
  assert.deepEqual(Object.keys(view.stages[0]), ['environment', 'deploymentId', 'status', 'updatedAt'], 'a record')
  assert.deepEqual(
    view.stages.map((s) => [s.environment, s.deploymentId, s.status]),
    [
      ['dev', dev.id, 'succeeded'],
      ['staging', staging.id, 'pending_approval'],
      ['production', null, null],
    ],
  )
  assert.equal(view.stages[0].updatedAt, dev.updatedAt)
  assert.equal(view.next, 'staging')

  const production = await engine.promote((await succeed(engine, staging.id)).id, 'erin')
  await succeed(engine, production.id)
  await engine.close()

  const again = await Engine.open(path)
  view = await again.pipelineView('web', '2.0.0')
  assert.deepEqual(view.stages.map((s) => s.status), ['succeeded', 'succeeded', 'succeeded'])
  assert.equal(view.next, null, 'through every stage')
  assert.equal((await again.pipelineView('web', '3.0.0')).next, 'dev', 'another version has not started')

  const none = await rejection(again.pipelineView('checkout', '2.0.0'))
  assert.equal(none.code, 'not_found', none.message)
  assert.equal(none.service, 'checkout')
  await again.close()
})

test('a pipeline without required success keeps the order for promotion only', async () => {
  const engine = await Engine.open(tempDb())
  await engine.setPipeline({ ...WEB, require_previous_success: false }, 'admin')
  const staging = await engine.create(web('staging'))
  assert.equal(staging.status, 'pending_approval', 'created without a success in dev')
  const view = await engine.pipelineView('web', '2.0.0')
  assert.deepEqual([view.stages[1].deploymentId, view.next], [staging.id, 'dev'])
  const production = await engine.promote((await succeed(engine, staging.id)).id, 'erin')
  assert.equal(production.environment, 'production')
  await engine.close()
})

test('a bad pipeline names its fields as the document does; arguments of the wrong type are a TypeError', async () => {
  const engine = await Engine.open(tempDb())
  const bad = await rejection(engine.setPipeline({ service: ' ', stages: ['dev', '', 'dev'] }, 'admin'))
  assert.ok(!(bad instanceof TypeError))
  assert.equal(bad.code, 'validation_error')
  assert.deepEqual(bad.details.map((d) => d.field), ['service', 'stages[1]', 'stages[2]'])
  assert.match(bad.details[2].message, /names 'dev' twice/)
  const one = await rejection(engine.setPipeline({ service: 'web', stages: ['dev'] }, 'admin'))
  assert.deepEqual(one.details.map((d) => d.field), ['stages'])
  const eleven = Array.from({ length: 11 }, (_, i) => `s${i}`)
  const many = await rejection(engine.setPipeline({ service: 'web', stages: eleven }, 'admin'))
  assert.deepEqual(many.details.map((d) => d.field), ['stages'])

  // Keys are the document's: a camelCase key is an unknown field, refused by the core.
  const camel = await rejection(engine.setPipeline({ ...WEB, requirePreviousSuccess: false }, 'admin'))
  assert.equal(camel.code, 'validation_error')
  assert.deepEqual(camel.details.map((d) => d.field), ['pipeline'])
  assert.match(camel.details[0].message, /requirePreviousSuccess/)
  const notJson = await rejection(engine.setPipeline('{"service": ', 'admin'))
  assert.deepEqual([notJson.code, notJson.details.map((d) => d.field)], ['validation_error', ['pipeline']])
  const noBy = await rejection(engine.setPipeline(WEB, ' '))
  assert.deepEqual([noBy.code, noBy.details.map((d) => d.field)], ['validation_error', ['by']])

  const wrongTypes = await rejection(engine.setPipeline(['web'], null))
  assert.ok(wrongTypes instanceof TypeError)
  assert.equal(wrongTypes.code, 'validation_error')
  assert.deepEqual(wrongTypes.details.map((d) => d.field), ['pipeline', 'by'])
  const wrongService = await rejection(engine.removePipeline(42))
  assert.ok(wrongService instanceof TypeError)
  assert.deepEqual(wrongService.details.map((d) => d.field), ['service'])
  const blank = await rejection(engine.removePipeline(' '))
  assert.deepEqual([blank.code, blank.details.map((d) => d.field)], ['validation_error', ['service']])
  const noId = await rejection(engine.promote())
  assert.ok(noId instanceof TypeError)
  assert.deepEqual(noId.details.map((d) => d.field), ['id'])
  const wrongActor = await rejection(engine.promote('dep_x', 7))
  assert.ok(wrongActor instanceof TypeError)
  assert.deepEqual(wrongActor.details.map((d) => d.field), ['actor'])
  const wrongView = await rejection(engine.pipelineView(1, {}))
  assert.ok(wrongView instanceof TypeError)
  assert.deepEqual(wrongView.details.map((d) => d.field), ['service', 'version'])
  assert.deepEqual(await engine.pipelines(), [], 'nothing was stored')
  await engine.close()
})
