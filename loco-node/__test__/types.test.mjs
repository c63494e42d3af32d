// The committed index.d.ts: its string unions match the lifecycle contract, and the public API
// has no `any`.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

const dts = readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8')
const doc = JSON.parse(readFileSync(new URL('../../tests/conformance/lifecycle.json', import.meta.url), 'utf8'))

/** The members of `export type NAME = 'a' | 'b' | …` in index.d.ts. */
function union(name) {
  const match = dts.match(new RegExp(`export type ${name} =([^=]*?)\\n\\n`, 's'))
  assert.ok(match, `index.d.ts declares ${name}`)
  return [...match[1].matchAll(/'([a-z_]+)'/g)].map((m) => m[1]).sort()
}

test('Status is exactly the statuses of the lifecycle vectors', () => {
  const statuses = new Set(doc.vectors.map((v) => v.name.match(/ from ([a-z_]+)$/)?.[1]).filter(Boolean))
  assert.equal(statuses.size, 7)
  assert.deepEqual(union('Status'), [...statuses].sort())
})

test('EventKind is exactly the event kinds of the lifecycle vectors', () => {
  const kinds = new Set(doc.vectors.flatMap((v) => v.steps.flatMap((s) => s.expect.events ?? [])))
  assert.equal(kinds.size, 7)
  assert.deepEqual(union('EventKind'), [...kinds].sort())
})

test('ErrorCode is exactly the documented error codes', () => {
  assert.deepEqual(
    union('ErrorCode'),
    [
      'idempotency_conflict',
      'invalid_transition',
      'not_found',
      'payload_too_large',
      'self_approval',
      'storage_error',
      'validation_error',
    ],
  )
})

test('the public API has no `any`', () => {
  const code = dts
    .split('\n')
    .filter((line) => !/^\s*(\*|\/\*\*|\/\/)/.test(line))
    .join('\n')
  assert.doesNotMatch(code, /\bany\b/)
})
