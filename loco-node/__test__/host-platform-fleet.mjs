// The platforms written in JavaScript that host-platform.test.mjs (and the child process it kills,
// host-platform-child.mjs) run rollouts on: a simulated fleet behind them, faults to inject, and
// plans and helpers shared by both.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'

/** Health settings that keep these rollouts fast (no probes: the platform's health decides). */
export const HEALTH = {
  probes: [],
  timeout_seconds: 1,
  retries: 1,
  backoff_initial_seconds: 0.01,
  backoff_max_seconds: 0.05,
  interval_seconds: 0.02,
}

export const STRATEGIES = {
  immediate: { type: 'immediate' },
  rolling: { type: 'rolling', max_surge: 1, max_unavailable: 0 },
  blue_green: { type: 'blue_green', switch_delay_seconds: 0.05 },
  canary: { type: 'canary', steps: [10, 50], interval_seconds: 0.05 },
}

export const CAPABILITIES = { traffic: 'percentage', nativeRollback: false, logs: false, metrics: false }

/** A plan for the JavaScript platform `platform`, with a secret the platform must see revealed. */
export function hostPlan(version, strategy = 'immediate', { platform = 'sim', instances = 2, ...overrides } = {}) {
  return {
    platform,
    strategy: structuredClone(STRATEGIES[strategy]),
    release: { version, image: `registry.example/shop:${version}`, secret_env: { TOKEN: 's3cret' } },
    instances,
    health: HEALTH,
    ...overrides,
  }
}

/** Creates and approves a deployment of `service` at `version` in staging; returns its id. */
export async function approved(engine, service, version) {
  const d = await engine.create({
    service,
    environment: 'staging',
    version,
    requester: 'alice@example.com',
    workRefs: ['OPS-7'],
    rollbackPlan: 'roll back to the previous release',
  })
  await engine.approve(d.id, 'bob@example.com')
  return d.id
}

const key = (target) => `${target.service}/${target.environment}`

/**
 * The simulated infrastructure behind the test platforms: instances and traffic per target, the
 * calls made, and faults to inject (a throw, a bad answer) for the faulty version.
 */
export class Fleet {
  instances = {}
  traffic = {}
  splits = []
  calls = []
  releases = []
  throwIn = {}
  answer = {}
  faultyVersion = 'v2'

  /** Records the call; throws, or returns the injected bad answer, for the faulty version. */
  enter(method, version) {
    this.calls.push(method)
    if (version === undefined || version === this.faultyVersion) {
      if (method in this.throwIn) throw new Error(this.throwIn[method])
      if (method in this.answer) return { bad: this.answer[method] }
    }
    return undefined
  }

  deploy(target, release, ids) {
    const bad = this.enter('deploy', release.version)
    if (bad) return bad.bad
    this.releases.push(release)
    const started = ids.map((id) => ({ id, version: release.version, state: 'running', platformId: `m-${id.slice(-6)}` }))
    for (const instance of started) this.instances[instance.id] = { ...instance, target: key(target) }
    return started
  }

  setTraffic(target, split) {
    const shifted = split.filter((w) => w.percent > 0).map((w) => w.version)
    this.enter('setTraffic', shifted.includes(this.faultyVersion) ? this.faultyVersion : '')
    this.traffic[key(target)] = split
    this.splits.push(split)
  }

  stop(target, instances) {
    this.enter('stop')
    for (const instance of instances) {
      if (this.instances[instance.id]) this.instances[instance.id].state = 'stopped'
    }
  }

  health(target, instance) {
    const bad = this.enter('health', instance.version)
    if (bad) return bad.bad
    const known = this.instances[instance.id]
    if (!known || known.state !== 'running') return { state: 'exited', reason: 'simulated crash' }
    return 'running'
  }

  status(target) {
    this.enter('status')
    const instances = Object.values(this.instances)
      .filter((i) => i.target === key(target))
      .map(({ target: _, ...instance }) => instance)
    return { endpoint: `https://${target.service}.example`, traffic: this.traffic[key(target)] ?? [], instances }
  }

