"""The data model of the ``loco`` package, generated from ``schema/loco.schema.json`` (the JSON
Schema of the Rust types in loco-types) by ``scripts/codegen/python.py``: do not edit; run
``scripts/codegen/run``.

- ``Literal`` aliases of every status, kind and code;
- one ``TypedDict`` per JSON object: the ``to_dict()`` shapes, nested records, rollout plan and
  thresholds documents, event data;
- the immutable result classes the engine returns, each a read-only view of its HTTP JSON object.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Iterator,
    List,
    Literal,
    Optional,
    Tuple,
    TypedDict,
    Union,
    cast,
    final,
)

from ._loco import ACTIVE_ROLLOUT_STATES

__all__: List[str] = [
    "Action",
    "ActiveFreeze",
    "ActiveFreezeDict",
    "AnalysisDataDict",
    "AnalysisSpecDict",
    "Approval",
    "ApprovalDict",
    "ApprovalGate",
    "ApprovalGateDict",
    "ApprovalGrantedDataDict",
    "ApprovalStatus",
    "ApprovalStatusDict",
    "ArtifactCheckDict",
    "AuditHead",
    "AuditHeadDict",
    "AuditReport",
    "AuditReportDict",
    "BlueGreenStrategyDict",
    "BrokenLink",
    "BrokenLinkDict",
    "CanaryPromotedDataDict",
    "CanaryStrategyDict",
    "CapabilitiesDict",
    "CheckKind",
    "CheckNewStepDict",
    "CheckSummaryDict",
    "CommandProbeDict",
    "ConfigCheckDict",
    "ConfigFormatDict",
    "CreatedDataDict",
    "DependencyScanDict",
    "DeployLock",
    "DeployLockDict",
    "Deployment",
    "DeploymentDict",
    "DurationConfigFormatDict",
    "EnumConfigFormatDict",
    "ErrorCode",
    "Event",
    "EventDataDict",
    "EventDict",
    "EventKind",
    "ExtendRolloutTurnDict",
    "FailoverRolloutTurnDict",
    "FailureCode",
    "FieldError",
    "FindingDict",
    "FindingSeverity",
    "FlyPlatformSettingsDict",
    "FreezeScheduleDict",
    "FreezeWindow",
    "FreezeWindowDict",
    "HealthCheckDataDict",
    "HealthSpecDict",
    "Hook",
    "HostMetricSourceSpecDict",
    "HostProbeDict",
    "HttpProbeDict",
    "ImmediateStrategyDict",
    "InstanceDict",
    "InstanceState",
    "IntegerConfigFormatDict",
    "JudgementDict",
    "LockReleasedDataDict",
    "LogLine",
    "LogLineDict",
    "LogStream",
    "ManifestDict",
    "ManifestRecordDict",
    "MetricSourceSpecDict",
    "MonitorStepDict",
    "ObserveStepDict",
    "OnRestart",
    "OnceFreezeScheduleDict",
    "OverrideRolloutTurnDict",
    "Page",
    "PageDict",
    "PauseRolloutTurnDict",
    "Pipeline",
    "PipelineDict",
    "PipelineView",
    "PipelineViewDict",
    "PlatformConfig",
    "PlatformConfigDict",
    "PlatformMetricSourceSpecDict",
    "PlatformSettingsDict",
    "PolicyOverrideDataDict",
    "ProbeDict",
    "PrometheusMetricSourceSpecDict",
    "PrometheusQueriesDict",
    "PromotedDataDict",
    "PromotionVerdictDict",
    "RailwayPlatformSettingsDict",
    "RailwayTokenKind",
    "RecurringFreezeScheduleDict",
    "RegexConfigFormatDict",
    "Release",
    "ReleaseDict",
    "ReleaseSpecDict",
    "RenderPlatformSettingsDict",
    "RestoredRolloutTurnDict",
    "ResumeRolloutTurnDict",
    "ReviewerGroup",
    "ReviewerGroupDict",
    "RevivedRolloutTurnDict",
    "Role",
    "RollbackRolloutTurnDict",
    "RollingStrategyDict",
    "Rollout",
    "RolloutDict",
    "RolloutFailureDict",
    "RolloutPlanDict",
    "RolloutProgressDict",
    "RolloutState",
    "RolloutTurnDict",
    "ScaledDownRolloutTurnDict",
    "ScanFormat",
    "ScheduleState",
    "ScheduledStart",
    "ScheduledStartDict",
    "ScriptDataDict",
    "ScriptHooksDict",
    "ScriptLanguage",
    "ScriptSpecDict",
    "SecretScanDict",
    "ServiceDefinition",
    "ServiceDefinitionDict",
    "Severity",
    "ShiftStepDict",
    "SignificanceTestDict",
    "SqliteProbeDict",
    "StageApprovalDict",
    "StageDict",
    "StageState",
    "StageStateDict",
    "StartNewStepDict",
    "Status",
    "StepDict",
    "StepDoneDict",
    "StepProgressDataDict",
    "StopOldStepDict",
    "StrategyDict",
    "TcpProbeDict",
    "ThresholdsDict",
    "TrafficControl",
    "TrafficWeightDict",
    "UrlConfigFormatDict",
    "UrlProbeDict",
    "ValidationReport",
    "ValidationReportDict",
    "ValidationSpecDict",
    "VercelPlatformSettingsDict",
    "Verdict",
    "WindowStatsDict",
]


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value (dicts and lists are copied, everything else is immutable)."""
    if type(value) is dict:
        return {key: _copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy(item) for item in value]
    return value


#: Where a deployment is in its lifecycle.
Status = Literal[
    # Created and waiting for a reviewer.
    "pending_approval",
    # Approved by a reviewer other than the requester.
    "approved",
    # Rejected by a reviewer. Terminal.
    "rejected",
    # Rollout has begun.
    "started",
    # Rollout finished well. Final unless rolled back.
    "succeeded",
    # Rollout failed. Final unless rolled back.
    "failed",
    # Reverted. Terminal.
    "rolled_back",
]


#: What an event records.
EventKind = Literal[
    # The deployment was created.
    "created",
    # It was approved.
    "approved",
    # It was rejected.
    "rejected",
    # Its rollout started.
    "started",
    # Its rollout succeeded.
    "succeeded",
    # Its rollout failed.
    "failed",
    # It was rolled back.
    "rolled_back",
    # A rollout step finished (traffic shifted, instances started or stopped, a window observed).
    "step_progress",
    # A health check of a rollout instance finished.
    "health_check",
    # The canary judge compared the new release's metrics with the baseline's.
    "analysis",
    # A canary passed its observation and was given a larger share of traffic.
    "canary_promoted",
    # A deployment script finished (or could not start).
    "script",
    # The pre-deployment checks ran (their full report; a failed one refused the start).
    "validation",
    # An admin started the deployment in spite of a policy (a freeze window), with a reason; written
    # just before ``started``.
    "policy_override",
    # An admin force-released the deploy lock this (started) deployment held, with a reason.
    "lock_released",
    # A reviewer approved a deployment whose environment's gate needs more approvals than it has had
    # (the approval completing the count is the ``approved`` transition).
    "approval_granted",
    # The deployment was created by promoting a succeeded one from the stage before (written just
    # after ``created``, in the same transaction).
    "promoted",
]


#: Something a person or the orchestrator does to an existing deployment.
Action = Literal[
    # Review: accept a pending deployment.
    "approve",
    # Review: refuse a pending deployment (note required).
    "reject",
    # Begin the rollout of an approved deployment.
    "start",
    # Record that a started rollout finished well.
    "succeed",
    # Record that a started rollout failed (note required).
    "fail",
    # Record a reversal of a started, succeeded or failed deployment (note required).
    "rollback",
]


#: The stable error codes: one per kind of failure, the same string on every surface (HTTP
#: ``error.code``, Python ``LocoError.code``, Node ``error.code``, CLI exit codes).
ErrorCode = Literal[
    # Missing or invalid input; ``details`` names every bad field.
    "validation_error",
    # No deployment (or rollout) has this id.
    "not_found",
    # The action is not allowed from the deployment's current status.
    "invalid_transition",
    # The requester tried to review their own deployment.
    "self_approval",
    # The idempotency key was used with a different request.
    "idempotency_conflict",
    # A request body was over the limit.
    "payload_too_large",
    # The database failed; nothing was written.
    "storage_error",
    # Another rollout is active on the same service and environment.
    "rollout_conflict",
    # The deployment's rollout is running; only rollback is allowed.
    "rollout_in_progress",
    # The rollout is not paused.
    "rollout_not_paused",
    # A platform operation failed.
    "platform_error",
    # Restoring the previous release failed.
    "rollback_failed",
    # No valid credentials.
    "unauthenticated",
    # The identity lacks the role.
    "permission_denied",
    # A request body was not declared as JSON.
    "unsupported_media_type",
    # Too many requests; retry later.
    "rate_limited",
    # Pre-deployment validation refused the release (the full report attached).
    "validation_failed",
    # A policy (a freeze window) refused the operation; ``details`` names the rule.
    "policy_violation",
    # The deployment's environment requires more approvals before it may start.
    "approval_required",
]


#: The judge's answer.
Verdict = Literal[
    # The canary is no worse than the baseline.
    "pass",
    # The canary is worse (see the severity).
    "fail",
    # Not enough data to tell.
    "inconclusive",
]


#: How bad a failed verdict is.
Severity = Literal[
    # Roll back at once.
    "critical",
    # Pause and wait for a person to approve the rollback or override.
    "high",
]


#: Which hook a script belongs to.
Hook = Literal[
    # See ``ScriptHooks::pre_deploy``.
    "pre_deploy",
    # See ``ScriptHooks::post_deploy``.
    "post_deploy",
    # See ``ScriptHooks::on_rollback``.
    "on_rollback",
    # See ``ScriptHooks::on_failure``.
    "on_failure",
    # The plan's ``validation.smoke_tests``, run after ``post_deploy``; a failure rolls back.
    "smoke_test",
]


#: Which check produced a finding.
CheckKind = Literal[
    # ``ValidationSpec::artifact``.
    "artifact",
    # ``ValidationSpec::config``.
    "config",
    # ``ValidationSpec::secrets``.
    "secrets",
    # ``ValidationSpec::dependencies``.
    "dependencies",
]


#: How bad a finding is, in increasing order (``FindingSeverity`` in the schema, apart from the
#: canary judge's ``Severity``).
FindingSeverity = Literal[
    # Worth knowing.
    "info",
    # Low.
    "low",
    # Moderate (npm's word; CVSS "medium").
    "moderate",
    # High.
    "high",
    # Critical.
    "critical",
]


#: What happens to a rollout whose engine stopped before it ended.
OnRestart = Literal[
    # Restore the previous release (the default): the new one was not watched meanwhile.
    "rollback",
    # Re-check the health of what runs, restore the recorded traffic split, and continue at the
    # first unfinished step (a step that was observing starts its window again).
    "resume",
]


#: The language a script is written in.
ScriptLanguage = Literal[
    # ``sh`` (POSIX shell).
    "shell",
    # ``python3``.
    "python",
    # ``go run`` (needs a Go toolchain on ``PATH``).
    "go",
]


#: A scanner's report format.
ScanFormat = Literal[
    # ``pip-audit -f json``.
    "pip_audit",
    # ``npm audit --json`` (npm 7 and later).
    "npm_audit",
    # ``cargo audit --json`` (severity from each advisory's CVSS v3 vector).
    "cargo_audit",
]


#: Where a rollout is.
RolloutState = Literal[
    # Executing its steps.
    "running",
    # Waiting for a person: the analysis found a high-severity problem (or stayed inconclusive);
    # ``rollback`` rolls back, an override continues.
    "paused",
    # Every step done; the new release serves all traffic.
    "succeeded",
    # A step failed or a rollback was requested; the previous release is being restored.
    "rolling_back",
    # The previous release serves all traffic again.
    "rolled_back",
    # Restoring the previous release failed; a person must look (code ``rollback_failed``).
    "rollback_failed",
]


#: Lifecycle of one instance as the engine records it.
InstanceState = Literal[
    # Its id is recorded; the platform may or may not have started it yet.
    "starting",
    # The platform started it.
    "running",
    # The platform stopped it (retired, rolled back or crashed).
    "stopped",
]


#: Why a rollout did not succeed, as a stable code.
FailureCode = Literal[
    # A new instance failed its health checks (or exited, or failed 3 re-checks in a row).
    "health_check_failed",
    # The canary analysis found a critical problem.
    "analysis_critical",
    # A paused rollout got no decision in time.
    "pause_timeout",
    # A platform operation of a step failed.
    "step_failed",
    # A person asked for the rollback.
    "rollback_requested",
    # The engine stopped mid-rollout; the next engine rolled it back.
    "engine_restarted",
    # Restoring the previous release failed.
    "rollback_failed",
    # A ``pre_deploy`` or ``post_deploy`` script failed (and did not have ``continue_on_error``).
    "script_failed",
    # A smoke test of the new release failed (and did not have ``continue_on_error``).
    "smoke_test_failed",
]


#: Which output stream a log line came from.
LogStream = Literal[
    # Standard output.
    "stdout",
    # Standard error.
    "stderr",
]


#: How a Railway token is sent.
RailwayTokenKind = Literal[
    # An account, workspace or OAuth token: ``Authorization: Bearer <token>``.
    "account",
    # A project token (one environment of one project): ``Project-Access-Token: <token>``.
    "project",
]


