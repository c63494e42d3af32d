// Approval gates from Node on real SQLite files: gates are set, listed, replaced and removed as
// documents (snake_case keys in and out) and kept in the file; two of N reviewers are needed, the
// first recorded as an `approval_granted` event; a start short of them rejects with
// `approval_required` and its facts; a start inside the wait after approval rejects with
// `policy_violation` (rule `wait_timer`) unless overridden; and bad gates and arguments are named.
// Reviewer groups are documents too: a gate naming one admits its members and refuses others, and
// a group is not removed while a gate names it.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Engine, rejection, request, tempDb } from './helpers.mjs'

const TWO_OF_THREE = {
  environment: 'production',
  service: null,
  required_approvals: 2,
  approvers: ['bob@example.com', 'carol@example.com', 'erin@example.com'],
  groups: [],
  expires_after_minutes: 60,
  wait_minutes: null,
}

/** Creates a deployment waiting for review in `environment` (production ones state their risk). */
async function pending(engine, environment = 'production') {
  const risk = environment === 'production' ? 'low: config only' : null
  return (await engine.create(request({ environment, risk }))).id
}

async function kinds(engine, id) {
  return (await engine.events(id)).map((e) => e.kind)
}

/** `minutes` from now as RFC 3339 text. */
function inMinutes(minutes) {
  return new Date(Date.now() + minutes * 60_000).toISOString()
}

test('gates are documents: set, listed by environment, replaced, kept in the file and removed', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  const production = await engine.setGate(TWO_OF_THREE, 'admin@example.com')
  assert.deepEqual(production, TWO_OF_THREE, 'snake_case keys, as written')

  // JSON text works as well as an object; what was left out comes back filled in.
  const staging = await engine.setGate(JSON.stringify({ environment: 'staging', required_approvals: 1 }), 'admin')
  assert.deepEqual(staging, {
    environment: 'staging',
    service: null,
    required_approvals: 1,
    approvers: [],
    groups: [],
    expires_after_minutes: null,
    wait_minutes: null,
  })
  assert.deepEqual(await engine.gates(), [production, staging], 'by environment')

  const stricter = await engine.setGate({ ...TWO_OF_THREE, required_approvals: 3, wait_minutes: 30 }, 'ops')
  assert.deepEqual(await engine.gates(), [stricter, staging], 'replaced by environment')
  await engine.close()

  const again = await Engine.open(path)
  assert.deepEqual(await again.gates(), [stricter, staging], 'kept in the file')
  assert.equal(await again.removeGate('staging'), undefined)
  assert.deepEqual(await again.gates(), [stricter])
  const missing = await rejection(again.removeGate('staging'))
  assert.ok(missing instanceof Error)
  assert.equal(missing.code, 'not_found', missing.message)
  assert.equal(missing.environment, 'staging')
  await again.close()
})

test("a service's own gate takes precedence over the environment's and is removed by service", async () => {
  const engine = await Engine.open(tempDb())
  await engine.setGate({ environment: 'production', required_approvals: 1 }, 'admin')
  const own = await engine.setGate({ environment: 'production', service: 'checkout', required_approvals: 2 }, 'admin')
  assert.equal(own.service, 'checkout')
  assert.deepEqual((await engine.gates()).map((g) => [g.service, g.required_approvals]), [[null, 1], ['checkout', 2]])
  const id = await pending(engine)
  assert.equal((await engine.approve(id, 'bob')).status, 'pending_approval', "checkout's own gate of 2")
  const missing = await rejection(engine.removeGate('production', 'api'))
  assert.deepEqual([missing.code, missing.environment, missing.service], ['not_found', 'production', 'api'])
  const blank = await rejection(engine.removeGate('production', ' '))
  assert.deepEqual([blank.code, blank.details.map((d) => d.field)], ['validation_error', ['service']])
  const wrongType = await rejection(engine.removeGate('production', 7))
  assert.ok(wrongType instanceof TypeError)
  assert.deepEqual(wrongType.details.map((d) => d.field), ['service'])
  assert.equal(await engine.removeGate('production', 'checkout'), undefined)
  assert.deepEqual((await engine.gates()).map((g) => g.service), [null])
  assert.equal((await engine.approve(id, 'carol')).status, 'approved', "the environment's gate of 1 again")
  await engine.close()
})

