"""Type stubs of the extension module ``loco._loco``: the engines, the streams, the exceptions and
the constants it defines (written by hand; ``tests/test_stubs.py`` checks that they name exactly
what the module exposes). The result classes and dictionary shapes it returns are generated into
``loco._types`` from the JSON Schema of loco-types."""

import builtins
import os
from types import TracebackType
from typing import (
    Any,
    Awaitable,
    Callable,
    Literal,
    Mapping,
    Protocol,
    Sequence,
    TypeVar,
    final,
    overload,
    runtime_checkable,
)

from ._types import (
    Action,
    AuditHead,
    AuditHeadDict,
    AuditReport,
    ActiveFreeze,
    ApprovalGate,
    ApprovalGateDict,
    ApprovalStatus,
    CapabilitiesDict,
    DeployLock,
    Deployment,
    ErrorCode,
    Event,
    EventKind,
    FieldError,
    FreezeWindow,
    FreezeWindowDict,
    InstanceDict,
    LogLine,
    ManifestDict,
    ManifestRecordDict,
    Page,
    Pipeline,
    PipelineDict,
    PipelineView,
    PlatformConfig,
    PlatformSettingsDict,
    Release,
    ReleaseSpecDict,
    ReviewerGroup,
    ReviewerGroupDict,
    Role,
    Rollout,
    RolloutPlanDict,
    RolloutState,
    ScheduledStart,
    ServiceDefinition,
    ServiceDefinitionDict,
    Status,
    ThresholdsDict,
    TrafficWeightDict,
    ValidationReport,
    WindowStatsDict,
)

__version__: str
#: How the extension was compiled: ``"release"`` (as published) or ``"debug"`` (a development
#: build, several times slower; benchmarks refuse it).
BUILD_PROFILE: Literal["debug", "release"]
STATUSES: tuple[Status, ...]
EVENT_KINDS: tuple[EventKind, ...]
ROLLOUT_STATES: tuple[RolloutState, ...]
#: The rollout states that hold their service+environment (``Rollout.is_active``).
ACTIVE_ROLLOUT_STATES: tuple[RolloutState, ...]
__all__ = [
    "ACTIVE_ROLLOUT_STATES",
    "BUILD_PROFILE",
    "EVENT_KINDS",
    "ROLLOUT_STATES",
    "STATUSES",
    "ApprovalRequiredError",
    "Engine",
    "HealthProbe",
    "IdempotencyConflictError",
    "InstanceLogs",
    "InvalidTransitionError",
    "LocoError",
    "MetricSource",
    "NotFoundError",
    "PayloadTooLargeError",
    "PlatformError",
    "PolicyViolationError",
    "RollbackFailedError",
    "UnauthenticatedError",
    "PermissionDeniedError",
    "Platform",
    "UnsupportedMediaTypeError",
    "RateLimitedError",
    "RolloutConflictError",
    "RolloutInProgressError",
    "RolloutNotPausedError",
    "SelfApprovalError",
    "StorageError",
    "Subscription",
    "SyncEngine",
    "SyncInstanceLogs",
    "SyncSubscription",
    "ValidationError",
    "ValidationFailedError",
    "__version__",
    "manifest_schema",
    "parse_manifest",
]

_Path = str | os.PathLike[str]
#: A rollout plan: a ``dict`` with snake_case keys (``RolloutPlanDict`` describes it), or its JSON text.
_Plan = RolloutPlanDict | dict[str, Any] | str
#: Analysis thresholds: a ``dict`` (``ThresholdsDict``), or its JSON text.
_Thresholds = ThresholdsDict | dict[str, Any] | str
#: Analysis thresholds per environment.
_ThresholdsByEnvironment = Mapping[str, _Thresholds]
#: A service definition: a ``dict`` (``ServiceDefinitionDict``), or its JSON text.
_ServiceDefinition = ServiceDefinitionDict | dict[str, Any] | str
_PlatformSettings = PlatformSettingsDict | dict[str, Any] | str
#: An exported audit head: ``AuditHead.to_dict()`` (``AuditHeadDict``), or its JSON text.
_Head = AuditHeadDict | dict[str, Any] | str

