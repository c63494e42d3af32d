// Strings go in and come out exactly: unicode, quotes, SQL-looking text, surrounding whitespace.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Engine, request, tempDb } from './helpers.mjs'

test('unicode and odd strings round-trip unchanged through a file and back', async () => {
  const path = tempDb()
  let engine = await Engine.open(path)
  const odd = {
    service: '支付-サービス 🚀',
    environment: 'ステージング',
    version: "v1.0.0'; DROP TABLE deployments; --",
    requester: 'zoë@example.com',
    workRefs: ['" OR 1=1 --', 'Ω-42', '%s%n{}', 'e\u0301 (combining accent)'],
    rollbackPlan: 'line 1\nline 2\ttabbed — ünïcode 👩‍👩‍👧',
    risk: '  surrounding whitespace  ',
  }
  const d = await engine.create(odd)
  await engine.approve(d.id, 'Ødegaard 🧑‍💻', 'ok ✅ — «quoted»')
  await engine.close()

  engine = await Engine.open(path)
  const back = await engine.get(d.id)
  for (const [key, value] of Object.entries(odd)) assert.deepEqual(back[key], value, key)
  assert.equal(back.reviewedBy, 'Ødegaard 🧑‍💻')
  const events = await engine.events(d.id)
  assert.equal(events[1].note, 'ok ✅ — «quoted»')
  const page = await engine.list({ service: '支付-サービス 🚀', environment: 'ステージング' })
  assert.deepEqual(
    page.items.map((x) => x.id),
    [d.id],
  )
  assert.equal((await engine.list({ service: '支付-サービス' })).items.length, 0, 'exact match only')
  assert.equal((await engine.verifyAudit()).valid, true)
  await engine.close()
})

test('length limits count characters, not UTF-16 units or bytes', async () => {
  const engine = await Engine.open(tempDb())
  const emoji256 = '🚀'.repeat(256)
  const d = await engine.create(request({ service: emoji256 }))
  assert.equal(d.service, emoji256)
  const error = await engine.create(request({ service: emoji256 + '🚀' })).catch((e) => e)
  assert.equal(error.code, 'validation_error')
  assert.deepEqual(
    error.details.map((x) => x.field),
    ['service'],
  )
  await engine.close()
})
