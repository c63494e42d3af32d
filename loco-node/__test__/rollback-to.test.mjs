// Rolling a target back to any retained release from Node, on the local platform for real:
// demo-service processes behind the core's proxy, the answering version read from the
// x-loco-version header, kept instances checked in /proc. Every test closes its engine and checks
// that none of its service's processes survives.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { Engine, rejection, tempDir } from './helpers.mjs'
import { approved, closeAndCheck, localEngine, plan, serviceProcesses, uniqueService, versions } from './rollout-helpers.mjs'

/** Whether `pid` runs (a zombie, exited but not yet reaped, does not). */
function alive(pid) {
  try {
    // The state follows the parenthesised command name, which may contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 1).trim().split(' ')[0] !== 'Z'
  } catch {
    return false
  }
}

/** The process ids of the rollout's running instances of `version`. */
function pids(rollout, version) {
  return rollout.progress.instances
    .filter((i) => i.version === version && i.state === 'running' && i.pid != null)
    .map((i) => i.pid)
    .sort((a, b) => a - b)
}

const fields = (error) => error.details.map((d) => d.field)
const sorted = (numbers) => [...numbers].sort((a, b) => a - b)

/** Releases `version` of `service` all at once; it then serves through the proxy. */
async function release(engine, service, version, overrides = {}) {
  const id = await approved(engine, service, version)
  const rollout = await engine.runRollout(id, plan(version, overrides), 'deploy-bot')
  assert.equal(rollout.state, 'succeeded', JSON.stringify(rollout.failure))
  return rollout
}

test('rollbackTo brings back a release two releases ago', async (t) => {
  const { engine } = await localEngine(t)
  const service = uniqueService()
  const v1 = await release(engine, service, 'v1')
  await release(engine, service, 'v2')
  const v3 = await release(engine, service, 'v3')
  const endpoint = v1.progress.endpoint
  assert.deepEqual(await versions(endpoint, 3), { v3: 3 })

  const rollout = await engine.rollbackTo(service, 'staging', 'v1', 'carol@example.com', 'v2 and v3 both leak memory')
  assert.equal(rollout.state, 'rolled_back', JSON.stringify(rollout.failure))
  assert.equal(rollout.deploymentId, v3.deploymentId, "the serving release's deployment is rolled back")
  assert.equal(rollout.previous.version, 'v1')
  assert.equal(rollout.previous.deploymentId, v1.deploymentId)
  assert.deepEqual(rollout.progress.traffic, [{ version: 'v1', percent: 100 }])
  assert.equal((await engine.get(v3.deploymentId)).status, 'rolled_back')
  assert.deepEqual(await versions(endpoint, 4), { v1: 4 }, 'v1 was started again and serves on the same port')

  const rolledBack = (await engine.events(v3.deploymentId)).filter((e) => e.kind === 'rolled_back')
  assert.deepEqual(
    rolledBack.map((e) => [e.actor, e.note]),
    [['carol@example.com', 'v2 and v3 both leak memory']],
  )
  const releases = await engine.releases(service, 'staging')
  assert.deepEqual(
    releases.slice(0, 2).map((r) => [r.version, r.retiredAt == null]),
    [
      ['v1', true],
      ['v3', false],
    ],
  )
  const serving = releases[0].instances.filter((i) => i.pid != null).map((i) => i.pid)
  assert.deepEqual(sorted(serviceProcesses(service)), sorted(serving), 'only the restored release runs')
  await closeAndCheck(engine, service)
})