#: A freeze window: a ``dict`` (``FreezeWindowDict``), or its JSON text.
_FreezeWindow = FreezeWindowDict | dict[str, Any] | str
#: An approval gate: a ``dict`` (``ApprovalGateDict``), or its JSON text.
_ApprovalGate = ApprovalGateDict | dict[str, Any] | str
#: A reviewer group: a ``dict`` (``ReviewerGroupDict``), or its JSON text.
_ReviewerGroup = ReviewerGroupDict | dict[str, Any] | str
#: A pipeline: a ``dict`` (``PipelineDict``), or its JSON text.
_Pipeline = PipelineDict | dict[str, Any] | str

_T = TypeVar("_T")
#: What a platform method returns: the value itself (a plain ``def``) or an awaitable of it
#: (``async def``).
_Answer = Awaitable[_T] | _T
#: Where a release runs: ``{"service": ..., "environment": ...}``.
_Target = Mapping[str, str]
#: An instance as a platform returns it: ``InstanceDict`` (``address``, ``pid`` and
#: ``platform_id`` may be left out).
_InstanceAnswer = InstanceDict | Mapping[str, Any]
#: A platform's capabilities (``CapabilitiesDict``), an attribute or a method returning them.
_Capabilities = CapabilitiesDict | Mapping[str, Any]
#: ``"running"``, or ``{"state": "exited", "reason": ...}``.
_Health = Literal["running"] | Mapping[str, Any]

@runtime_checkable
class Platform(Protocol):
    """A platform written in Python: pass it to ``Engine.open(path, platforms=[obj])`` (or
    ``SyncEngine.open``) or ``engine.register_platform(obj)``, and plans naming it run on it.

    Loco's orchestrator decides every call and limits its time; the object does the work. Each
    method may be ``async`` (run on the event loop that registered the platform, or on Loco's
    private loop for ``SyncEngine``; cancelled when its time limit fires) or plain (run on one of
    Loco's threads). Results are checked against the core's shapes (a bad shape, or an exception,
    fails the call with ``PlatformError``). Optional methods: ``logs(target, instance_id) ->
    list[LogLineDict]``, ``plan_shares(target, version, shares)``, ``shutdown()`` and
    ``stats(target, version, window_seconds)`` (as :class:`MetricSource`'s), which makes the
    platform its own metric source for analysis from ``{"type": "platform"}``.
    """

    @property
    def name(self) -> str: ...
    @property
    def capabilities(self) -> _Capabilities | Callable[[], _Capabilities]: ...
    def deploy(
        self, target: _Target, release: ReleaseSpecDict, instance_ids: list[str]
    ) -> _Answer[Sequence[_InstanceAnswer]]: ...
    def set_traffic(self, target: _Target, split: list[TrafficWeightDict]) -> _Answer[None]: ...
    def stop(self, target: _Target, instances: list[InstanceDict]) -> _Answer[None]: ...
    def health(self, target: _Target, instance: InstanceDict) -> _Answer[_Health]: ...
    def status(self, target: _Target) -> _Answer[Mapping[str, Any]]: ...
    def restore(
        self, target: _Target, release: ReleaseSpecDict, known: list[InstanceDict], replacement_ids: list[str]
    ) -> _Answer[Sequence[_InstanceAnswer]]: ...
    def test_connection(self) -> _Answer[None]: ...

#: What a metric source's ``stats`` returns: a ``WindowStatsDict``, where ``error_rate`` may be
#: ``None`` (computed from ``requests`` and ``errors``) and the other metrics ``None`` or left out.
_Stats = WindowStatsDict | Mapping[str, Any]

@runtime_checkable
class MetricSource(Protocol):
    """Per-version metrics for canary analysis, from your own monitoring: pass the object to
    ``Engine.open(path, metric_sources=[obj])`` (or ``SyncEngine.open``) or
    ``engine.register_metric_source(obj)``; plans whose ``analysis.source`` is
    ``{"type": "host", "name": obj.name}`` are judged on what ``stats`` reports.

    ``stats`` may be ``async`` or plain, like a platform's methods; each call may take 10 s. It
    returns a ``WindowStatsDict`` (``requests`` and ``errors`` required, the rest may be ``None``
    or left out; any other key is refused). A bad shape, an exception or a time-out makes that
    window's metrics unavailable (an inconclusive verdict).
    """

    @property
    def name(self) -> str: ...
    def stats(self, target: _Target, version: str, window_seconds: float) -> _Answer[_Stats]: ...

