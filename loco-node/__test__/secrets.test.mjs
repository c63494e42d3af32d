// Secrets from Node: a release's `secret_env` is sealed in the database file (under a key file
// created private next to it), reaches the instance's environment and nothing else of the host's,
// and every record the engine returns shows it as "***".
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { Engine, rejection } from './helpers.mjs'
import { approved, closeAndCheck, localEngine, plan, serviceProcesses, uniqueService } from './rollout-helpers.mjs'

const REDACTED = { API_KEY: '***' }
const PLATFORM_VARS = ['LOCO_INSTANCE_ID', 'LOCO_VERSION', 'LOCO_SERVICE', 'LOCO_ENVIRONMENT']

/** A value nobody else writes anywhere: what the tests look for. */
function marker() {
  return `sk_live_${randomBytes(16).toString('hex')}`
}

/** A plan running the demo service as `version` with `secretEnv` (and plain `env`). */
function secretPlan(version, secretEnv, env = {}) {
  const body = plan(version, { env })
  body.release.secret_env = secretEnv
  return body
}

/**
 * `value` as it could be written down: as is, in hex, and in standard and URL-safe base64 at
 * every byte alignment (only the characters that depend on `value`'s bytes alone).
 */
function writtenForms(value) {
  const raw = Buffer.from(value)
  const forms = [raw, Buffer.from(raw.toString('hex'))]
  for (let shift = 0; shift < 3; shift++) {
    const padded = Buffer.concat([Buffer.alloc(shift), raw])
    for (const encoding of ['base64', 'base64url']) {
      const encoded = padded.toString(encoding).replace(/=+$/, '')
      forms.push(Buffer.from(encoded.slice(4, -4)))
    }
  }
  return forms
}

/** Every file under `dir`, recursively. */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, name))
    .filter((path) => existsSync(path) && statSync(path).isFile())
}

/** No file under `dir` holds `value` in any written form; `mustExist` are among them. */
function assertNoFileHolds(dir, value, mustExist) {
  const files = filesUnder(dir)
  for (const path of mustExist) assert.ok(files.includes(path), `${path} exists: ${files}`)
  for (const path of files) {
    let content
    try {
      content = readFileSync(path)
    } catch {
      continue // removed meanwhile (the SQLite -shm at close): nothing to leak
    }
    for (const form of writtenForms(value)) {
      assert.equal(content.indexOf(form), -1, `${path} holds the secret (as ${form})`)
    }
  }
}

/** The environment process `pid` started with. */
function environmentOf(pid) {
  const entries = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0')
  return Object.fromEntries(
    entries.filter((e) => e.includes('=')).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  )
}

test('a secret reaches only the instance and is sealed or redacted everywhere else', async (t) => {
  const secret = marker()
  const outer = marker()
  // The host's own environment, which must not reach the instance.
  process.env.OUTER_SECRET = outer
  process.env.LOCO_OUTER_SECRET = outer
  t.after(() => {
    delete process.env.OUTER_SECRET
    delete process.env.LOCO_OUTER_SECRET
  })
  const { engine, dir } = await localEngine(t)
  const db = join(dir, 'loco.db')
  const keyFile = join(dir, 'loco.db.key')
  const service = uniqueService('vault')
  assert.ok(!existsSync(keyFile), 'no key before the first secret')

  const id = await approved(engine, service, 'v1')
  const rollout = await engine.runRollout(id, secretPlan('v1', { API_KEY: secret }, { VERSION: 'v1' }), 'deploy-bot')
  assert.equal(rollout.state, 'succeeded', JSON.stringify(rollout.failure))
  assert.deepEqual(rollout.plan.release.secret_env, REDACTED)
  assert.deepEqual(rollout.plan.release.env, { VERSION: 'v1' }, 'plain env is shown as it is')
  assert.deepEqual((await engine.rollout(id)).plan.release.secret_env, REDACTED)
  const rollouts = await engine.rollouts()
  assert.deepEqual(
    rollouts.map((r) => r.plan.release.secret_env),
    [REDACTED],
  )
  const releases = await engine.releases(service, 'staging')
  assert.deepEqual(
    releases.map((r) => r.spec.secret_env),
    [REDACTED],
  )

  const events = await engine.events(id)
  const last = events.at(-1).seq
  const replayed = []
  for await (const event of engine.subscribeAfter(0)) {
    replayed.push(event)
    if (event.seq >= last) break
  }
  assert.equal(replayed.at(-1).seq, last, 'the replay reaches the last event')
  const records = [rollout, await engine.rollout(id), ...rollouts, ...releases, ...events, ...replayed]
  records.push(await engine.get(id))
  for (const text of [...records.map((r) => JSON.stringify(r)), await engine.metricsText()]) {
    assert.ok(!text.includes(secret), text)
    assert.ok(!text.includes('loco:v1:'), `no record shows a sealed value either: ${text}`)
  }

  const instance = rollout.progress.instances.find((i) => i.version === 'v1' && i.state === 'running')
  assert.ok(serviceProcesses(service).includes(instance.pid))
  const child = environmentOf(instance.pid)
  assert.equal(child.API_KEY, secret)
  assert.equal(child.VERSION, 'v1')
  for (const name of ['OUTER_SECRET', 'LOCO_OUTER_SECRET', 'LOCO_MASTER_KEY', 'LOCO_ADMIN_TOKEN']) {
    assert.ok(!(name in child), `${name} reached the instance`)
  }
  const loco = Object.keys(child).filter((n) => n.startsWith('LOCO_'))
  assert.ok(
    loco.every((n) => PLATFORM_VARS.includes(n)),
    `${loco}`,
  )

  assert.equal(statSync(keyFile).mode & 0o777, 0o600)
  assertNoFileHolds(dir, secret, [db, `${db}-wal`, keyFile])
  await closeAndCheck(engine, service)
  assertNoFileHolds(dir, secret, [db, keyFile])

  // Opened again, the same key is used and the secret still shows redacted.
  const key = readFileSync(keyFile)
  const again = await Engine.open(db, { localStateDir: join(dir, 'state') })
  try {
    assert.deepEqual((await again.rollout(id)).plan.release.secret_env, REDACTED)
    assert.deepEqual((await again.releases(service, 'staging'))[0].spec.secret_env, REDACTED)
  } finally {
    await again.close()
  }
  assert.deepEqual(readFileSync(keyFile), key)
})

for (const [name, env, secretEnv] of [
  ['the redaction placeholder', {}, { API_KEY: '***' }],
  ['a variable both plain and secret', { API_KEY: 'plain' }, { API_KEY: 'sealed' }],
]) {
  test(`${name} is refused: validation_error on release.secret_env.API_KEY`, async (t) => {
    const { engine, dir } = await localEngine(t)
    const service = uniqueService('vault')
    const id = await approved(engine, service, 'v1')
    const error = await rejection(engine.runRollout(id, secretPlan('v1', secretEnv, env), 'deploy-bot'))
    assert.equal(error.code, 'validation_error', String(error))
    assert.deepEqual(
      error.details.map((d) => d.field),
      ['release.secret_env.API_KEY'],
    )
    assert.equal((await rejection(engine.rollout(id))).code, 'not_found')
    await closeAndCheck(engine, service)
    assert.ok(!existsSync(join(dir, 'loco.db.key')), 'nothing was sealed')
  })
}
