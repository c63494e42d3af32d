// Loco from Node.js: one deployment from request to success, an error with its code, the audit
// chain, and a live event subscription. Run: cd examples/node && npm ci && node quickstart.mjs
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine } from '@loco/engine'

const dir = mkdtempSync(join(tmpdir(), 'loco-quickstart-'))
const engine = await Engine.open(join(dir, 'loco.db'))

// Every committed event, in order, until the engine is closed.
const watcher = (async () => {
  for await (const event of engine.subscribe()) {
    console.log(`  event #${event.seq}: ${event.kind} by ${event.actor}`)
  }
})()

const d = await engine.create(
  {
    service: 'checkout',
    environment: 'production',
    version: '2.4.0',
    requester: 'alice@example.com',
    workRefs: ['PAY-142'],
    rollbackPlan: 'redeploy 2.3.9',
    risk: 'new payment provider; canary first',
  },
  'checkout-2.4.0', // idempotency key: repeating this request returns the same deployment
)
console.log(`created ${d.id} (${d.status})`)

try {
  await engine.approve(d.id, 'alice@example.com')
} catch (error) {
  console.log(`refused: ${error.code}: ${error.message}`)
}

await engine.approve(d.id, 'bob@example.com', 'looks good')
await engine.start(d.id, 'deploy-bot')
const done = await engine.succeed(d.id, 'deploy-bot', 'all health checks green')
console.log(`${done.id} is ${done.status}, reviewed by ${done.reviewedBy}`)

const history = await engine.events(d.id)
console.log(`history: ${history.map((e) => e.kind).join(' → ')}`)
const page = await engine.list({ service: 'checkout', status: 'succeeded' })
console.log(`succeeded checkout deployments: ${page.items.length}`)
const audit = await engine.verifyAudit()
console.log(`audit chain valid: ${audit.valid} (${audit.eventsChecked} events)`)

await engine.close()
await watcher
rmSync(dir, { recursive: true, force: true })
