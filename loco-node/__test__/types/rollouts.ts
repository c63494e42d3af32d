// Type-level checks of index.d.ts for rollouts (run by `npm run typecheck`): documents that the
// core accepts type-check, shapes it refuses do not (`@ts-expect-error` fails when they would),
// and results narrow on their string unions.
import type {
  Action,
  Deployment,
  Engine,
  Event,
  InstanceLogs,
  LocoError,
  LogLine,
  Release,
  Rollout,
  RolloutFailureCode,
  RolloutPlan,
  RolloutState,
  Status,
  Strategy,
  Thresholds,
} from '../../index.js'

// Records: every property is present, `null` when empty; timestamps are strings.
export function describe(d: Deployment, e: Event): string {
  const risk: string | null = d.risk
  const at: string = e.at
  const from: Status | null = e.fromStatus
  const data: Record<string, unknown> | null = e.data
  // @ts-expect-error a record property is never undefined
  const absent: undefined = d.reviewedAt
  return `${risk} ${at} ${from} ${JSON.stringify(data)} ${absent}`
}

export function facts(error: LocoError): [Status | undefined, Status | undefined, Action | undefined] {
  return [error.fromStatus, error.from, error.action]
}

export const canary: RolloutPlan = {
  platform: 'local',
  strategy: { type: 'canary', steps: [10, 50], interval_seconds: 5 },
  release: { version: '2.4.0', command: ['python3', 'app.py'], env: { FAILURE_RATE: '0' } },
  instances: 2,
  health: { probes: [{ type: 'http', path: '/health' }, { type: 'tcp' }], retries: 3 },
  analysis: { source: { type: 'platform' }, thresholds: { min_samples: 20 }, monitor_seconds: 60 },
}

export const strategies: Strategy[] = [
  { type: 'immediate' },
  { type: 'rolling', max_surge: 1, max_unavailable: 0 },
  { type: 'blue_green' },
  { type: 'blue_green', switch_delay_seconds: 30 },
]

// @ts-expect-error a canary needs its interval
export const noInterval: Strategy = { type: 'canary', steps: [10] }
// @ts-expect-error plan keys are snake_case, like the HTTP body
export const camel: Strategy = { type: 'canary', steps: [10], intervalSeconds: 5 }
// @ts-expect-error no such strategy
export const yolo: Strategy = { type: 'yolo' }
// @ts-expect-error a plan names its platform
export const noPlatform: RolloutPlan = { strategy: { type: 'immediate' }, release: {} }
// @ts-expect-error an http probe needs a path
export const noPath: RolloutPlan = { ...canary, health: { probes: [{ type: 'http' }] } }
// @ts-expect-error thresholds are numbers
export const wordy: Thresholds = { min_samples: 'many' }

export async function use(engine: Engine, id: string): Promise<RolloutState> {
  const started: Rollout = await engine.startRollout(id, canary, 'deploy-bot')
  await engine.startRollout(id, JSON.stringify(canary), 'deploy-bot')
  const done = await engine.waitRollout(started.deploymentId)
  const code: RolloutFailureCode | undefined = done.failure?.code
  const verdict: 'pass' | 'fail' | 'inconclusive' | undefined = done.progress.analysis?.verdict
  const p99: number | null | undefined = done.progress.analysis?.canary.p99Ms
  const releases: Release[] = await engine.releases('checkout', 'staging', 5)
  const command: string[] = releases[0].spec.command
  const logs: InstanceLogs = engine.logs(id, done.progress.instances[0].id)
  for await (const line of logs) {
    const l: LogLine = line
    if (l.stream === 'stderr') break
  }
  void [code, verdict, p99, command]
  try {
    await engine.overrideRollout(id, 'carol', 'accept')
  } catch (error) {
    const e = error as LocoError
    if (e.code === 'rollout_not_paused' && e.state === 'running') return e.state
  }
  engine.setThresholds('production', { critical_error_rate: 0.3 })
  // @ts-expect-error the state is a known name
  const wrong: RolloutState = 'done'
  return done.state === 'rolled_back' ? done.state : wrong
}
