// The service registry from Node: register, list and remove the services a rollout plan may name
// in `release.service`. A plan naming one runs its registered command in its working directory,
// with its probes, and may set only the environment keys it allows; the core checks definitions
// and names every bad field. Definitions are documents: snake_case keys in and out.
import assert from 'node:assert/strict'
import { readFileSync, readlinkSync } from 'node:fs'
import { basename } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { Engine, rejection, tempDb } from './helpers.mjs'
import { approved, closeAndCheck, localEngine, plan, serviceProcesses, uniqueService, versions } from './rollout-helpers.mjs'

/** Where the demo service lives: registered services run `python3 app.py` there. */
const DEMO_DIR = fileURLToPath(new URL('../../examples/demo-service', import.meta.url))

/** A definition running the demo service, which may be told its version. */
function demo(name, overrides = {}) {
  return { name, command: ['python3', 'app.py'], working_dir: DEMO_DIR, allowed_env: ['VERSION'], ...overrides }
}

/** A plan that names `service` instead of carrying a command. */
function naming(service, version, release = {}) {
  const body = plan(version)
  delete body.release.command
  Object.assign(body.release, { service }, release)
  return body
}

function fields(error) {
  return error.details.map((d) => d.field)
}


// What a definition without scripts or checks comes back with.
const NO_SCRIPTS_OR_CHECKS = {
  scripts: { pre_deploy: [], post_deploy: [], on_rollback: [], on_failure: [] },
  validation: { artifact: null, config: null, secrets: null, dependencies: [], smoke_tests: [] },
}

test('a registered service is returned, listed, replaced and kept in the file', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  const shop = await engine.registerService(demo('shop'), 'admin@example.com')
  assert.deepEqual(shop, { ...demo('shop'), probes: [], ...NO_SCRIPTS_OR_CHECKS }, 'snake_case keys, every default filled in')
  assert.deepEqual(Object.keys(shop), ['name', 'command', 'working_dir', 'allowed_env', 'probes', 'scripts', 'validation'])

  // JSON text works as well as an object.
  const cart = await engine.registerService(JSON.stringify({ name: 'cart', command: ['./cart'] }), 'admin@example.com')
  assert.deepEqual(cart, {
    name: 'cart', command: ['./cart'], working_dir: null, allowed_env: [], probes: [], ...NO_SCRIPTS_OR_CHECKS,
  })
  assert.deepEqual(await engine.services(), [cart, shop], 'by name')

  const replaced = await engine.registerService(demo('shop', { allowed_env: ['VERSION', 'FAILURE_RATE'] }), 'ops')
  assert.deepEqual(replaced.allowed_env, ['VERSION', 'FAILURE_RATE'])
  assert.deepEqual(await engine.services(), [cart, replaced])
  // What it returns can be registered again as it is.
  assert.deepEqual(await engine.registerService(replaced, 'ops'), replaced)
  await engine.close()

  const again = await Engine.open(path)
  assert.deepEqual(await again.services(), [cart, replaced])
  await again.close()
})

test('a plan naming the service runs its registered command', async (t) => {
  const service = uniqueService()
  const probe = { type: 'command', command: ['python3', '-c', 'pass'] }
  const { engine } = await localEngine(t)
  await engine.registerService(demo(service, { probes: [probe] }), 'admin@example.com')
  const id = await approved(engine, service, 'v1')
  const rollout = await engine.runRollout(id, naming(service, 'v1', { env: { VERSION: 'v1' } }), 'deploy-bot')
  assert.equal(rollout.state, 'succeeded', JSON.stringify(rollout.failure))

  const { release, health } = rollout.plan
  assert.deepEqual([release.service, release.command, release.working_dir], [service, ['python3', 'app.py'], DEMO_DIR])
  assert.deepEqual(health.probes.map((p) => p.type), ['http', 'command'], "the service's probes come last")
  assert.deepEqual(health.probes[1], probe)

  const [pid, ...others] = rollout.progress.instances.filter((i) => i.state === 'running').map((i) => i.pid)
  assert.deepEqual(others, [])
  // python3 as found on PATH (a version manager's shim may run it by its full path), in DEMO_DIR.
  const [program, script] = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')
  assert.deepEqual([basename(program).startsWith('python3'), script], [true, 'app.py'], program)
  assert.equal(readlinkSync(`/proc/${pid}/cwd`), DEMO_DIR)
  assert.deepEqual(await versions(rollout.progress.endpoint, 3), { v1: 3 })
  await closeAndCheck(engine, service)
})

