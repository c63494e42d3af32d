// Type-level checks of index.d.ts for freeze windows and deploy locks (run by `npm run typecheck`): a window is a
// document with snake_case keys whose schedule narrows on `type`, starts take an override
// reason, and the freeze in force is a record or `null`.
import type { DeployLock, Deployment, Engine, EventKind, Rollout, RolloutPlan } from '../../index.js'

/** The window `setFreezeWindow` takes as an object (it also takes the JSON text). */
type FreezeWindow = Exclude<Parameters<Engine['setFreezeWindow']>[0], string>

export const weekend: FreezeWindow = {
  name: 'weekend',
  environments: ['production'],
  reason: 'no weekend deploys',
  schedule: { type: 'recurring', cron: '0 18 * * FRI', duration_minutes: 3720, time_zone: 'Europe/Berlin' },
}

export const holidays: FreezeWindow = {
  name: 'holidays',
  environments: ['production'],
  reason: 'holidays',
  // @ts-expect-error a once window has a start and an end, not a cron expression
  schedule: { type: 'once', start: '2026-12-20T00:00:00+01:00', cron: '* * * * *' },
}

export const camel: FreezeWindow['schedule'] = {
  type: 'recurring',
  cron: '0 0 * * *',
  // @ts-expect-error window keys are snake_case, like the rest of the document
  durationMinutes: 60,
  timeZone: 'UTC',
}

export async function use(engine: Engine, id: string, plan: RolloutPlan): Promise<string | null> {
  const stored = await engine.setFreezeWindow(weekend, 'admin@example.com')
  await engine.setFreezeWindow(JSON.stringify(weekend), 'admin@example.com')
  const minutes: number | null = stored.schedule.type === 'recurring' ? stored.schedule.duration_minutes : null
  const names: string[] = (await engine.freezeWindows()).map((w) => w.name)
  await engine.removeFreezeWindow('weekend')
  const started: Deployment = await engine.start(id, 'root', null, 'hotfix for INC-7')
  const rollout: Rollout = await engine.startRollout(id, plan, 'root', 'security patch')
  const kind: EventKind = 'policy_override'
  void [minutes, names, started, rollout, kind]
  const active = await engine.activeFreeze('production', '2026-12-05T12:00:00Z')
  await engine.activeFreeze('production')
  return active === null ? null : `${active.window} until ${active.end}: ${active.reason} (since ${active.start})`
}

/** Deploy locks are records (camelCase keys); a forced release needs every argument. */
export async function useLocks(engine: Engine): Promise<string> {
  const locks: DeployLock[] = await engine.locks()
  const released: DeployLock = await engine.releaseLock('web', 'production', 'root', 'runner died')
  // @ts-expect-error lock records are camelCase
  void released.deployment_id
  // @ts-expect-error the reason is required
  void engine.releaseLock('web', 'production', 'root')
  const kind: EventKind = 'lock_released'
  void kind
  return locks.map((l) => `${l.service}/${l.environment}: ${l.deploymentId} by ${l.holder} since ${l.since}`).join()
}
