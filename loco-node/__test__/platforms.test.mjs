// Configured cloud platforms from Node: add, list, test and remove. The token goes in once and
// never comes out — not in results, not in errors, not in the database file — and the core checks
// settings, naming every bad field.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { test } from 'node:test'

import { Engine, rejection, tempDb } from './helpers.mjs'

const TOKEN = 'rnd_node-secret-token-0123456789'

/** A loopback port nothing listens on. */
async function closedPort() {
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

test('a platform is added, listed, kept across engines and removed; its token is never shown', async () => {
  const path = tempDb()
  const engine = await Engine.open(path)
  const added = await engine.addPlatform('render-prod', { kind: 'render', service_id: 'srv-abc' }, TOKEN, 'alice')
  assert.equal(added.name, 'render-prod')
  assert.equal(added.token, '***')
  assert.equal(added.createdBy, 'alice')
  assert.deepEqual(added.settings, { kind: 'render', service_id: 'srv-abc', owner_id: null, api_url: null })
  await engine.addPlatform('fly-prod', '{"kind": "fly", "app": "shop"}', TOKEN, 'alice')
  const listed = await engine.platforms()
  assert.deepEqual(listed.map((p) => p.name), ['fly-prod', 'render-prod'])
  assert.ok(!JSON.stringify(listed).includes(TOKEN))
  await engine.close()
  for (const file of [path, `${path}-wal`].filter(existsSync)) {
    assert.ok(!readFileSync(file).includes(TOKEN), `the token is sealed in ${file}`)
  }

  const later = await Engine.open(path)
  assert.deepEqual((await later.platforms()).map((p) => p.name), ['fly-prod', 'render-prod'])
  await later.removePlatform('fly-prod')
  const gone = await rejection(later.removePlatform('fly-prod'))
  assert.equal(gone.code, 'not_found')
  assert.equal(gone.platform, 'fly-prod')
  await later.close()
})

test('bad configurations name every field and store nothing', async () => {
  const engine = await Engine.open(tempDb())
  const bad = await rejection(
    engine.addPlatform('Local!', { kind: 'fly', app: 'Shop', api_url: 'http://example.com' }, ' ', 'ops'),
  )
  assert.equal(bad.code, 'validation_error')
  assert.deepEqual(bad.details.map((d) => d.field), ['name', 'settings.api_url', 'settings.app', 'token'])
  const unknown = await rejection(engine.addPlatform('x', { kind: 'heroku', app: 'a' }, TOKEN, 'ops'))
  assert.equal(unknown.code, 'validation_error')
  assert.deepEqual(await engine.platforms(), [])
  await engine.close()
})

test('a failed connection test is a platform_error without the token', async () => {
  const engine = await Engine.open(tempDb())
  const port = await closedPort()
  await engine.addPlatform('fly-prod', { kind: 'fly', app: 'shop', api_url: `http://127.0.0.1:${port}` }, TOKEN, 'ops')
  const failed = await rejection(engine.testPlatform('fly-prod'))
  assert.equal(failed.code, 'platform_error')
  assert.equal(failed.platform, 'fly-prod')
  assert.ok(!failed.message.includes(TOKEN))
  const missing = await rejection(engine.testPlatform('nope'))
  assert.equal(missing.code, 'not_found')
  await engine.close()
})
