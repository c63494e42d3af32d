// Freeze windows from Node on real SQLite files: windows are set, listed, replaced and removed as
// documents (snake_case keys in and out); a start during a window in force rejects with
// `policy_violation` naming it and writes nothing; an admin's override reason lets the start go
// ahead, recorded as a `policy_override` event just before `started` in the audit chain; and
// rollouts are frozen the same way.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Engine, rejection, request, tempDb } from './helpers.mjs'
import { approved as approvedRollout, closeAndCheck, localEngine, plan, uniqueService } from './rollout-helpers.mjs'

/** A window in force from long ago until 23 hours from now, over `environments`. */
function frozenNow(name, environments = ['production']) {
  return {
    name,
    environments,
    reason: 'release freeze for the board meeting',
    schedule: {
      type: 'once',
      start: '2000-01-01T00:00:00Z',
      end: new Date(Date.now() + 23 * 3600 * 1000).toISOString(),
    },
  }
}

const WEEKEND = {
  name: 'weekend',
  environments: ['production'],
  reason: 'no weekend deploys',
  schedule: { type: 'recurring', cron: '0 18 * * FRI', duration_minutes: 3720, time_zone: 'Europe/Berlin' },
}

/** Creates and approves a deployment in `environment` (production ones state their risk). */
async function approved(engine, environment = 'production') {
  const risk = environment === 'production' ? 'low: config only' : null
  const d = await engine.create(request({ environment, risk }))
  await engine.approve(d.id, 'bob@example.com')
  return d.id
}

async function kinds(engine, id) {
  return (await engine.events(id)).map((e) => e.kind)
}

test('windows are documents: set, listed by name, replaced, kept in the file and removed', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  const weekend = await engine.setFreezeWindow(WEEKEND, 'admin@example.com')
  assert.deepEqual(weekend, WEEKEND, 'snake_case keys, as written')
  assert.deepEqual(Object.keys(weekend.schedule), ['type', 'cron', 'duration_minutes', 'time_zone'])

  // JSON text works as well as an object; a once window's times come back as the core writes them.
  const holidays = { type: 'once', start: '2026-12-20T00:00:00+01:00', end: '2027-01-04T00:00:00Z' }
  const board = await engine.setFreezeWindow(JSON.stringify({ ...frozenNow('board'), schedule: holidays }), 'admin')
  assert.deepEqual(board.schedule, {
    type: 'once',
    start: '2026-12-19T23:00:00.000000Z',
    end: '2027-01-04T00:00:00.000000Z',
  })
  assert.deepEqual(await engine.freezeWindows(), [board, weekend], 'by name')

  const longer = await engine.setFreezeWindow({ ...WEEKEND, environments: ['production', 'staging'] }, 'ops')
  assert.deepEqual(await engine.freezeWindows(), [board, longer], 'replaced by name')
  await engine.close()

  const again = await Engine.open(path)
  assert.deepEqual(await again.freezeWindows(), [board, longer])
  assert.equal(await again.removeFreezeWindow('board'), undefined)
  assert.deepEqual(await again.freezeWindows(), [longer])
  const missing = await rejection(again.removeFreezeWindow('board'))
  assert.equal(missing.code, 'not_found', missing.message)
  await again.close()
})

test('a bad window names its fields as the document does; arguments of the wrong type are a TypeError', async () => {
  const engine = await Engine.open(tempDb())
  const schedule = { ...WEEKEND.schedule, cron: '0 18 *', time_zone: 'Mars/Olympus' }
  const bad = await rejection(engine.setFreezeWindow({ ...WEEKEND, schedule }, 'admin'))
  assert.ok(!(bad instanceof TypeError))
  assert.equal(bad.code, 'validation_error')
  assert.deepEqual(bad.details.map((d) => d.field), ['schedule.cron', 'schedule.time_zone'])

  const noBy = await rejection(engine.setFreezeWindow(WEEKEND, ' '))
  assert.deepEqual([noBy.code, noBy.details.map((d) => d.field)], ['validation_error', ['by']])

  const wrongTypes = await rejection(engine.setFreezeWindow(7, null))
  assert.ok(wrongTypes instanceof TypeError)
  assert.equal(wrongTypes.code, 'validation_error')
  assert.deepEqual(wrongTypes.details.map((d) => d.field), ['window', 'by'])
  assert.deepEqual(await engine.freezeWindows(), [], 'nothing was stored')
  await engine.close()
})

test('activeFreeze answers for an instant, now by default; bad text names `at`', async () => {
  const engine = await Engine.open(tempDb())
  await engine.setFreezeWindow(WEEKEND, 'admin')
  assert.deepEqual(await engine.activeFreeze('Production', '2026-12-05T13:00:00+01:00'), {
    window: 'weekend',
    reason: 'no weekend deploys',
    start: '2026-12-04T17:00:00.000000Z',
    end: '2026-12-07T07:00:00.000000Z',
  })
  assert.equal(await engine.activeFreeze('production', '2026-12-07T07:00:00Z'), null, 'the end is not frozen')
  assert.equal(await engine.activeFreeze('staging', '2026-12-05T12:00:00Z'), null)

  assert.equal(await engine.activeFreeze('qa', null), null)
  await engine.setFreezeWindow(frozenNow('board', ['qa']), 'admin')
  assert.equal((await engine.activeFreeze('qa'))?.window, 'board', 'now, when absent')

  const badAt = await rejection(engine.activeFreeze('production', 'next friday'))
  assert.ok(!(badAt instanceof TypeError))
  assert.equal(badAt.code, 'validation_error')
  assert.deepEqual(badAt.details.map((d) => d.field), ['at'])
  assert.match(badAt.details[0].message, /'next friday' is not an RFC 3339 time/)
  const noEnvironment = await rejection(engine.activeFreeze(' '))
  assert.deepEqual(noEnvironment.details.map((d) => d.field), ['environment'])
  await engine.close()
})