test('a bad gate names its fields as the document does; arguments of the wrong type are a TypeError', async () => {
  const engine = await Engine.open(tempDb())
  const bad = await rejection(
    engine.setGate({ environment: 'production', required_approvals: 0, approvers: ['bob', 'Bob '] }, 'admin'),
  )
  assert.ok(!(bad instanceof TypeError))
  assert.equal(bad.code, 'validation_error')
  assert.deepEqual(bad.details.map((d) => d.field), ['required_approvals', 'approvers[1]'])
  assert.match(bad.details[1].message, /names 'Bob ' twice/)

  const few = await rejection(engine.setGate({ ...TWO_OF_THREE, required_approvals: 4 }, 'admin'))
  assert.deepEqual(few.details.map((d) => d.field), ['approvers'])
  const waits = await rejection(engine.setGate({ ...TWO_OF_THREE, wait_minutes: 43_201 }, 'admin'))
  assert.deepEqual(waits.details.map((d) => d.field), ['wait_minutes'])

  // Keys are the document's: a camelCase key is an unknown field, refused by the core.
  const camel = await rejection(engine.setGate({ environment: 'production', requiredApprovals: 2 }, 'admin'))
  assert.equal(camel.code, 'validation_error')
  assert.deepEqual(camel.details.map((d) => d.field), ['gate'])
  assert.match(camel.details[0].message, /requiredApprovals/)
  const notJson = await rejection(engine.setGate('{"environment": ', 'admin'))
  assert.deepEqual([notJson.code, notJson.details.map((d) => d.field)], ['validation_error', ['gate']])

  const noBy = await rejection(engine.setGate(TWO_OF_THREE, ' '))
  assert.deepEqual([noBy.code, noBy.details.map((d) => d.field)], ['validation_error', ['by']])

  const wrongTypes = await rejection(engine.setGate(7, null))
  assert.ok(wrongTypes instanceof TypeError)
  assert.equal(wrongTypes.code, 'validation_error')
  assert.deepEqual(wrongTypes.details.map((d) => d.field), ['gate', 'by'])
  const wrongEnvironment = await rejection(engine.removeGate(42))
  assert.ok(wrongEnvironment instanceof TypeError)
  assert.deepEqual(wrongEnvironment.details.map((d) => d.field), ['environment'])
  const blank = await rejection(engine.removeGate(' '))
  assert.deepEqual([blank.code, blank.details.map((d) => d.field)], ['validation_error', ['environment']])
  assert.deepEqual(await engine.gates(), [], 'nothing was stored')
  await engine.close()
})

test('two of three reviewers: the first is recorded, a start short of them is refused, the second approves', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  await engine.setGate(TWO_OF_THREE, 'admin')
  const id = await pending(engine)

  const first = await engine.approve(id, 'bob@example.com', 'looks good')
  assert.equal(first.status, 'pending_approval')
  const events = await engine.events(id)
  assert.deepEqual(events.map((e) => e.kind), ['created', 'approval_granted'])
  const granted = events[1]
  assert.deepEqual(
    [granted.actor, granted.note, granted.fromStatus, granted.toStatus],
    ['bob@example.com', 'looks good', null, null],
  )
  assert.deepEqual(granted.data, { approvals: 1, required: 2 }, 'a document, snake_case')

  const refused = await rejection(engine.start(id, 'dana'))
  assert.ok(refused instanceof Error)
  assert.equal(refused.code, 'approval_required', refused.message)
  assert.equal(refused.deploymentId, id)
  assert.equal(refused.environment, 'production')
  assert.equal(refused.approvals, 1)
  assert.equal(refused.required, 2)
  assert.deepEqual(refused.details, [
    { field: 'approvals', message: "1 of the 2 approvals environment 'production' requires" },
  ])
  assert.match(refused.message, /has 1 of the 2 approvals/)
  // An override reason does not stand in for a missing approval.
  const overridden = await rejection(engine.start(id, 'root', null, 'hotfix'))
  assert.equal(overridden.code, 'approval_required')
  assert.deepEqual(await kinds(engine, id), ['created', 'approval_granted'], 'nothing was written')

  const twice = await rejection(engine.approve(id, ' BOB@example.com '))
  assert.deepEqual([twice.code, twice.rule], ['policy_violation', 'approval_gate'])
  const outsider = await rejection(engine.approve(id, 'mallory@example.com'))
  assert.deepEqual([outsider.code, outsider.rule], ['policy_violation', 'approval_gate'])
  assert.deepEqual(outsider.details.map((d) => d.field), ['approval_gate'])

  const waiting = await engine.approvalStatus(id)
  assert.deepEqual(Object.keys(waiting).sort(), [
    'approvals',
    'deploymentId',
    'environment',
    'rejected',
    'required',
    'startableAt',
    'status',
  ])
  assert.deepEqual(
    [waiting.deploymentId, waiting.environment, waiting.status, waiting.required, waiting.rejected],
    [id, 'production', 'pending_approval', 2, false],
  )
  assert.deepEqual(
    waiting.approvals.map((a) => [a.actor, a.note, a.at]),
    [['bob@example.com', 'looks good', granted.at]],
  )
  assert.equal(waiting.startableAt, null)

  const second = await engine.approve(id, 'carol@example.com')
  assert.equal(second.status, 'approved')
  assert.deepEqual(await kinds(engine, id), ['created', 'approval_granted', 'approved'])
  await engine.close()

  const again = await Engine.open(path)
  const approved = await again.approvalStatus(id)
  assert.equal(approved.status, 'approved')
  assert.deepEqual(approved.approvals.map((a) => a.actor), ['bob@example.com', 'carol@example.com'])
  assert.equal(approved.startableAt, null, 'without a wait there is no time to wait for')
  assert.equal((await again.start(id, 'dana')).status, 'started')
  const report = await again.verifyAudit()
  assert.equal(report.valid, true, JSON.stringify(report.firstBroken))
  await again.close()
})

