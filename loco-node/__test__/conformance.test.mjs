// Runs every vector of tests/conformance/lifecycle.json through the Node API on a real SQLite file.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { Engine, camel, rejection, tempDb } from './helpers.mjs'

const doc = JSON.parse(readFileSync(new URL('../../tests/conformance/lifecycle.json', import.meta.url), 'utf8'))

/** `base` with `input` merged over it, as a camelCase request; a null value means "absent". */
function requestFor(input) {
  const body = { ...doc.base, ...(input ?? {}) }
  const request = {}
  for (const [key, value] of Object.entries(body)) {
    if (value !== null) request[camel(key)] = value
  }
  return request
}

function assertSubset(what, expected, actual, ctx) {
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(actual[camel(key)], value, `${ctx}: ${what}.${key}`)
  }
}

async function runVector(vector) {
  const engine = await Engine.open(tempDb())
  let current = null
  for (const [i, step] of vector.steps.entries()) {
    const ctx = `vector '${vector.name}' step ${i}`
    const expect = step.expect
    const run = () => {
      if (step.op === 'create') return engine.create(requestFor(step.input), step.idempotency_key)
      const id = step.id === 'missing' ? doc.missing_id : current
      return engine[step.op](id, step.actor, step.note)
    }
    if (expect.error !== undefined) {
      const error = await rejection(run())
      assert.equal(error.code, expect.error, `${ctx}: ${error.message}`)
      assert.ok(Array.isArray(error.details), `${ctx}: details`)
      if (expect.fields !== undefined) {
        assert.deepEqual(
          error.details.map((d) => d.field),
          expect.fields.map(camel),
          ctx,
        )
      }
      for (const detail of error.details) assert.ok(detail.message.length > 0, ctx)
    } else {
      const d = await run()
      if (step.op === 'create') {
        if (expect.same_deployment !== undefined) assert.equal(d.id === current, expect.same_deployment, `${ctx}: same`)
        current ??= d.id
      }
      if (expect.deployment !== undefined) assertSubset('deployment', expect.deployment, d, ctx)
      if (expect.reviewed_at_set === true) assert.notEqual(d.reviewedAt, null, `${ctx}: reviewedAt`)
    }
    if (expect.status !== undefined) assert.equal((await engine.get(current)).status, expect.status, `${ctx}: status`)
    if (expect.events !== undefined) {
      const events = await engine.events(current)
      assert.deepEqual(
        events.map((e) => e.kind),
        expect.events,
        `${ctx}: events`,
      )
      if (expect.last_event !== undefined) assertSubset('last_event', expect.last_event, events.at(-1), ctx)
    }
  }
  assert.equal((await engine.verifyAudit()).valid, true, `vector '${vector.name}': audit chain`)
  await engine.close()
}

test('every lifecycle vector passes through the Node API', async (t) => {
  assert.ok(doc.vectors.length >= 100, `the vector file lost vectors: ${doc.vectors.length}`)
  for (const vector of doc.vectors) {
    await t.test(vector.name, () => runVector(vector))
  }
})