@runtime_checkable
class HealthProbe(Protocol):
    """A health check written in Python, ``fn(target, instance)``: register it with
    ``Engine.open(path, probes={name: fn})`` or ``engine.register_probe(name, fn)`` and name it in
    ``health.probes`` as ``{"type": "host", "name": name}``. ``None`` or ``True`` passes; ``False``
    or an exception fails. ``async`` or plain; the health check's ``timeout_seconds`` limits each
    call.
    """

    def __call__(self, target: _Target, instance: InstanceDict, /) -> _Answer[bool | None]: ...

@final
class InstanceLogs:
    """One instance's output: ``async for line in engine.logs(id, instance_id)``."""

    def __aiter__(self) -> InstanceLogs: ...
    def __anext__(self) -> Awaitable[LogLine]: ...

@final
class SyncInstanceLogs:
    """One instance's output: ``for line in engine.logs(id, instance_id)``."""

    def __iter__(self) -> SyncInstanceLogs: ...
    def __next__(self) -> LogLine: ...
    def next_line(self, timeout: float | None = None) -> LogLine | None: ...

@final
class Subscription:
    """Every committed event, in commit order: ``async for event in engine.subscribe()``."""

    def __aiter__(self) -> Subscription: ...
    def __anext__(self) -> Awaitable[Event]: ...

@final
class SyncSubscription:
    """Every committed event, in commit order: ``for event in engine.subscribe()``."""

    def __iter__(self) -> SyncSubscription: ...
    def __next__(self) -> Event: ...
    def next_event(self, timeout: float | None = None) -> Event | None: ...

