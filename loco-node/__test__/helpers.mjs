// Shared test helpers: the built package, temporary database files, and a valid create request.
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'

const require = createRequire(import.meta.url)

/** The package as users load it (`require('@loco/engine')`). */
export const loco = require('..')
export const { Engine } = loco

const dirs = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** A fresh directory under the OS temp dir, removed when the test file finishes. */
export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'loco-node-'))
  dirs.push(dir)
  return dir
}

/** A path for a new SQLite database file in a fresh temp dir. */
export function tempDb() {
  return join(tempDir(), 'loco.db')
}

/** A valid create request for a non-production environment, with `overrides` applied. */
export function request(overrides = {}) {
  return {
    service: 'checkout',
    environment: 'staging',
    version: '1.4.0',
    requester: 'alice@example.com',
    workRefs: ['PAY-142'],
    rollbackPlan: 'redeploy 1.3.9',
    ...overrides,
  }
}

/** `work_refs[1]` → `workRefs[1]`: the Node names of HTTP JSON (snake_case) fields. */
export function camel(name) {
  return name.replace(/_([a-z])/g, (_, c) => c.toUpperCase())
}

/** Resolves with the error `promise` rejects with; fails when it resolves. */
export async function rejection(promise) {
  try {
    const value = await promise
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`)
  } catch (error) {
    return error
  }
}
