/**
 * What every rejected Loco Promise (and `subscribeAfter`, `setThresholds`, `logs`) throws: an
 * `Error` whose `code` is the core's error code (see `ErrorCode`). Arguments of the wrong
 * JavaScript type throw a `TypeError` with code `validation_error`.
 *
 * Besides `message` and `details`, each error carries the structured facts of its code as
 * properties, named as in the core (`deployment_id` becomes `deploymentId`); a fact a code does
 * not have is absent.
 */
export interface LocoError extends Error {
  code: ErrorCode
  /** One entry per invalid field for `validation_error`; empty otherwise. */
  details: FieldError[]
  /**
   * The deployment concerned (`not_found`, `invalid_transition`, `self_approval`,
   * `rollout_in_progress`, `rollout_not_paused`, `rollback_failed`, `validation_failed`,
   * `approval_required`).
   */
  deploymentId?: string
  /** The deployment's status when the action was tried (`invalid_transition`). */
  fromStatus?: Status
  /** The same as `fromStatus`, under the name earlier releases of this package used. */
  from?: Status
  /** The refused action (`invalid_transition`, `self_approval`). */
  action?: Action
  /** The reviewer who is also the requester (`self_approval`). */
  actor?: string
  /** The reused key (`idempotency_conflict`). */
  idempotencyKey?: string
  /** The exceeded limit in bytes (`payload_too_large`). */
  limitBytes?: number
  /** The service of a conflicting rollout (`rollout_conflict`), or one not registered, without a held lock, without a pipeline or without a manifest (or that version of one) (`not_found`). */
  service?: string
  /** The environment of a conflicting rollout (`rollout_conflict`), of a refusal (`permission_denied`, `policy_violation`, `approval_required`) or of a gate that does not exist (`not_found`). */
  environment?: string
  /** The deployment whose rollout is already active (`rollout_conflict`). */
  activeDeploymentId?: string
  /** The state of a rollout that is not paused (`rollout_not_paused`). */
  state?: RolloutState
  /** The platform that failed (`platform_error`). */
  platform?: string
  /** How many findings refused the release (`validation_failed`; `details` lists them). */
  blockingFindings?: number
  /** The full pre-deployment validation report (`validation_failed`). */
  report?: ValidationReport
  /**
   * The policy rule that refused the operation (`policy_violation`): `freeze_window`,
   * `deploy_lock`, `approval_gate` (a reviewer the gate neither names nor admits through its
   * groups, or a second approval by the same reviewer), `wait_timer` (a start inside the gate's
   * wait after approval) or `promotion_order` (a version created in a pipeline stage before it
   * succeeded in the stage before, or a promotion of a deployment that has not succeeded).
   */
  rule?: string
  /** The freeze window that refused it, the deployment holding the deploy lock, the environment of the gate or the service of the pipeline (`policy_violation`), or a window that does not exist (`not_found`). */
  policy?: string
  /** The reviewer group that does not exist (`not_found`). */
  group?: string
  /** When the refusal ends, RFC 3339 (`policy_violation`). */
  until?: string
  /** The approvals that count now (`approval_required`). */
  approvals?: number
  /** How many approvals the environment's gate requires (`approval_required`). */
  required?: number
}

/** Filters and paging for `Engine.list`; every property is optional. */
export interface ListQuery {
  /** Only this service (exact match). */
  service?: string | null
  /** Only this environment (exact match). */
  environment?: string | null
  /** Only this status. */
  status?: Status | null
  /** Page size, 1 to 500; 50 when absent. */
  limit?: number | null
  /** `nextCursor` of the previous page. */
  cursor?: string | null
}

