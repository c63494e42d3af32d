// `buildProfile()` says how the addon was compiled, so a benchmark can refuse a debug build instead
// of timing it. scripts/test-node builds a debug addon and says so in LOCO_EXPECT_BUILD_PROFILE.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { loco } from './helpers.mjs'

test('the build profile names how the addon was compiled', () => {
  const profile = loco.buildProfile()
  assert.ok(profile === 'debug' || profile === 'release', profile)
  if (process.env.LOCO_EXPECT_BUILD_PROFILE !== undefined) {
    assert.equal(profile, process.env.LOCO_EXPECT_BUILD_PROFILE)
  }
})
