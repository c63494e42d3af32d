// Many promises racing for one transition: the core lets exactly one win.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Engine, request, tempDb } from './helpers.mjs'

test('64 concurrent approvals: exactly one wins, 63 are invalid_transition, one approved event', async () => {
  const engine = await Engine.open(tempDb())
  const d = await engine.create(request())
  const results = await Promise.allSettled(
    Array.from({ length: 64 }, (_, i) => engine.approve(d.id, `reviewer-${i}@example.com`, `take ${i}`)),
  )
  const won = results.filter((r) => r.status === 'fulfilled')
  const lost = results.filter((r) => r.status === 'rejected')
  assert.equal(won.length, 1)
  assert.equal(lost.length, 63)
  for (const { reason } of lost) {
    assert.equal(reason.code, 'invalid_transition')
    assert.equal(reason.from, 'approved')
    assert.equal(reason.action, 'approve')
  }
  const winner = won[0].value
  assert.equal(winner.status, 'approved')
  const events = await engine.events(d.id)
  assert.deepEqual(
    events.map((e) => e.kind),
    ['created', 'approved'],
  )
  assert.equal(events[1].actor, winner.reviewedBy)
  assert.equal((await engine.verifyAudit()).valid, true)
  await engine.close()
})

test('concurrent creates on one file all commit, with gapless event seqs', async () => {
  const engine = await Engine.open(tempDb())
  const created = await Promise.all(Array.from({ length: 200 }, (_, i) => engine.create(request({ version: `1.0.${i}` }))))
  assert.equal(new Set(created.map((d) => d.id)).size, 200)
  let seen = 0
  let cursor = null
  do {
    const page = await engine.list({ limit: 64, cursor })
    seen += page.items.length
    cursor = page.nextCursor
  } while (cursor !== null)
  assert.equal(seen, 200)
  const audit = await engine.verifyAudit()
  assert.equal(audit.eventsChecked, 200)
  assert.equal(audit.valid, true)
  await engine.close()
})