#: Where a schedule stands.
ScheduleState = Literal[
    # Waiting for its time.
    "pending",
    # The engine started the deployment at its time.
    "started",
    # The start was refused when it fell due (``outcome`` says why).
    "refused",
    # Cancelled before its time.
    "cancelled",
]


#: What an identity may do.
Role = Literal[
    # Read deployments, events, rollouts, releases, metrics.
    "viewer",
    # Create deployments.
    "requester",
    # Approve or reject deployments requested by someone else.
    "approver",
    # Start, finish and roll back deployments; start and override rollouts.
    "deployer",
    # Everything, including tokens, services and thresholds.
    "admin",
]


#: How a platform can divide a target's traffic between two releases.
TrafficControl = Literal[
    # Any whole percentage (the local proxy; Vercel rolling releases).
    "percentage",
    # By instance count: a version's share is the share of routable instances that run it (Fly
    # machines, routed or not by cordon/uncordon). Shares are rounded to what whole instances can
    # give.
    "instance_count",
    # None: a new deploy replaces the serving one at once when it is live (Render, Railway).
    "atomic_swap",
]


class FieldError(TypedDict, total=False):
    """One invalid input field: which field, and what is wrong with it. Keys that must be present:
    ``field``, ``message``.
    """

    #: The field name as it appears in the HTTP JSON body (``work_refs[2]`` for list items).
    field: str
    #: A human-readable sentence saying what is wrong.
    message: str
    #: For a problem in a text document: the column it starts at, from 1.
    column: Optional[int]
    #: For a problem in a text document (a ``service.yaml`` manifest): the line it is on, from 1.
    line: Optional[int]


class DeploymentDict(TypedDict):
    """The current state of one deployment. Returned by ``Deployment.to_dict()``."""

    #: Generated id, ``dep_`` followed by a ULID.
    id: str
    #: The service being deployed.
    service: str
    #: The target environment.
    environment: str
    #: The version or build being deployed.
    version: str
    #: Who asked for the deployment.
    requester: str
    #: Planning artifacts the deployment delivers.
    work_refs: List[str]
    #: How to recover if the deployment goes wrong.
    rollback_plan: str
    #: Accepted risk, if stated.
    risk: Optional[str]
    #: The source commit being deployed, if stated.
    commit: Optional[str]
    #: Where the deployment is in its lifecycle.
    status: Status
    #: Who approved or rejected it.
    reviewed_by: Optional[str]
    #: When it was approved or rejected.
    reviewed_at: Optional[str]
    #: When it was created.
    created_at: str
    #: When its status last changed.
    updated_at: str


class CreatedDataDict(TypedDict, total=False):
    """What a ``created`` event records: the request exactly as it was accepted, so the audit chain
    covers every field the deployment was created with (its id, status and times are the event's
    own ``deployment_id``, ``to_status`` and ``at``). Keys that must be present: ``service``,
    ``environment``, ``version``, ``requester``, ``work_refs``, ``rollback_plan``, ``risk``.
    """

    #: The service being deployed.
    service: str
    #: The target environment.
    environment: str
    #: The version or build being deployed.
    version: str
    #: Who asked for the deployment.
    requester: str
    #: Planning artifacts the deployment delivers.
    work_refs: List[str]
    #: How to recover if the deployment goes wrong.
    rollback_plan: str
    #: Accepted risk, if stated.
    risk: Optional[str]
    #: The source commit being deployed; absent when not stated (so a ``created`` event written
    #: before commits existed reads, and hashes, as it did).
    commit: Optional[str]
    #: The version of the service's ``service.yaml`` manifest in force when it was created (the one
    #: whose pipeline ordered it); absent when the service's pipeline was not set by a manifest.
    manifest_version: Optional[int]


class StartNewStepDict(TypedDict):
    """Start ``count`` instances of the new release (they get no traffic yet)."""

    action: Literal["start_new"]
    #: How many.
    count: int


class CheckNewStepDict(TypedDict):
    """Health-check every new instance not checked yet; failure fails the rollout."""

    action: Literal["check_new"]


class ShiftStepDict(TypedDict):
    """Send ``percent`` of traffic to the new release and the rest to the old one."""

    action: Literal["shift"]
    #: The new release's share.
    percent: int


class ObserveStepDict(TypedDict):
    """Hold for ``seconds`` while re-checking the new instances."""

    action: Literal["observe"]
    #: How long.
    seconds: float


class MonitorStepDict(TypedDict):
    """Hold at 100 % for ``seconds`` with the old release still running, so a rollback stays
    instant; metrics are judged against absolute limits.
    """

    action: Literal["monitor"]
    #: How long.
    seconds: float


class StopOldStepDict(TypedDict):
    """Stop ``count`` instances of the old release (no traffic reaches them any more)."""

    action: Literal["stop_old"]
    #: How many.
    count: int


#: One unit of rollout work.
StepDict = Union[
    StartNewStepDict,
    CheckNewStepDict,
    ShiftStepDict,
    ObserveStepDict,
    MonitorStepDict,
    StopOldStepDict,
]


class TrafficWeightDict(TypedDict):
    """A share of traffic for one release version, in percent."""

    #: The release version.
    version: str
    #: Its share, 0–100; the shares of one split add up to 100.
    percent: int


class StepDoneDict(TypedDict):
    """A finished step and where the rollout stands after it."""

    #: The step's number, 1-based.
    step: int
    #: Steps in the plan.
    of: int
    #: What the step did.
    action: StepDict
    #: The traffic split after it.
    traffic: List[TrafficWeightDict]
    #: Running instances of the new release.
    running_new_instances: int
    #: Where clients reach the service, when the platform says.
    endpoint: Optional[str]


class RollbackRolloutTurnDict(TypedDict, total=False):
    """Rolling back was decided (with its trigger), or restoring the previous release failed (``ok:
    false``). Keys that must be present: ``action``.
    """

    action: Literal["rollback"]
    #: ``false`` when restoring failed.
    ok: Optional[bool]
    #: What triggered it: a failure code, or ``manual``.
    trigger: Optional[str]


class RestoredRolloutTurnDict(TypedDict, total=False):
    """The previous release serves all traffic again (or a first release was taken down). Keys that
    must be present: ``action``, ``trigger``, ``restore_ms``.
    """

    action: Literal["restored"]
    #: What triggered the rollback.
    trigger: str
    #: The platform's rollback call itself.
    restore_ms: float
    #: From the deciding sample or check to the platform's rollback call, for automatic rollbacks.
    trigger_to_rollback_call_ms: Optional[float]
    #: The version restored; ``null`` when a first release was taken down.
    version: Optional[str]


class ExtendRolloutTurnDict(TypedDict):
    """An inconclusive analysis window was extended."""

    action: Literal["extend"]
    #: Which extension this is (1-based).
    extension: int


class PauseRolloutTurnDict(TypedDict):
    """The rollout paused for a person."""

    action: Literal["pause"]
    #: Why.
    reasons: List[str]


class OverrideRolloutTurnDict(TypedDict):
    """A person overrode a pause; the rollout continues."""

    action: Literal["override"]


class ResumeRolloutTurnDict(TypedDict):
    """An engine took over a rollout whose engine had stopped and continues it (``on_restart:
    resume``): what ran was brought back, checked and given its recorded traffic split.
    """

    action: Literal["resume"]
    #: The step it continues at (1-based).
    step: int
    #: The instances running again (kept or restarted).
    instances: int


class FailoverRolloutTurnDict(TypedDict):
    """A share of traffic meant for a version with no ready instance went to another version (the
    proxy never drops a share silently).
    """

    action: Literal["failover"]
    #: The version without a ready instance.
    version: str
    #: Requests that went elsewhere since the last such event.
    requests: int


class ScaledDownRolloutTurnDict(TypedDict):
    """The previous release's instances, kept for ``scale_down_delay_seconds`` after success, were
    stopped.
    """

    action: Literal["scaled_down"]
    #: The previous release's version.
    version: str
    #: How many instances stopped.
    instances: int


class RevivedRolloutTurnDict(TypedDict):
    """The release serving when the engine started again was brought back: its instances kept or
    restarted, checked, and given all traffic.
    """

    action: Literal["revived"]
    #: The release's version.
    version: str
    #: The instances serving it now.
    instances: int
    #: Where clients reach it.
    endpoint: Optional[str]


#: A turn of the rollout other than a finished step, named by ``action``.
RolloutTurnDict = Union[
    RollbackRolloutTurnDict,
    RestoredRolloutTurnDict,
    ExtendRolloutTurnDict,
    PauseRolloutTurnDict,
    OverrideRolloutTurnDict,
    ResumeRolloutTurnDict,
    FailoverRolloutTurnDict,
    ScaledDownRolloutTurnDict,
    RevivedRolloutTurnDict,
]


#: What a ``step_progress`` event records: a finished step, or a turn of the rollout.
StepProgressDataDict = Union[StepDoneDict, RolloutTurnDict]


class HealthCheckDataDict(TypedDict):
    """What a ``health_check`` event records: one instance's check."""

    #: The instance checked.
    instance_id: str
    #: Whether every probe passed.
    ok: bool
    #: Attempts made (1 + retries used).
    attempts: int
    #: What was checked.
    probes: List[str]
    #: The last failure, or what passed.
    detail: str
    #: The instance is gone (no retry can help).
    exited: bool
    #: Wall time of the whole check, in milliseconds.
    duration_ms: int
    #: The release version of the instance.
    version: str


class WindowStatsDict(TypedDict):
    """Metrics of one release version over a window."""

    #: Requests served.
    requests: int
    #: Requests that failed (5xx).
    errors: int
    #: ``errors / requests`` (0 without requests).
    error_rate: float
    #: Median latency, ms.
    p50_ms: Optional[float]
    #: 95th percentile latency, ms.
    p95_ms: Optional[float]
    #: 99th percentile latency, ms.
    p99_ms: Optional[float]
    #: CPU use of the version's busiest instance, percent of one core, when the source reports it.
    cpu_percent: Optional[float]
    #: Resident memory of the version's largest instance, percent of the machine's, when reported.
    memory_percent: Optional[float]


class SignificanceTestDict(TypedDict):
    """The result of a one-sided test."""

    #: The test statistic (U for Mann-Whitney, the difference in rates for the proportion test).
    statistic: float
    #: The standardized statistic.
    z: float
    #: Probability of a result at least this extreme if the canary were no worse.
    p_value: float


class JudgementDict(TypedDict):
    """A verdict with the numbers behind it."""

    #: Pass, fail or inconclusive.
    verdict: Verdict
    #: For a failure: critical or high.
    severity: Optional[Severity]
    #: One sentence per rule that fired (or why the verdict is inconclusive).
    reasons: List[str]
    #: The canary's window.
    canary: WindowStatsDict
    #: The baseline's window (absent for a service's first release, or at 100 %).
    baseline: Optional[WindowStatsDict]
    #: The error-rate test, when both sides had requests.
    error_rate_test: Optional[SignificanceTestDict]
    #: The latency test, when both sides had raw latencies.
    latency_test: Optional[SignificanceTestDict]


class AnalysisDataDict(TypedDict):
    """What an ``analysis`` event records: one judgement of the new release."""

    #: The new release's version.
    version: str
    #: Its share of traffic when judged.
    traffic_percent: Optional[int]
    #: The window judged, in seconds.
    window_seconds: float
    #: The reason of a critical trigger that fired on a single sample, if one did.
    trigger: Optional[str]
    #: The judgement.
    judgement: JudgementDict


class PromotionVerdictDict(TypedDict):
    """The verdict behind a promotion."""

    #: The verdict.
    verdict: Verdict
    #: Its reasons.
    reasons: List[str]


class CanaryPromotedDataDict(TypedDict):
    """What a ``canary_promoted`` event records."""

    #: The canary's share before.
    from_percent: int
    #: Its share after.
    to_percent: int
    #: The verdict that allowed it, when the rollout has analysis.
    analysis: Optional[PromotionVerdictDict]


class ScriptDataDict(TypedDict):
    """What a ``script`` event records: how one deployment script ended and the tail of its output
    (secret values redacted; the whole output, up to its last 10,000 lines, is followed live with
    ``follow_logs(id, "script:<hook>:<name>")`` while the engine runs).
    """

    #: The hook it ran in.
    hook: Hook
    #: The script's name.
    name: str
    #: Whether it exited 0 in time.
    ok: bool
    #: Its exit code (``None`` when it was killed by a signal, timed out or did not start).
    exit_code: Optional[int]
    #: Whether its time limit passed (its process group was then stopped).
    timed_out: bool
    #: Why it could not start, when it did not.
    error: Optional[str]
    #: Whether the rollout went on despite a failure (``continue_on_error``).
    continued: bool
    #: How long it ran, in milliseconds.
    duration_ms: int
    #: Lines it wrote (stdout and stderr).
    lines: int
    #: Its last lines (at most 20).
    tail: List[str]


class CheckSummaryDict(TypedDict):
    """How one check went."""

    #: The check.
    check: CheckKind
    #: Whether it found nothing blocking.
    passed: bool
    #: Findings it reported (blocking or not).
    findings: int
    #: What it looked at (``412 files, 3.1 MB``, ``npm: 734 packages``).
    summary: str
    #: How long it took, in milliseconds.
    duration_ms: int


