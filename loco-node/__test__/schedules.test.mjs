// Scheduled starts from Node on real SQLite files: what scheduling refuses (a past time, a freeze
// window in force at that time unless an override reason goes with it, a rollout without a
// manifest plan, a deployment that can no longer start); a due start made by `runDueStarts` as
// the schedule's actor, or refused with the reason kept; cancelling; and arguments of the wrong
// type named as written.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Engine, rejection, request, tempDb } from './helpers.mjs'

/** RFC 3339 text for `ms` milliseconds from now (negative: ago). */
function fromNow(ms) {
  return new Date(Date.now() + ms).toISOString()
}

const MINUTE = 60 * 1000
const HOUR = 60 * MINUTE

/** A one-off freeze of `environment` from a minute ago until an hour from now. */
function maintenance(environment = 'staging') {
  return {
    name: 'maintenance',
    environments: [environment],
    reason: 'database maintenance',
    schedule: { type: 'once', start: fromNow(-MINUTE), end: fromNow(HOUR) },
  }
}

async function approved(engine, overrides = {}) {
  const d = await engine.create(request(overrides))
  await engine.approve(d.id, 'bob@example.com')
  return d.id
}

test('a schedule is a record made as asked; `by` is the actor unless given', async () => {
  const engine = await Engine.open(tempDb())
  const id = await approved(engine)
  const at = fromNow(10 * MINUTE)
  const schedule = await engine.scheduleStart(id, at, 'deploy-bot')
  assert.deepEqual(Object.keys(schedule), [
    'deploymentId',
    'at',
    'actor',
    'rollout',
    'overrideReason',
    'state',
    'outcome',
    'scheduledBy',
    'scheduledAt',
    'endedAt',
  ])
  assert.equal(schedule.deploymentId, id)
  assert.equal(Date.parse(schedule.at), Date.parse(at))
  assert.deepEqual(
    [schedule.actor, schedule.rollout, schedule.overrideReason, schedule.state, schedule.outcome, schedule.endedAt],
    ['deploy-bot', false, null, 'pending', null, null],
  )
  assert.equal(schedule.scheduledBy, 'deploy-bot', 'by defaults to the actor')

  const replaced = await engine.scheduleStart(id, fromNow(20 * MINUTE), 'deploy-bot', { by: 'alice@example.com' })
  assert.equal(replaced.scheduledBy, 'alice@example.com')
  assert.deepEqual(await engine.scheduledStarts(), [replaced], 'one schedule per deployment: replaced')
  await engine.close()
})

test('scheduling refuses a past time, a frozen time without an override and a start that cannot happen', async () => {
  const engine = await Engine.open(tempDb())
  const id = await approved(engine)

  const past = await rejection(engine.scheduleStart(id, fromNow(-1000), 'deploy-bot'))
  assert.ok(!(past instanceof TypeError))
  assert.equal(past.code, 'validation_error', past.message)
  assert.deepEqual(past.details.map((d) => d.field), ['at'])
  assert.match(past.details[0].message, /must be in the future/)
  const far = await rejection(engine.scheduleStart(id, fromNow(91 * 24 * HOUR), 'deploy-bot'))
  assert.deepEqual([far.code, far.details.map((d) => d.field)], ['validation_error', ['at']])
  const notTime = await rejection(engine.scheduleStart(id, 'tonight', 'deploy-bot'))
  assert.deepEqual([notTime.code, notTime.details.map((d) => d.field)], ['validation_error', ['at']])
  assert.match(notTime.details[0].message, /'tonight' is not an RFC 3339 time/)
  const noActor = await rejection(engine.scheduleStart(id, fromNow(MINUTE), ' ', { by: 'root' }))
  assert.deepEqual([noActor.code, noActor.details.map((d) => d.field)], ['validation_error', ['actor']])
  const blankBy = await rejection(engine.scheduleStart(id, fromNow(MINUTE), 'deploy-bot', { by: '' }))
  assert.deepEqual([blankBy.code, blankBy.details.map((d) => d.field)], ['validation_error', ['by']])
  const unknown = await rejection(engine.scheduleStart('dep_missing', fromNow(MINUTE), 'deploy-bot'))
  assert.equal(unknown.code, 'not_found', unknown.message)

  // A window in force at that time refuses it, naming the window; after it ends is fine.
  await engine.setFreezeWindow(maintenance(), 'admin@example.com')
  const frozen = await rejection(engine.scheduleStart(id, fromNow(10 * MINUTE), 'deploy-bot'))
  assert.equal(frozen.code, 'policy_violation', frozen.message)
  assert.deepEqual([frozen.rule, frozen.policy, frozen.environment], ['freeze_window', 'maintenance', 'staging'])
  assert.deepEqual(await engine.scheduledStarts(), [], 'nothing was stored')
  const later = await engine.scheduleStart(id, fromNow(2 * HOUR), 'deploy-bot')
  assert.equal(later.state, 'pending', 'after the window ends')

  // An override reason lets it be scheduled inside the window; a blank one is refused.
  const blank = await rejection(engine.scheduleStart(id, fromNow(10 * MINUTE), 'root', { overrideReason: ' ' }))
  assert.deepEqual([blank.code, blank.details.map((d) => d.field)], ['validation_error', ['overrideReason']])
  const overridden = await engine.scheduleStart(id, fromNow(10 * MINUTE), 'root', {
    overrideReason: 'hotfix for INC-7',
    by: 'admin@example.com',
  })
  assert.deepEqual([overridden.state, overridden.overrideReason], ['pending', 'hotfix for INC-7'])

  // A rollout needs its manifest's plan now; a deployment already started cannot be scheduled.
  const rollout = await rejection(engine.scheduleStart(id, fromNow(2 * HOUR), 'deploy-bot', { rollout: true }))
  assert.deepEqual([rollout.code, rollout.details.map((d) => d.field)], ['validation_error', ['plan']])
  await engine.removeFreezeWindow('maintenance')
  await engine.start(id, 'ops')
  const started = await rejection(engine.scheduleStart(id, fromNow(MINUTE), 'deploy-bot'))
  assert.equal(started.code, 'invalid_transition', started.message)
  await engine.close()
})

