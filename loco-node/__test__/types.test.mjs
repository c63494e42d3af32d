// The committed index.d.ts: its string unions are exactly the names loco-core uses (read from its
// source, so a new status, event kind, error code, rollout state, verdict … fails here until
// index.d.ts has it), and the public API has no `any`.
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

function coreSource(file) {
  return readFileSync(new URL(`../../loco-core/src/${file}`, import.meta.url), 'utf8')
}

/** The quoted names returned by the match arms of `fn NAME` in a loco-core source file. */
function coreNames(file, fn) {
  const source = coreSource(file)
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

test('RolloutState is exactly the core rollout states', () => {
  assert.deepEqual(union('RolloutState'), coreNames('rollout/record.rs', 'as_str'))
})

/** The JSON names of a loco-core enum serialized with `rename_all = "snake_case"`. */
function serdeNames(file, name) {
  const body = coreSource(file).match(
    new RegExp(`#\\[serde\\(rename_all = "snake_case"\\)\\]\\npub enum ${name} \\{(.*?)\\n\\}`, 's'),
  )
  assert.ok(body, `loco-core/src/${file} has the snake_case enum ${name}`)
  return [...body[1].matchAll(/^ {4}([A-Z]\w*)/gm)]
    .map((m) => m[1].replace(/(?<!^)([A-Z])/g, '_$1').toLowerCase())
    .sort()
}

test('InstanceState, Verdict, Severity and LogStream are exactly the core enums as JSON names', () => {
  assert.deepEqual(union('InstanceState'), serdeNames('platform/mod.rs', 'InstanceState'))
  assert.deepEqual(union('LogStream'), serdeNames('platform/mod.rs', 'LogStream'))
  assert.deepEqual(union('Verdict'), serdeNames('analysis/mod.rs', 'Verdict'))
  assert.deepEqual(union('Severity'), serdeNames('analysis/mod.rs', 'Severity'))
  assert.deepEqual(union('InstanceState'), ['running', 'starting', 'stopped'])
})

test('RolloutFailureCode is exactly the codes the core documents and the orchestrator records', () => {
  const doc = coreSource('rollout/record.rs').match(/((?:\s*\/\/\/[^\n]*\n)+)\s*pub code: String/)
  assert.ok(doc, 'RolloutFailure.code is documented')
  const documented = [...doc[1].matchAll(/`([a-z_]+)`/g)].map((m) => m[1]).sort()
  assert.deepEqual(union('RolloutFailureCode'), documented)
  const orchestrator = ['mod.rs', 'execution.rs', 'observe.rs', 'rollback.rs']
    .map((f) => coreSource(`rollout/orchestrator/${f}`))
    .join('\n')
  const recorded = new Set(
    [...orchestrator.matchAll(/(?:halt\(|Err\(\(|code: )"([a-z_]+)"/g)].map((m) => m[1]),
  )
  assert.ok(recorded.size >= 6, [...recorded].join())
  for (const code of recorded) assert.ok(documented.includes(code), `${code} is recorded but not documented`)
})

test('the public API has no `any`', () => {
  const code = dts
    .split('\n')
    .filter((line) => !/^\s*(\*|\/\*\*|\/\/)/.test(line))
    .join('\n')
  assert.doesNotMatch(code, /\bany\b/)
})