test('approvals expire; approvalStatus answers for an instant and bad text names `at`', async () => {
  const engine = await Engine.open(tempDb())
  await engine.setGate(TWO_OF_THREE, 'admin')
  const id = await pending(engine)
  await engine.approve(id, 'erin@example.com')

  assert.deepEqual((await engine.approvalStatus(id, inMinutes(59))).approvals.map((a) => a.actor), [
    'erin@example.com',
  ])
  assert.deepEqual((await engine.approvalStatus(id, inMinutes(61))).approvals, [], 'expired after an hour')
  assert.equal((await engine.approvalStatus(id, null)).approvals.length, 1, 'now, when null')

  const badAt = await rejection(engine.approvalStatus(id, 'next friday'))
  assert.ok(!(badAt instanceof TypeError))
  assert.equal(badAt.code, 'validation_error')
  assert.deepEqual(badAt.details.map((d) => d.field), ['at'])
  assert.match(badAt.details[0].message, /'next friday' is not an RFC 3339 time/)
  const wrongAt = await rejection(engine.approvalStatus(id, 5))
  assert.ok(wrongAt instanceof TypeError)
  assert.deepEqual(wrongAt.details.map((d) => d.field), ['at'])
  const noId = await rejection(engine.approvalStatus())
  assert.ok(noId instanceof TypeError)
  assert.deepEqual(noId.details.map((d) => d.field), ['id'])
  const missing = await rejection(engine.approvalStatus('dep_missing'))
  assert.equal(missing.code, 'not_found')

  // Without a gate an environment keeps the single review.
  const staging = await pending(engine, 'staging')
  const single = await engine.approvalStatus(staging)
  assert.deepEqual([single.required, single.approvals, single.startableAt], [1, [], null])
  await engine.reject(staging, 'bob@example.com', 'not now')
  assert.equal((await engine.approvalStatus(staging)).rejected, true)
  await engine.close()
})

test('a start inside the wait after approval is refused until it ends, unless an admin overrides it', async () => {
  const engine = await Engine.open(tempDb())
  await engine.setGate({ environment: 'Production', required_approvals: 1, wait_minutes: 30 }, 'admin')
  const id = await pending(engine)
  await engine.approve(id, 'bob@example.com')
  const status = await engine.approvalStatus(id)
  assert.equal(status.status, 'approved')
  const approvedAt = (await engine.get(id)).updatedAt
  assert.equal(Date.parse(status.startableAt) - Date.parse(approvedAt), 30 * 60_000)

  const refused = await rejection(engine.start(id, 'dana'))
  assert.ok(refused instanceof Error)
  assert.equal(refused.code, 'policy_violation', refused.message)
  assert.equal(refused.rule, 'wait_timer')
  assert.equal(refused.environment, 'production')
  assert.equal(refused.until, status.startableAt)
  assert.deepEqual(refused.details.map((d) => d.field), ['wait_timer'])
  assert.equal(refused.approvals, undefined, 'only approval_required has approvals')
  assert.equal((await engine.get(id)).status, 'approved')
  assert.deepEqual(await kinds(engine, id), ['created', 'approved'], 'nothing was written')

  const started = await engine.start(id, 'root', 'go', 'hotfix for INC-7')
  assert.equal(started.status, 'started')
  const events = await engine.events(id)
  assert.deepEqual(events.map((e) => e.kind), ['created', 'approved', 'policy_override', 'started'])
  const override = events[2]
  assert.deepEqual([override.actor, override.note], ['root', 'hotfix for INC-7'])
  assert.deepEqual([override.data.rule, override.data.environment], ['wait_timer', 'production'])
  assert.equal(override.data.end, status.startableAt)
  assert.equal((await engine.verifyAudit()).valid, true)
  await engine.close()
})

