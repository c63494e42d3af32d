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

test('a worker thread awaits its own calls while the main thread awaits others', async () => {
  // Each JavaScript thread polls its calls itself: neither thread's Promises wait on the other's.
  const { Worker } = await import('node:worker_threads')
  const { fileURLToPath } = await import('node:url')
  const pkg = fileURLToPath(new URL('..', import.meta.url))
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads')
     const { Engine } = require(workerData.pkg)
     ;(async () => {
       const engine = await Engine.open(workerData.path)
       const ids = []
       for (let i = 0; i < 20; i++) {
         const d = await engine.create({ service: 'worker', environment: 'staging', version: '1.0.' + i,
           requester: 'alice@example.com', workRefs: ['W-1'], rollbackPlan: 'redeploy' })
         ids.push((await engine.approve(d.id, 'bob@example.com')).status)
       }
       await engine.close()
       parentPort.postMessage(ids)
     })().catch((e) => parentPort.postMessage({ code: e.code, message: e.message }))`,
    { eval: true, workerData: { pkg, path: tempDb() } },
  )
  const answered = new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  const exited = new Promise((resolve) => worker.once('exit', resolve))
  const engine = await Engine.open(tempDb())
  const mine = []
  for (let i = 0; i < 20; i++) {
    mine.push((await engine.create(request({ version: `2.0.${i}` }))).status)
  }
  assert.deepEqual(await answered, Array(20).fill('approved'))
  assert.deepEqual(mine, Array(20).fill('pending_approval'))
  await engine.close()
  assert.equal(await exited, 0)
})
