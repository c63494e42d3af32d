// Applied manifests from Node on real SQLite files: `applyManifest` stores a manifest as its
// service's next version (the same text again keeps the version) and sets the pipeline, gates and
// freeze windows it names, dropping those its previous version set; records are camelCase with the
// manifest kept as the document it is; a bad manifest names each problem's line and stores nothing;
// versions are read back after reopening; deployments record the version in force; and bad
// arguments are named.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { Engine, rejection, request, tempDb } from './helpers.mjs'

const vectors = JSON.parse(readFileSync(new URL('../../tests/conformance/manifests.json', import.meta.url), 'utf8'))
/** The first valid vector: checkout through dev, staging and production (a 2-of-3 gate), frozen at weekends. */
const FIRST = vectors.vectors.find((v) => v.expect.valid).manifest

const PRODUCTION_GATE =
  '  - environment: production\n    approval:\n      required_approvals: 2\n' +
  '      approvers: [alice, bob, carol]\n      expires_after_minutes: 1440\n'
/** Version 2: the gate moves from production to staging (one approver) and the window is renamed. */
const SECOND = FIRST.replace(PRODUCTION_GATE, '  - environment: production\n')
  .replace('  - environment: staging\n', '  - environment: staging\n    approval: {required_approvals: 1}\n')
  .replace('name: weekend', 'name: friday')

/** A create request for checkout in `environment`. */
function checkout(environment, version = '1.0.0') {
  return request({ service: 'checkout', environment, version })
}

test('applying a manifest stores version 1 as a record; the same text again keeps it', async () => {
  assert.notEqual(SECOND, FIRST)
  const path = tempDb()
  const engine = await Engine.open(path)
  assert.deepEqual(await engine.manifests(), [])

  const record = await engine.applyManifest(FIRST, 'root@example.com')
  assert.deepEqual(Object.keys(record), ['service', 'version', 'digest', 'text', 'manifest', 'appliedBy', 'appliedAt'])
  assert.deepEqual([record.service, record.version, record.appliedBy], ['checkout', 1, 'root@example.com'])
  assert.match(record.digest, /^[0-9a-f]{64}$/)
  assert.equal(record.digest, createHash('sha256').update(FIRST).digest('hex'))
  assert.equal(record.text, FIRST, 'the text exactly as applied')
  assert.ok(!Number.isNaN(Date.parse(record.appliedAt)), record.appliedAt)
  // The manifest is a document: the keys it is written with, every default filled in.
  assert.equal(record.manifest.apiVersion, 'loco/v1')
  assert.equal(record.manifest.require_previous_success, true)
  assert.equal(record.manifest.stages[2].approval.required_approvals, 2)
  assert.deepEqual(record.manifest.stages[2].approval.approvers, ['alice', 'bob', 'carol'])
  assert.equal(record.manifest.stages[1].rollout.strategy.interval_seconds, 30)
  assert.equal(record.manifest.freeze_windows[0].schedule.time_zone, 'Europe/Berlin')
  assert.ok(!('requiredApprovals' in record.manifest.stages[2].approval))

  // Applying the newest text again writes nothing: version 1, as root applied it.
  const again = await engine.applyManifest(FIRST, 'erin@example.com')
  assert.deepEqual(again, record)
  assert.deepEqual(await engine.manifestHistory('checkout'), [record])
  assert.deepEqual(await engine.manifest('checkout'), record)
  assert.deepEqual(await engine.manifest('checkout', 1), record)
  assert.deepEqual(await engine.manifests(), [record])
  await engine.close()
})

