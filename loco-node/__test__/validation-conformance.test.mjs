// Runs every vector of tests/conformance/validation.json through `engine.validatePlan` on a real
// SQLite file: the report's verdict and exact findings, or the error code and its fields.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { Engine, tempDb } from './helpers.mjs'

const { vectors } = JSON.parse(
  readFileSync(new URL('../../tests/conformance/validation.json', import.meta.url), 'utf8'),
)
const KEYS = ['check', 'rule', 'location', 'severity', 'blocking']

test('every validation vector', async () => {
  assert.ok(vectors.length >= 15, 'the vectors are there')
  const engine = await Engine.open(tempDb())
  try {
    for (const { name, plan, expect } of vectors) {
      if (expect.error) {
        await assert.rejects(engine.validatePlan(plan), (error) => {
          assert.equal(error.code, expect.error, name)
          assert.deepEqual(error.details.map((d) => d.field), expect.fields, name)
          return true
        })
        continue
      }
      const report = await engine.validatePlan(plan)
      assert.equal(report.passed, expect.passed, name)
      const found = report.findings.map((f) => Object.fromEntries(KEYS.map((k) => [k, f[k]])))
      assert.deepEqual(found, expect.findings, name)
    }
  } finally {
    await engine.close()
  }
})
