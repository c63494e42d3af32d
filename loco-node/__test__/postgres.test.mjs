// The engine on PostgreSQL from Node: `Engine.open('postgres://…')` keeps its records in the
// database (a second engine reads them), and an unreachable server is a `storage_error` whose
// message never shows the URL's password. Uses the server at LOCO_TEST_POSTGRES_URL (default
// postgres://postgres@127.0.0.1:5432/test), in a schema of its own (made and dropped with psql).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'

import { Engine, rejection, request } from './helpers.mjs'

const SERVER = process.env.LOCO_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

function withSchema() {
  const schema = `loco_node_${randomUUID().replaceAll('-', '')}`
  execFileSync('psql', [SERVER, '-qc', `CREATE SCHEMA "${schema}"`])
  const url = `${SERVER}${SERVER.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`
  return { url, drop: () => execFileSync('psql', [SERVER, '-qc', `DROP SCHEMA IF EXISTS "${schema}" CASCADE`]) }
}

test('an engine on a postgres:// URL keeps its records for the next one', async () => {
  const { url, drop } = withSchema()
  try {
    const engine = await Engine.open(url)
    const d = await engine.create(request({ service: 'pg-node' }))
    await engine.approve(d.id, 'bob@example.com')
    await engine.close()
    const again = await Engine.open(url)
    assert.equal((await again.get(d.id)).status, 'approved')
    assert.deepEqual((await again.events(d.id)).map((e) => e.kind), ['created', 'approved'])
    assert.equal((await again.verifyAudit()).valid, true)
    await again.close()
  } finally {
    drop()
  }
})

test('an unreachable PostgreSQL server is a storage_error without the password', async () => {
  const error = await rejection(Engine.open('postgres://loco:pg-s3cret-never-shown@127.0.0.1:1/test'))
  assert.equal(error.code, 'storage_error')
  assert.ok(!error.message.includes('pg-s3cret-never-shown'), error.message)
})