/** Options of `Engine.open` and `Engine.openInMemory`; every property is optional. */
export interface OpenOptions {
  /**
   * Registers the local platform (`local`: child processes behind a weighted proxy on 127.0.0.1)
   * with its pidfiles in this directory, created if missing. Use the same directory across
   * restarts: rollouts an earlier engine left unfinished are recovered while opening.
   */
  localStateDir?: string | null
  /**
   * Platforms written in JavaScript (see `Platform`), registered before the rollouts an earlier
   * engine left unfinished are recovered, so recovery can call them: pass the same objects (by
   * `name`) every time the database is opened.
   */
  platforms?: Platform[] | null
  /**
   * Health probes written in JavaScript, by name: plans name them as `{ type: 'host', name }`
   * probes. Registered before recovery, like `platforms`.
   */
  probes?: Record<string, HealthProbe> | null
  /**
   * Metric sources written in JavaScript: canary analysis names them as `{ type: 'host', name }`
   * sources. Registered before recovery, like `platforms`.
   */
  metricSources?: MetricSource[] | null
  /**
   * Analysis thresholds per environment (names compared case-insensitively), for rollouts whose
   * plan sets none. Each is a thresholds document (snake_case keys) or its JSON text.
   */
  thresholds?: Record<string, Thresholds | string> | null
  /**
   * How many releases each service and environment keeps in its history for `rollbackTo`
   * (default 20, at least 2).
   */
  releaseRetention?: number | null
  /**
   * Seconds a rollout's engine may be silent before another engine on the same database takes
   * the rollout over (default 30, at least 0.3). Engines sharing a database should use the same.
   */
  leaseSeconds?: number | null
}

/** Filter of `Engine.rollouts`. */
export interface RolloutQuery {
  /** Only rollouts that are running, paused or rolling back. */
  activeOnly?: boolean | null
}

/** Options of `Engine.scheduleStart`; every property is optional. */
export interface ScheduleOptions {
  /**
   * Start a rollout with the plan the deployment's stage sets in its manifest (which must exist
   * when it is scheduled), instead of the plain `start` (the default).
   */
  rollout?: boolean | null
  /**
   * Start it in spite of a freeze window in force then, for this reason; recorded as a
   * `policy_override` event as a start's override is.
   */
  overrideReason?: string | null
  /** Who schedules it; the actor when absent. */
  by?: string | null
}

/** A `Subscription` is an async iterable: `for await (const event of engine.subscribe())`. */
export interface Subscription {
  [Symbol.asyncIterator](): Subscription
}

/** `InstanceLogs` is an async iterable: `for await (const line of engine.logs(id, instanceId))`. */
export interface InstanceLogs {
  [Symbol.asyncIterator](): InstanceLogs
}

/** A value, or a Promise of it: every `Platform` method may return either. */
export type Awaitable<T> = T | PromiseLike<T>

/** Where a release runs: one service in one environment. */
export interface Target {
  service: string
  environment: string
}

/** What a `Platform` can do; a plan that needs more is refused before anything runs. */
export interface PlatformCapabilities {
  /**
   * How traffic can be divided between releases: any percentage, by instance count (a canary
   * needs `instances` >= 2), or not at all (`atomic_swap`: a new deploy replaces the serving one;
   * only `immediate` and `blue_green` run).
   */
  traffic: 'percentage' | 'instance_count' | 'atomic_swap'
  /** The platform can go back to an earlier release by itself. */
  nativeRollback: boolean
  /** Instance output can be followed; needs a `logs` method. */
  logs: boolean
  /** The platform measures per-version metrics for canary analysis; needs a `stats` method. */
  metrics: boolean
}

/** An instance as a `Platform` reports it; what it leaves out is `null`. */
export interface PlatformInstance {
  /** The id Loco chose (from `instanceIds` or `replacementIds`), or one of `known`. */
  id: string
  version: string
  state: InstanceState
  address?: string | null
  pid?: number | null
  /** The platform's own id for it (a machine id), kept with the instance. */
  platformId?: string | null
}

/** One instance's health: `'running'` (short for `{ state: 'running' }`), or gone and why. */
export type InstanceHealth = 'running' | { state: 'running' } | { state: 'exited'; reason: string }

/** A target as the platform sees it. */
export interface PlatformStatus {
  /** Where clients reach the target, if anywhere. */
  endpoint: string | null
  traffic: TrafficWeight[]
  instances: PlatformInstance[]
}

/**
 * One version's requests over the last `windowSeconds`, as `stats` measures them (a `Platform`'s
 * or a `MetricSource`'s). With `latenciesMs` (every request's latency) Loco computes the
 * percentiles and can test latency, else it uses the percentiles given; what is left out or
 * `null` is not judged. A property not listed here is refused (a typo cannot switch a rule off).
 */
export interface PlatformStats {
  requests: number
  /** Requests that failed (5xx); at most `requests`. */
  errors: number
  /** Computed from `errors / requests` when left out. */
  errorRate?: number | null
  p50Ms?: number | null
  p95Ms?: number | null
  p99Ms?: number | null
  cpuPercent?: number | null
  memoryPercent?: number | null
  latenciesMs?: number[]
}

