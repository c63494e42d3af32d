// The committed index.d.ts: its string unions are exactly the names loco-core uses (read from its
// source, so a new status, event kind or error code fails here until index.d.ts has it), and the
// public API has no `any`.
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

/** The quoted names returned by the match arms of `fn NAME` in a loco-core source file. */
function coreNames(file, fn) {
  const source = readFileSync(new URL(`../../loco-core/src/${file}`, import.meta.url), 'utf8')
  const body = source.match(new RegExp(`fn ${fn}\\(&?self\\)[^{]*\\{(.*?)\\n    \\}\\n`, 's'))
  assert.ok(body, `loco-core/src/${file} has fn ${fn}`)
  return [...body[1].matchAll(/=> "([a-z_]+)"/g)].map((m) => m[1]).sort()
}

test('Status is exactly the core statuses, which the lifecycle vectors cover', () => {
  const statuses = new Set(doc.vectors.map((v) => v.name.match(/ from ([a-z_]+)$/)?.[1]).filter(Boolean))
  // The first `as_str` of lifecycle.rs is `Status::as_str`.
  assert.deepEqual(coreNames('lifecycle.rs', 'as_str'), [...statuses].sort())
  assert.deepEqual(union('Status'), [...statuses].sort())
})

test('EventKind is exactly the core event kinds', () => {
  const kinds = coreNames('model.rs', 'as_str')
  assert.deepEqual(union('EventKind'), kinds)
  const lifecycle = new Set(doc.vectors.flatMap((v) => v.steps.flatMap((s) => s.expect.events ?? [])))
  assert.equal(lifecycle.size, 7)
  for (const kind of lifecycle) assert.ok(kinds.includes(kind), kind)
})

test('ErrorCode is exactly the core error codes', () => {
  const codes = [...new Set(coreNames('error.rs', 'code'))].sort()
  assert.ok(codes.includes('validation_error') && codes.includes('storage_error'))
  assert.deepEqual(union('ErrorCode'), codes)
})

test('the public API has no `any`', () => {
  const code = dts
    .split('\n')
    .filter((line) => !/^\s*(\*|\/\*\*|\/\/)/.test(line))
    .join('\n')
  assert.doesNotMatch(code, /\bany\b/)
})
