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
   * `rollout_in_progress`, `rollout_not_paused`, `rollback_failed`).
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
  /** The service of a conflicting rollout (`rollout_conflict`), or one not registered (`not_found`). */
  service?: string
  /** The environment of a conflicting rollout (`rollout_conflict`). */
  environment?: string
  /** The deployment whose rollout is already active (`rollout_conflict`). */
  activeDeploymentId?: string
  /** The state of a rollout that is not paused (`rollout_not_paused`). */
  state?: RolloutState
  /** The platform that failed (`platform_error`). */
  platform?: string
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

/** A `Subscription` is an async iterable: `for await (const event of engine.subscribe())`. */
export interface Subscription {
  [Symbol.asyncIterator](): Subscription
}

/** `InstanceLogs` is an async iterable: `for await (const line of engine.logs(id, instanceId))`. */
export interface InstanceLogs {
  [Symbol.asyncIterator](): InstanceLogs
}