/** A line a `Platform`'s `logs` yields: its text (on stdout), or a `LogLine` with defaults. */
export type PlatformLogLine = string | { line: string; stream?: LogStream; instanceId?: string }

/**
 * A platform written in JavaScript: pass it to `Engine.open(path, { platforms: [obj] })` (or
 * `openInMemory`) or `engine.registerPlatform(obj)`, and plans naming it run on it.
 *
 * Loco's orchestrator decides every call and limits its time; the object does the work. Each
 * method may return a value or a Promise; a throw or a rejection fails the call with a
 * `platform_error` carrying the error's message and the innermost frames of its stack. Arguments
 * are Node records (camelCase keys); the release is a document (snake_case keys, `secret_env`
 * revealed). Answers are checked against these types: a bad one fails the call, naming the field.
 */
export interface Platform {
  /** The name plans choose the platform by (`platform: name`). */
  readonly name: string
  /** What it can do (or a method returning it), read once when it is registered. */
  readonly capabilities: PlatformCapabilities | (() => PlatformCapabilities)
  /**
   * Starts one instance of `release` per id (ids chosen by Loco, recorded before this call);
   * returns them, running and without traffic.
   */
  deploy(target: Target, release: Required<ReleaseSpec>, instanceIds: string[]): Awaitable<PlatformInstance[]>
  /** Splits the target's traffic between versions; the shares add up to 100. */
  setTraffic(target: Target, split: TrafficWeight[]): Awaitable<void>
  /** Stops these instances; stopping an unknown or stopped one succeeds. */
  stop(target: Target, instances: Instance[]): Awaitable<void>
  /** The platform's view of one instance. */
  health(target: Target, instance: Instance): Awaitable<InstanceHealth>
  /** The target's endpoint, traffic split and instances. */
  status(target: Target): Awaitable<PlatformStatus>
  /**
   * Brings `release` back without traffic: keeps the `known` instances still running, starts
   * replacements with ids from `replacementIds` for the rest (at least one instance runs
   * afterwards); returns the instances of `release` running. Must work in a fresh process after
   * a crash, from these arguments alone.
   */
  restore(
    target: Target,
    release: Required<ReleaseSpec>,
    known: Instance[],
    replacementIds: string[],
  ): Awaitable<PlatformInstance[]>
  /** Checks the platform is reachable (throw when it is not). */
  testConnection(): Awaitable<void>
  /**
   * Optional (needed with `capabilities.logs`): the instance's output, recent lines first, then
   * new ones until it stops; leaving `for await (… of engine.logs(…))` calls its `return()`.
   */
  logs?(target: Target, instanceId: string): Awaitable<AsyncIterable<PlatformLogLine> | Iterable<PlatformLogLine>>
  /**
   * Optional (needed with `capabilities.metrics`): one version's requests over the last
   * `windowSeconds`, which makes the platform its own metric source for canary analysis
   * (`analysis.source: { type: 'platform' }`).
   */
  stats?(target: Target, version: string, windowSeconds: number): Awaitable<PlatformStats>
  /** Optional: every share the rollout's steps will give `version`, before they run. */
  planShares?(target: Target, version: string, shares: number[]): Awaitable<void>
  /** Optional: called when the engine closes. */
  shutdown?(): Awaitable<void>
}

/**
 * A health probe written in JavaScript, registered with `engine.registerProbe(name, probe)` or
 * `Engine.open(path, { probes: { name: probe } })`; plans name it as `{ type: 'host', name }`. The
 * instance passes when it returns (or resolves to) `undefined` or `true`, and fails when it gives
 * `false`, throws or rejects; the health check's `timeout_seconds` limits each call.
 */
export type HealthProbe = (target: Target, instance: Instance) => Awaitable<boolean | void>

/**
 * A metric source written in JavaScript, registered with `engine.registerMetricSource(source)` or
 * `Engine.open(path, { metricSources: [source] })`; canary analysis names it as `{ type: 'host',
 * name }`. Each `stats` call may take 10 s; one that fails counts as metrics unavailable.
 */
export interface MetricSource {
  /** The name analysis uses (`source: { type: 'host', name }`). */
  readonly name: string
  /** One version's requests over the last `windowSeconds`. */
  stats(target: Target, version: string, windowSeconds: number): Awaitable<PlatformStats>
}
