// Type-level checks of index.d.ts for scheduled starts (run by `npm run typecheck`): schedules are
// records (camelCase keys) whose state is a `ScheduleState`, the time is RFC 3339 text, and the
// options are optional and closed.
import type { Engine, ScheduleOptions, ScheduleState, ScheduledStart } from '../../index.js'

export async function useSchedules(engine: Engine, id: string): Promise<string> {
  const pending: ScheduledStart = await engine.scheduleStart(id, '2026-12-24T02:00:00Z', 'deploy-bot')
  const options: ScheduleOptions = { rollout: true, overrideReason: 'hotfix for INC-7', by: 'admin@example.com' }
  await engine.scheduleStart(id, '2026-12-24T02:00:00Z', 'root', options)
  await engine.scheduleStart(id, '2026-12-24T02:00:00Z', 'deploy-bot', null)
  await engine.scheduleStart(id, '2026-12-24T02:00:00Z', 'deploy-bot', { overrideReason: null })
  // @ts-expect-error the actor is required
  void engine.scheduleStart(id, '2026-12-24T02:00:00Z')
  // @ts-expect-error options are camelCase, like every argument
  void engine.scheduleStart(id, '2026-12-24T02:00:00Z', 'root', { override_reason: 'hotfix' })
  // @ts-expect-error schedule records are camelCase
  void pending.deployment_id
  const all: ScheduledStart[] = await engine.scheduledStarts()
  const cancelled: ScheduledStart = await engine.cancelScheduledStart(id)
  const ran: ScheduledStart[] = await engine.runDueStarts()
  const state: ScheduleState = ran[0]?.state ?? 'pending'
  // @ts-expect-error a schedule is pending, started, refused or cancelled
  const unknown: ScheduleState = 'running'
  const outcome: string | null = cancelled.outcome
  const ended: string | null = cancelled.endedAt
  void [all, state, unknown, outcome, ended]
  return `${pending.deploymentId} at ${pending.at} as ${pending.actor} by ${pending.scheduledBy}: ${pending.state}`
}
