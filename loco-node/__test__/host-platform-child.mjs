// Run by host-platform.test.mjs as a child process: releases v1 on a platform whose state lives in
// a JSON file (a fake cloud API that outlives this process), starts a ten-minute canary of v2,
// prints the deployment ids once two steps are done, then waits to be killed.
//
// Usage: node host-platform-child.mjs DB STATE
import { Engine } from './helpers.mjs'
import { FilePlatform, approved, hostPlan } from './host-platform-fleet.mjs'

const [db, state] = process.argv.slice(2)
const engine = await Engine.open(db, { platforms: [new FilePlatform(state)] })
const v1 = await approved(engine, 'shop', 'v1')
const first = await engine.runRollout(v1, hostPlan('v1', 'immediate', { platform: 'files' }), 'deploy-bot')
if (first.state !== 'succeeded') throw new Error(`v1: ${JSON.stringify(first.failure)}`)
const v2 = await approved(engine, 'shop', 'v2')
const plan = hostPlan('v2', 'canary', { platform: 'files' })
plan.strategy.interval_seconds = 600
await engine.startRollout(v2, plan, 'deploy-bot')
const deadline = Date.now() + 30_000
while ((await engine.rollout(v2)).progress.completedSteps < 2 && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 20))
}
console.log(JSON.stringify({ v1, v2 }))
setInterval(() => {}, 60_000) // keeps the process (and its rollout) alive until it is killed