class FindingDict(TypedDict):
    """One thing a check found. Secret values never appear: ``message`` masks them and
    ``fingerprint`` identifies them.
    """

    #: The check.
    check: CheckKind
    #: The rule that matched (``checksum_mismatch``, ``missing_file``, ``too_large``,
    #: ``missing_variable``, ``bad_format``, ``aws_access_key``, ``github_token``, ``private_key``,
    #: ``high_entropy``, ``vulnerability``, ``scanner_failed``, …).
    rule: str
    #: How bad it is.
    severity: FindingSeverity
    #: Whether it refuses the release.
    blocking: bool
    #: Where: ``release.env.NAME``, an artifact path, ``dependencies.<scanner>:<package>``.
    location: str
    #: The artifact file, when the finding is in one.
    file: Optional[str]
    #: The 1-based line in ``file``.
    line: Optional[int]
    #: What is wrong, with any secret value masked.
    message: str
    #: For a secret: a stable id of the value (16 hex digits of its SHA-256) to allow-list it.
    fingerprint: Optional[str]


class ValidationReportDict(TypedDict):
    """The result of validating a plan: recorded in the ``validation`` event, attached to a
    ``validation_failed`` error and returned by ``validate``. Returned by
    ``ValidationReport.to_dict()``.
    """

    #: Whether nothing blocking was found.
    passed: bool
    #: One entry per check that ran, in the order they ran.
    checks: List[CheckSummaryDict]
    #: What the checks found, blocking ones first (at most 1,000).
    findings: List[FindingDict]
    #: Findings left out of ``findings`` past the limit.
    omitted: int


class PolicyOverrideDataDict(TypedDict):
    """What a ``policy_override`` event records: the rule and the occurrence (a freeze window's, or
    the span of a gate's wait after approval) an admin started in spite of (the event's ``actor``
    is the admin, its ``note`` the reason they gave).
    """

    #: The rule: ``freeze_window``, or ``wait_timer`` (an approval gate's wait).
    rule: str
    #: The window's name.
    name: str
    #: The environment it froze.
    environment: str
    #: When the overridden occurrence began.
    start: str
    #: When it would have ended.
    end: str


class LockReleasedDataDict(TypedDict):
    """What a ``lock_released`` event records: the deploy lock an admin forced free (the event's
    ``actor`` is the admin, its ``note`` the reason they gave, its deployment the holder).
    """

    #: The service whose lock it was.
    service: str
    #: The environment.
    environment: str
    #: Who had started the holding deployment.
    holder: str
    #: Since when it was held.
    since: str


class ApprovalGrantedDataDict(TypedDict):
    """What an ``approval_granted`` event records: how far the review has come (the event's
    ``actor`` is the reviewer, its ``note`` what they said).
    """

    #: The approvals that count, this one included.
    approvals: int
    #: How many the environment's gate requires.
    required: int


class PromotedDataDict(TypedDict):
    """What a ``promoted`` event records: the succeeded deployment of the stage before that this one
    was promoted from (the event's ``actor`` is who promoted it).
    """

    #: The deployment promoted.
    from_deployment: str
    #: Its environment, the stage before.
    from_environment: str


#: The data of one event: a ``created`` event's request, or a rollout event's facts.
EventDataDict = Union[
    CreatedDataDict,
    StepProgressDataDict,
    HealthCheckDataDict,
    AnalysisDataDict,
    CanaryPromotedDataDict,
    ScriptDataDict,
    ValidationReportDict,
    PolicyOverrideDataDict,
    LockReleasedDataDict,
    ApprovalGrantedDataDict,
    PromotedDataDict,
]


class EventDict(TypedDict):
    """One append-only history entry. Lifecycle events (one per action, plus ``created``) always
    have a ``to_status``; ``from_status`` is ``None`` only on ``created``, whose ``data`` is the
    request it accepted. Rollout events (``step_progress``, ``health_check``, …) have neither and
    carry their facts in ``data``. Returned by ``Event.to_dict()``.
    """

    #: Position in the store-wide event order (1, 2, 3, … with no gaps); also the audit chain order.
    seq: int
    #: Generated id, ``evt_`` followed by a ULID.
    id: str
    #: The deployment this event belongs to.
    deployment_id: str
    #: What happened.
    kind: EventKind
    #: Who did it.
    actor: str
    #: The request it was done for: the ``X-Request-Id`` of the HTTP request that caused it (for a
    #: rollout's own events, the request that started, resumed or changed the rollout), or the id an
    #: embedding service scoped the call with; ``null`` when there was none (in-process calls, and a
    #: rollout continued after a restart).
    request_id: Optional[str]
    #: Why, if given.
    note: Optional[str]
    #: Status before the event (``None`` on ``created``).
    from_status: Optional[Status]
    #: Status after the event.
    to_status: Optional[Status]
    #: When it was recorded.
    at: str
    #: ``sha256(previous event's hash ‖ canonical bytes of this event)``, lowercase hex.
    hash: str
    #: The request a ``created`` event accepted, or the structured facts of a rollout event (step,
    #: traffic, instances, probe results), as a ``dict`` shaped like ``EventDataDict``; ``None`` on
    #: the other lifecycle events (and on ``created`` events written before the audit covered whole
    #: records).
    data: Optional[Dict[str, Any]]


class PageDict(TypedDict):
    """One page of results and the cursor for the next one (``None`` on the last page). Returned by
    ``Page.to_dict()``.
    """

    #: The items on this page.
    items: List[DeploymentDict]
    #: Pass this as ``cursor=`` to get the next page; ``None`` on the last page.
    next_cursor: Optional[str]


class BrokenLinkDict(TypedDict):
    """Where and why the chain first failed to verify. Returned by ``BrokenLink.to_dict()``."""

    #: The sequence number of the offending event (or of the last lifecycle event of the deployment
    #: whose current state disagrees with its history, or of a missing exported head; 0 when there
    #: is no such event).
    seq: int
    #: The offending event's id (empty when there is no such event).
    event_id: str
    #: The deployment it belongs to (empty when the problem is not one deployment's).
    deployment_id: str
    #: The deployment field whose stored value disagrees with its history (``version``,
    #: ``reviewed_by``, …); ``null`` when the problem is not one field.
    field: Optional[str]
    #: What is wrong, in one sentence.
    reason: str


class AuditReportDict(TypedDict):
    """The result of walking the whole audit chain. Returned by ``AuditReport.to_dict()``."""

    #: True when every link, every deployment's state and the exported head (when one was given)
    #: matched.
    valid: bool
    #: How many events were checked.
    events_checked: int
    #: How many deployments were compared with the state their events establish.
    deployments_checked: int
    #: How many of those were compared on their status only: their ``created`` event predates the
    #: audit covering whole records, so their history does not say what was requested.
    deployments_status_only: int
    #: The hash of the last event checked, when everything matched (export the head with
    #: ``audit_head`` to detect truncation later).
    head_hash: Optional[str]
    #: The ``seq`` of the exported head the chain was checked against; ``null`` without one.
    exported_head_seq: Optional[int]
    #: The first problem found, if any.
    first_broken: Optional[BrokenLinkDict]


class AuditHeadDict(TypedDict):
    """The head of the audit chain as exported: ``{"seq", "hash", "hmac", "at"}``. Always written
    with all four fields; read back with ``hmac`` and ``at`` optional. Returned by
    ``AuditHead.to_dict()``.
    """

    #: The ``seq`` of the last event (0 for an empty chain).
    seq: int
    #: That event's hash, lowercase hex (empty for an empty chain).
    hash: str
    #: HMAC-SHA256 of the decimal ``seq`` followed by ``hash``, keyed with ``LOCO_AUDIT_KEY``,
    #: lowercase hex; ``null`` when no key was set.
    hmac: Optional[str]
    #: When that event was recorded; ``null`` for an empty chain.
    at: Optional[str]


class ImmediateStrategyDict(TypedDict):
    """Start the new release, check it, send it all traffic, stop the old one."""

    type: Literal["immediate"]


class RollingStrategyDict(TypedDict):
    """Replace instances in batches, keeping at most ``instances + max_surge`` running and at least
    ``instances - max_unavailable`` serving.
    """

    type: Literal["rolling"]
    #: Extra instances allowed above the desired count during the rollout.
    max_surge: int
    #: Instances allowed to be missing below the desired count during the rollout.
    max_unavailable: int


class BlueGreenStrategyDict(TypedDict, total=False):
    """Start the whole new release beside the old one, check it, wait, switch all traffic at once.
    Keys that must be present: ``type``.
    """

    type: Literal["blue_green"]
    #: Wait between the new release passing its checks and the switch.
    switch_delay_seconds: float


class CanaryStrategyDict(TypedDict):
    """Send growing shares of traffic to the new release, observing each for ``interval_seconds``,
    then promote it to 100 %.
    """

    type: Literal["canary"]
    #: Traffic percentages, strictly increasing, each 1–100.
    steps: List[int]
    #: How long each step is observed before the next.
    interval_seconds: float


#: How traffic moves from the old release to the new one.
StrategyDict = Union[
    ImmediateStrategyDict,
    RollingStrategyDict,
    BlueGreenStrategyDict,
    CanaryStrategyDict,
]


class ReleaseSpecDict(TypedDict, total=False):
    """How to run one release."""

    #: For the local platform: the program and its arguments. Each instance gets ``PORT``,
    #: ``LOCO_INSTANCE_ID``, ``LOCO_VERSION`` and ``LOCO_SERVICE`` in its environment.
    command: List[str]
    #: For platforms that build from git (Render): the commit to deploy.
    commit: Optional[str]
    #: Extra environment variables for every instance.
    env: Dict[str, str]
    #: For cloud platforms: the image or source reference to deploy.
    image: Optional[str]
    #: Environment variables whose values are secrets: sealed (AES-256-GCM) before they are stored,
    #: revealed only to the platform, and shown everywhere as ``"***"``.
    secret_env: Dict[str, str]
    #: A service registered by an admin whose command (and working directory, and command probes)
    #: this release runs; plans sent over the network must name one instead of a command.
    service: Optional[str]
    #: The version label; when empty, the deployment's version is used.
    version: str
    #: For the local platform: the directory the command runs in (the engine's when absent).
    working_dir: Optional[str]


class PrometheusQueriesDict(TypedDict, total=False):
    """PromQL templates with ``{service}``, ``{environment}``, ``{version}`` and ``{window}``
    placeholders (label values are escaped). Latency queries must return milliseconds.
    """

    #: Failed (5xx) requests in the window.
    errors: str
    #: Median latency, ms.
    p50: str
    #: 95th percentile latency, ms.
    p95: str
    #: 99th percentile latency, ms.
    p99: str
    #: Requests served in the window.
    requests: str


class PlatformMetricSourceSpecDict(TypedDict):
    """The platform's own measurements (the local proxy measures every request it forwards)."""

    type: Literal["platform"]


class PrometheusMetricSourceSpecDict(TypedDict, total=False):
    """A Prometheus server. Keys that must be present: ``type``, ``url``."""

    type: Literal["prometheus"]
    #: Base URL, e.g. ``http://127.0.0.1:9090`` (plain HTTP).
    url: str
    #: PromQL templates; the defaults suit the usual ``http_requests_total`` and
    #: ``http_request_duration_seconds`` instrumentation.
    queries: PrometheusQueriesDict


class HostMetricSourceSpecDict(TypedDict):
    """A metric source the embedding program registered under ``name`` (a Rust ``MetricSource``, a
    Python object or a JavaScript object with a ``stats`` method).
    """

    type: Literal["host"]
    #: The name the source was registered under.
    name: str


#: Where the analysis reads metrics.
MetricSourceSpecDict = Union[
    PlatformMetricSourceSpecDict,
    PrometheusMetricSourceSpecDict,
    HostMetricSourceSpecDict,
]


class ThresholdsDict(TypedDict, total=False):
    """When a canary counts as worse than its baseline. Defaults follow the requirements."""

    #: Significance level of the statistical tests (default 0.05).
    alpha: float
    #: Critical: canary error rate above this (default 0.5).
    critical_error_rate: float
    #: Critical: canary p99 above this multiple of the baseline's (default 5).
    critical_latency_ratio: float
    #: Canary requests needed before a critical trigger may fire (default 10).
    critical_min_samples: int
    #: High: canary error rate above the baseline's by more than this (default 0.10).
    high_error_rate_increase: float
    #: High: canary p99 above this multiple of the baseline's (default 2).
    high_latency_ratio: float
    #: Latency ratios only count when the canary's p99 is also this many milliseconds above the
    #: baseline's (default 20): a 3 ms → 7 ms change is noise, not a regression.
    latency_noise_floor_ms: float
    #: High: CPU above this percent (default 90).
    max_cpu_percent: float
    #: High: memory above this percent of the machine (default 85).
    max_memory_percent: float
    #: High: canary p99 above this many milliseconds while the baseline's is not (default 500).
    max_p99_ms: float
    #: Canary requests (and baseline requests, when there is a baseline) needed for a pass or a
    #: high-severity verdict (default 50).
    min_samples: int


