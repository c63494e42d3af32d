// Type-level checks of index.d.ts for approval gates (run by `npm run typecheck`): a gate and a
// reviewer group are documents with snake_case keys, returned with every key filled in; where a
// deployment stands with its review is a record (camelCase keys); and `approval_required` is an
// error code.
import type { ApprovalStatus, Engine, ErrorCode, EventKind, LocoError } from '../../index.js'

/** The gate `setGate` takes as an object (it also takes the JSON text). */
type ApprovalGate = Exclude<Parameters<Engine['setGate']>[0], string>

export const twoOfThree: ApprovalGate = {
  environment: 'production',
  required_approvals: 2,
  approvers: ['bob', 'carol', 'erin'],
  expires_after_minutes: 60,
}

export const camel: ApprovalGate = {
  environment: 'production',
  // @ts-expect-error gate keys are snake_case, like the rest of the document
  requiredApprovals: 2,
}

// @ts-expect-error the number of approvals is required
export const noCount: ApprovalGate = { environment: 'production' }

/** The reviewer group `setGroup` takes as an object (it also takes the JSON text). */
type ReviewerGroup = Exclude<Parameters<Engine['setGroup']>[0], string>

export const sre: ReviewerGroup = { name: 'sre', members: ['bob', 'carol'] }

export const byGroup: ApprovalGate = { environment: 'production', required_approvals: 2, groups: ['sre'] }

// @ts-expect-error a group's name is required
export const nameless: ReviewerGroup = { members: ['bob'] }

export async function groups(engine: Engine): Promise<string[]> {
  const stored = await engine.setGroup(sre, 'admin@example.com')
  await engine.setGroup(JSON.stringify({ name: 'oncall' }), 'admin@example.com')
  // Required<…>: the members come back even when left out.
  const members: string[] = stored.members
  const removed: void = await engine.removeGroup('oncall')
  // @ts-expect-error the name is required
  void engine.removeGroup()
  // @ts-expect-error a group is an object or JSON text
  void engine.setGroup(7, 'admin@example.com')
  void [members, removed]
  return (await engine.groups()).map((g) => `${g.name}: ${g.members.join(', ')}`)
}

export async function use(engine: Engine, id: string): Promise<string> {
  const stored = await engine.setGate(twoOfThree, 'admin@example.com')
  await engine.setGate(JSON.stringify(twoOfThree), 'admin@example.com')
  // Required<…>: what was left out comes back filled in.
  const approvers: string[] = stored.approvers
  const wait: number | null = stored.wait_minutes
  const environments: string[] = (await engine.gates()).map((g) => `${g.environment}: ${g.required_approvals}`)
  const removed: void = await engine.removeGate('staging')
  // @ts-expect-error the environment is required
  void engine.removeGate()
  const kind: EventKind = 'approval_granted'
  void [approvers, wait, environments, removed, kind]

  const status: ApprovalStatus = await engine.approvalStatus(id, '2026-12-05T12:00:00Z')
  await engine.approvalStatus(id)
  // @ts-expect-error status records are camelCase
  void status.startable_at
  const startable: string | null = status.startableAt
  const who: string[] = status.approvals.map((a) => `${a.actor} at ${a.at}: ${a.note ?? ''}`)
  return `${status.deploymentId} (${status.status}) ${who.length} of ${status.required}, startable ${startable}`
}

/** `approval_required` is one of the error codes, on the deployment and environment concerned. */
export function explain(error: LocoError): string | null {
  const code: ErrorCode = 'approval_required'
  if (error.code !== code) return null
  return `${error.deploymentId} in ${error.environment} needs more approvals: ${error.message}`
}
