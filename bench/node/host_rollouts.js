// P6 host platforms: immediate rollouts, one after another, on a platform written in JavaScript.
//
// Usage: node host_rollouts.js --db PATH --count N [--warmup W] [--package DIR]
// The platform keeps its instances in a Map (the work `MemoryPlatform` does in Rust) and counts
// every call Loco makes to it. Prints `RESULT phase=plain rollouts=N seconds=S calls=C` for the timed
// rollouts, then `RESULT phase=probes rollouts=K seconds=S calls=P` for K = N/10 rollouts whose
// health checks each call a host probe (a function returning undefined) PROBES times.
// Exits with status 3 and `UNAVAILABLE: ...` when the loco-node package (with host platforms) is
// not built.
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
if (typeof Engine?.prototype?.registerPlatform !== 'function') {
  console.log(`UNAVAILABLE: ${packageDir} has no host platforms (Engine#registerPlatform)`);
  process.exit(3);
}
const build = require('./build.js').checkedProfile(loco, packageDir);

/** The least a platform can do: remember instances and the traffic split. */
class MapPlatform {
  name = 'bench';
  capabilities = { traffic: 'percentage', nativeRollback: false, logs: false, metrics: false };
  instances = new Map();
  split = [];
  calls = 0;

  async deploy(target, release, instanceIds) {
    this.calls++;
    const made = instanceIds.map((id) => ({ id, version: release.version, state: 'running' }));
    for (const instance of made) this.instances.set(instance.id, instance);
    return made;
  }

  async setTraffic(target, split) {
    this.calls++;
    this.split = split;
  }

  async stop(target, instances) {
    this.calls++;
    for (const instance of instances) this.instances.delete(instance.id);
  }

  async health() {
    this.calls++;
    return 'running';
  }

  async status() {
    this.calls++;
    return { endpoint: null, traffic: this.split, instances: [...this.instances.values()] };
  }

  async restore(target, release, known, replacementIds) {
    this.calls++;
    return this.deploy(target, release, replacementIds.slice(0, Math.max(known.length, 1)));
  }

  async testConnection() {
    this.calls++;
  }
}

const PROBES = 50;

async function rollout(engine, i, probes = 0) {
  const version = `1.${i}.0`;
  const d = await engine.create({
    service: 'host-bench',
    environment: 'staging',
    version,
    requester: 'alice@example.com',
    workRefs: ['PAY-1'],
    rollbackPlan: 'redeploy the previous version',
  });
  await engine.approve(d.id, 'bob@example.com');
  const plan = {
    platform: 'bench',
    strategy: { type: 'immediate' },
    release: { version },
    instances: 1,
    health: { probes: Array(probes).fill({ type: 'host', name: 'noop' }) },
  };
  const done = await engine.runRollout(d.id, plan, 'deploy-bot');
  if (done.state !== 'succeeded') throw new Error(`rollout ${i} ended ${done.state}: ${JSON.stringify(done.failure)}`);
}

async function main() {
  const db = option('db');
  if (!db) throw new Error('--db is required');
  const count = Number(option('count', '1000'));
  const warmup = Number(option('warmup', '10'));
  const platform = new MapPlatform();
  let probeCalls = 0;
  const noop = () => {
    probeCalls++;
  };
  const engine = await Engine.open(db, { platforms: [platform], probes: { noop } });
  for (let i = 0; i < warmup; i++) await rollout(engine, i);
  const callsBefore = platform.calls;
  const started = process.hrtime.bigint();
  for (let i = warmup; i < warmup + count; i++) await rollout(engine, i);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`RESULT phase=plain rollouts=${count} seconds=${seconds.toFixed(6)} calls=${platform.calls - callsBefore} build=${build}`);
  const some = Math.max(Math.floor(count / 10), 1);
  const probesStarted = process.hrtime.bigint();
  for (let i = warmup + count; i < warmup + count + some; i++) await rollout(engine, i, PROBES);
  const probeSeconds = Number(process.hrtime.bigint() - probesStarted) / 1e9;
  await engine.close();
  console.log(`RESULT phase=probes rollouts=${some} seconds=${probeSeconds.toFixed(6)} calls=${probeCalls} build=${build}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