test('a changed manifest is the next version; the pipeline, gates and windows follow the newest', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  // Set by hand, outside any manifest: it stays.
  const qa = await engine.setGate({ environment: 'qa', required_approvals: 1 }, 'admin')
  const first = await engine.applyManifest(FIRST, 'root')
  assert.deepEqual(await engine.pipelines(), [
    { service: 'checkout', stages: ['dev', 'staging', 'production'], require_previous_success: true },
  ])
  assert.deepEqual(
    (await engine.gates()).map((g) => [g.environment, g.required_approvals]),
    [
      ['production', 2],
      ['qa', 1],
    ],
  )
  assert.deepEqual((await engine.freezeWindows()).map((w) => w.name), ['weekend'])

  const second = await engine.applyManifest(SECOND, 'erin')
  assert.deepEqual([second.version, second.appliedBy, second.text], [2, 'erin', SECOND])
  assert.notEqual(second.digest, first.digest)
  assert.equal(second.manifest.stages[2].approval, null)
  assert.deepEqual((await engine.manifestHistory('checkout')).map((r) => r.version), [2, 1])
  assert.equal((await engine.manifest('checkout', 1)).text, FIRST)
  assert.deepEqual(await engine.manifest('checkout'), second)
  assert.deepEqual(await engine.manifests(), [second])

  // The production gate version 1 set is gone, the staging one is there, and the hand-set one stays.
  assert.deepEqual(await engine.gates(), [
    qa,
    {
      environment: 'staging',
      service: 'checkout',
      required_approvals: 1,
      approvers: [],
      groups: [],
      expires_after_minutes: null,
      wait_minutes: null,
    },
  ])
  assert.deepEqual((await engine.freezeWindows()).map((w) => w.name), ['friday'])
  assert.equal((await engine.pipelines()).length, 1)

  // Back to the first text: a new version again, not version 1.
  assert.equal((await engine.applyManifest(FIRST, 'root')).version, 3)
  assert.deepEqual((await engine.gates()).map((g) => g.environment), ['production', 'qa'])
  await engine.close()
})

test('versions are kept in the file; manifests lists the newest of each service', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  await engine.applyManifest(FIRST, 'root')
  await engine.applyManifest(SECOND, 'erin')
  const web = await engine.applyManifest(
    'apiVersion: loco/v1\nservice: web\nstages:\n  - environment: dev\n  - environment: live\n',
    'root',
  )
  await engine.close()

  const again = await Engine.open(path)
  const history = await again.manifestHistory('checkout')
  assert.deepEqual(
    history.map((r) => [r.version, r.appliedBy, r.text]),
    [
      [2, 'erin', SECOND],
      [1, 'root', FIRST],
    ],
  )
  assert.deepEqual(await again.manifests(), [history[0], web], 'by service')
  assert.equal((await again.applyManifest(SECOND, 'someone')).version, 2, 'the newest text is still recognised')
  await again.close()
})

test('a deployment created under a manifest records its version on its created event', async () => {
  const engine = await Engine.open(tempDb())
  await engine.applyManifest(FIRST, 'root')
  const dev = await engine.create(checkout('dev'))
  const [created] = await engine.events(dev.id)
  assert.equal(created.kind, 'created')
  // Event data is a document: snake_case keys.
  assert.equal(created.data.manifest_version, 1)
  assert.equal(created.data.rollback_plan, dev.rollbackPlan)
  // The manifest's pipeline holds: staging takes the version only once it succeeded in dev.
  assert.equal((await rejection(engine.create(checkout('staging')))).rule, 'promotion_order')

  await engine.applyManifest(SECOND, 'root')
  const next = await engine.create(checkout('dev', '1.1.0'))
  assert.equal((await engine.events(next.id))[0].data.manifest_version, 2)
  // Services without a manifest record none.
  const other = await engine.create(request({ service: 'billing' }))
  assert.ok(!('manifest_version' in (await engine.events(other.id))[0].data))
  assert.equal((await engine.verifyAudit()).valid, true)
  await engine.close()
})

