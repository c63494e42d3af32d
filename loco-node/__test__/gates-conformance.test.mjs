// Runs every vector of tests/conformance/gates.json through `engine.setGate`, `engine.removeGate`,
// `engine.setGroup`, `engine.removeGroup`, `engine.approvalStatus` and the lifecycle methods, each
// on a fresh SQLite file, checking each step's error (code, the fields it names, the
// `approval_required` facts, a `policy_violation`'s `until`), the status it asks about, and the
// statuses, events and gates after it. Gates and groups are documents, so the vectors' snake_case
// documents are passed as they are.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { Engine, rejection, tempDb } from './helpers.mjs'

const { vectors } = JSON.parse(readFileSync(new URL('../../tests/conformance/gates.json', import.meta.url), 'utf8'))

function newDeployment(environment, service = 'web') {
  return {
    service,
    environment,
    version: '1.0.0',
    requester: 'alice',
    workRefs: ['GATE-1'],
    rollbackPlan: 'redeploy',
    // The vectors create production deployments, which must state their risk; the description
    // leaves it out.
    risk: 'low',
  }
}

/** `minutes` from now as RFC 3339 text, or `undefined` (now) when absent. */
function after(minutes) {
  return minutes === undefined ? undefined : new Date(Date.now() + minutes * 60_000).toISOString()
}

async function runStep(engine, refs, step) {
  switch (step.op) {
    case 'gate':
      return engine.setGate(step.gate, 'root')
    case 'remove_gate':
      return engine.removeGate(step.environment, step.service)
    case 'group':
      return engine.setGroup(step.group, 'root')
    case 'remove_group':
      return engine.removeGroup(step.name)
    case 'create': {
      const d = await engine.create(newDeployment(step.environment, step.service))
      refs[step.ref] = d.id
      return d
    }
    case 'approve':
      return engine.approve(refs[step.ref], step.actor)
    case 'reject':
      return engine.reject(refs[step.ref], step.actor, 'vector')
    case 'start':
      return engine.start(refs[step.ref], 'dana', null, step.override_reason ?? null)
    case 'status':
      return engine.approvalStatus(refs[step.ref], after(step.after_minutes))
    default:
      throw new Error(`unknown op ${step.op}`)
  }
}

test('the vectors are there', () => {
  assert.ok(vectors.length >= 40, `${vectors.length} vectors`)
})

for (const { name, steps } of vectors) {
  test(name, async () => {
    const engine = await Engine.open(tempDb())
    const refs = {}
    try {
      for (const [n, step] of steps.entries()) {
        const at = `step ${n} (${step.op})`
        const expect = step.expect
        if (!expect) {
          await runStep(engine, refs, step)
          continue
        }
        if (expect.error) {
          const error = await rejection(runStep(engine, refs, step))
          assert.equal(error.code, expect.error, `${at}: ${error.message}`)
          if (expect.fields) assert.deepEqual(error.details.map((d) => d.field), expect.fields, at)
          if (expect.approvals !== undefined) assert.equal(error.approvals, expect.approvals, at)
          if (expect.required !== undefined) assert.equal(error.required, expect.required, at)
          if (expect.error === 'approval_required') assert.equal(error.deploymentId, refs[step.ref], at)
          if (expect.until_set !== undefined) assert.equal(typeof error.until === 'string', expect.until_set, at)
        } else {
          const result = await runStep(engine, refs, step)
          if (step.op === 'status') {
            if (expect.approvals) assert.deepEqual(result.approvals.map((a) => a.actor), expect.approvals, at)
            if (expect.required !== undefined) assert.equal(result.required, expect.required, at)
            if (expect.rejected !== undefined) assert.equal(result.rejected, expect.rejected, at)
            if (expect.startable_at_set !== undefined) {
              assert.equal(result.startableAt !== null, expect.startable_at_set, at)
            }
          }
        }
        for (const [ref, status] of Object.entries(expect.statuses ?? {})) {
          assert.equal((await engine.get(refs[ref])).status, status, at)
        }
        for (const [ref, kinds] of Object.entries(expect.events ?? {})) {
          assert.deepEqual((await engine.events(refs[ref])).map((e) => e.kind), kinds, at)
        }
        if (expect.gates) {
          const found = (await engine.gates()).map((g) => [g.environment, g.required_approvals])
          assert.deepEqual(found, expect.gates, at)
        }
      }
      assert.equal((await engine.verifyAudit()).valid, true)
    } finally {
      await engine.close()
    }
  })
}