class AnalysisSpecDict(TypedDict, total=False):
    """Canary analysis settings."""

    #: Extra observation windows granted when a window is inconclusive before pausing (default 2).
    inconclusive_extensions: int
    #: Observation at 100 % before the old release is stopped and the deployment succeeds (default
    #: 300 s; 0–1800).
    monitor_seconds: float
    #: How long a paused rollout waits for a person before rolling back (default 3600 s).
    pause_timeout_seconds: float
    #: How often the metrics are judged while a step is observed (default 1 s).
    poll_seconds: float
    #: Where metrics come from (default: the platform).
    source: MetricSourceSpecDict
    #: Thresholds for this rollout; by default the engine's for the deployment's environment.
    thresholds: Optional[ThresholdsDict]


class HttpProbeDict(TypedDict, total=False):
    """``GET path`` on the instance's address must answer ``expect_status``. Keys that must be
    present: ``type``, ``path``.
    """

    type: Literal["http"]
    #: Request path, starting with ``/``.
    path: str
    #: Expected status code (default 200).
    expect_status: int


class UrlProbeDict(TypedDict, total=False):
    """``GET url`` (http or https) must answer ``expect_status``: for platforms whose instances have
    no address Loco can reach (cloud platforms), the app's public endpoint. It checks whatever
    the URL reaches — on an atomic-swap platform, the serving release. Keys that must be present:
    ``type``, ``url``.
    """

    type: Literal["url"]
    #: An absolute ``http://`` or ``https://`` URL.
    url: str
    #: A PEM certificate to trust besides the system's roots (a self-signed or internal CA).
    ca_pem: Optional[str]
    #: Expected status code (default 200).
    expect_status: int


class TcpProbeDict(TypedDict):
    """A TCP connection to the instance's address must open."""

    type: Literal["tcp"]


class CommandProbeDict(TypedDict):
    """A command must exit 0; it gets ``LOCO_INSTANCE_ADDRESS`` and ``LOCO_INSTANCE_ID``."""

    type: Literal["command"]
    #: The program and its arguments.
    command: List[str]


class SqliteProbeDict(TypedDict):
    """``SELECT 1`` must succeed on a SQLite database file (the service's database)."""

    type: Literal["sqlite"]
    #: Path of the database file.
    path: str


class HostProbeDict(TypedDict):
    """A check the embedding program registered under ``name`` (a Rust ``HealthProbe``, a Python
    callable or a JavaScript function) must pass; it gets the target and the instance.
    """

    type: Literal["host"]
    #: The name the probe was registered under.
    name: str


#: One way to check that an instance serves.
ProbeDict = Union[
    HttpProbeDict,
    UrlProbeDict,
    TcpProbeDict,
    CommandProbeDict,
    SqliteProbeDict,
    HostProbeDict,
]


class HealthSpecDict(TypedDict, total=False):
    """Health checking of new instances: which probes, and how patiently."""

    #: Wait before the first retry (default 0.5 s); doubles each retry.
    backoff_initial_seconds: float
    #: Longest wait between retries (default 10 s).
    backoff_max_seconds: float
    #: How often instances are re-checked while a step is observed (default 1 s).
    interval_seconds: float
    #: Probes that must all pass; with none, only the platform's own view (process alive) counts.
    probes: List[ProbeDict]
    #: Further attempts after a failed one (default 5), with exponential backoff.
    retries: int
    #: Time limit of one probe attempt (default 10 s).
    timeout_seconds: float


class ScriptSpecDict(TypedDict, total=False):
    """One script: a program, inline or in a file, with its environment and time limit. Keys that
    must be present: ``name``.
    """

    #: A name for events and logs, unique within its hook.
    name: str
    #: Whether a failure lets the rollout go on (default false).
    continue_on_error: bool
    #: Environment variables besides Loco's ``LOCO_*`` ones and ``PATH``.
    env: Dict[str, str]
    #: Path of the program's file (relative to ``working_dir``); exactly one of ``inline`` and
    #: ``file`` is given.
    file: Optional[str]
    #: The program's text; exactly one of ``inline`` and ``file`` is given.
    inline: Optional[str]
    #: The language (default ``shell``).
    language: ScriptLanguage
    #: Names of ``release.secret_env`` variables to pass, revealed only to the script's process and
    #: redacted from its output.
    secrets: List[str]
    #: Time limit (default 300 s); the whole process group is stopped when it passes.
    timeout_seconds: float
    #: The directory the script runs in (the engine's when absent).
    working_dir: Optional[str]


class ScriptHooksDict(TypedDict, total=False):
    """The scripts of each hook, run in order."""

    #: After a rollout failed (before its rollback, if any, and after a failed ``pre_deploy``).
    on_failure: List[ScriptSpecDict]
    #: After a rollback restored the previous release's traffic.
    on_rollback: List[ScriptSpecDict]
    #: After the new release serves 100 % of traffic, before the rollout succeeds; a failure rolls
    #: back.
    post_deploy: List[ScriptSpecDict]
    #: Before any instance of the new release starts; a failure ends the rollout with nothing
    #: deployed.
    pre_deploy: List[ScriptSpecDict]


class ArtifactCheckDict(TypedDict, total=False):
    """Checks of the build artifact. Keys that must be present: ``path``."""

    #: Path of the artifact: a directory, or a ``.tar``, ``.tar.gz``/``.tgz`` or ``.zip`` file.
    path: str
    #: A ``sha256sum``-format file (``<hex> <name>`` per line): a name inside the artifact is
    #: checked against that file's digest, the archive's own file name against the archive's. A
    #: relative path is looked up inside the artifact first, then next to it.
    checksum_file: Optional[str]
    #: Largest total size of the artifact's files, in bytes.
    max_bytes: Optional[int]
    #: Largest size of any one file, in bytes.
    max_file_bytes: Optional[int]
    #: Paths (relative to the artifact's root, ``/``-separated) that must be present.
    required_files: List[str]
    #: The archive's expected SHA-256 (hex); not allowed for a directory.
    sha256: Optional[str]


class UrlConfigFormatDict(TypedDict):
    """An absolute ``http``, ``https``, ``postgres``, ``redis`` … URL with a host."""

    type: Literal["url"]


class IntegerConfigFormatDict(TypedDict, total=False):
    """A base-10 integer, optionally within bounds. Keys that must be present: ``type``."""

    type: Literal["integer"]
    #: Largest allowed value.
    max: Optional[int]
    #: Smallest allowed value.
    min: Optional[int]


class DurationConfigFormatDict(TypedDict):
    """A duration such as ``30s``, ``5m``, ``1h30m``, ``250ms``."""

    type: Literal["duration"]


class EnumConfigFormatDict(TypedDict):
    """One of the listed values (exact match)."""

    type: Literal["enum"]
    #: The allowed values.
    values: List[str]


class RegexConfigFormatDict(TypedDict):
    """A regular expression the whole value must match."""

    type: Literal["regex"]
    #: The pattern (Rust ``regex`` syntax; anchored at both ends by Loco).
    pattern: str


#: The format of one configuration value.
ConfigFormatDict = Union[
    UrlConfigFormatDict,
    IntegerConfigFormatDict,
    DurationConfigFormatDict,
    EnumConfigFormatDict,
    RegexConfigFormatDict,
]


class ConfigCheckDict(TypedDict, total=False):
    """Rules about the release's environment (``release.env`` and ``release.secret_env``)."""

    #: The format each variable's value must have, when it is set.
    formats: Dict[str, ConfigFormatDict]
    #: Variables that must be set (in ``env`` or ``secret_env``) and not blank.
    required: List[str]


class DependencyScanDict(TypedDict, total=False):
    """One dependency scanner: a command whose standard output is a report in ``format``. Keys that
    must be present: ``name``, ``format``, ``command``.
    """

    #: A name for the report, unique among the scanners.
    name: str
    #: The report format the command prints.
    format: ScanFormat
    #: The program and its arguments (``["pip-audit", "-f", "json"]``), run without a shell, with
    #: only ``PATH`` in its environment.
    command: List[str]
    #: The lowest severity that refuses the release (default ``critical``).
    fail_on: FindingSeverity
    #: Time limit (default 300 s).
    timeout_seconds: float
    #: The severity given to a vulnerability its report does not rate (pip-audit rates none; default
    #: ``critical``, so an unrated vulnerability is not waved through).
    unrated: FindingSeverity
    #: The directory it runs in (the artifact's, or the engine's, when absent).
    working_dir: Optional[str]


class SecretScanDict(TypedDict, total=False):
    """Secrets detection settings."""

    #: Known false positives: a finding's ``fingerprint``, or ``file:<path>`` for every finding in
    #: one artifact file.
    allow: List[str]
    #: Shannon entropy (bits per character) above which a value assigned to a secret-sounding name
    #: counts as a generic secret (default 4.0).
    entropy_threshold: float


class ValidationSpecDict(TypedDict, total=False):
    """What to check before a rollout starts, and the smoke tests run after the new release serves
    all traffic. Empty (the default) checks nothing and records no ``validation`` event.
    """

    #: The build artifact: a directory, a ``.tar``, ``.tar.gz``/``.tgz`` or ``.zip`` archive.
    artifact: Optional[ArtifactCheckDict]
    #: Rules about the release's environment variables.
    config: Optional[ConfigCheckDict]
    #: Dependency vulnerability scanners, each a command printing a known JSON report.
    dependencies: List[DependencyScanDict]
    #: Secrets detection in the artifact's files and the release's (non-secret) environment.
    secrets: Optional[SecretScanDict]
    #: Test programs run against the new release (``LOCO_APP_URL``) after the ``post_deploy``
    #: scripts, before the rollout succeeds; a failure rolls back.
    smoke_tests: List[ScriptSpecDict]


class RolloutPlanDict(TypedDict, total=False):
    """Everything a rollout needs besides the deployment itself. Keys that must be present:
    ``platform``, ``strategy``, ``release``.
    """

    #: Name of a platform registered with the engine (``local``, …).
    platform: str
    #: How traffic moves.
    strategy: StrategyDict
    #: What to run.
    release: ReleaseSpecDict
    #: Metric analysis of the new release while it is observed; without it only health checks
    #: decide.
    analysis: Optional[AnalysisSpecDict]
    #: How new instances are checked.
    health: HealthSpecDict
    #: Desired instance count of the new release (default 1).
    instances: int
    #: What an engine that finds this rollout interrupted (its engine stopped or died) does.
    on_restart: OnRestart
    #: Seconds the previous release's instances keep running (without traffic) after the rollout
    #: succeeded, so that rolling back in that window only moves traffic (default 0: stopped at
    #: once; the rolling strategy always replaces them step by step).
    scale_down_delay_seconds: float
    #: Scripts run before, after and around the rollout.
    scripts: ScriptHooksDict
    #: Checks run before the rollout starts (a failure refuses the start with ``validation_failed``)
    #: and smoke tests run once the new release serves.
    validation: ValidationSpecDict


class InstanceDict(TypedDict):
    """One running copy of a release."""

    #: Chosen by the orchestrator (``ins_`` + ULID) before the platform starts it.
    id: str
    #: The release version it runs.
    version: str
    #: Where it listens (``host:port``), when the platform exposes it.
    address: Optional[str]
    #: The process id, for platforms that run local processes.
    pid: Optional[int]
    #: What the engine last recorded about it.
    state: InstanceState
    #: The platform's own id for it (a Fly machine id, a Render deploy id), once the platform
    #: created it; ``null`` on platforms whose instances are Loco's own (local processes). Records
    #: written before it existed read as ``null``.
    platform_id: Optional[str]


class RolloutProgressDict(TypedDict):
    """Where the rollout's steps stand, persisted after every step."""

    #: Steps completed so far.
    completed_steps: int
    #: Steps in the plan.
    total_steps: int
    #: What the current (or last) step does.
    step: str
    #: The traffic split last applied.
    traffic: List[TrafficWeightDict]
    #: Every instance of the new release the engine ever asked for, and the old release's instances
    #: this rollout retired.
    instances: List[InstanceDict]
    #: Where clients reach the service, when the platform says.
    endpoint: Optional[str]
    #: The latest verdict of the canary analysis.
    analysis: Optional[JudgementDict]


class ReleaseDict(TypedDict):
    """A release that served (or serves) a service+environment. Returned by ``Release.to_dict()``.
    """

    #: The version label.
    version: str
    #: The deployment that brought it.
    deployment_id: str
    #: The platform it runs on.
    platform: str
    #: How to run it again.
    spec: ReleaseSpecDict
    #: Its instances when it was last recorded.
    instances: List[InstanceDict]
    #: When it started serving all traffic.
    activated_at: str
    #: When another release replaced it (``None`` while current).
    retired_at: Optional[str]


class RolloutFailureDict(TypedDict):
    """Why a rollout did not succeed."""

    #: What kind of failure.
    code: FailureCode
    #: What happened, in one or two sentences.
    message: str
    #: The step (1-based) during which it happened, if any.
    step: Optional[int]


class RolloutDict(TypedDict):
    """The durable record of one deployment's rollout. Returned by ``Rollout.to_dict()``."""

    #: The deployment being rolled out.
    deployment_id: str
    #: Its service.
    service: str
    #: Its environment.
    environment: str
    #: The platform running it.
    platform: str
    #: The plan being executed.
    plan: Dict[str, Any]
    #: Where it is.
    state: RolloutState
    #: Its steps, traffic and instances.
    progress: RolloutProgressDict
    #: The release it restores on rollback (``None`` for a service's first release).
    previous: Optional[ReleaseDict]
    #: Why it failed, when it did.
    failure: Optional[RolloutFailureDict]
    #: Who started it.
    actor: str
    #: The engine executing it (``host/pid/start-time/engine``), empty while no engine does (one
    #: closed and handed it back).
    owner: str
    #: The owner's fencing token: it grows each time the rollout changes hands, and every write made
    #: for the rollout carries the token its writer holds, so an engine that lost the rollout can no
    #: longer change it.
    lease: int
    #: When its owner last showed it was alive.
    heartbeat_at: str
    #: When it started.
    started_at: str
    #: When it last changed.
    updated_at: str
    #: When it reached a final state.
    finished_at: Optional[str]


