// Type-level checks of index.d.ts for manifests (run by `npm run typecheck`): `parseManifest` takes
// the text only and returns a document with snake_case keys and every default filled in;
// `manifestSchema` is a plain JSON object; a problem's detail has its line and column (absent for a
// problem that is not in a text); an applied manifest is a record (camelCase keys) whose `manifest`
// is that document, and a version is a number. `manifestPlan` resolves with a deployment's stage's
// plan, every default filled in, and `startRollout` takes `null` for it.
import type {
  Engine,
  FieldError,
  LocoError,
  Manifest,
  ManifestRecord,
  Rollout,
  RolloutPlan,
  Stage,
  manifestSchema,
  parseManifest,
} from '../../index.js'

interface ManifestApi {
  parseManifest: typeof parseManifest
  manifestSchema: typeof manifestSchema
}

export function use(loco: ManifestApi, text: string): string {
  const manifest: Manifest = loco.parseManifest(text)
  // Required<…>: what was left out comes back filled in.
  const strict: boolean = loco.parseManifest(text).require_previous_success
  const windows: string[] = loco.parseManifest(text).freeze_windows.map((w) => w.name)
  const stages: Stage[] = manifest.stages
  const approvals: number | undefined = stages[1]?.approval?.required_approvals
  // @ts-expect-error manifest keys are snake_case, like the rest of the document
  void manifest.requirePreviousSuccess
  // @ts-expect-error the text is required
  void loco.parseManifest()
  // @ts-expect-error a manifest is read from its text, not from an object
  void loco.parseManifest({ apiVersion: 'loco/v1', service: 'web', stages })
  const schema: Record<string, unknown> = loco.manifestSchema()
  void [strict, windows, approvals, schema.$defs]
  return `${manifest.apiVersion} ${manifest.service}: ${stages.map((s) => s.environment).join(' → ')}`
}

/** Each problem of a bad manifest, with where it is in the file. */
export function explain(error: LocoError): string[] {
  if (error.code !== 'validation_error') return []
  return error.details.map((d) => `${d.line}:${d.column} ${d.field}: ${d.message}`)
}

/** Where a problem is, when it is in the manifest's text. */
export function where(detail: FieldError): string {
  // @ts-expect-error line and column are absent for a problem that is not in a text (`by`, an oversized manifest)
  const line: number = detail.line
  void line
  return detail.line == null ? detail.field : `${detail.line}:${detail.column ?? 1} ${detail.field}`
}

export async function store(engine: Engine, text: string): Promise<string> {
  const record: ManifestRecord = await engine.applyManifest(text, 'root@example.com')
  // @ts-expect-error who applies it is required
  void engine.applyManifest(text)
  const version: number = record.version
  const by: string = record.appliedBy
  // @ts-expect-error record keys are camelCase
  void record.applied_by
  // The manifest inside is the document `parseManifest` returns: snake_case keys, defaults filled in.
  const document: Manifest = record.manifest
  const strict: boolean = record.manifest.require_previous_success
  const approvals: number | undefined = record.manifest.stages[2]?.approval?.required_approvals

  const newest: ManifestRecord = await engine.manifest('web')
  const first: ManifestRecord = await engine.manifest('web', 1)
  // @ts-expect-error a version is a number
  void engine.manifest('web', '1')
  // @ts-expect-error the service is required
  void engine.manifest()
  const history: ManifestRecord[] = await engine.manifestHistory('web')
  const all: ManifestRecord[] = await engine.manifests()
  void [version, by, document, strict, approvals, newest, first, history, all]
  return `${record.service} v${record.version} by ${record.appliedBy} at ${record.appliedAt}: ${record.digest}`
}

export async function startFromManifest(engine: Engine, id: string): Promise<Rollout> {
  const plan: RolloutPlan = await engine.manifestPlan(id)
  // Required<…>: what the manifest left out comes back filled in.
  const instances: number = (await engine.manifestPlan(id)).instances
  const onRestart: 'rollback' | 'resume' = (await engine.manifestPlan(id)).on_restart
  // @ts-expect-error the deployment's id is required
  void engine.manifestPlan()
  // @ts-expect-error plan keys are snake_case, like the manifest
  void (await engine.manifestPlan(id)).onRestart
  void [instances, onRestart]
  await engine.startRollout(id, plan, 'deploy-bot')
  await engine.startRollout(id, null, 'deploy-bot', 'security patch')
  return engine.startRollout(id, null, 'deploy-bot')
}