test('rollbackTo refuses the serving, an unknown and an unexplained version', async (t) => {
  const { engine } = await localEngine(t)
  const service = uniqueService()
  await release(engine, service, 'v1')
  await release(engine, service, 'v2')

  const unknown = await rejection(engine.rollbackTo(service, 'staging', 'v9', 'carol', 'no such release'))
  assert.equal(unknown.code, 'validation_error')
  assert.deepEqual(fields(unknown), ['version'])
  assert.match(unknown.message, /\(retained, newest first: v2, v1\)/)
  const serving = await rejection(engine.rollbackTo(service, 'staging', 'v2', 'carol', 'already there'))
  assert.equal(serving.code, 'validation_error')
  assert.deepEqual(fields(serving), ['version'])
  const noNote = await rejection(engine.rollbackTo(service, 'staging', 'v1', 'carol', ' '))
  assert.equal(noNote.code, 'validation_error')
  assert.deepEqual(fields(noNote), ['note'])
  const blank = await rejection(engine.rollbackTo(undefined, null, '', 'carol', 'why'))
  assert.deepEqual(fields(blank), ['service', 'environment', 'version'])
  const wrongType = await rejection(engine.rollbackTo(service, 'staging', 1, 'carol', 'why'))
  assert.ok(wrongType instanceof TypeError)
  assert.equal(wrongType.code, 'validation_error')
  assert.deepEqual(fields(wrongType), ['version'])
  assert.deepEqual(
    (await engine.releases(service, 'staging')).map((r) => r.version),
    ['v2', 'v1'],
    'nothing changed',
  )
  await closeAndCheck(engine, service)
})

test('within the scale-down delay a rollback serves from the kept process', async (t) => {
  const { engine } = await localEngine(t)
  const service = uniqueService()
  const first = await release(engine, service, 'v1')
  const endpoint = first.progress.endpoint
  const v1Pids = pids(first, 'v1')
  assert.equal(v1Pids.length, 1)

  const second = await release(engine, service, 'v2', { scale_down_delay_seconds: 60 })
  assert.equal(second.plan.scale_down_delay_seconds, 60)
  assert.deepEqual(await versions(endpoint, 3), { v2: 3 })
  assert.ok(v1Pids.every(alive), 'v1 keeps running without traffic')
  assert.ok(v1Pids.every((pid) => serviceProcesses(service).includes(pid)))

  assert.equal((await engine.rollback(second.deploymentId, 'carol@example.com', 'bad release')).status, 'rolled_back')
  assert.deepEqual(await versions(endpoint, 4), { v1: 4 })
  const [current] = await engine.releases(service, 'staging', 1)
  assert.equal(current.version, 'v1')
  assert.deepEqual(
    sorted(current.instances.filter((i) => i.pid != null).map((i) => i.pid)),
    v1Pids,
    'the same process serves again',
  )
  assert.ok(v1Pids.every(alive))
  assert.deepEqual(sorted(serviceProcesses(service)), v1Pids, 'v2 was stopped')
  await closeAndCheck(engine, service)
})

test('Engine.open passes releaseRetention and leaseSeconds to the core', async (t) => {
  const negative = await rejection(Engine.openInMemory({ leaseSeconds: -1 }))
  assert.ok(negative instanceof TypeError)
  assert.equal(negative.code, 'validation_error')
  assert.deepEqual(fields(negative), ['leaseSeconds'])
  const fractional = await rejection(Engine.openInMemory({ releaseRetention: 2.5 }))
  assert.deepEqual(fields(fractional), ['releaseRetention'])
  const unknown = await rejection(Engine.openInMemory({ retention: 2 }))
  assert.deepEqual(fields(unknown), ['retention'])

  const dir = tempDir()
  const engine = await Engine.open(join(dir, 'loco.db'), {
    localStateDir: join(dir, 'state'),
    releaseRetention: 2,
    leaseSeconds: 5,
  })
  t.after(() => engine.close().catch(() => {}))
  const service = uniqueService()
  for (const version of ['v1', 'v2', 'v3']) await release(engine, service, version)
  assert.deepEqual(
    (await engine.releases(service, 'staging')).map((r) => r.version),
    ['v3', 'v2'],
    'two kept',
  )
  const dropped = await rejection(engine.rollbackTo(service, 'staging', 'v1', 'carol', 'too old'))
  assert.deepEqual(fields(dropped), ['version'])
  assert.equal((await engine.rollbackTo(service, 'staging', 'v2', 'carol', 'v3 is slow')).state, 'rolled_back')
  await closeAndCheck(engine, service)
})