test('a start during a window is refused naming the window, and writes nothing', async () => {
  const engine = await Engine.open(tempDb())
  const window = await engine.setFreezeWindow(frozenNow('board-meeting'), 'root')
  const frozen = await approved(engine, 'production')
  const free = await approved(engine, 'staging')

  const error = await rejection(engine.start(frozen, 'ops'))
  assert.ok(error instanceof Error)
  assert.equal(error.code, 'policy_violation', error.message)
  assert.equal(error.rule, 'freeze_window')
  assert.equal(error.policy, 'board-meeting')
  assert.equal(error.environment, 'production')
  assert.equal(error.until, (await engine.activeFreeze('production')).end)
  assert.equal(Date.parse(error.until), Date.parse(window.schedule.end))
  assert.deepEqual(error.details.map((d) => d.field), ['freeze_window'])
  assert.match(error.message, /release freeze for the board meeting/)
  assert.equal((await engine.get(frozen)).status, 'approved')
  assert.deepEqual(await kinds(engine, frozen), ['created', 'approved'], 'nothing was written')

  // Another environment is not frozen; once the window is removed, the start goes ahead.
  assert.equal((await engine.start(free, 'ops')).status, 'started')
  await engine.removeFreezeWindow('board-meeting')
  assert.equal((await engine.start(frozen, 'ops')).status, 'started')
  await engine.close()
})

test("an admin's override reason is recorded just before started, and the audit verifies", async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  await engine.setFreezeWindow(frozenNow('board-meeting', ['Production']), 'root')
  const id = await approved(engine, 'production')

  const blank = await rejection(engine.start(id, 'root', null, '  '))
  assert.equal(blank.code, 'validation_error')
  assert.deepEqual(blank.details.map((d) => d.field), ['overrideReason'], 'named as the argument is')
  const wrongType = await rejection(engine.start(id, 'root', null, 42))
  assert.ok(wrongType instanceof TypeError)
  assert.deepEqual(wrongType.details.map((d) => d.field), ['overrideReason'])
  assert.deepEqual(await kinds(engine, id), ['created', 'approved'])

  const started = await engine.start(id, 'root', 'go', 'hotfix for INC-7')
  assert.equal(started.status, 'started')
  const events = await engine.events(id)
  assert.deepEqual(events.map((e) => e.kind), ['created', 'approved', 'policy_override', 'started'])
  const override = events[2]
  assert.deepEqual(
    [override.actor, override.note, override.fromStatus, override.toStatus],
    ['root', 'hotfix for INC-7', null, null],
  )
  const { rule, name, environment, start, end } = override.data
  assert.deepEqual([rule, name, environment], ['freeze_window', 'board-meeting', 'production'])
  assert.equal(start, '2000-01-01T00:00:00.000000Z')
  assert.ok(Date.parse(end) > Date.now())
  assert.deepEqual([events[3].actor, events[3].note], ['root', 'go'])
  await engine.close()

  const again = await Engine.open(path)
  const report = await again.verifyAudit()
  assert.equal(report.valid, true, JSON.stringify(report.firstBroken))
  assert.equal(report.eventsChecked, 4)
  // Rolling back is never frozen.
  assert.equal((await again.rollback(id, 'ops', 'undo the hotfix')).status, 'rolled_back')
  await again.close()
})

test('rollouts are frozen too, and an override lets one through', async (t) => {
  const service = uniqueService()
  const { engine } = await localEngine(t)
  await engine.setFreezeWindow(frozenNow('holidays', ['staging']), 'root')
  const id = await approvedRollout(engine, service, 'v1')

  const refused = await rejection(engine.startRollout(id, plan('v1'), 'ops'))
  assert.equal(refused.code, 'policy_violation', refused.message)
  assert.deepEqual([refused.rule, refused.policy, refused.environment], ['freeze_window', 'holidays', 'staging'])
  await assert.rejects(engine.rollout(id), { code: 'not_found' }, 'no rollout was recorded')
  const run = await rejection(engine.runRollout(id, plan('v1'), 'ops'))
  assert.equal(run.code, 'policy_violation')
  const blank = await rejection(engine.startRollout(id, plan('v1'), 'root', ''))
  assert.deepEqual([blank.code, blank.details.map((d) => d.field)], ['validation_error', ['overrideReason']])

  await engine.startRollout(id, plan('v1'), 'root', 'security patch CVE-2026-1234')
  const done = await engine.waitRollout(id)
  assert.equal(done.state, 'succeeded', JSON.stringify(done.failure))
  const events = await engine.events(id)
  const started = events.findIndex((e) => e.kind === 'started')
  assert.equal(events[started - 1].kind, 'policy_override', events.map((e) => e.kind).join(', '))
  assert.equal(events[started - 1].note, 'security patch CVE-2026-1234')
  assert.equal((await engine.verifyAudit()).valid, true)
  await closeAndCheck(engine, service)
})