class LogLineDict(TypedDict):
    """One line of instance output. Returned by ``LogLine.to_dict()``."""

    #: The instance that wrote it.
    instance_id: str
    #: Which stream.
    stream: LogStream
    #: The text, without the trailing newline.
    line: str


class ServiceDefinitionDict(TypedDict, total=False):
    """A service an admin registered. Returned by ``ServiceDefinition.to_dict()``. Keys that must be
    present: ``name``, ``command``.
    """

    #: The name plans use (``release.service``).
    name: str
    #: The program and its arguments.
    command: List[str]
    #: Environment variables a plan may set for it (``release.env``, ``release.secret_env``); any
    #: other key is refused.
    allowed_env: List[str]
    #: Command and SQLite probes run for every instance, besides the plan's own HTTP and TCP probes.
    probes: List[ProbeDict]
    #: Deployment scripts run for every rollout of the service (a plan from the network may not
    #: carry scripts of its own); a script's ``secrets`` must be variables of ``allowed_env``.
    scripts: ScriptHooksDict
    #: Pre-deployment checks and smoke tests for every rollout of the service; a plan's own
    #: ``config`` and ``secrets`` checks replace the service's.
    validation: ValidationSpecDict
    #: Where it runs; ``None`` for the engine's working directory.
    working_dir: Optional[str]


class FlyPlatformSettingsDict(TypedDict, total=False):
    """Fly.io Machines. Keys that must be present: ``kind``, ``app``."""

    kind: Literal["fly"]
    #: The app name.
    app: str
    #: The Machines API base URL (default ``https://api.machines.dev``).
    api_url: Optional[str]
    #: The logs API base URL (default ``https://api.fly.io``).
    logs_url: Optional[str]
    #: The region new machines are created in (the app's primary region when absent).
    region: Optional[str]


class RenderPlatformSettingsDict(TypedDict, total=False):
    """Render. Keys that must be present: ``kind``, ``service_id``."""

    kind: Literal["render"]
    #: The service id (``srv-…``).
    service_id: str
    #: The API base URL (default ``https://api.render.com``).
    api_url: Optional[str]
    #: The workspace (owner) id (``tea-…``), needed for logs; looked up from the service when
    #: absent.
    owner_id: Optional[str]


class RailwayPlatformSettingsDict(TypedDict, total=False):
    """Railway. Keys that must be present: ``kind``, ``project_id``, ``environment_id``,
    ``service_id``.
    """

    kind: Literal["railway"]
    #: The project id.
    project_id: str
    #: The environment id within the project.
    environment_id: str
    #: The service id.
    service_id: str
    #: The GraphQL endpoint (default ``https://backboard.railway.com/graphql/v2``).
    api_url: Optional[str]
    #: Which kind of token is given: an account, workspace or OAuth token (sent as ``Authorization:
    #: Bearer``), or a project token (sent as ``Project-Access-Token``).
    token_kind: RailwayTokenKind


class VercelPlatformSettingsDict(TypedDict, total=False):
    """Vercel. Keys that must be present: ``kind``, ``project_id``."""

    kind: Literal["vercel"]
    #: The project id (``prj_…``) or name.
    project_id: str
    #: The API base URL (default ``https://api.vercel.com``).
    api_url: Optional[str]
    #: The team id (``team_…``) sent as ``teamId`` on every call, for team projects.
    team_id: Optional[str]


#: The provider a platform deploys to, and where.
PlatformSettingsDict = Union[
    FlyPlatformSettingsDict,
    RenderPlatformSettingsDict,
    RailwayPlatformSettingsDict,
    VercelPlatformSettingsDict,
]


class PlatformConfigDict(TypedDict):
    """One configured platform. Returned by ``PlatformConfig.to_dict()``."""

    #: The name plans use in ``platform`` (``fly-prod``): 1–63 of ``a-z 0-9 -``, starting with a
    #: letter; ``local`` and ``memory`` are reserved.
    name: str
    #: The provider and its settings.
    settings: PlatformSettingsDict
    #: The API token: sealed in the database, ``"***"`` wherever it is shown.
    token: str
    #: Who added it.
    created_by: str
    #: When it was added (or last replaced).
    created_at: str


class OnceFreezeScheduleDict(TypedDict):
    """Once, from ``start`` (inclusive) to ``end`` (exclusive)."""

    type: Literal["once"]
    #: When it begins (RFC 3339, any offset).
    start: str
    #: When it ends; after ``start``.
    end: str


class RecurringFreezeScheduleDict(TypedDict):
    """Every time ``cron`` matches the wall clock in ``time_zone``, for ``duration_minutes``."""

    type: Literal["recurring"]
    #: Five fields — minute, hour, day of month, month, day of week — each ``*``, a number, a range
    #: ``a-b``, a list ``a,b``, or one of those with a step ``/n`` (every n-th value; ``*`` with a
    #: step of 15 in the minute field is every quarter hour); months and days may be named (``JAN``,
    #: ``MON``); Sunday is 0 or 7. When both day fields are restricted either may match (as in
    #: cron).
    cron: str
    #: How long each occurrence lasts, 1 to 20160 (14 days).
    duration_minutes: int
    #: An IANA time zone (``Europe/Berlin``, ``America/New_York``, ``UTC``).
    time_zone: str


#: When a freeze window is in force.
FreezeScheduleDict = Union[OnceFreezeScheduleDict, RecurringFreezeScheduleDict]


class FreezeWindowDict(TypedDict):
    """A named period in which deployments to some environments may not start. Returned by
    ``FreezeWindow.to_dict()``.
    """

    #: Unique name (letters, digits, ``-``, ``_``, ``.``); setting a window with an existing name
    #: replaces it.
    name: str
    #: The environments it freezes (compared case-insensitively); at least one.
    environments: List[str]
    #: Why; shown in every refusal it causes.
    reason: str
    #: When it is in force.
    schedule: FreezeScheduleDict


class ActiveFreezeDict(TypedDict):
    """One occurrence of a window that is in force at some instant. Returned by
    ``ActiveFreeze.to_dict()``.
    """

    #: The window's name.
    window: str
    #: The window's reason.
    reason: str
    #: When this occurrence began.
    start: str
    #: When it ends.
    end: str


class DeployLockDict(TypedDict):
    """Who is deploying a service to an environment right now. Returned by ``DeployLock.to_dict()``.
    """

    #: The service.
    service: str
    #: The environment.
    environment: str
    #: The started deployment that holds it.
    deployment_id: str
    #: Who started that deployment.
    holder: str
    #: When it was started.
    since: str


class ScheduledStartDict(TypedDict):
    """A deployment's scheduled start. Returned by ``ScheduledStart.to_dict()``."""

    #: The deployment.
    deployment_id: str
    #: When it starts (or was to start).
    at: str
    #: Who starts it.
    actor: str
    #: Whether it starts a rollout with its manifest's plan.
    rollout: bool
    #: The override reason the start carries, if any.
    override_reason: Optional[str]
    #: Where it stands.
    state: ScheduleState
    #: Why a start was refused: the error's code and message.
    outcome: Optional[str]
    #: Who scheduled it.
    scheduled_by: str
    #: When.
    scheduled_at: str
    #: When the engine ran (or cancelled) it.
    ended_at: Optional[str]


class ApprovalGateDict(TypedDict, total=False):
    """The review an environment's deployments need before they may start. Returned by
    ``ApprovalGate.to_dict()``. Keys that must be present: ``environment``,
    ``required_approvals``.
    """

    #: The environment it guards (compared case-insensitively). One gate per environment and service
    #: (``service``, or none): setting a gate where one is replaces it.
    environment: str
    #: How many distinct reviewers must approve, 1 to 10 (never the requester).
    required_approvals: int
    #: Who may approve or reject (compared ignoring case and surrounding space); empty, and no
    #: ``groups`` either: anyone holding the approver role.
    approvers: List[str]
    #: Minutes after which an approval no longer counts towards a deployment still waiting for more,
    #: 1 to 43200 (30 days); absent: approvals do not expire.
    expires_after_minutes: Optional[int]
    #: Reviewer groups whose members may approve or reject too (each must exist when the gate is
    #: set; see ``ReviewerGroup``). Membership is read when a review is recorded and when approvals
    #: are counted, so an approval by someone since removed from the group no longer counts. A gate
    #: naming groups admits only their members and ``approvers``.
    groups: List[str]
    #: The one service whose deployments it guards (compared exactly, as services are); absent:
    #: every service of the environment that has no gate of its own. A service's own gate takes
    #: precedence over the environment's, so two services' manifests can each gate ``production``
    #: their own way.
    service: Optional[str]
    #: Minutes a deployment must wait after its last approval before it may start, 1 to 43200;
    #: absent: it may start at once.
    wait_minutes: Optional[int]


class ReviewerGroupDict(TypedDict, total=False):
    """A named set of reviewers, set by an admin, that approval gates admit by name (``groups``): a
    team whose members change without touching every gate that names it. Returned by
    ``ReviewerGroup.to_dict()``. Keys that must be present: ``name``.
    """

    #: Its name: 1-256 letters, digits, ``-``, ``_`` or ``.`` (compared case-insensitively).
    name: str
    #: Who belongs to it (compared ignoring case and surrounding space), at most 100; empty: nobody,
    #: so a gate naming it admits only its other reviewers.
    members: List[str]


class ApprovalDict(TypedDict):
    """One reviewer's approval of a deployment. Returned by ``Approval.to_dict()``."""

    #: Who approved.
    actor: str
    #: When.
    at: str
    #: What they said, if anything.
    note: Optional[str]


class ApprovalStatusDict(TypedDict):
    """Where a deployment stands with its environment's review: the pipeline view of one gate.
    Returned by ``ApprovalStatus.to_dict()``.
    """

    #: The deployment.
    deployment_id: str
    #: Its environment.
    environment: str
    #: Its status.
    status: Status
    #: How many approvals it needs (1 without a gate).
    required: int
    #: The approvals that count: while it is ``pending_approval``, those not expired at the time
    #: asked about; afterwards, those that approved it.
    approvals: List[ApprovalDict]
    #: Whether a rejection ended its review.
    rejected: bool
    #: When it may start: its approval time plus the gate's wait (absent while it is not approved,
    #: or without a wait).
    startable_at: Optional[str]


class PipelineDict(TypedDict, total=False):
    """The stages of one service, in the order its releases go through them. Returned by
    ``Pipeline.to_dict()``. Keys that must be present: ``service``, ``stages``.
    """

    #: The service (one pipeline per service; setting it again replaces it).
    service: str
    #: Its environments in order, 2 to 10, each named once (compared exactly, as deployments name
    #: them).
    stages: List[str]
    #: Whether a version must have succeeded in a stage before it is deployed to the next (default
    #: true); false keeps the order for promotion and the pipeline view only.
    require_previous_success: bool


class StageStateDict(TypedDict):
    """One stage of a version's way through its pipeline. Returned by ``StageState.to_dict()``."""

    #: The stage's environment.
    environment: str
    #: The newest deployment of the version there, if any.
    deployment_id: Optional[str]
    #: Its status.
    status: Optional[Status]
    #: When it last changed.
    updated_at: Optional[str]


class PipelineViewDict(TypedDict):
    """Where one version of a service stands in its pipeline. Returned by
    ``PipelineView.to_dict()``.
    """

    #: The service.
    service: str
    #: The version.
    version: str
    #: Every stage in order.
    stages: List[StageStateDict]
    #: The stage the version goes to next: the first stage without a succeeded deployment of it
    #: (absent once it has succeeded in every stage).
    next: Optional[str]


class CapabilitiesDict(TypedDict):
    """What a platform can do; the orchestrator refuses a plan that needs more, naming the
    capability.
    """

    #: How traffic can be divided between releases.
    traffic: TrafficControl
    #: The platform can go back to an earlier release by itself (a Render rollback, a Fly image
    #: update), without Loco starting it from the recorded spec.
    native_rollback: bool
    #: Instance output can be followed (``logs``).
    logs: bool
    #: The platform measures per-version request metrics for canary analysis.
    metrics: bool


class StageApprovalDict(TypedDict, total=False):
    """A stage's approval gate: ``ApprovalGate`` without the environment, which is the stage's. Keys
    that must be present: ``required_approvals``.
    """

    #: How many distinct reviewers must approve, 1 to 10 (never the requester).
    required_approvals: int
    #: Who may approve or reject; empty, and no ``groups`` either: anyone holding the approver role.
    approvers: List[str]
    #: Minutes after which an approval no longer counts, 1 to 43200; absent: never.
    expires_after_minutes: Optional[int]
    #: Reviewer groups whose members may approve or reject too (``loco group set``); each must exist
    #: when the manifest is applied.
    groups: List[str]
    #: Minutes a deployment must wait after its last approval before it may start, 1 to 43200.
    wait_minutes: Optional[int]


