// The cost of turning core records into JavaScript objects: reads on an in-memory database, so
// no disk write hides it (loco_lifecycles.js is dominated by four durable commits a lifecycle).
//
// Usage: node loco_reads.js [--count N] [--package DIR]
// DIR is the loco-node package directory (default: the repository's loco-node/). Prints one
// `RESULT variant=node op=OP calls=N seconds=S` line per operation: `get` (one deployment),
// `events` (its 4 events) and `list` (a page of 50 deployments).
'use strict';

const path = require('node:path');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const { Engine } = require(path.resolve(option('package', path.join(__dirname, '..', '..', 'loco-node'))));

async function main() {
  const count = Number(option('count', '20000'));
  const engine = await Engine.openInMemory();
  let id;
  for (let i = 0; i < 50; i++) {
    const d = await engine.create({
      service: 'checkout',
      environment: 'staging',
      version: `1.${i}.0`,
      requester: 'alice@example.com',
      workRefs: [`PAY-${i}`],
      rollbackPlan: 'redeploy the previous version',
    });
    await engine.approve(d.id, 'bob@example.com', 'looks good');
    await engine.start(d.id, 'deploy-bot');
    await engine.succeed(d.id, 'deploy-bot');
    id = d.id;
  }
  const ops = {
    get: () => engine.get(id),
    events: () => engine.events(id),
    list: () => engine.list({ limit: 50 }),
  };
  for (const [op, call] of Object.entries(ops)) {
    for (let i = 0; i < 500; i++) await call();
    const started = process.hrtime.bigint();
    for (let i = 0; i < count; i++) await call();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`RESULT variant=node op=${op} calls=${count} seconds=${seconds.toFixed(6)}`);
  }
  await engine.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
