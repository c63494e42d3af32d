// Runs every vector of tests/conformance/freeze.json through `engine.setFreezeWindow` and
// `engine.activeFreeze`, each on a fresh SQLite file: the occurrence in force (its window, start
// and end) or none, or the error code and the fields it names. Windows are documents, so the
// vectors' snake_case windows are passed as they are.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { Engine, tempDb } from './helpers.mjs'

const { vectors } = JSON.parse(readFileSync(new URL('../../tests/conformance/freeze.json', import.meta.url), 'utf8'))

/** Sets `windows` in order by an admin; the first error, or `null` when every one was set. */
async function setAll(engine, windows) {
  try {
    for (const window of windows) await engine.setFreezeWindow(window, 'admin')
    return null
  } catch (error) {
    return error
  }
}

test('the vectors are there', () => {
  assert.ok(vectors.length >= 40, `${vectors.length} vectors`)
})

for (const { name, windows, environment, at, expect } of vectors) {
  test(name, async () => {
    const engine = await Engine.open(tempDb())
    try {
      const error = await setAll(engine, windows)
      if (expect.error) {
        assert.ok(error, 'setting the window fails')
        assert.equal(error.code, expect.error, error.message)
        assert.deepEqual(error.details.map((d) => d.field), expect.fields, 'fields')
        assert.deepEqual(await engine.freezeWindows(), [], 'nothing was stored')
        return
      }
      assert.equal(error, null, error?.message)
      const active = await engine.activeFreeze(environment, at)
      const found = active && { window: active.window, start: active.start, end: active.end }
      assert.deepEqual(found, expect.active)
    } finally {
      await engine.close()
    }
  })
}
