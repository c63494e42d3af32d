// Type-level checks of the `Platform`, `HealthProbe` and `MetricSource` contracts in index.d.ts
// (run by `npm run typecheck`): a class with async methods and a plain object with plain ones both
// implement a platform, with optional logs, stats and shutdown; probes and metric sources register
// alone or in the options of `open`; shapes the engine would refuse do not type-check
// (`@ts-expect-error` fails when they would).
import type {
  Engine,
  HealthProbe,
  Instance,
  InstanceHealth,
  MetricSource,
  Platform,
  PlatformCapabilities,
  PlatformInstance,
  PlatformLogLine,
  PlatformStats,
  PlatformStatus,
  ReleaseSpec,
  Target,
  TrafficWeight,
} from '../../index.js'

/** A platform recording what it runs in memory, as a cloud API client would. */
export class MemoryCloud implements Platform {
  readonly name = 'memory-cloud'
  readonly capabilities: PlatformCapabilities = { traffic: 'percentage', nativeRollback: false, logs: true, metrics: true }
  readonly instances = new Map<string, PlatformInstance>()

  async deploy(target: Target, release: Required<ReleaseSpec>, instanceIds: string[]): Promise<PlatformInstance[]> {
    const token: string | undefined = release.secret_env.TOKEN
    const image: string | null = release.image
    void [target.service, token, image]
    return instanceIds.map((id) => ({ id, version: release.version, state: 'running', platformId: `vm-${id}` }))
  }

  async setTraffic(target: Target, split: TrafficWeight[]): Promise<void> {
    void [target.environment, split.map((w) => w.percent)]
  }

  async stop(_target: Target, instances: Instance[]): Promise<void> {
    for (const instance of instances) this.instances.delete(instance.id)
  }

  async health(_target: Target, instance: Instance): Promise<InstanceHealth> {
    const platformId: string | null = instance.platformId
    return platformId ? 'running' : { state: 'exited', reason: 'no machine' }
  }

  async status(_target: Target): Promise<PlatformStatus> {
    return { endpoint: null, traffic: [{ version: 'v1', percent: 100 }], instances: [...this.instances.values()] }
  }

  async restore(
    target: Target,
    release: Required<ReleaseSpec>,
    known: Instance[],
    replacementIds: string[],
  ): Promise<PlatformInstance[]> {
    return known.length ? known : this.deploy(target, release, replacementIds.slice(0, 1))
  }

  async testConnection(): Promise<void> {}

  async *logs(_target: Target, instanceId: string): AsyncGenerator<PlatformLogLine> {
    yield `${instanceId} started`
    yield { stream: 'stderr', line: 'warming up' }
  }

  async stats(_target: Target, _version: string, windowSeconds: number): Promise<PlatformStats> {
    return { requests: windowSeconds * 10, errors: 0, latenciesMs: [12, 15] }
  }
}

/** The same contract as a plain object with plain methods and a capabilities method. */
export const plain: Platform = {
  name: 'plain',
  capabilities: () => ({ traffic: 'atomic_swap', nativeRollback: true, logs: false, metrics: false }),
  deploy: (_target, release, ids) => ids.map((id) => ({ id, version: release.version, state: 'running' })),
  setTraffic: () => {},
  stop: () => {},
  health: () => 'running',
  status: () => ({ endpoint: 'https://shop.example', traffic: [], instances: [] }),
  restore: (_target, _release, known) => known,
  testConnection: () => {},
  logs: () => ['one line', 'another'],
  shutdown: async () => {},
}

/** A probe may be async and answer a boolean, or answer nothing (it passes unless it throws). */
export const ready: HealthProbe = async (target, instance) => instance.state === 'running' && target.service !== ''
export const quiet: HealthProbe = () => {}

/** A metric source: counts, and whatever else the monitoring API has. */
export class Datadog implements MetricSource {
  readonly name = 'datadog'

  async stats(target: Target, version: string, windowSeconds: number): Promise<PlatformStats> {
    void [target, version]
    return { requests: windowSeconds * 20, errors: 1, errorRate: null, p99Ms: 40 }
  }
}

export async function register(engine: Engine, path: string): Promise<Engine> {
  engine.registerPlatform(new MemoryCloud())
  engine.registerPlatform(plain)
  engine.registerProbe('ready', ready)
  engine.registerMetricSource(new Datadog())
  engine.registerMetricSource(new MemoryCloud()) // a platform with stats is a metric source too
  return (await import('../../index.js')).Engine.open(path, {
    platforms: [new MemoryCloud(), plain],
    probes: { ready, quiet },
    metricSources: [new Datadog()],
  })
}

// @ts-expect-error a platform names itself
export const nameless: Platform = { ...plain, name: undefined }
// @ts-expect-error every required method is there
export const noTraffic: Platform = { ...plain, setTraffic: undefined }
// @ts-expect-error capabilities are camelCase and complete
export const snake: PlatformCapabilities = { traffic: 'percentage', native_rollback: false, logs: false, metrics: false }
// @ts-expect-error no such traffic control
export const teleport: PlatformCapabilities = { traffic: 'teleport', nativeRollback: false, logs: false, metrics: false }
// @ts-expect-error an instance has a state
export const stateless: PlatformInstance = { id: 'ins_1', version: 'v1' }
// @ts-expect-error an exited instance says why
export const silent: InstanceHealth = { state: 'exited' }
// @ts-expect-error stats count requests
export const uncounted: PlatformStats = { errors: 0 }
// @ts-expect-error a probe answers a boolean or nothing
export const wordy: HealthProbe = () => 'yes'
// @ts-expect-error a metric source names itself
export const anonymous: MetricSource = { stats: () => ({ requests: 0, errors: 0 }) }
