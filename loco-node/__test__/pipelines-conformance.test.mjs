// Runs every vector of tests/conformance/pipelines.json through `engine.setPipeline`,
// `engine.removePipeline`, `engine.promote`, `engine.pipelineView` and the lifecycle methods, each
// on a fresh SQLite file, checking each step's error (code and the fields it names), the view's
// stages and next stage, and the statuses, events, deployment fields, identities and pipelines
// after it. Pipelines are documents, so the vectors' snake_case pipelines are passed as they are;
// deployments are records, so the vectors' JSON field names are camelCased.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { Engine, camel, rejection, tempDb } from './helpers.mjs'

const { vectors } = JSON.parse(
  readFileSync(new URL('../../tests/conformance/pipelines.json', import.meta.url), 'utf8'),
)

/** An id in the shape of a deployment id that names no deployment (the vectors' `missing`). */
const MISSING = 'dep_01JDZZZZZZZZZZZZZZZZZZZZZZ'

function newDeployment(step) {
  return {
    service: step.service,
    environment: step.environment,
    version: step.version,
    requester: 'alice',
    workRefs: ['PIPE-1'],
    rollbackPlan: 'redeploy',
    risk: 'low',
    commit: step.commit ?? null,
  }
}

function id(refs, ref) {
  return ref === 'missing' ? MISSING : refs[ref]
}

async function runStep(engine, refs, step) {
  switch (step.op) {
    case 'pipeline':
      return engine.setPipeline(step.pipeline, 'root')
    case 'remove_pipeline':
      return engine.removePipeline(step.service)
    case 'create': {
      const d = await engine.create(newDeployment(step))
      refs[step.ref] = d.id
      return d
    }
    case 'approve':
      return engine.approve(id(refs, step.ref), 'bob')
    case 'start':
      return engine.start(id(refs, step.ref), 'dana')
    case 'succeed':
      return engine.succeed(id(refs, step.ref), 'dana')
    case 'fail':
      return engine.fail(id(refs, step.ref), 'dana', 'vector')
    case 'rollback':
      return engine.rollback(id(refs, step.ref), 'dana', 'vector')
    case 'promote': {
      const d = await engine.promote(id(refs, step.ref), step.actor)
      refs[step.as] = d.id
      return d
    }
    case 'view':
      return engine.pipelineView(step.service, step.version)
    default:
      throw new Error(`unknown op ${step.op}`)
  }
}

/** The ref a deployment id was given in this vector, or the id itself when none was. */
function refOf(refs, deploymentId) {
  if (deploymentId === null) return null
  return Object.keys(refs).find((ref) => refs[ref] === deploymentId) ?? deploymentId
}

test('the vectors are there', () => {
  assert.ok(vectors.length >= 37, `${vectors.length} vectors`)
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
          if (expect.error === 'policy_violation') assert.equal(error.rule, 'promotion_order', at)
        } else {
          const result = await runStep(engine, refs, step)
          if (step.op === 'view') {
            assert.deepEqual([result.service, result.version], [step.service, step.version], at)
            if (expect.stages) {
              const stages = result.stages.map((s) => [s.environment, refOf(refs, s.deploymentId), s.status])
              assert.deepEqual(stages, expect.stages, at)
            }
            if (expect.next !== undefined) assert.equal(result.next, expect.next, at)
          }
        }
        for (const [ref, status] of Object.entries(expect.statuses ?? {})) {
          assert.equal((await engine.get(refs[ref])).status, status, at)
        }
        for (const [ref, kinds] of Object.entries(expect.events ?? {})) {
          assert.deepEqual((await engine.events(refs[ref])).map((e) => e.kind), kinds, at)
        }
        for (const [ref, fields] of Object.entries(expect.deployment ?? {})) {
          const d = await engine.get(refs[ref])
          for (const [field, value] of Object.entries(fields)) {
            assert.deepEqual(d[camel(field)], value, `${at}: ${field}`)
          }
        }
        if (expect.same) {
          const [a, b] = expect.same
          assert.ok(refs[a] !== undefined, at)
          assert.equal(refs[a], refs[b], at)
        }
        if (expect.pipelines) {
          const found = (await engine.pipelines()).map((p) => [p.service, p.stages])
          assert.deepEqual(found, expect.pipelines, at)
        }
      }
      assert.equal((await engine.verifyAudit()).valid, true)
    } finally {
      await engine.close()
    }
  })
}