test('an invalid manifest rejects with every problem at its line, and nothing is stored', async () => {
  const engine = await Engine.open(tempDb())
  const bad = FIRST.replace('required_approvals: 2', 'required_approvals: 0').replace('steps: [10, 50]', 'steps: [50, 10]')
  const error = await rejection(engine.applyManifest(bad, 'root'))
  assert.ok(error instanceof Error && !(error instanceof TypeError))
  assert.equal(error.code, 'validation_error', error.message)
  // The manifest's own paths, never camelCased, in the order of the file.
  assert.deepEqual(
    error.details.map(({ field, line }) => [field, line]),
    [
      ['stages[1].rollout.strategy.steps[1]', 14],
      ['stages[2].approval.required_approvals', 19],
    ],
  )
  assert.ok(error.details.every((d) => Number.isInteger(d.column) && d.column >= 1))
  assert.deepEqual(await engine.manifests(), [])
  assert.deepEqual([await engine.pipelines(), await engine.gates(), await engine.freezeWindows()], [[], [], []])
  assert.equal((await rejection(engine.manifestHistory('checkout'))).code, 'not_found')

  // Refused after a good one, it leaves that one in force.
  await engine.applyManifest(FIRST, 'root')
  assert.equal((await rejection(engine.applyManifest(bad, 'root'))).code, 'validation_error')
  assert.deepEqual((await engine.manifestHistory('checkout')).map((r) => r.version), [1])
  await engine.close()
})

test('a blank actor is a validation_error on by, and nothing is stored', async () => {
  const engine = await Engine.open(tempDb())
  for (const actor of ['', '  ', undefined, null]) {
    const error = await rejection(engine.applyManifest(FIRST, actor))
    assert.ok(!(error instanceof TypeError), String(actor))
    assert.equal(error.code, 'validation_error')
    assert.deepEqual(error.details.map((d) => d.field), ['by'])
  }
  assert.deepEqual(await engine.manifests(), [])
  await engine.close()
})

test('a missing service or version rejects with not_found naming the service', async () => {
  const engine = await Engine.open(tempDb())
  const none = await rejection(engine.manifest('checkout'))
  assert.equal(none.code, 'not_found', none.message)
  assert.equal(none.service, 'checkout')
  assert.equal(none.message, "service 'checkout' has no manifest")
  const history = await rejection(engine.manifestHistory('checkout'))
  assert.deepEqual([history.code, history.service], ['not_found', 'checkout'])

  await engine.applyManifest(FIRST, 'root')
  const version = await rejection(engine.manifest('checkout', 2))
  assert.deepEqual([version.code, version.service], ['not_found', 'checkout'])
  assert.equal(version.message, "service 'checkout' has no manifest version 2")
  assert.equal((await rejection(engine.manifest('web'))).code, 'not_found')
  assert.equal((await engine.manifest('checkout', null)).version, 1, 'null is the newest, as absent is')
  await engine.close()
})

test('arguments of the wrong type are a TypeError coded validation_error', async () => {
  const engine = await Engine.open(tempDb())
  await engine.applyManifest(FIRST, 'root')
  for (const [call, details] of [
    [() => engine.manifest('checkout', 0), [['version', 'must be a whole number from 1 to 4294967295; got 0']]],
    [() => engine.manifest('checkout', -1), [['version', 'must be a whole number from 1 to 4294967295; got -1']]],
    [() => engine.manifest('checkout', 1.5), [['version', 'must be a whole number from 1 to 4294967295; got 1.5']]],
    [() => engine.manifest('checkout', 2 ** 32), [['version', 'must be a whole number from 1 to 4294967295; got 4294967296']]],
    [() => engine.manifest('checkout', '1'), [['version', 'must be a number; got string']]],
    [() => engine.manifest(7, '1'), [['service', 'must be a string; got number'], ['version', 'must be a number; got string']]],
    [() => engine.applyManifest(undefined, 'root'), [['text', 'must be a string; got undefined']]],
    [() => engine.applyManifest(Buffer.from(FIRST), 'root'), [['text', 'must be a string; got object']]],
    [() => engine.applyManifest(FIRST, 42), [['actor', 'must be a string; got number']]],
    [() => engine.manifestHistory({ service: 'checkout' }), [['service', 'must be a string; got object']]],
  ]) {
    const error = await rejection(call())
    assert.ok(error instanceof TypeError, `${call}: ${error}`)
    assert.equal(error.code, 'validation_error')
    assert.deepEqual(
      error.details.map((d) => [d.field, d.message]),
      details,
      String(call),
    )
  }
  assert.deepEqual(
    (await engine.manifestHistory('checkout')).map((r) => r.version),
    [1],
    'nothing was applied',
  )
  await engine.close()
})