for (const [why, release, refused] of [
  ['an env key', { env: { LD_PRELOAD: '/tmp/x.so' } }, ['release.env.LD_PRELOAD']],
  ['a secret env key', { env: { VERSION: 'v1' }, secret_env: { API_KEY: 's3cret' } }, ['release.secret_env.API_KEY']],
  ['a command of its own', { command: ['sh', '-c', 'true'] }, ['release.command']],
]) {
  test(`${why} the service does not allow is refused by field`, async (t) => {
    const service = uniqueService()
    const { engine } = await localEngine(t)
    await engine.registerService(demo(service), 'admin@example.com')
    const id = await approved(engine, service, 'v1')
    const error = await rejection(engine.runRollout(id, naming(service, 'v1', release), 'deploy-bot'))
    assert.equal(error.code, 'validation_error')
    assert.deepEqual(fields(error), refused)
    assert.equal((await rejection(engine.rollout(id))).code, 'not_found')
    assert.equal((await engine.get(id)).status, 'approved', 'nothing started')
    await closeAndCheck(engine, service)
  })
}

test('a plan naming an unknown service is refused on release.service', async (t) => {
  const { engine } = await localEngine(t)
  const id = await approved(engine, 'shop', 'v1')
  const error = await rejection(engine.runRollout(id, naming('shop', 'v1'), 'deploy-bot'))
  assert.equal(error.code, 'validation_error')
  assert.deepEqual(fields(error), ['release.service'])
  assert.match(error.details[0].message, /'shop' is not a registered service/)
  await engine.close()
})

for (const [why, definition, refused] of [
  ['no command', { name: 'shop', command: [] }, ['command']],
  ['an empty program', { name: 'shop', command: [''] }, ['command']],
  ['a bad name', { name: 'a shop', command: ['app'] }, ['name']],
  ['an empty name', { name: '', command: ['app'] }, ['name']],
  [
    'env keys a plan may not set',
    { name: 'shop', command: ['app'], allowed_env: ['MODE', 'PATH', 'LOCO_KEY', '1X'] },
    ['allowed_env[1]', 'allowed_env[2]', 'allowed_env[3]'],
  ],
  [
    'every field at once',
    { name: 'a/b', command: [], working_dir: ' ', allowed_env: ['PORT'] },
    ['name', 'command', 'working_dir', 'allowed_env[0]'],
  ],
  ['an unknown field', { name: 'shop', command: ['app'], shell: true }, ['shell']],
  ['a camelCase field', { name: 'shop', command: ['app'], allowedEnv: ['MODE'] }, ['allowedEnv']],
  ['a mistyped field', { name: 'shop', command: 'app' }, ['command']],
]) {
  test(`a definition with ${why} is refused naming each field`, async () => {
    const engine = await Engine.openInMemory()
    for (const document of [definition, JSON.stringify(definition)]) {
      const error = await rejection(engine.registerService(document, 'admin@example.com'))
      assert.equal(error.code, 'validation_error')
      assert.ok(!(error instanceof TypeError), 'the core refused it, not the type check')
      assert.deepEqual(fields(error), refused)
    }
    assert.deepEqual(await engine.services(), [])
    await engine.close()
  })
}

test('a definition that is not a document is a TypeError', async () => {
  const engine = await Engine.openInMemory()
  for (const [definition, by, refused] of [
    [['shop'], 'admin', ['definition']],
    [undefined, 'admin', ['definition']],
    [demo('shop'), 42, ['by']],
    [demo('shop'), undefined, ['by']],
  ]) {
    const error = await rejection(engine.registerService(definition, by))
    assert.ok(error instanceof TypeError, String(error))
    assert.equal(error.code, 'validation_error')
    assert.deepEqual(fields(error), refused)
  }
  const error = await rejection(engine.registerService('{not json', 'admin'))
  assert.ok(!(error instanceof TypeError))
  assert.deepEqual(fields(error), ['service'], 'JSON that does not parse is named as a whole')
  assert.deepEqual(await engine.services(), [])
  await engine.close()
})

test('removing services empties the registry, and an unknown name is not_found', async (t) => {
  const { engine } = await localEngine(t)
  await engine.registerService(demo('shop'), 'admin@example.com')
  const cart = await engine.registerService(demo('cart'), 'admin@example.com')
  assert.equal(await engine.removeService('shop'), undefined)
  assert.deepEqual(await engine.services(), [cart])
  await engine.removeService('cart')
  assert.deepEqual(await engine.services(), [])

  const error = await rejection(engine.removeService('cart'))
  assert.equal(error.code, 'not_found')
  assert.equal(error.service, 'cart')
  assert.match(error.message, /service 'cart' is not registered/)
  const missing = await rejection(engine.removeService())
  assert.ok(missing instanceof TypeError)
  assert.deepEqual(fields(missing), ['name'])

  // A removed service can no longer be named by a plan.
  const id = await approved(engine, 'cart', 'v1')
  const refused = await rejection(engine.runRollout(id, naming('cart', 'v1'), 'deploy-bot'))
  assert.deepEqual(fields(refused), ['release.service'])
  await engine.close()
  assert.deepEqual(serviceProcesses('cart'), [])
})
