// Subscriptions yield committed events in commit order as an async iterator, and end after close.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Engine, rejection, request, tempDb } from './helpers.mjs'

async function collect(subscription) {
  const events = []
  for await (const event of subscription) events.push(event)
  return events
}

test('a subscription yields every committed event in order and ends after close', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  const subscription = engine.subscribe()
  const collected = collect(subscription)
  const a = await engine.create(request())
  await engine.approve(a.id, 'bob')
  const b = await engine.create(request({ service: 'search' }))
  await engine.start(a.id, 'deploy-bot')
  await rejection(engine.succeed(b.id, 'deploy-bot')) // refused: no event
  await engine.reject(b.id, 'carol', 'not this week')
  await engine.succeed(a.id, 'deploy-bot')
  await engine.close()
  const events = await collected
  assert.deepEqual(
    events.map((e) => [e.seq, e.deploymentId, e.kind]),
    [
      [1, a.id, 'created'],
      [2, a.id, 'approved'],
      [3, b.id, 'created'],
      [4, a.id, 'started'],
      [5, b.id, 'rejected'],
      [6, a.id, 'succeeded'],
    ],
  )
  assert.ok(
    events.every((e) => (e.kind === 'created') === (e.data !== null)),
    'of lifecycle events, only created carries data (its request)',
  )
  const reopened = await Engine.open(path)
  const stored = [...(await reopened.events(a.id)), ...(await reopened.events(b.id))].sort((x, y) => x.seq - y.seq)
  assert.deepEqual(events, stored, 'events come out exactly as stored')
  await reopened.close()
})

test('subscribeAfter replays history after the given seq, then goes live', async () => {
  const engine = await Engine.open(tempDb())
  for (let i = 0; i < 4; i++) await engine.create(request({ version: `1.0.${i}` }))
  const subscription = engine.subscribeAfter(2)
  const first = await subscription.next()
  const second = await subscription.next()
  assert.deepEqual([first.done, first.value.seq, second.done, second.value.seq], [false, 3, false, 4])
  const pending = subscription.next()
  await engine.create(request({ version: 'live' }))
  const live = await pending
  assert.equal(live.value.seq, 5)
  assert.equal(live.value.kind, 'created')
  await engine.close()
  assert.deepEqual(await subscription.next(), { done: true })
  assert.deepEqual(await subscription.next(), { done: true }, 'stays done')
})

test('a subscriber left behind the 4096-event buffer catches up without gaps', async () => {
  const engine = await Engine.open(tempDb())
  const subscription = engine.subscribe()
  await Promise.all(Array.from({ length: 5000 }, (_, i) => engine.create(request({ version: `2.0.${i}` }))))
  const seqs = []
  for (let i = 0; i < 5000; i++) seqs.push((await subscription.next()).value.seq)
  assert.deepEqual(
    seqs,
    Array.from({ length: 5000 }, (_, i) => i + 1),
  )
  await engine.create(request({ version: 'live again' }))
  assert.equal((await subscription.next()).value.seq, 5001)
  await engine.close()
  assert.deepEqual(await subscription.next(), { done: true }, 'ends after close, even after a catch-up')
})

test('leaving a for-await loop ends the subscription; return() ends a waiting next()', async () => {
  const engine = await Engine.open(tempDb())
  const subscription = engine.subscribe()
  await engine.create(request())
  await engine.create(request({ version: '2' }))
  for await (const event of subscription) {
    assert.equal(event.seq, 1)
    break
  }
  assert.deepEqual(await subscription.next(), { done: true })

  const waiting = engine.subscribe()
  const pending = waiting.next()
  assert.deepEqual(await waiting.return(), { done: true })
  assert.deepEqual(await pending, { done: true })
  await engine.close()
})

test('subscriptions of a closed engine end, replaying or live', async () => {
  const engine = await Engine.open(tempDb())
  await engine.create(request())
  await engine.close()
  assert.deepEqual(await engine.subscribeAfter(0).next(), { done: true }, 'a replay cannot read a closed database')
  assert.deepEqual(await engine.subscribe().next(), { done: true })
})

test('the subscription is an async iterable of itself', () => {
  return Engine.openInMemory().then(async (engine) => {
    const subscription = engine.subscribe()
    assert.equal(typeof subscription[Symbol.asyncIterator], 'function')
    assert.equal(subscription[Symbol.asyncIterator](), subscription)
    await engine.close()
  })
})