test('due starts run once as their actor, or are refused with the reason kept', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  const ready = await approved(engine)
  const unreviewed = (await engine.create(request({ service: 'billing' }))).id
  const cancelled = await approved(engine, { service: 'search' })
  const later = await approved(engine, { service: 'mail' })
  for (const id of [ready, unreviewed, cancelled]) await engine.scheduleStart(id, fromNow(800), 'deploy-bot')
  await engine.scheduleStart(later, fromNow(HOUR), 'deploy-bot')

  const off = await engine.cancelScheduledStart(cancelled)
  assert.equal(off.state, 'cancelled')
  assert.notEqual(off.endedAt, null)
  const again = await rejection(engine.cancelScheduledStart(cancelled))
  assert.equal(again.code, 'not_found', again.message)
  assert.deepEqual(await engine.runDueStarts(), [], 'not due yet')
  await engine.close()

  // The schedules are in the file: another engine runs them when they fall due.
  const reopened = await Engine.open(path)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const ran = await reopened.runDueStarts()
  const byId = Object.fromEntries(ran.map((s) => [s.deploymentId, s]))
  assert.deepEqual(Object.keys(byId).sort(), [ready, unreviewed].sort())
  assert.deepEqual([byId[ready].state, byId[ready].outcome], ['started', null])
  assert.equal(byId[unreviewed].state, 'refused')
  assert.ok(byId[unreviewed].outcome.startsWith('invalid_transition'), byId[unreviewed].outcome)
  for (const schedule of ran) assert.notEqual(schedule.endedAt, null)
  assert.deepEqual(await reopened.runDueStarts(), [], 'each runs once')

  assert.equal((await reopened.get(ready)).status, 'started')
  const last = (await reopened.events(ready)).at(-1)
  assert.deepEqual([last.kind, last.actor], ['started', 'deploy-bot'], 'started as the schedule actor')
  assert.equal((await reopened.get(unreviewed)).status, 'pending_approval', 'the refused one did not start')
  const states = Object.fromEntries((await reopened.scheduledStarts()).map((s) => [s.deploymentId, s.state]))
  assert.deepEqual(states, {
    [ready]: 'started',
    [unreviewed]: 'refused',
    [cancelled]: 'cancelled',
    [later]: 'pending',
  })
  await reopened.close()
})

test('arguments of the wrong type are a TypeError naming each', async () => {
  const engine = await Engine.open(tempDb())
  const id = await approved(engine)
  const expect = async (promise, fields) => {
    const error = await rejection(promise)
    assert.ok(error instanceof TypeError, error.message)
    assert.equal(error.code, 'validation_error')
    assert.deepEqual(error.details.map((d) => d.field), fields)
  }
  await expect(engine.scheduleStart(), ['id', 'at'])
  await expect(engine.scheduleStart(42, new Date(Date.now() + HOUR), 7), ['id', 'at', 'actor'])
  await expect(engine.scheduleStart(id, fromNow(HOUR), 'deploy-bot', 'soon'), ['options'])
  await expect(engine.scheduleStart(id, fromNow(HOUR), 'deploy-bot', { rollout: 'yes', overrideReason: 3, by: false }), [
    'rollout',
    'overrideReason',
    'by',
  ])
  await expect(engine.scheduleStart(id, fromNow(HOUR), 'deploy-bot', { when: 'later' }), ['when'])
  await expect(engine.cancelScheduledStart(7), ['id'])
  await expect(engine.cancelScheduledStart(), ['id'])
  assert.deepEqual(await engine.scheduledStarts(), [], 'nothing was stored')
  await engine.close()
})