  restore(target, release, known, replacementIds) {
    this.enter('restore')
    const alive = known.filter((k) => this.instances[k.id]?.state === 'running').map((k) => this.instances[k.id])
    const missing = Math.max(known.length - alive.length, alive.length ? 0 : 1)
    const restarted = missing ? this.deploy(target, release, replacementIds.slice(0, missing)) : []
    return [...alive.map(({ target: _, ...instance }) => instance), ...restarted]
  }

  /** The versions of the running instances of `target`, sorted. */
  running(target = 'shop/staging') {
    return Object.values(this.instances)
      .filter((i) => i.target === target && i.state === 'running')
      .map((i) => i.version)
      .sort()
  }
}

/** Resolves after the current macrotask, as a method that awaits an API would. */
const tick = () => new Promise((resolve) => setImmediate(resolve))

/**
 * A platform with `async` methods (each awaits first); `hang` makes a method of the faulty
 * version never settle, `block` makes it block the event loop for that many milliseconds.
 */
export class AsyncSim {
  hang = new Set()
  block = {}

  constructor(name = 'sim', traffic = 'percentage') {
    this.name = name
    this.capabilities = { ...CAPABILITIES, traffic }
    this.fleet = new Fleet()
  }

  async pause(method, version) {
    await tick()
    if (version !== this.fleet.faultyVersion) return
    if (this.block[method]) {
      const until = Date.now() + this.block[method]
      while (Date.now() < until); // on purpose: blocks the event loop
      this.unblockedAt = Date.now()
    }
    if (this.hang.has(method)) await new Promise(() => {})
  }

  async deploy(target, release, instanceIds) {
    await this.pause('deploy', release.version)
    return this.fleet.deploy(target, release, instanceIds)
  }

  async setTraffic(target, split) {
    await tick()
    this.fleet.setTraffic(target, split)
  }

  async stop(target, instances) {
    await tick()
    this.fleet.stop(target, instances)
  }

  async health(target, instance) {
    await tick()
    return this.fleet.health(target, instance)
  }

  async status(target) {
    return this.fleet.status(target)
  }

  async restore(target, release, known, replacementIds) {
    await tick()
    return this.fleet.restore(target, release, known, replacementIds)
  }

  async testConnection() {
    await tick()
  }
}

/** The same platform as a plain object with plain (synchronous) methods and a capabilities method. */
export function plainSim(name = 'sim') {
  const fleet = new Fleet()
  return {
    name,
    fleet,
    capabilities: () => CAPABILITIES,
    deploy: (target, release, ids) => fleet.deploy(target, release, ids),
    setTraffic: (target, split) => fleet.setTraffic(target, split),
    stop: (target, instances) => fleet.stop(target, instances),
    health: (target, instance) => fleet.health(target, instance),
    status: (target) => fleet.status(target),
    restore: (target, release, known, ids) => fleet.restore(target, release, known, ids),
    testConnection: () => {},
  }
}

/**
 * A platform whose whole state is a JSON file, read and written on every call: a fake cloud API
 * that outlives the process using it.
 */
export class FilePlatform {
  name = 'files'
  capabilities = CAPABILITIES

  constructor(path) {
    this.path = path
  }

  fleet() {
    const fleet = new Fleet()
    if (existsSync(this.path)) Object.assign(fleet, JSON.parse(readFileSync(this.path, 'utf8')))
    return fleet
  }

  save(fleet) {
    const { instances, traffic, calls } = fleet
    writeFileSync(`${this.path}.tmp`, JSON.stringify({ instances, traffic, calls }))
    renameSync(`${this.path}.tmp`, this.path)
  }

  /** Runs `method` of the fleet on the file's state, saving it afterwards. */
  async change(method, ...args) {
    const fleet = this.fleet()
    const answer = fleet[method](...args)
    this.save(fleet)
    return answer
  }

  deploy(...args) {
    return this.change('deploy', ...args)
  }

  setTraffic(...args) {
    return this.change('setTraffic', ...args)
  }

  stop(...args) {
    return this.change('stop', ...args)
  }

  async health(target, instance) {
    return this.fleet().health(target, instance)
  }

  status(...args) {
    return this.change('status', ...args)
  }

  restore(...args) {
    return this.change('restore', ...args)
  }

  async testConnection() {}
}