class StageDict(TypedDict, total=False):
    """One stage: an environment, how releases roll out there and who must approve them. Keys that
    must be present: ``environment``.
    """

    #: The environment's name, as deployments name it.
    environment: str
    #: The approval gate of this stage's environment; without one, a deployment needs the single
    #: review of any approver. The gate is this service's own: other services keep the environment's
    #: rules.
    approval: Optional[StageApprovalDict]
    #: The rollout plan starts in this stage use when they bring none.
    rollout: Optional[RolloutPlanDict]


class ManifestDict(TypedDict, total=False):
    """A service's release policy, as written in its ``service.yaml``. Keys that must be present:
    ``apiVersion``, ``service``, ``stages``.
    """

    #: The manifest format: ``loco/v1``.
    apiVersion: str
    #: The service it describes (1–256 characters).
    service: str
    #: The environments a release goes through, in order: 2 to 10, each named once.
    stages: List[StageDict]
    #: Freeze windows of this service's environments; each may name only stages of this manifest.
    #: Windows are environment-wide: they hold for every service deployed there.
    freeze_windows: List[FreezeWindowDict]
    #: Whether a version must have succeeded in a stage before it may be deployed to the next
    #: (default true).
    require_previous_success: bool


class ManifestRecordDict(TypedDict):
    """One applied version of a service's manifest."""

    #: The service.
    service: str
    #: 1 for the first manifest applied to the service, then one more for each that changed it.
    version: int
    #: SHA-256 of ``text``, lowercase hex: applying the same text again keeps this version.
    digest: str
    #: The manifest exactly as it was applied.
    text: str
    #: The manifest as read, every default filled in.
    manifest: ManifestDict
    #: Who applied it.
    applied_by: str
    #: When.
    applied_at: str


