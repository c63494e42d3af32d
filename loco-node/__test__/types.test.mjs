// The committed index.d.ts against the core's data model: its string unions are exactly the
// names in the JSON Schema that loco-types dumps (schema/loco.schema.json, from which
// scripts/codegen/typescript.py generates them), the records it declares have exactly the schema's
// properties in camelCase, and the public API has no `any`.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { camel } from './helpers.mjs'

const dts = readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8')
const schema = JSON.parse(readFileSync(new URL('../../schema/loco.schema.json', import.meta.url), 'utf8'))
const vectors = JSON.parse(readFileSync(new URL('../../tests/conformance/lifecycle.json', import.meta.url), 'utf8'))

/** The members of `export type NAME = 'a' | 'b' | …` in index.d.ts. */
function union(name) {
  const match = dts.match(new RegExp(`export type ${name} =([^=]*?)\\n\\n`, 's'))
  assert.ok(match, `index.d.ts declares ${name}`)
  return [...match[1].matchAll(/'([a-z_]+)'/g)].map((m) => m[1])
}

/** The values of a string enum of the schema, in declaration order. */
function schemaNames(name) {
  return schema.$defs[name].oneOf.map((v) => v.const)
}

/** The property names of `export interface NAME { … }` in index.d.ts. */
function properties(name) {
  const match = dts.match(new RegExp(`export interface ${name} \\{\\n(.*?)\\n\\}`, 's'))
  assert.ok(match, `index.d.ts declares ${name}`)
  return [...match[1].matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1])
}

test('the string unions are exactly the names of the schema, in its order', () => {
  for (const [ts, core] of [
    ['Status', 'Status'],
    ['Action', 'Action'],
    ['EventKind', 'EventKind'],
    ['ErrorCode', 'ErrorCode'],
    ['RolloutState', 'RolloutState'],
    ['RolloutFailureCode', 'FailureCode'],
    ['InstanceState', 'InstanceState'],
    ['Verdict', 'Verdict'],
    ['Severity', 'Severity'],
    ['LogStream', 'LogStream'],
    ['FindingSeverity', 'FindingSeverity'],
    ['CheckKind', 'CheckKind'],
    ['ScanFormat', 'ScanFormat'],
  ]) {
    assert.deepEqual(union(ts), schemaNames(core), ts)
  }
})

test('Status and EventKind cover the lifecycle vectors', () => {
  const statuses = new Set(vectors.vectors.map((v) => v.name.match(/ from ([a-z_]+)$/)?.[1]).filter(Boolean))
  assert.deepEqual(union('Status').sort(), [...statuses].sort())
  const kinds = new Set(vectors.vectors.flatMap((v) => v.steps.flatMap((s) => s.expect.events ?? [])))
  assert.equal(kinds.size, 7)
  for (const kind of kinds) assert.ok(union('EventKind').includes(kind), kind)
})

test('records have the schema properties in camelCase; documents keep snake_case', () => {
  for (const [ts, core] of [
    ['Deployment', 'Deployment'],
    ['DeploymentPage', 'Page'],
    ['Event', 'Event'],
    ['AuditReport', 'AuditReport'],
    ['BrokenLink', 'BrokenLink'],
    ['Rollout', 'Rollout'],
    ['RolloutProgress', 'RolloutProgress'],
    ['RolloutFailure', 'RolloutFailure'],
    ['Release', 'Release'],
    ['Instance', 'Instance'],
    ['TrafficWeight', 'TrafficWeight'],
    ['Judgement', 'Judgement'],
    ['WindowStats', 'WindowStats'],
    ['TestResult', 'TestResult'],
    ['LogLine', 'LogLine'],
    ['FieldError', 'FieldError'],
    ['NewDeployment', 'NewDeployment'],
    ['ValidationReport', 'ValidationReport'],
    ['CheckSummary', 'CheckSummary'],
    ['Finding', 'Finding'],
    ['ManifestRecord', 'ManifestRecord'],
  ]) {
    assert.deepEqual(properties(ts).sort(), Object.keys(schema.$defs[core].properties).map(camel).sort(), ts)
  }
  for (const name of [
    'RolloutPlan',
    'ReleaseSpec',
    'HealthSpec',
    'AnalysisSpec',
    'Thresholds',
    'ValidationSpec',
    'Manifest',
    'Stage',
    'StageApproval',
  ]) {
    assert.deepEqual(properties(name).sort(), Object.keys(schema.$defs[name].properties).sort(), name)
  }
})

test('the public API has no `any`', () => {
  const code = dts
    .split('\n')
    .filter((line) => !/^\s*(\*|\/\*\*|\/\/)/.test(line))
    .join('\n')
  assert.doesNotMatch(code, /\bany\b/)
})
