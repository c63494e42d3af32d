// Loco from TypeScript: the same flow as quickstart.mjs with the package's types. Checked with
// `tsc --noEmit -p examples/node` (scripts/test-node); run it with any TypeScript runner.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine, type Deployment, type ErrorCode, type Event, type LocoError, type NewDeployment } from '@loco/engine'

/** Narrows a caught value to a Loco error, whose `code` is one of the stable codes. */
function isLocoError(error: unknown): error is LocoError {
  return error instanceof Error && typeof (error as Partial<LocoError>).code === 'string'
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'loco-quickstart-'))
  const engine: Engine = await Engine.open(join(dir, 'loco.db'))

  const seen: Event[] = []
  const watcher = (async () => {
    for await (const event of engine.subscribe()) seen.push(event)
  })()

  const request: NewDeployment = {
    service: 'checkout',
    environment: 'staging',
    version: '2.4.0',
    requester: 'alice@example.com',
    workRefs: ['PAY-142'],
    rollbackPlan: 'redeploy 2.3.9',
  }
  const d: Deployment = await engine.create(request)

  try {
    await engine.start(d.id, 'deploy-bot')
  } catch (error) {
    if (!isLocoError(error)) throw error
    const code: ErrorCode = error.code
    console.log(`refused (${code}): ${error.fromStatus} cannot ${error.action}`)
  }

  await engine.approve(d.id, 'bob@example.com')
  await engine.start(d.id, 'deploy-bot')
  const done = await engine.succeed(d.id, 'deploy-bot')
  if (done.status === 'succeeded') console.log(`${done.id} succeeded at ${done.updatedAt}`)

  const page = await engine.list({ environment: 'staging', limit: 10 })
  const next: string | null = page.nextCursor
  console.log(`${page.items.length} deployment(s) in staging; more: ${next !== null}`)

  await engine.close()
  await watcher
  console.log(`subscription saw: ${seen.map((e) => e.kind).join(', ')}`)
  rmSync(dir, { recursive: true, force: true })
}

await main()
