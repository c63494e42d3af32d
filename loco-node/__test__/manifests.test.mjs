// `parseManifest` and `manifestSchema` beyond the conformance vectors: the schema is the published
// one, the manifest comes back as a document with every default filled in, wrong argument types are
// a TypeError, an oversized manifest is refused before it is read, and a problem's line and column
// are set exactly when the core knows them.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { loco } from './helpers.mjs'

const TWO_STAGES = 'apiVersion: loco/v1\nservice: web\nstages:\n  - environment: staging\n  - environment: production\n'

test('manifestSchema is schema/manifest.schema.json', () => {
  const published = JSON.parse(readFileSync(new URL('../../schema/manifest.schema.json', import.meta.url), 'utf8'))
  const schema = loco.manifestSchema()
  assert.deepEqual(schema, published)
  // Each call builds a new object: changing one changes nothing for the next caller.
  schema.properties.stages = null
  assert.deepEqual(loco.manifestSchema(), published)
})

test('a manifest is a plain object with its own keys and every default', () => {
  const manifest = loco.parseManifest(
    `${TWO_STAGES}    approval: {required_approvals: 1}\n    rollout:\n      platform: local\n` +
      '      strategy: {type: canary, steps: [25], interval_seconds: 5}\n      release: {service: web}\n',
  )
  assert.equal(Object.getPrototypeOf(manifest), Object.prototype)
  assert.deepEqual(Object.keys(manifest), [
    'apiVersion',
    'service',
    'stages',
    'require_previous_success',
    'freeze_windows',
  ])
  assert.deepEqual(manifest.stages[0], { environment: 'staging', rollout: null, approval: null })
  assert.deepEqual(manifest.stages[1].approval, {
    required_approvals: 1,
    approvers: [],
    groups: [],
    expires_after_minutes: null,
    wait_minutes: null,
  })
  // The plan is a document too: snake_case keys, never camelCased.
  assert.equal(manifest.stages[1].rollout.strategy.interval_seconds, 5)
  assert.equal(manifest.stages[1].rollout.health.retries, 5)
  assert.ok(!('intervalSeconds' in manifest.stages[1].rollout.strategy))
})

test('parseManifest returns at once, not a Promise', () => {
  assert.ok(!(loco.parseManifest(TWO_STAGES) instanceof Promise))
})

test('a text that is not a string throws a TypeError coded validation_error', () => {
  for (const [text, got] of [
    [undefined, 'undefined'],
    [null, 'null'],
    [42, 'number'],
    [Buffer.from(TWO_STAGES), 'object'],
    [{ apiVersion: 'loco/v1' }, 'object'],
  ]) {
    assert.throws(
      () => loco.parseManifest(text),
      (error) => {
        assert.ok(error instanceof TypeError, `${got}: ${error}`)
        assert.equal(error.code, 'validation_error')
        assert.deepEqual(error.details, [{ field: 'text', message: `must be a string; got ${got}` }])
        return true
      },
    )
  }
  assert.throws(() => loco.parseManifest(), (error) => error instanceof TypeError && error.details[0].field === 'text')
})

test('a manifest over 256 KiB is refused, counted in UTF-8 bytes', () => {
  const limit = 256 * 1024
  // A comment line filling the manifest up to `bytes` bytes of UTF-8.
  const filled = (bytes, c) => {
    const room = bytes - Buffer.byteLength(`${TWO_STAGES}#\n`)
    const n = Math.floor(room / Buffer.byteLength(c))
    return `${TWO_STAGES}#${c.repeat(n)}${'x'.repeat(room - n * Buffer.byteLength(c))}\n`
  }
  const exact = filled(limit, 'x')
  assert.equal(Buffer.byteLength(exact), limit)
  assert.equal(loco.parseManifest(exact).service, 'web')
  // Fewer characters than the limit, but two bytes each in UTF-8: one byte over.
  const over = filled(limit + 1, 'é')
  assert.ok(over.length < limit)
  assert.equal(Buffer.byteLength(over), limit + 1)
  assert.throws(
    () => loco.parseManifest(over),
    (error) => {
      assert.ok(!(error instanceof TypeError))
      assert.equal(error.code, 'validation_error')
      assert.equal(error.details[0].field, 'manifest')
      assert.match(error.details[0].message, /262145 bytes; at most 262144/)
      // Refused before it is read: there is no place in the text to point at.
      assert.deepEqual(Object.keys(error.details[0]), ['field', 'message'])
      return true
    },
  )
})

test('each problem has exactly field, message, line and column', () => {
  assert.throws(
    () => loco.parseManifest(`${TWO_STAGES}    aproval: {}\nextra: 1\n`),
    (error) => {
      assert.deepEqual(
        error.details.map((d) => Object.keys(d)),
        [
          ['field', 'message', 'line', 'column'],
          ['field', 'message', 'line', 'column'],
        ],
      )
      assert.deepEqual(
        error.details.map(({ field, line, column }) => [field, line, column]),
        [
          ['stages[1].aproval', 6, 5],
          ['extra', 7, 1],
        ],
      )
      return true
    },
  )
})
