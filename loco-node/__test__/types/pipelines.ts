// Type-level checks of index.d.ts for pipelines and promotion (run by `npm run typecheck`): a
// pipeline is a document with snake_case keys, returned with every key filled in; a promotion
// resolves with a deployment; where a version stands along its pipeline is a record (camelCase
// keys); and `promoted` is an event kind.
import type { Deployment, Engine, EventKind, LocoError, PipelineView, StageState, Status } from '../../index.js'

/** The pipeline `setPipeline` takes as an object (it also takes the JSON text). */
type Pipeline = Exclude<Parameters<Engine['setPipeline']>[0], string>

export const web: Pipeline = { service: 'web', stages: ['dev', 'staging', 'production'] }

export const camel: Pipeline = {
  service: 'web',
  stages: ['dev', 'production'],
  // @ts-expect-error pipeline keys are snake_case, like the rest of the document
  requirePreviousSuccess: false,
}

// @ts-expect-error the stages are required
export const noStages: Pipeline = { service: 'web' }

export async function use(engine: Engine, id: string): Promise<string> {
  const stored = await engine.setPipeline(web, 'admin@example.com')
  await engine.setPipeline(JSON.stringify(web), 'admin@example.com')
  // Required<…>: what was left out comes back filled in.
  const strict: boolean = stored.require_previous_success
  const services: string[] = (await engine.pipelines()).map((p) => `${p.service}: ${p.stages.join(' → ')}`)
  const removed: void = await engine.removePipeline('api')
  // @ts-expect-error the service is required
  void engine.removePipeline()
  const kind: EventKind = 'promoted'
  void [strict, services, removed, kind]

  const promoted: Deployment = await engine.promote(id, 'erin@example.com')
  // @ts-expect-error the promoter is required
  void engine.promote(id)

  const view: PipelineView = await engine.pipelineView('web', promoted.version)
  // @ts-expect-error view records are camelCase
  void view.stages[0].deployment_id
  const stage: StageState = view.stages[0]
  const status: Status | null = stage.status
  const next: string | null = view.next
  const where = `${stage.environment} ${stage.deploymentId ?? '-'} ${status} ${stage.updatedAt}`
  return `${view.service} ${view.version}: ${where}, next ${next}`
}

/** A create out of order is a `policy_violation` whose rule is `promotion_order`. */
export function explain(error: LocoError): string | null {
  if (error.code !== 'policy_violation' || error.rule !== 'promotion_order') return null
  return `${error.policy} refuses this version in ${error.environment}: ${error.message}`
}
