// Runs every vector of tests/conformance/manifests.json through `parseManifest`: a valid manifest
// parses and has each listed value at its path (`stages[1].rollout.instances`, defaults filled in,
// `null` for an absent option); an invalid one throws `validation_error` whose details name, in
// order, exactly the listed fields and lines, each with a column. The manifest is a document, so
// paths and fields keep its snake_case keys.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { loco } from './helpers.mjs'

const { vectors } = JSON.parse(
  readFileSync(new URL('../../tests/conformance/manifests.json', import.meta.url), 'utf8'),
)

/** The value at `path` (`stages[1].rollout.strategy.steps[0]`) inside `value`. */
function at(value, path) {
  let here = value
  for (const part of path.split('.')) {
    const [name, ...indexes] = part.split('[')
    assert.ok(Object.hasOwn(here, name), `${path}: no '${name}' in ${JSON.stringify(here)}`)
    here = here[name]
    for (const index of indexes) {
      const i = Number(index.replace(/]$/, ''))
      assert.ok(Array.isArray(here) && i < here.length, `${path}: no item ${i} in ${JSON.stringify(here)}`)
      here = here[i]
    }
  }
  return here
}

test('the vectors are there', () => {
  assert.ok(vectors.length >= 50, `${vectors.length} vectors`)
  assert.ok(vectors.filter((v) => !v.expect.valid).length >= 30, 'at least 30 bad manifests')
})

for (const { name, manifest, expect } of vectors) {
  test(name, () => {
    if (expect.valid) {
      const parsed = loco.parseManifest(manifest)
      for (const [path, value] of Object.entries(expect.values)) {
        assert.deepEqual(at(parsed, path), value, path)
      }
      return
    }
    assert.throws(
      () => loco.parseManifest(manifest),
      (error) => {
        assert.ok(error instanceof Error && !(error instanceof TypeError), `${error}`)
        assert.equal(error.code, expect.code, `${error}`)
        assert.deepEqual(
          error.details.map((d) => [d.field, d.line]),
          expect.problems.map((p) => [p.field, p.line]),
          `${error}`,
        )
        for (const detail of error.details) {
          assert.ok(Number.isInteger(detail.column) && detail.column >= 1, `column of ${JSON.stringify(detail)}`)
        }
        return true
      },
    )
  })
}
