// Type-level checks of index.d.ts for pre-deployment validation (run by `npm run typecheck`): a
// plan's `validation` document type-checks with its snake_case keys, `validatePlan` resolves with a
// typed report, and the new names narrow on their string unions.
import type {
  CheckKind,
  Engine,
  ErrorCode,
  EventKind,
  Finding,
  FindingSeverity,
  LocoError,
  RolloutFailureCode,
  RolloutPlan,
  ValidationReport,
  ValidationSpec,
} from '../../index.js'

export const checks: ValidationSpec = {
  config: { required: ['DATABASE_URL'], formats: { PORT: { type: 'integer', min: 1, max: 65535 } } },
  secrets: { allow: ['file:fixtures/fake.pem'], entropy_threshold: 4.5 },
  dependencies: [{ name: 'npm', format: 'npm_audit', command: ['npm', 'audit', '--json'], fail_on: 'high' }],
}

export const validated: RolloutPlan = {
  platform: 'local',
  strategy: { type: 'immediate' },
  release: { version: '2.4.0', command: ['python3', 'app.py'], env: { DATABASE_URL: 'postgres://db/shop' } },
  validation: checks,
}

// @ts-expect-error validation keys are snake_case, like the rest of the plan
export const camel: ValidationSpec = { config: { required: [] }, smokeTests: [] }
// @ts-expect-error no such format
export const email: ValidationSpec = { config: { formats: { ADMIN: { type: 'email' } } } }
// @ts-expect-error no such scanner format
export const yarn: ValidationSpec = { dependencies: [{ name: 'y', format: 'yarn_audit', command: ['yarn'] }] }

export async function use(engine: Engine): Promise<FindingSeverity | null> {
  const report: ValidationReport = await engine.validatePlan(validated)
  await engine.validatePlan(JSON.stringify(validated))
  const passed: boolean = report.passed
  const durations: number[] = report.checks.map((c) => c.durationMs)
  const kind: CheckKind | undefined = report.checks[0]?.check
  if (report.findings.length === 0) return null
  const finding: Finding = report.findings[0]
  const severity: FindingSeverity = report.findings[0].severity
  const line: number | null = finding.line
  void [passed, durations, kind, line]
  // @ts-expect-error severities are known names
  const unknown: FindingSeverity = 'severe'
  return severity === 'critical' ? severity : unknown
}

export const code: ErrorCode = 'validation_failed'
export const kind: EventKind = 'validation'
export const failure: RolloutFailureCode = 'smoke_test_failed'

// A refused start's error carries the report and the count of blocking findings.
export function refused(error: LocoError): string[] {
  const count: number | undefined = error.blockingFindings
  const rules: string[] = error.report?.findings.map((f) => f.rule) ?? []
  void count
  return rules
}
