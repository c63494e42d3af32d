// The installed @loco/engine package from CommonJS: one deployment through its lifecycle, a
// refused self-approval with its code, the audit chain, and the package's version. Run by
// scripts/test-package in a fresh npm project that installed dist/loco-engine-*.tgz.
const assert = require('node:assert/strict')

const { Engine } = require('@loco/engine')
const { version } = require('@loco/engine/package.json')

async function main() {
  const engine = await Engine.openInMemory()
  const d = await engine.create({
    service: 'checkout',
    environment: 'staging',
    version: '2.4.0',
    requester: 'alice@example.com',
    workRefs: ['PAY-142'],
    rollbackPlan: 'redeploy 2.3.9',
  })
  await assert.rejects(engine.approve(d.id, 'alice@example.com'), { code: 'self_approval' })
  await engine.approve(d.id, 'bob@example.com', 'looks good')
  await engine.start(d.id, 'deploy-bot')
  const done = await engine.succeed(d.id, 'deploy-bot')
  assert.equal(done.status, 'succeeded')
  const audit = await engine.verifyAudit()
  assert.ok(audit.valid)
  await engine.close()
  console.log(`@loco/engine ${version} (CommonJS): ${done.id} ${done.status}, audit of ${audit.eventsChecked} events valid`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