@final
class Engine:
    """The deployment engine for asyncio code: ``engine = await loco.Engine.open("loco.db")``."""

    @staticmethod
    def open(
        path: _Path,
        *,
        local_state_dir: _Path | None = None,
        thresholds: _ThresholdsByEnvironment | None = None,
        release_retention: int | None = None,
        lease_seconds: float | None = None,
        platforms: Sequence[Platform] | None = None,
        probes: Mapping[str, HealthProbe] | None = None,
        metric_sources: Sequence[MetricSource] | None = None,
    ) -> Awaitable[Engine]: ...
    @staticmethod
    def open_in_memory(
        *,
        local_state_dir: _Path | None = None,
        thresholds: _ThresholdsByEnvironment | None = None,
        release_retention: int | None = None,
        lease_seconds: float | None = None,
        platforms: Sequence[Platform] | None = None,
        probes: Mapping[str, HealthProbe] | None = None,
        metric_sources: Sequence[MetricSource] | None = None,
    ) -> Awaitable[Engine]: ...
    def create(
        self,
        *,
        service: str,
        environment: str,
        version: str,
        requester: str,
        work_refs: Sequence[str],
        rollback_plan: str,
        risk: str | None = None,
        commit: str | None = None,
        idempotency_key: str | None = None,
    ) -> Awaitable[Deployment]: ...
    def approve(self, id: str, actor: str, note: str | None = None) -> Awaitable[Deployment]: ...
    def reject(self, id: str, actor: str, note: str | None = None) -> Awaitable[Deployment]: ...
    def start(
        self, id: str, actor: str, note: str | None = None, override_reason: str | None = None
    ) -> Awaitable[Deployment]: ...
    def succeed(self, id: str, actor: str, note: str | None = None) -> Awaitable[Deployment]: ...
    def fail(self, id: str, actor: str, note: str | None = None) -> Awaitable[Deployment]: ...
    def rollback(self, id: str, actor: str, note: str | None = None) -> Awaitable[Deployment]: ...
    def get(self, id: str) -> Awaitable[Deployment]: ...
    def list(
        self,
        service: str | None = None,
        environment: str | None = None,
        status: Status | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Awaitable[Page]: ...
    def events(self, id: str) -> Awaitable[builtins.list[Event]]: ...
    def verify_audit(self) -> Awaitable[AuditReport]: ...
    def metrics_text(self) -> Awaitable[str]: ...
    def subscribe(self) -> Subscription: ...
    def subscribe_after(self, after: int) -> Subscription: ...
    def validate_plan(self, plan: _Plan) -> Awaitable[ValidationReport]: ...
    @overload
    def start_rollout(
        self, id: str, plan: _Plan | None, actor: str, override_reason: str | None = None
    ) -> Awaitable[Rollout]: ...
    @overload
    def start_rollout(
        self, id: str, plan: _Plan | None = None, *, actor: str, override_reason: str | None = None
    ) -> Awaitable[Rollout]: ...
    def run_rollout(self, id: str, plan: _Plan, actor: str) -> Awaitable[Rollout]: ...
    def wait_rollout(self, id: str) -> Awaitable[Rollout]: ...
    def rollout(self, id: str) -> Awaitable[Rollout]: ...
    def rollouts(self, *, active_only: bool = False) -> Awaitable[builtins.list[Rollout]]: ...
    def releases(self, service: str, environment: str, *, limit: int = 50) -> Awaitable[builtins.list[Release]]: ...
    def override_rollout(self, id: str, actor: str, note: str) -> Awaitable[Rollout]: ...
    def rollback_to(self, service: str, environment: str, version: str, actor: str, note: str) -> Awaitable[Rollout]: ...
    def set_thresholds(self, environment: str, thresholds: _Thresholds) -> None: ...
    def save_thresholds(self, environment: str, thresholds: _Thresholds) -> Awaitable[None]: ...
    def thresholds(self) -> builtins.dict[str, builtins.dict[str, Any]]: ...
    def logs(self, id: str, instance_id: str) -> InstanceLogs: ...
    def add_platform(
        self, name: str, settings: _PlatformSettings, token: str, by: str
    ) -> Awaitable[PlatformConfig]: ...
    def platforms(self) -> Awaitable[builtins.list[PlatformConfig]]: ...
    def test_platform(self, name: str) -> Awaitable[None]: ...
    def remove_platform(self, name: str) -> Awaitable[None]: ...
    def register_platform(self, platform: Platform) -> None: ...
    def register_probe(self, name: str, probe: HealthProbe) -> None: ...
    def register_metric_source(self, source: MetricSource) -> None: ...
    def register_service(self, definition: _ServiceDefinition, by: str) -> Awaitable[ServiceDefinition]: ...
    def services(self) -> Awaitable[builtins.list[ServiceDefinition]]: ...
    def remove_service(self, name: str) -> Awaitable[None]: ...
    def locks(self) -> Awaitable[builtins.list[DeployLock]]: ...
    def release_lock(self, service: str, environment: str, actor: str, reason: str) -> Awaitable[DeployLock]: ...
    def set_freeze_window(self, window: _FreezeWindow, by: str) -> Awaitable[FreezeWindow]: ...
    def freeze_windows(self) -> Awaitable[builtins.list[FreezeWindow]]: ...
    def remove_freeze_window(self, name: str) -> Awaitable[None]: ...
    def active_freeze(self, environment: str, at: str | None = None) -> Awaitable[ActiveFreeze | None]: ...
    def set_gate(self, gate: _ApprovalGate, by: str) -> Awaitable[ApprovalGate]: ...
    def gates(self) -> Awaitable[builtins.list[ApprovalGate]]: ...
    def remove_gate(self, environment: str, service: str | None = None) -> Awaitable[None]: ...
    def set_group(self, group: _ReviewerGroup, by: str) -> Awaitable[ReviewerGroup]: ...
    def groups(self) -> Awaitable[builtins.list[ReviewerGroup]]: ...
    def remove_group(self, name: str) -> Awaitable[None]: ...
    def approval_status(self, id: str, at: str | None = None) -> Awaitable[ApprovalStatus]: ...
    def schedule_start(
        self,
        id: str,
        at: str,
        actor: str,
        rollout: bool = False,
        override_reason: str | None = None,
        by: str | None = None,
    ) -> Awaitable[ScheduledStart]: ...
    def scheduled_starts(self) -> Awaitable[builtins.list[ScheduledStart]]: ...
    def cancel_scheduled_start(self, id: str) -> Awaitable[ScheduledStart]: ...
    def run_due_starts(self) -> Awaitable[builtins.list[ScheduledStart]]: ...
    def set_pipeline(self, pipeline: _Pipeline, by: str) -> Awaitable[Pipeline]: ...
    def pipelines(self) -> Awaitable[builtins.list[Pipeline]]: ...
    def remove_pipeline(self, service: str) -> Awaitable[None]: ...
    def promote(self, id: str, actor: str) -> Awaitable[Deployment]: ...
    def pipeline_view(self, service: str, version: str) -> Awaitable[PipelineView]: ...
    def apply_manifest(self, text: str, actor: str) -> Awaitable[ManifestRecordDict]: ...
    def manifest(self, service: str, version: int | None = None) -> Awaitable[ManifestRecordDict]: ...
    def manifest_history(self, service: str) -> Awaitable[builtins.list[ManifestRecordDict]]: ...
    def manifests(self) -> Awaitable[builtins.list[ManifestRecordDict]]: ...
    def manifest_plan(self, id: str) -> Awaitable[RolloutPlanDict]: ...
    def close(self) -> Awaitable[None]: ...
    def __aenter__(self) -> Awaitable[Engine]: ...
    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Awaitable[None]: ...
    def audit_head(self) -> Awaitable[AuditHead]: ...
    def verify_audit_against(self, head: _Head) -> Awaitable[AuditReport]: ...

@final
class SyncEngine:
    """The deployment engine for blocking code: ``engine = loco.SyncEngine.open("loco.db")``."""

    @staticmethod
    def open(
        path: _Path,
        *,
        local_state_dir: _Path | None = None,
        thresholds: _ThresholdsByEnvironment | None = None,
        release_retention: int | None = None,
        lease_seconds: float | None = None,
        platforms: Sequence[Platform] | None = None,
        probes: Mapping[str, HealthProbe] | None = None,
        metric_sources: Sequence[MetricSource] | None = None,
    ) -> SyncEngine: ...
    @staticmethod
    def open_in_memory(
        *,
        local_state_dir: _Path | None = None,
        thresholds: _ThresholdsByEnvironment | None = None,
        release_retention: int | None = None,
        lease_seconds: float | None = None,
        platforms: Sequence[Platform] | None = None,
        probes: Mapping[str, HealthProbe] | None = None,
        metric_sources: Sequence[MetricSource] | None = None,
    ) -> SyncEngine: ...
    def create(
        self,
        *,
        service: str,
        environment: str,
        version: str,
        requester: str,
        work_refs: Sequence[str],
        rollback_plan: str,
        risk: str | None = None,
        commit: str | None = None,
        idempotency_key: str | None = None,
    ) -> Deployment: ...
    def approve(self, id: str, actor: str, note: str | None = None) -> Deployment: ...
    def reject(self, id: str, actor: str, note: str | None = None) -> Deployment: ...
    def start(
        self, id: str, actor: str, note: str | None = None, override_reason: str | None = None
    ) -> Deployment: ...
    def succeed(self, id: str, actor: str, note: str | None = None) -> Deployment: ...
    def fail(self, id: str, actor: str, note: str | None = None) -> Deployment: ...
    def rollback(self, id: str, actor: str, note: str | None = None) -> Deployment: ...
    def get(self, id: str) -> Deployment: ...
    def list(
        self,
        service: str | None = None,
        environment: str | None = None,
        status: Status | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page: ...
    def events(self, id: str) -> builtins.list[Event]: ...
    def verify_audit(self) -> AuditReport: ...
    def metrics_text(self) -> str: ...
    def subscribe(self) -> SyncSubscription: ...
    def subscribe_after(self, after: int) -> SyncSubscription: ...
    def validate_plan(self, plan: _Plan) -> ValidationReport: ...
    @overload
    def start_rollout(self, id: str, plan: _Plan | None, actor: str, override_reason: str | None = None) -> Rollout: ...
    @overload
    def start_rollout(
        self, id: str, plan: _Plan | None = None, *, actor: str, override_reason: str | None = None
    ) -> Rollout: ...
    def run_rollout(self, id: str, plan: _Plan, actor: str) -> Rollout: ...
    def wait_rollout(self, id: str) -> Rollout: ...
    def rollout(self, id: str) -> Rollout: ...
    def rollouts(self, *, active_only: bool = False) -> builtins.list[Rollout]: ...
    def releases(self, service: str, environment: str, *, limit: int = 50) -> builtins.list[Release]: ...
    def override_rollout(self, id: str, actor: str, note: str) -> Rollout: ...
    def rollback_to(self, service: str, environment: str, version: str, actor: str, note: str) -> Rollout: ...
    def set_thresholds(self, environment: str, thresholds: _Thresholds) -> None: ...
    def save_thresholds(self, environment: str, thresholds: _Thresholds) -> None: ...
    def thresholds(self) -> builtins.dict[str, builtins.dict[str, Any]]: ...
    def logs(self, id: str, instance_id: str) -> SyncInstanceLogs: ...
    def add_platform(self, name: str, settings: _PlatformSettings, token: str, by: str) -> PlatformConfig: ...
    def platforms(self) -> builtins.list[PlatformConfig]: ...
    def test_platform(self, name: str) -> None: ...
    def remove_platform(self, name: str) -> None: ...
    def register_platform(self, platform: Platform) -> None: ...
    def register_probe(self, name: str, probe: HealthProbe) -> None: ...
    def register_metric_source(self, source: MetricSource) -> None: ...
    def register_service(self, definition: _ServiceDefinition, by: str) -> ServiceDefinition: ...
    def services(self) -> builtins.list[ServiceDefinition]: ...
    def remove_service(self, name: str) -> None: ...
    def locks(self) -> builtins.list[DeployLock]: ...
    def release_lock(self, service: str, environment: str, actor: str, reason: str) -> DeployLock: ...
    def set_freeze_window(self, window: _FreezeWindow, by: str) -> FreezeWindow: ...
    def freeze_windows(self) -> builtins.list[FreezeWindow]: ...
    def remove_freeze_window(self, name: str) -> None: ...
    def active_freeze(self, environment: str, at: str | None = None) -> ActiveFreeze | None: ...
    def set_gate(self, gate: _ApprovalGate, by: str) -> ApprovalGate: ...
    def gates(self) -> builtins.list[ApprovalGate]: ...
    def remove_gate(self, environment: str, service: str | None = None) -> None: ...
    def set_group(self, group: _ReviewerGroup, by: str) -> ReviewerGroup: ...
    def groups(self) -> builtins.list[ReviewerGroup]: ...
    def remove_group(self, name: str) -> None: ...
    def approval_status(self, id: str, at: str | None = None) -> ApprovalStatus: ...
    def schedule_start(
        self,
        id: str,
        at: str,
        actor: str,
        rollout: bool = False,
        override_reason: str | None = None,
        by: str | None = None,
    ) -> ScheduledStart: ...
    def scheduled_starts(self) -> builtins.list[ScheduledStart]: ...
    def cancel_scheduled_start(self, id: str) -> ScheduledStart: ...
    def run_due_starts(self) -> builtins.list[ScheduledStart]: ...
    def set_pipeline(self, pipeline: _Pipeline, by: str) -> Pipeline: ...
    def pipelines(self) -> builtins.list[Pipeline]: ...
    def remove_pipeline(self, service: str) -> None: ...
    def promote(self, id: str, actor: str) -> Deployment: ...
    def pipeline_view(self, service: str, version: str) -> PipelineView: ...
    def apply_manifest(self, text: str, actor: str) -> ManifestRecordDict: ...
    def manifest(self, service: str, version: int | None = None) -> ManifestRecordDict: ...
    def manifest_history(self, service: str) -> builtins.list[ManifestRecordDict]: ...
    def manifests(self) -> builtins.list[ManifestRecordDict]: ...
    def manifest_plan(self, id: str) -> RolloutPlanDict: ...
    def close(self) -> None: ...
    def __enter__(self) -> SyncEngine: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
    def audit_head(self) -> AuditHead: ...
    def verify_audit_against(self, head: _Head) -> AuditReport: ...

def parse_manifest(text: str) -> ManifestDict:
    """Reads a ``service.yaml`` manifest (YAML, or JSON) and checks it; no engine needed.

    Returns the manifest as a plain ``dict`` (typed ``ManifestDict``) with the defaults filled in
    (``require_previous_success`` true, ``freeze_windows`` empty, a stage's ``rollout`` and
    ``approval`` ``None`` when absent, a plan's ``instances`` and the like set). Raises
    :class:`ValidationError` listing every problem at once, in the order of the file: each entry
    of ``details`` has ``field`` (the path, ``stages[1].rollout.instances``), ``message``,
    ``line`` and ``column`` (from 1). A manifest over 256 KiB is refused before it is read
    (``field`` is ``manifest``). Releases the GIL while it works.
    """

def manifest_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a manifest, the document in
    ``schema/manifest.schema.json``: for editors and other validators."""

class LocoError(Exception):
    """Base class of every Loco error; ``code`` is the stable error code shared by every surface."""

    code: ErrorCode
    details: list[FieldError]

class ValidationError(LocoError):
    """Input is missing or invalid (``validation_error``); ``details`` lists every bad field."""

class NotFoundError(LocoError):
    """Nothing has this id or name (``not_found``): a deployment, its rollout, a token, a service, a platform, a
    freeze window, a held deploy lock, an approval gate, a reviewer group, a pipeline or a service's manifest
    (or that version of it)."""

    deployment_id: str

class InvalidTransitionError(LocoError):
    """The action is not allowed from the deployment's current status (``invalid_transition``)."""

    deployment_id: str
    from_status: Status
    action: Action

class SelfApprovalError(LocoError):
    """The requester tried to approve or reject their own deployment (``self_approval``)."""

    deployment_id: str
    actor: str
    action: Action

class IdempotencyConflictError(LocoError):
    """The idempotency key was already used with a different request (``idempotency_conflict``)."""

    idempotency_key: str
    #: The same as ``idempotency_key`` (its name before the core named every fact).
    key: str

class PayloadTooLargeError(LocoError):
    """A request was larger than the accepted limit (``payload_too_large``)."""

    limit_bytes: int

class StorageError(LocoError):
    """The database failed; nothing of the failed operation was written (``storage_error``)."""

class RolloutConflictError(LocoError):
    """Another rollout is already active on the same service and environment (``rollout_conflict``)."""

    service: str
    environment: str
    active_deployment_id: str

class RolloutInProgressError(LocoError):
    """The deployment's rollout is running; only rollback is allowed until it ends (``rollout_in_progress``)."""

    deployment_id: str

class RolloutNotPausedError(LocoError):
    """The rollout is not paused, so there is nothing to override (``rollout_not_paused``)."""

    deployment_id: str
    state: RolloutState

class PlatformError(LocoError):
    """A platform operation failed (``platform_error``)."""

    platform: str

class RollbackFailedError(LocoError):
    """Restoring the previous release failed; the deployment is not serving a known-good release
    (``rollback_failed``)."""

    deployment_id: str

class UnauthenticatedError(LocoError):
    """No valid credentials: a missing, bad, expired or revoked token (``unauthenticated``)."""

class PermissionDeniedError(LocoError):
    """The identity lacks the role the operation needs; ``role`` names it (``permission_denied``)."""

    subject: str
    role: Role
    environment: str

class UnsupportedMediaTypeError(LocoError):
    """A request body was not declared as JSON (``unsupported_media_type``)."""

    content_type: str

class RateLimitedError(LocoError):
    """Too many requests; retry after ``retry_after_seconds`` (``rate_limited``)."""

    retry_after_seconds: int

class ValidationFailedError(LocoError):
    """Pre-deployment validation refused the release (``validation_failed``); ``report`` is the full
    report and ``details`` lists the blocking findings (``field`` is each finding's location)."""

    deployment_id: str
    #: How many findings refused the release.
    blocking_findings: int
    report: ValidationReport

class PolicyViolationError(LocoError):
    """A policy refused the operation (``policy_violation``): a freeze window is in force for the
    deployment's environment, another deployment of its service holds the deploy lock there, the
    environment's approval gate holds the start back after approval, the gate refused the
    reviewer, or the service's pipeline refused a version that has not succeeded in the stage
    before (a create, or a promotion of a deployment that has not succeeded). ``details`` has one
    entry, on the rule (``freeze_window``, ``deploy_lock``, ``wait_timer``, ``approval_gate`` or
    ``promotion_order``)."""

    #: The rule that refused it: ``freeze_window``, ``deploy_lock``, ``wait_timer``,
    #: ``approval_gate`` or ``promotion_order``.
    rule: str
    #: The window's name, the id of the deployment holding the lock, the gate's environment, or
    #: the pipeline's service.
    policy: str
    environment: str
    #: When the occurrence in force or the gate's wait ends (RFC 3339 UTC); ``None`` for a deploy
    #: lock, a refused reviewer or the promotion order.
    until: str | None

class ApprovalRequiredError(LocoError):
    """A start of a deployment whose environment's approval gate has not approved it yet
    (``approval_required``); nothing was written."""

    deployment_id: str
    environment: str
    #: How many approvals count now.
    approvals: int
    #: How many the gate requires.
    required: int
