// Acknowledged writes survive the process: a child Node process writes and exits without closing,
// then this process reopens the file and finds every write.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { Engine, tempDb } from './helpers.mjs'

const writer = fileURLToPath(new URL('./fixtures/write-and-exit.mjs', import.meta.url))

test('writes acknowledged in one process are read by the next', async () => {
  const path = tempDb()
  const out = execFileSync(process.execPath, [writer, path], { encoding: 'utf8' })
  const { id, approvedId } = JSON.parse(out)

  const engine = await Engine.open(path)
  const started = await engine.get(id)
  assert.equal(started.status, 'started')
  assert.equal(started.reviewedBy, 'bob@example.com')
  assert.deepEqual(
    (await engine.events(id)).map((e) => e.kind),
    ['created', 'approved', 'started'],
  )
  assert.equal((await engine.get(approvedId)).status, 'approved')
  const audit = await engine.verifyAudit()
  assert.equal(audit.valid, true)
  assert.equal(audit.eventsChecked, 5)

  // And the other way round: this process writes, a new child reads what it finds.
  await engine.succeed(id, 'deploy-bot', 'all green')
  await engine.close()
  const summary = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module'
       const { Engine } = createRequire(${JSON.stringify(writer)})('../../index.js')
       const engine = await Engine.open(process.argv[1])
       const d = await engine.get(process.argv[2])
       console.log(JSON.stringify({ status: d.status, events: (await engine.events(d.id)).length }))`,
      path,
      id,
    ],
    { encoding: 'utf8' },
  )
  assert.deepEqual(JSON.parse(summary), { status: 'succeeded', events: 4 })
})