@final
class Deployment:
    """The current state of one deployment. Immutable: attributes mirror the HTTP JSON fields and
    ``to_dict()`` returns the HTTP JSON object. ``Deployment(data)`` wraps such an object (typed
    ``DeploymentDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: DeploymentDict

    def __init__(self, data: DeploymentDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def id(self) -> str:
        """Generated id, ``dep_`` followed by a ULID."""
        return self._d["id"]

    @property
    def service(self) -> str:
        """The service being deployed."""
        return self._d["service"]

    @property
    def environment(self) -> str:
        """The target environment."""
        return self._d["environment"]

    @property
    def version(self) -> str:
        """The version or build being deployed."""
        return self._d["version"]

    @property
    def requester(self) -> str:
        """Who asked for the deployment."""
        return self._d["requester"]

    @property
    def work_refs(self) -> List[str]:
        """Planning artifacts the deployment delivers."""
        return list(self._d["work_refs"])

    @property
    def rollback_plan(self) -> str:
        """How to recover if the deployment goes wrong."""
        return self._d["rollback_plan"]

    @property
    def risk(self) -> Optional[str]:
        """Accepted risk, if stated; ``None`` when absent."""
        return self._d.get("risk")

    @property
    def commit(self) -> Optional[str]:
        """The source commit being deployed, if stated; ``None`` when absent."""
        return self._d.get("commit")

    @property
    def status(self) -> Status:
        """Where the deployment is in its lifecycle."""
        return self._d["status"]

    @property
    def reviewed_by(self) -> Optional[str]:
        """Who approved or rejected it; ``None`` when absent."""
        return self._d.get("reviewed_by")

    @property
    def reviewed_at(self) -> Optional[str]:
        """When it was approved or rejected (RFC 3339 UTC); ``None`` when absent."""
        return self._d.get("reviewed_at")

    @property
    def created_at(self) -> str:
        """When it was created (RFC 3339 UTC)."""
        return self._d["created_at"]

    @property
    def updated_at(self) -> str:
        """When its status last changed (RFC 3339 UTC)."""
        return self._d["updated_at"]

    def to_dict(self) -> DeploymentDict:
        """The deployment as the HTTP API's JSON object (a new copy each time)."""
        return cast("DeploymentDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Deployment):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "Deployment(id=%r, service=%r, environment=%r, version=%r, status=%r)" % (
            d["id"],
            d["service"],
            d["environment"],
            d["version"],
            d["status"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Deployment, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class ValidationReport:
    """The result of validating a plan: recorded in the ``validation`` event, attached to a
    ``validation_failed`` error and returned by ``validate``. Immutable: attributes mirror the
    HTTP JSON fields and ``to_dict()`` returns the HTTP JSON object. ``ValidationReport(data)``
    wraps such an object (typed ``ValidationReportDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: ValidationReportDict

    def __init__(self, data: ValidationReportDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def passed(self) -> bool:
        """Whether nothing blocking was found."""
        return self._d["passed"]

    @property
    def checks(self) -> List[CheckSummaryDict]:
        """One entry per check that ran, in the order they ran."""
        return cast("List[CheckSummaryDict]", _copy(self._d["checks"]))

    @property
    def findings(self) -> List[FindingDict]:
        """What the checks found, blocking ones first (at most 1,000)."""
        return cast("List[FindingDict]", _copy(self._d["findings"]))

    @property
    def omitted(self) -> int:
        """Findings left out of ``findings`` past the limit."""
        return self._d["omitted"]

    def to_dict(self) -> ValidationReportDict:
        """The validation report as the HTTP API's JSON object (a new copy each time)."""
        return cast("ValidationReportDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ValidationReport):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "ValidationReport(passed=%r, omitted=%r)" % (
            d["passed"],
            d["omitted"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (ValidationReport, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class Event:
    """One append-only history entry. Lifecycle events (one per action, plus ``created``) always
    have a ``to_status``; ``from_status`` is ``None`` only on ``created``, whose ``data`` is the
    request it accepted. Rollout events (``step_progress``, ``health_check``, …) have neither and
    carry their facts in ``data``. Immutable: attributes mirror the HTTP JSON fields and
    ``to_dict()`` returns the HTTP JSON object. ``Event(data)`` wraps such an object (typed
    ``EventDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: EventDict

    def __init__(self, data: EventDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def seq(self) -> int:
        """Position in the store-wide event order (1, 2, 3, … with no gaps); also the audit chain
        order.
        """
        return self._d["seq"]

    @property
    def id(self) -> str:
        """Generated id, ``evt_`` followed by a ULID."""
        return self._d["id"]

    @property
    def deployment_id(self) -> str:
        """The deployment this event belongs to."""
        return self._d["deployment_id"]

    @property
    def kind(self) -> EventKind:
        """What happened."""
        return self._d["kind"]

    @property
    def actor(self) -> str:
        """Who did it."""
        return self._d["actor"]

    @property
    def request_id(self) -> Optional[str]:
        """The request it was done for: the ``X-Request-Id`` of the HTTP request that caused it (for
        a rollout's own events, the request that started, resumed or changed the rollout), or the
        id an embedding service scoped the call with; ``null`` when there was none (in-process
        calls, and a rollout continued after a restart).
        """
        return self._d.get("request_id")

    @property
    def note(self) -> Optional[str]:
        """Why, if given; ``None`` when absent."""
        return self._d.get("note")

    @property
    def from_status(self) -> Optional[Status]:
        """Status before the event (``None`` on ``created``)."""
        return self._d.get("from_status")

    @property
    def to_status(self) -> Optional[Status]:
        """Status after the event; ``None`` when absent."""
        return self._d.get("to_status")

    @property
    def at(self) -> str:
        """When it was recorded (RFC 3339 UTC)."""
        return self._d["at"]

    @property
    def hash(self) -> str:
        """``sha256(previous event's hash ‖ canonical bytes of this event)``, lowercase hex."""
        return self._d["hash"]

    @property
    def data(self) -> Optional[Dict[str, Any]]:
        """The request a ``created`` event accepted, or the structured facts of a rollout event
        (step, traffic, instances, probe results), as a ``dict`` shaped like ``EventDataDict``;
        ``None`` on the other lifecycle events (and on ``created`` events written before the
        audit covered whole records).
        """
        return cast("Optional[Dict[str, Any]]", _copy(self._d.get("data")))

    def to_dict(self) -> EventDict:
        """The event as the HTTP API's JSON object (a new copy each time)."""
        return cast("EventDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "Event(seq=%r, deployment_id=%r, kind=%r, actor=%r, to_status=%r)" % (
            d["seq"],
            d["deployment_id"],
            d["kind"],
            d["actor"],
            d["to_status"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Event, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class Page:
    """One page of results and the cursor for the next one (``None`` on the last page). Immutable:
    attributes mirror the HTTP JSON fields and ``to_dict()`` returns the HTTP JSON object.
    ``Page(data)`` wraps such an object (typed ``PageDict``) without copying it.
    """

    __slots__ = ("_d", "_items",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: PageDict
    _items: List[Deployment]

    def __init__(self, data: PageDict) -> None:
        object.__setattr__(self, "_d", data)
        object.__setattr__(self, "_items", [Deployment(item) for item in data["items"]])

    @property
    def items(self) -> List[Deployment]:
        """The items on this page (a new list each time, of the same objects)."""
        return list(self._items)

    @property
    def next_cursor(self) -> Optional[str]:
        """Pass this as ``cursor=`` to get the next page; ``None`` on the last page."""
        return self._d.get("next_cursor")

    def to_dict(self) -> PageDict:
        """The page as the HTTP API's JSON object (a new copy each time)."""
        return cast("PageDict", _copy(self._d))

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Deployment]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Page):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "Page(items=%r, next_cursor=%r)" % (
            self._items,
            d["next_cursor"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Page, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class BrokenLink:
    """Where and why the chain first failed to verify. Immutable: attributes mirror the HTTP JSON
    fields and ``to_dict()`` returns the HTTP JSON object. ``BrokenLink(data)`` wraps such an
    object (typed ``BrokenLinkDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: BrokenLinkDict

    def __init__(self, data: BrokenLinkDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def seq(self) -> int:
        """The sequence number of the offending event (or of the last lifecycle event of the
        deployment whose current state disagrees with its history, or of a missing exported head;
        0 when there is no such event).
        """
        return self._d["seq"]

    @property
    def event_id(self) -> str:
        """The offending event's id (empty when there is no such event)."""
        return self._d["event_id"]

    @property
    def deployment_id(self) -> str:
        """The deployment it belongs to (empty when the problem is not one deployment's)."""
        return self._d["deployment_id"]

    @property
    def field(self) -> Optional[str]:
        """The deployment field whose stored value disagrees with its history (``version``,
        ``reviewed_by``, …); ``null`` when the problem is not one field.
        """
        return self._d.get("field")

    @property
    def reason(self) -> str:
        """What is wrong, in one sentence."""
        return self._d["reason"]

    def to_dict(self) -> BrokenLinkDict:
        """The broken link as the HTTP API's JSON object (a new copy each time)."""
        return cast("BrokenLinkDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BrokenLink):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "BrokenLink(seq=%r, event_id=%r, reason=%r)" % (
            d["seq"],
            d["event_id"],
            d["reason"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (BrokenLink, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class AuditReport:
    """The result of walking the whole audit chain. Immutable: attributes mirror the HTTP JSON
    fields and ``to_dict()`` returns the HTTP JSON object. ``AuditReport(data)`` wraps such an
    object (typed ``AuditReportDict``) without copying it.
    """

    __slots__ = ("_d", "_first_broken",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: AuditReportDict
    _first_broken: Optional[BrokenLink]

    def __init__(self, data: AuditReportDict) -> None:
        object.__setattr__(self, "_d", data)
        value = data["first_broken"]
        object.__setattr__(self, "_first_broken", None if value is None else BrokenLink(value))

    @property
    def valid(self) -> bool:
        """True when every link, every deployment's state and the exported head (when one was given)
        matched.
        """
        return self._d["valid"]

    @property
    def events_checked(self) -> int:
        """How many events were checked."""
        return self._d["events_checked"]

    @property
    def deployments_checked(self) -> int:
        """How many deployments were compared with the state their events establish."""
        return self._d["deployments_checked"]

    @property
    def deployments_status_only(self) -> int:
        """How many of those were compared on their status only: their ``created`` event predates
        the audit covering whole records, so their history does not say what was requested.
        """
        return self._d["deployments_status_only"]

    @property
    def head_hash(self) -> Optional[str]:
        """The hash of the last event checked, when everything matched (export the head with
        ``audit_head`` to detect truncation later); ``None`` when absent.
        """
        return self._d.get("head_hash")

    @property
    def exported_head_seq(self) -> Optional[int]:
        """The ``seq`` of the exported head the chain was checked against; ``null`` without one."""
        return self._d.get("exported_head_seq")

    @property
    def first_broken(self) -> Optional[BrokenLink]:
        """The first problem found, if any; ``None`` when absent."""
        return self._first_broken

    def to_dict(self) -> AuditReportDict:
        """The audit report as the HTTP API's JSON object (a new copy each time)."""
        return cast("AuditReportDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AuditReport):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "AuditReport(valid=%r, events_checked=%r, first_broken=%r)" % (
            d["valid"],
            d["events_checked"],
            self._first_broken,
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (AuditReport, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class AuditHead:
    """The head of the audit chain as exported: ``{"seq", "hash", "hmac", "at"}``. Always written
    with all four fields; read back with ``hmac`` and ``at`` optional. Immutable: attributes
    mirror the HTTP JSON fields and ``to_dict()`` returns the HTTP JSON object.
    ``AuditHead(data)`` wraps such an object (typed ``AuditHeadDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: AuditHeadDict

    def __init__(self, data: AuditHeadDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def seq(self) -> int:
        """The ``seq`` of the last event (0 for an empty chain)."""
        return self._d["seq"]

    @property
    def hash(self) -> str:
        """That event's hash, lowercase hex (empty for an empty chain)."""
        return self._d["hash"]

    @property
    def hmac(self) -> Optional[str]:
        """HMAC-SHA256 of the decimal ``seq`` followed by ``hash``, keyed with ``LOCO_AUDIT_KEY``,
        lowercase hex; ``null`` when no key was set.
        """
        return self._d.get("hmac")

    @property
    def at(self) -> Optional[str]:
        """When that event was recorded; ``null`` for an empty chain (RFC 3339 UTC)."""
        return self._d.get("at")

    def to_dict(self) -> AuditHeadDict:
        """The audit head as the HTTP API's JSON object (a new copy each time)."""
        return cast("AuditHeadDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AuditHead):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "AuditHead(seq=%r, hash=%r)" % (
            d["seq"],
            d["hash"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (AuditHead, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class Release:
    """A release that served (or serves) a service+environment. Immutable: attributes mirror the
    HTTP JSON fields and ``to_dict()`` returns the HTTP JSON object. ``Release(data)`` wraps such
    an object (typed ``ReleaseDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: ReleaseDict

    def __init__(self, data: ReleaseDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def version(self) -> str:
        """The version label."""
        return self._d["version"]

    @property
    def deployment_id(self) -> str:
        """The deployment that brought it."""
        return self._d["deployment_id"]

    @property
    def platform(self) -> str:
        """The platform it runs on."""
        return self._d["platform"]

    @property
    def spec(self) -> ReleaseSpecDict:
        """How to run it again."""
        return cast("ReleaseSpecDict", _copy(self._d["spec"]))

    @property
    def instances(self) -> List[InstanceDict]:
        """Its instances when it was last recorded."""
        return cast("List[InstanceDict]", _copy(self._d["instances"]))

    @property
    def activated_at(self) -> str:
        """When it started serving all traffic (RFC 3339 UTC)."""
        return self._d["activated_at"]

    @property
    def retired_at(self) -> Optional[str]:
        """When another release replaced it (``None`` while current). RFC 3339 UTC."""
        return self._d.get("retired_at")

    def to_dict(self) -> ReleaseDict:
        """The release as the HTTP API's JSON object (a new copy each time)."""
        return cast("ReleaseDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Release):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "Release(version=%r, deployment_id=%r, activated_at=%r, retired_at=%r)" % (
            d["version"],
            d["deployment_id"],
            d["activated_at"],
            d["retired_at"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Release, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class Rollout:
    """The durable record of one deployment's rollout. Immutable: attributes mirror the HTTP JSON
    fields and ``to_dict()`` returns the HTTP JSON object. ``Rollout(data)`` wraps such an object
    (typed ``RolloutDict``) without copying it.
    """

    __slots__ = ("_d", "_previous",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: RolloutDict
    _previous: Optional[Release]

    def __init__(self, data: RolloutDict) -> None:
        object.__setattr__(self, "_d", data)
        value = data["previous"]
        object.__setattr__(self, "_previous", None if value is None else Release(value))

    @property
    def deployment_id(self) -> str:
        """The deployment being rolled out."""
        return self._d["deployment_id"]

    @property
    def service(self) -> str:
        """Its service."""
        return self._d["service"]

    @property
    def environment(self) -> str:
        """Its environment."""
        return self._d["environment"]

    @property
    def platform(self) -> str:
        """The platform running it."""
        return self._d["platform"]

    @property
    def plan(self) -> Dict[str, Any]:
        """The plan being executed."""
        return cast("Dict[str, Any]", _copy(self._d["plan"]))

    @property
    def state(self) -> RolloutState:
        """Where it is."""
        return self._d["state"]

    @property
    def progress(self) -> RolloutProgressDict:
        """Its steps, traffic and instances."""
        return cast("RolloutProgressDict", _copy(self._d["progress"]))

    @property
    def previous(self) -> Optional[Release]:
        """The release it restores on rollback (``None`` for a service's first release)."""
        return self._previous

    @property
    def failure(self) -> Optional[RolloutFailureDict]:
        """Why it failed, when it did; ``None`` when absent."""
        return cast("Optional[RolloutFailureDict]", _copy(self._d.get("failure")))

    @property
    def actor(self) -> str:
        """Who started it."""
        return self._d["actor"]

    @property
    def owner(self) -> str:
        """The engine executing it (``host/pid/start-time/engine``), empty while no engine does (one
        closed and handed it back).
        """
        return self._d["owner"]

    @property
    def lease(self) -> int:
        """The owner's fencing token: it grows each time the rollout changes hands, and every write
        made for the rollout carries the token its writer holds, so an engine that lost the
        rollout can no longer change it.
        """
        return self._d["lease"]

    @property
    def heartbeat_at(self) -> str:
        """When its owner last showed it was alive (RFC 3339 UTC)."""
        return self._d["heartbeat_at"]

    @property
    def started_at(self) -> str:
        """When it started (RFC 3339 UTC)."""
        return self._d["started_at"]

    @property
    def updated_at(self) -> str:
        """When it last changed (RFC 3339 UTC)."""
        return self._d["updated_at"]

    @property
    def finished_at(self) -> Optional[str]:
        """When it reached a final state (RFC 3339 UTC); ``None`` when absent."""
        return self._d.get("finished_at")

    @property
    def analysis(self) -> Optional[JudgementDict]:
        """The latest verdict of the canary analysis; ``None`` when absent
        (``progress["analysis"]``).
        """
        return cast("Optional[JudgementDict]", _copy(self._d["progress"]["analysis"]))

    @property
    def is_active(self) -> bool:
        """True while it holds its service+environment: its state is one of
        ``loco.ACTIVE_ROLLOUT_STATES`` (decided by the core).
        """
        return self._d["state"] in ACTIVE_ROLLOUT_STATES

    def to_dict(self) -> RolloutDict:
        """The rollout as the HTTP API's JSON object (a new copy each time)."""
        return cast("RolloutDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rollout):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "Rollout(deployment_id=%r, service=%r, environment=%r, state=%r, steps=%r)" % (
            d["deployment_id"],
            d["service"],
            d["environment"],
            d["state"],
            "%s/%s" % (d["progress"]["completed_steps"], d["progress"]["total_steps"]),
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Rollout, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class LogLine:
    """One line of instance output. Immutable: attributes mirror the HTTP JSON fields and
    ``to_dict()`` returns the HTTP JSON object. ``LogLine(data)`` wraps such an object (typed
    ``LogLineDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: LogLineDict

    def __init__(self, data: LogLineDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def instance_id(self) -> str:
        """The instance that wrote it."""
        return self._d["instance_id"]

    @property
    def stream(self) -> LogStream:
        """Which stream."""
        return self._d["stream"]

    @property
    def line(self) -> str:
        """The text, without the trailing newline."""
        return self._d["line"]

    def to_dict(self) -> LogLineDict:
        """The log line as the HTTP API's JSON object (a new copy each time)."""
        return cast("LogLineDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogLine):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "LogLine(instance_id=%r, stream=%r, line=%r)" % (
            d["instance_id"],
            d["stream"],
            d["line"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (LogLine, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class ServiceDefinition:
    """A service an admin registered. Immutable: attributes mirror the HTTP JSON fields and
    ``to_dict()`` returns the HTTP JSON object. ``ServiceDefinition(data)`` wraps such an object
    (typed ``ServiceDefinitionDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: ServiceDefinitionDict

    def __init__(self, data: ServiceDefinitionDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def name(self) -> str:
        """The name plans use (``release.service``)."""
        return self._d["name"]

    @property
    def command(self) -> List[str]:
        """The program and its arguments."""
        return list(self._d["command"])

    @property
    def allowed_env(self) -> List[str]:
        """Environment variables a plan may set for it (``release.env``, ``release.secret_env``);
        any other key is refused.
        """
        return list(self._d["allowed_env"])

    @property
    def probes(self) -> List[ProbeDict]:
        """Command and SQLite probes run for every instance, besides the plan's own HTTP and TCP
        probes.
        """
        return cast("List[ProbeDict]", _copy(self._d["probes"]))

    @property
    def scripts(self) -> ScriptHooksDict:
        """Deployment scripts run for every rollout of the service (a plan from the network may not
        carry scripts of its own); a script's ``secrets`` must be variables of ``allowed_env``.
        """
        return cast("ScriptHooksDict", _copy(self._d["scripts"]))

    @property
    def validation(self) -> ValidationSpecDict:
        """Pre-deployment checks and smoke tests for every rollout of the service; a plan's own
        ``config`` and ``secrets`` checks replace the service's.
        """
        return cast("ValidationSpecDict", _copy(self._d["validation"]))

    @property
    def working_dir(self) -> Optional[str]:
        """Where it runs; ``None`` for the engine's working directory."""
        return self._d.get("working_dir")

    def to_dict(self) -> ServiceDefinitionDict:
        """The service definition as the HTTP API's JSON object (a new copy each time)."""
        return cast("ServiceDefinitionDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServiceDefinition):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "ServiceDefinition(name=%r, command=%r)" % (
            d["name"],
            d["command"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (ServiceDefinition, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class PlatformConfig:
    """One configured platform. Immutable: attributes mirror the HTTP JSON fields and ``to_dict()``
    returns the HTTP JSON object. ``PlatformConfig(data)`` wraps such an object (typed
    ``PlatformConfigDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: PlatformConfigDict

    def __init__(self, data: PlatformConfigDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def name(self) -> str:
        """The name plans use in ``platform`` (``fly-prod``): 1–63 of ``a-z 0-9 -``, starting with a
        letter; ``local`` and ``memory`` are reserved.
        """
        return self._d["name"]

    @property
    def settings(self) -> PlatformSettingsDict:
        """The provider and its settings."""
        return cast("PlatformSettingsDict", _copy(self._d["settings"]))

    @property
    def token(self) -> str:
        """The API token: sealed in the database, ``"***"`` wherever it is shown."""
        return self._d["token"]

    @property
    def created_by(self) -> str:
        """Who added it."""
        return self._d["created_by"]

    @property
    def created_at(self) -> str:
        """When it was added (or last replaced). RFC 3339 UTC."""
        return self._d["created_at"]

    def to_dict(self) -> PlatformConfigDict:
        """The platform config as the HTTP API's JSON object (a new copy each time)."""
        return cast("PlatformConfigDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PlatformConfig):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "PlatformConfig(name=%r, settings=%r)" % (
            d["name"],
            d["settings"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (PlatformConfig, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class FreezeWindow:
    """A named period in which deployments to some environments may not start. Immutable: attributes
    mirror the HTTP JSON fields and ``to_dict()`` returns the HTTP JSON object.
    ``FreezeWindow(data)`` wraps such an object (typed ``FreezeWindowDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: FreezeWindowDict

    def __init__(self, data: FreezeWindowDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def name(self) -> str:
        """Unique name (letters, digits, ``-``, ``_``, ``.``); setting a window with an existing
        name replaces it.
        """
        return self._d["name"]

    @property
    def environments(self) -> List[str]:
        """The environments it freezes (compared case-insensitively); at least one."""
        return list(self._d["environments"])

    @property
    def reason(self) -> str:
        """Why; shown in every refusal it causes."""
        return self._d["reason"]

    @property
    def schedule(self) -> FreezeScheduleDict:
        """When it is in force."""
        return cast("FreezeScheduleDict", _copy(self._d["schedule"]))

    def to_dict(self) -> FreezeWindowDict:
        """The freeze window as the HTTP API's JSON object (a new copy each time)."""
        return cast("FreezeWindowDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FreezeWindow):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "FreezeWindow(name=%r, environments=%r)" % (
            d["name"],
            d["environments"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (FreezeWindow, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class ActiveFreeze:
    """One occurrence of a window that is in force at some instant. Immutable: attributes mirror the
    HTTP JSON fields and ``to_dict()`` returns the HTTP JSON object. ``ActiveFreeze(data)`` wraps
    such an object (typed ``ActiveFreezeDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: ActiveFreezeDict

    def __init__(self, data: ActiveFreezeDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def window(self) -> str:
        """The window's name."""
        return self._d["window"]

    @property
    def reason(self) -> str:
        """The window's reason."""
        return self._d["reason"]

    @property
    def start(self) -> str:
        """When this occurrence began (RFC 3339 UTC)."""
        return self._d["start"]

    @property
    def end(self) -> str:
        """When it ends (RFC 3339 UTC)."""
        return self._d["end"]

    def to_dict(self) -> ActiveFreezeDict:
        """The active freeze as the HTTP API's JSON object (a new copy each time)."""
        return cast("ActiveFreezeDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActiveFreeze):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "ActiveFreeze(window=%r, end=%r)" % (
            d["window"],
            d["end"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (ActiveFreeze, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class DeployLock:
    """Who is deploying a service to an environment right now. Immutable: attributes mirror the HTTP
    JSON fields and ``to_dict()`` returns the HTTP JSON object. ``DeployLock(data)`` wraps such
    an object (typed ``DeployLockDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: DeployLockDict

    def __init__(self, data: DeployLockDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def service(self) -> str:
        """The service."""
        return self._d["service"]

    @property
    def environment(self) -> str:
        """The environment."""
        return self._d["environment"]

    @property
    def deployment_id(self) -> str:
        """The started deployment that holds it."""
        return self._d["deployment_id"]

    @property
    def holder(self) -> str:
        """Who started that deployment."""
        return self._d["holder"]

    @property
    def since(self) -> str:
        """When it was started (RFC 3339 UTC)."""
        return self._d["since"]

    def to_dict(self) -> DeployLockDict:
        """The deploy lock as the HTTP API's JSON object (a new copy each time)."""
        return cast("DeployLockDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeployLock):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "DeployLock(service=%r, environment=%r, deployment_id=%r, holder=%r)" % (
            d["service"],
            d["environment"],
            d["deployment_id"],
            d["holder"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (DeployLock, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class ScheduledStart:
    """A deployment's scheduled start. Immutable: attributes mirror the HTTP JSON fields and
    ``to_dict()`` returns the HTTP JSON object. ``ScheduledStart(data)`` wraps such an object
    (typed ``ScheduledStartDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: ScheduledStartDict

    def __init__(self, data: ScheduledStartDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def deployment_id(self) -> str:
        """The deployment."""
        return self._d["deployment_id"]

    @property
    def at(self) -> str:
        """When it starts (or was to start). RFC 3339 UTC."""
        return self._d["at"]

    @property
    def actor(self) -> str:
        """Who starts it."""
        return self._d["actor"]

    @property
    def rollout(self) -> bool:
        """Whether it starts a rollout with its manifest's plan."""
        return self._d["rollout"]

    @property
    def override_reason(self) -> Optional[str]:
        """The override reason the start carries, if any; ``None`` when absent."""
        return self._d.get("override_reason")

    @property
    def state(self) -> ScheduleState:
        """Where it stands."""
        return self._d["state"]

    @property
    def outcome(self) -> Optional[str]:
        """Why a start was refused: the error's code and message; ``None`` when absent."""
        return self._d.get("outcome")

    @property
    def scheduled_by(self) -> str:
        """Who scheduled it."""
        return self._d["scheduled_by"]

    @property
    def scheduled_at(self) -> str:
        """When (RFC 3339 UTC)."""
        return self._d["scheduled_at"]

    @property
    def ended_at(self) -> Optional[str]:
        """When the engine ran (or cancelled) it (RFC 3339 UTC); ``None`` when absent."""
        return self._d.get("ended_at")

    def to_dict(self) -> ScheduledStartDict:
        """The scheduled start as the HTTP API's JSON object (a new copy each time)."""
        return cast("ScheduledStartDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScheduledStart):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "ScheduledStart(deployment_id=%r, at=%r, state=%r)" % (
            d["deployment_id"],
            d["at"],
            d["state"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (ScheduledStart, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class ApprovalGate:
    """The review an environment's deployments need before they may start. Immutable: attributes
    mirror the HTTP JSON fields and ``to_dict()`` returns the HTTP JSON object.
    ``ApprovalGate(data)`` wraps such an object (typed ``ApprovalGateDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: ApprovalGateDict

    def __init__(self, data: ApprovalGateDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def environment(self) -> str:
        """The environment it guards (compared case-insensitively). One gate per environment and
        service (``service``, or none): setting a gate where one is replaces it.
        """
        return self._d["environment"]

    @property
    def required_approvals(self) -> int:
        """How many distinct reviewers must approve, 1 to 10 (never the requester)."""
        return self._d["required_approvals"]

    @property
    def approvers(self) -> List[str]:
        """Who may approve or reject (compared ignoring case and surrounding space); empty, and no
        ``groups`` either: anyone holding the approver role.
        """
        return list(self._d["approvers"])

    @property
    def expires_after_minutes(self) -> Optional[int]:
        """Minutes after which an approval no longer counts towards a deployment still waiting for
        more, 1 to 43200 (30 days); absent: approvals do not expire; ``None`` when absent.
        """
        return self._d.get("expires_after_minutes")

    @property
    def groups(self) -> List[str]:
        """Reviewer groups whose members may approve or reject too (each must exist when the gate is
        set; see ``ReviewerGroup``). Membership is read when a review is recorded and when
        approvals are counted, so an approval by someone since removed from the group no longer
        counts. A gate naming groups admits only their members and ``approvers``.
        """
        return list(self._d["groups"])

    @property
    def service(self) -> Optional[str]:
        """The one service whose deployments it guards (compared exactly, as services are); absent:
        every service of the environment that has no gate of its own. A service's own gate takes
        precedence over the environment's, so two services' manifests can each gate
        ``production`` their own way; ``None`` when absent.
        """
        return self._d.get("service")

    @property
    def wait_minutes(self) -> Optional[int]:
        """Minutes a deployment must wait after its last approval before it may start, 1 to 43200;
        absent: it may start at once; ``None`` when absent.
        """
        return self._d.get("wait_minutes")

    def to_dict(self) -> ApprovalGateDict:
        """The approval gate as the HTTP API's JSON object (a new copy each time)."""
        return cast("ApprovalGateDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ApprovalGate):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "ApprovalGate(environment=%r, required_approvals=%r)" % (
            d["environment"],
            d["required_approvals"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (ApprovalGate, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class ReviewerGroup:
    """A named set of reviewers, set by an admin, that approval gates admit by name (``groups``): a
    team whose members change without touching every gate that names it. Immutable: attributes
    mirror the HTTP JSON fields and ``to_dict()`` returns the HTTP JSON object.
    ``ReviewerGroup(data)`` wraps such an object (typed ``ReviewerGroupDict``) without copying
    it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: ReviewerGroupDict

    def __init__(self, data: ReviewerGroupDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def name(self) -> str:
        """Its name: 1-256 letters, digits, ``-``, ``_`` or ``.`` (compared case-insensitively)."""
        return self._d["name"]

    @property
    def members(self) -> List[str]:
        """Who belongs to it (compared ignoring case and surrounding space), at most 100; empty:
        nobody, so a gate naming it admits only its other reviewers.
        """
        return list(self._d["members"])

    def to_dict(self) -> ReviewerGroupDict:
        """The reviewer group as the HTTP API's JSON object (a new copy each time)."""
        return cast("ReviewerGroupDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReviewerGroup):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "ReviewerGroup(name=%r, members=%r)" % (
            d["name"],
            d["members"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (ReviewerGroup, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class Approval:
    """One reviewer's approval of a deployment. Immutable: attributes mirror the HTTP JSON fields
    and ``to_dict()`` returns the HTTP JSON object. ``Approval(data)`` wraps such an object
    (typed ``ApprovalDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: ApprovalDict

    def __init__(self, data: ApprovalDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def actor(self) -> str:
        """Who approved."""
        return self._d["actor"]

    @property
    def at(self) -> str:
        """When (RFC 3339 UTC)."""
        return self._d["at"]

    @property
    def note(self) -> Optional[str]:
        """What they said, if anything; ``None`` when absent."""
        return self._d.get("note")

    def to_dict(self) -> ApprovalDict:
        """The approval as the HTTP API's JSON object (a new copy each time)."""
        return cast("ApprovalDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Approval):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "Approval(actor=%r, at=%r)" % (
            d["actor"],
            d["at"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Approval, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class ApprovalStatus:
    """Where a deployment stands with its environment's review: the pipeline view of one gate.
    Immutable: attributes mirror the HTTP JSON fields and ``to_dict()`` returns the HTTP JSON
    object. ``ApprovalStatus(data)`` wraps such an object (typed ``ApprovalStatusDict``) without
    copying it.
    """

    __slots__ = ("_d", "_approvals",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: ApprovalStatusDict
    _approvals: List[Approval]

    def __init__(self, data: ApprovalStatusDict) -> None:
        object.__setattr__(self, "_d", data)
        object.__setattr__(self, "_approvals", [Approval(item) for item in data["approvals"]])

    @property
    def deployment_id(self) -> str:
        """The deployment."""
        return self._d["deployment_id"]

    @property
    def environment(self) -> str:
        """Its environment."""
        return self._d["environment"]

    @property
    def status(self) -> Status:
        """Its status."""
        return self._d["status"]

    @property
    def required(self) -> int:
        """How many approvals it needs (1 without a gate)."""
        return self._d["required"]

    @property
    def approvals(self) -> List[Approval]:
        """The approvals that count: while it is ``pending_approval``, those not expired at the time
        asked about; afterwards, those that approved it (a new list each time, of the same
        objects).
        """
        return list(self._approvals)

    @property
    def rejected(self) -> bool:
        """Whether a rejection ended its review."""
        return self._d["rejected"]

    @property
    def startable_at(self) -> Optional[str]:
        """When it may start: its approval time plus the gate's wait (absent while it is not
        approved, or without a wait). RFC 3339 UTC; ``None`` when absent.
        """
        return self._d.get("startable_at")

    def to_dict(self) -> ApprovalStatusDict:
        """The approval status as the HTTP API's JSON object (a new copy each time)."""
        return cast("ApprovalStatusDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ApprovalStatus):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "ApprovalStatus(deployment_id=%r, status=%r, required=%r, approvals=%r)" % (
            d["deployment_id"],
            d["status"],
            d["required"],
            self._approvals,
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (ApprovalStatus, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class Pipeline:
    """The stages of one service, in the order its releases go through them. Immutable: attributes
    mirror the HTTP JSON fields and ``to_dict()`` returns the HTTP JSON object.
    ``Pipeline(data)`` wraps such an object (typed ``PipelineDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: PipelineDict

    def __init__(self, data: PipelineDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def service(self) -> str:
        """The service (one pipeline per service; setting it again replaces it)."""
        return self._d["service"]

    @property
    def stages(self) -> List[str]:
        """Its environments in order, 2 to 10, each named once (compared exactly, as deployments
        name them).
        """
        return list(self._d["stages"])

    @property
    def require_previous_success(self) -> bool:
        """Whether a version must have succeeded in a stage before it is deployed to the next
        (default true); false keeps the order for promotion and the pipeline view only.
        """
        return self._d["require_previous_success"]

    def to_dict(self) -> PipelineDict:
        """The pipeline as the HTTP API's JSON object (a new copy each time)."""
        return cast("PipelineDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "Pipeline(service=%r, stages=%r)" % (
            d["service"],
            d["stages"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Pipeline, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class StageState:
    """One stage of a version's way through its pipeline. Immutable: attributes mirror the HTTP JSON
    fields and ``to_dict()`` returns the HTTP JSON object. ``StageState(data)`` wraps such an
    object (typed ``StageStateDict``) without copying it.
    """

    __slots__ = ("_d",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: StageStateDict

    def __init__(self, data: StageStateDict) -> None:
        object.__setattr__(self, "_d", data)

    @property
    def environment(self) -> str:
        """The stage's environment."""
        return self._d["environment"]

    @property
    def deployment_id(self) -> Optional[str]:
        """The newest deployment of the version there, if any; ``None`` when absent."""
        return self._d.get("deployment_id")

    @property
    def status(self) -> Optional[Status]:
        """Its status; ``None`` when absent."""
        return self._d.get("status")

    @property
    def updated_at(self) -> Optional[str]:
        """When it last changed (RFC 3339 UTC); ``None`` when absent."""
        return self._d.get("updated_at")

    def to_dict(self) -> StageStateDict:
        """The stage state as the HTTP API's JSON object (a new copy each time)."""
        return cast("StageStateDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StageState):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "StageState(environment=%r, deployment_id=%r, status=%r)" % (
            d["environment"],
            d["deployment_id"],
            d["status"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (StageState, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")


@final
class PipelineView:
    """Where one version of a service stands in its pipeline. Immutable: attributes mirror the HTTP
    JSON fields and ``to_dict()`` returns the HTTP JSON object. ``PipelineView(data)`` wraps such
    an object (typed ``PipelineViewDict``) without copying it.
    """

    __slots__ = ("_d", "_stages",)
    __module__ = "loco"
    __hash__ = None  # type: ignore[assignment]
    _d: PipelineViewDict
    _stages: List[StageState]

    def __init__(self, data: PipelineViewDict) -> None:
        object.__setattr__(self, "_d", data)
        object.__setattr__(self, "_stages", [StageState(item) for item in data["stages"]])

    @property
    def service(self) -> str:
        """The service."""
        return self._d["service"]

    @property
    def version(self) -> str:
        """The version."""
        return self._d["version"]

    @property
    def stages(self) -> List[StageState]:
        """Every stage in order (a new list each time, of the same objects)."""
        return list(self._stages)

    @property
    def next(self) -> Optional[str]:
        """The stage the version goes to next: the first stage without a succeeded deployment of it
        (absent once it has succeeded in every stage); ``None`` when absent.
        """
        return self._d.get("next")

    def to_dict(self) -> PipelineViewDict:
        """The pipeline view as the HTTP API's JSON object (a new copy each time)."""
        return cast("PipelineViewDict", _copy(self._d))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PipelineView):
            return NotImplemented
        return self._d == other._d

    def __repr__(self) -> str:
        d = self._d
        return "PipelineView(service=%r, version=%r, next=%r)" % (
            d["service"],
            d["version"],
            d["next"],
        )

    def __reduce__(self) -> Tuple[Any, ...]:
        return (PipelineView, (self._d,))

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")

        def __delattr__(self, name: str) -> None:
            raise AttributeError(f"{type(self).__name__} objects are immutable")
