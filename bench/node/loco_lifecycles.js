// P6: full lifecycles (create -> approve -> start -> succeed) through Loco's Node binding.
//
// Usage: node loco_lifecycles.js --db PATH --count N [--warmup W] [--package DIR]
// DIR is the loco-node package directory (default: the repository's loco-node/).
// Prints `RESULT variant=node lifecycles=N seconds=S` (timed part only). Exits with status 3 and
// `UNAVAILABLE: ...` when the loco-node package is not built.
'use strict';

const path = require('node:path');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const packageDir = path.resolve(option('package', path.join(__dirname, '..', '..', 'loco-node')));
let Engine;
let loco;
try {
  loco = require(packageDir);
  ({ Engine } = loco);
} catch (e) {
  if (e.code !== 'MODULE_NOT_FOUND') throw e;
  console.log(`UNAVAILABLE: require('${packageDir}') failed (${e.message.split('\n')[0]})`);
  process.exit(3);
}
if (typeof Engine?.open !== 'function') {
  console.log(`UNAVAILABLE: ${packageDir} loads but does not export Engine.open yet`);
  process.exit(3);
}
const build = require('./build.js').checkedProfile(loco, packageDir);

async function lifecycle(engine, i) {
  const d = await engine.create({
    service: `svc-${String(i % 64).padStart(3, '0')}`,
    environment: 'staging',
    version: `1.${i}.0`,
    requester: 'alice@example.com',
    workRefs: [`PAY-${i}`],
    rollbackPlan: 'redeploy the previous version',
  });
  await engine.approve(d.id, 'bob@example.com');
  await engine.start(d.id, 'deploy-bot');
  await engine.succeed(d.id, 'deploy-bot');
}

async function main() {
  const db = option('db');
  if (!db) throw new Error('--db is required');
  const count = Number(option('count', '1000'));
  const warmup = Number(option('warmup', '10'));
  const engine = await Engine.open(db);
  for (let i = 0; i < warmup; i++) await lifecycle(engine, i);
  const started = process.hrtime.bigint();
  for (let i = warmup; i < warmup + count; i++) await lifecycle(engine, i);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (typeof engine.close === 'function') await engine.close();
  console.log(`RESULT variant=node lifecycles=${count} seconds=${seconds.toFixed(6)} build=${build}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