test('a gate naming a reviewer group admits its members; the group stays while a gate names it', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  const sre = await engine.setGroup({ name: 'sre', members: ['bob@example.com', 'carol@example.com'] }, 'admin')
  assert.deepEqual(sre, { name: 'sre', members: ['bob@example.com', 'carol@example.com'] })
  // JSON text works as well as an object; what was left out comes back filled in.
  const oncall = await engine.setGroup('{"name": "oncall"}', 'admin')
  assert.deepEqual(oncall, { name: 'oncall', members: [] })
  assert.deepEqual(await engine.groups(), [oncall, sre], 'by name')

  const gate = await engine.setGate({ environment: 'production', required_approvals: 1, groups: ['sre'] }, 'admin')
  assert.deepEqual(gate.groups, ['sre'])
  const id = await pending(engine)
  const outsider = await rejection(engine.approve(id, 'mallory@example.com'))
  assert.ok(outsider instanceof Error)
  assert.deepEqual([outsider.code, outsider.rule], ['policy_violation', 'approval_gate'], outsider.message)
  assert.deepEqual(await kinds(engine, id), ['created'], 'nothing was written')
  assert.equal((await engine.approve(id, 'Carol@example.com')).status, 'approved')
  await engine.close()

  const again = await Engine.open(path)
  assert.deepEqual(await again.groups(), [oncall, sre], 'kept in the file')
  const named = await rejection(again.removeGroup('SRE'))
  assert.ok(!(named instanceof TypeError))
  assert.equal(named.code, 'validation_error', named.message)
  assert.deepEqual(named.details.map((d) => d.field), ['name'])
  assert.deepEqual((await again.groups()).map((g) => g.name), ['oncall', 'sre'], 'still there')

  const ghost = await rejection(
    again.setGate({ environment: 'staging', required_approvals: 1, groups: ['ghost'] }, 'admin'),
  )
  assert.equal(ghost.code, 'validation_error', ghost.message)
  assert.deepEqual(ghost.details.map((d) => d.field), ['groups[0]'])

  await again.removeGate('production')
  assert.equal(await again.removeGroup('SRE'), undefined)
  assert.deepEqual(await again.groups(), [oncall])
  const missing = await rejection(again.removeGroup('sre'))
  assert.equal(missing.code, 'not_found', missing.message)
  assert.equal(missing.group, 'sre')
  assert.equal((await again.verifyAudit()).valid, true)
  await again.close()
})

test('a bad group names its fields as the document does; arguments of the wrong type are a TypeError', async () => {
  const engine = await Engine.open(tempDb())
  const bad = await rejection(engine.setGroup({ name: 's re', members: ['bob', ' ', 'Bob '] }, 'admin'))
  assert.ok(!(bad instanceof TypeError))
  assert.equal(bad.code, 'validation_error')
  assert.deepEqual(bad.details.map((d) => d.field), ['name', 'members[1]', 'members[2]'])
  const unknown = await rejection(engine.setGroup({ name: 'sre', owner: 'bob' }, 'admin'))
  assert.deepEqual([unknown.code, unknown.details.map((d) => d.field)], ['validation_error', ['group']])
  assert.match(unknown.details[0].message, /owner/)
  const noBy = await rejection(engine.setGroup({ name: 'sre' }, ' '))
  assert.deepEqual([noBy.code, noBy.details.map((d) => d.field)], ['validation_error', ['by']])

  const wrongTypes = await rejection(engine.setGroup(7, null))
  assert.ok(wrongTypes instanceof TypeError)
  assert.equal(wrongTypes.code, 'validation_error')
  assert.deepEqual(wrongTypes.details.map((d) => d.field), ['group', 'by'])
  const wrongName = await rejection(engine.removeGroup(42))
  assert.ok(wrongName instanceof TypeError)
  assert.deepEqual(wrongName.details.map((d) => d.field), ['name'])
  const blank = await rejection(engine.removeGroup(' '))
  assert.deepEqual([blank.code, blank.details.map((d) => d.field)], ['validation_error', ['name']])
  assert.deepEqual(await engine.groups(), [], 'nothing was stored')
  await engine.close()
})
