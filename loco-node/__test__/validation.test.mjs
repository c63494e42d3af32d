// Pre-deployment validation from Node: `validatePlan` runs a plan's checks alone and resolves with
// the report; `startRollout` runs them first, and a blocking finding rejects with
// `validation_failed` (its report attached), records a `validation` event and leaves the deployment
// `approved`. Real SQLite files, and the real demo service once a plan passes.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Engine, rejection, tempDb } from './helpers.mjs'
import { approved, closeAndCheck, localEngine, plan, uniqueService } from './rollout-helpers.mjs'

/** A plan of the demo service whose validation requires `variable` to be set. */
function requiring(variable, env = {}) {
  return plan('v1', { env, validation: { config: { required: [variable] } } })
}

/** An engine on a fresh database without platforms, closed after the test. */
async function plainEngine(t) {
  const engine = await Engine.open(tempDb())
  t.after(() => engine.close().catch(() => {}))
  return engine
}

test('validatePlan reports a missing required variable', async (t) => {
  const engine = await plainEngine(t)
  const report = await engine.validatePlan(requiring('X'))
  assert.equal(report.passed, false)
  assert.equal(report.findings.length, 1)
  const [finding] = report.findings
  assert.equal(finding.check, 'config')
  assert.equal(finding.rule, 'missing_variable')
  assert.equal(finding.severity, 'high')
  assert.equal(finding.blocking, true)
  assert.equal(finding.location, 'release.env.X')
  assert.equal(finding.fingerprint, null)
  assert.deepEqual(
    report.checks.map((c) => [c.check, c.passed, c.findings]),
    [['config', false, 1]],
  )
  assert.equal(typeof report.checks[0].durationMs, 'number', 'report keys are camelCase like every record')
  assert.equal(report.omitted, 0)
})

test('validatePlan passes once the variable is set, and takes the plan as JSON text too', async (t) => {
  const engine = await plainEngine(t)
  for (const candidate of [requiring('X', { X: '1' }), JSON.stringify(requiring('X', { X: '1' }))]) {
    const report = await engine.validatePlan(candidate)
    assert.equal(report.passed, true)
    assert.deepEqual(report.findings, [])
    assert.deepEqual(
      report.checks.map((c) => [c.check, c.passed]),
      [['config', true]],
    )
  }
  const audit = await engine.verifyAudit()
  assert.equal(audit.eventsChecked, 0, 'validatePlan records nothing')
})

test('an unknown field under validation is a validation_error naming it', async (t) => {
  const engine = await plainEngine(t)
  for (const [validation, field] of [
    [{ config: { required: ['X'] }, artefact: { path: 'dist' } }, 'validation.artefact'],
    [{ config: { required: ['X'], optional: ['Y'] } }, 'validation.config.optional'],
  ]) {
    const error = await rejection(engine.validatePlan(plan('v1', { validation })))
    assert.equal(error.code, 'validation_error')
    assert.deepEqual(
      error.details.map((d) => d.field),
      [field],
      'plan fields keep their snake_case document names',
    )
  }
  const wrongType = await rejection(engine.validatePlan(42))
  assert.ok(wrongType instanceof TypeError)
  assert.equal(wrongType.code, 'validation_error')
})

test('a failing validation refuses the start; a passing one is recorded just before started', async (t) => {
  const { engine } = await localEngine(t)
  const service = uniqueService()
  const id = await approved(engine, service, 'v1')

  const error = await rejection(engine.startRollout(id, requiring('X'), 'deploy-bot'))
  assert.ok(error instanceof Error)
  assert.equal(error.code, 'validation_failed')
  assert.equal(error.deploymentId, id)
  assert.equal(error.blockingFindings, 1)
  assert.deepEqual(
    error.details.map((d) => d.field),
    ['release.env.X'],
  )
  assert.equal(error.report.passed, false)
  assert.equal(error.report.findings[0].rule, 'missing_variable')
  assert.equal(error.report.findings[0].location, 'release.env.X')
  assert.match(error.message, new RegExp(id))

  assert.equal((await engine.get(id)).status, 'approved')
  const refused = await engine.events(id)
  assert.deepEqual(
    refused.map((e) => e.kind),
    ['created', 'approved', 'validation'],
  )
  assert.equal(refused.at(-1).data.passed, false, 'event data is the report as a snake_case document')
  assert.equal(refused.at(-1).data.findings[0].rule, 'missing_variable')
  assert.equal(typeof refused.at(-1).data.checks[0].duration_ms, 'number')
  await assert.rejects(engine.rollout(id), { code: 'not_found' })

  const started = await engine.startRollout(id, requiring('X', { X: '1' }), 'deploy-bot')
  assert.equal(started.deploymentId, id)
  const done = await engine.waitRollout(id)
  assert.equal(done.state, 'succeeded', JSON.stringify(done.failure))
  const events = await engine.events(id)
  const kinds = events.map((e) => e.kind)
  assert.deepEqual(kinds.slice(0, 5), ['created', 'approved', 'validation', 'validation', 'started'])
  const at = kinds.indexOf('started')
  assert.equal(kinds[at - 1], 'validation')
  assert.equal(events[at - 1].data.passed, true)
  await closeAndCheck(engine, service)
})
