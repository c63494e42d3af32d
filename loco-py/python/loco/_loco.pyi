"""Type stubs of the extension module ``loco._loco`` (written by hand; ``tests/test_stubs.py``
checks that they name exactly what the module exposes)."""

import builtins
import os
from types import TracebackType
from typing import Any, Awaitable, ClassVar, Iterator, Mapping, Sequence, final

from ._types import (
    Action,
    AuditReportDict,
    BrokenLinkDict,
    DeploymentDict,
    EventDict,
    EventKind,
    FieldError,
    InstanceDict,
    JudgementDict,
    LogLineDict,
    LogStream,
    PageDict,
    ReleaseDict,
    ReleaseSpecDict,
    RolloutDict,
    RolloutFailureDict,
    RolloutProgressDict,
    RolloutState,
    Status,
)

__version__: str
STATUSES: tuple[Status, ...]
EVENT_KINDS: tuple[EventKind, ...]
ROLLOUT_STATES: tuple[RolloutState, ...]
__all__ = [
    "EVENT_KINDS",
    "ROLLOUT_STATES",
    "STATUSES",
    "AuditReport",
    "BrokenLink",
    "Deployment",
    "Engine",
    "Event",
    "IdempotencyConflictError",
    "InstanceLogs",
    "InvalidTransitionError",
    "LocoError",
    "LogLine",
    "NotFoundError",
    "Page",
    "PayloadTooLargeError",
    "PlatformError",
    "Release",
    "RollbackFailedError",
    "Rollout",
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
    "__version__",
]

_Path = str | os.PathLike[str]
#: A JSON document: a ``dict`` with snake_case keys, or its JSON text.
_Document = dict[str, Any] | str
#: Analysis thresholds per environment.
_ThresholdsByEnvironment = Mapping[str, _Document]

@final
class Deployment:
    """The current state of one deployment. Timestamps are RFC 3339 UTC strings."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def id(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def requester(self) -> str: ...
    @property
    def work_refs(self) -> list[str]: ...
    @property
    def rollback_plan(self) -> str: ...
    @property
    def risk(self) -> str | None: ...
    @property
    def status(self) -> Status: ...
    @property
    def reviewed_by(self) -> str | None: ...
    @property
    def reviewed_at(self) -> str | None: ...
    @property
    def created_at(self) -> str: ...
    @property
    def updated_at(self) -> str: ...
    def to_dict(self) -> DeploymentDict: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Event:
    """One entry of a deployment's append-only history."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def seq(self) -> int: ...
    @property
    def id(self) -> str: ...
    @property
    def deployment_id(self) -> str: ...
    @property
    def kind(self) -> EventKind: ...
    @property
    def actor(self) -> str: ...
    @property
    def note(self) -> str | None: ...
    @property
    def from_status(self) -> Status | None: ...
    @property
    def to_status(self) -> Status | None: ...
    @property
    def at(self) -> str: ...
    @property
    def data(self) -> dict[str, Any] | None: ...
    @property
    def hash(self) -> str: ...
    def to_dict(self) -> EventDict: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Page:
    """One page of deployments, newest first, and the cursor of the next page."""

    @property
    def items(self) -> list[Deployment]: ...
    @property
    def next_cursor(self) -> str | None: ...
    def to_dict(self) -> PageDict: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Deployment]: ...

@final
class BrokenLink:
    """Where and why the audit chain first failed to verify."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def seq(self) -> int: ...
    @property
    def event_id(self) -> str: ...
    @property
    def deployment_id(self) -> str: ...
    @property
    def reason(self) -> str: ...
    def to_dict(self) -> BrokenLinkDict: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class AuditReport:
    """The result of ``verify_audit()``."""

    @property
    def valid(self) -> bool: ...
    @property
    def events_checked(self) -> int: ...
    @property
    def head_hash(self) -> str | None: ...
    @property
    def first_broken(self) -> BrokenLink | None: ...
    def to_dict(self) -> AuditReportDict: ...

@final
class Release:
    """A release that served (or serves) a service+environment."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def version(self) -> str: ...
    @property
    def deployment_id(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def spec(self) -> ReleaseSpecDict: ...
    @property
    def instances(self) -> list[InstanceDict]: ...
    @property
    def activated_at(self) -> str: ...
    @property
    def retired_at(self) -> str | None: ...
    def to_dict(self) -> ReleaseDict: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Rollout:
    """The durable record of one deployment's rollout."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def deployment_id(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def plan(self) -> dict[str, Any]: ...
    @property
    def state(self) -> RolloutState: ...
    @property
    def progress(self) -> RolloutProgressDict: ...
    @property
    def previous(self) -> Release | None: ...
    @property
    def failure(self) -> RolloutFailureDict | None: ...
    @property
    def actor(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def heartbeat_at(self) -> str: ...
    @property
    def started_at(self) -> str: ...
    @property
    def updated_at(self) -> str: ...
    @property
    def finished_at(self) -> str | None: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def analysis(self) -> JudgementDict | None: ...
    def to_dict(self) -> RolloutDict: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class LogLine:
    """One line of an instance's output."""

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def instance_id(self) -> str: ...
    @property
    def stream(self) -> LogStream: ...
    @property
    def line(self) -> str: ...
    def to_dict(self) -> LogLineDict: ...
    def __eq__(self, value: object, /) -> bool: ...

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
    ) -> Awaitable[Engine]: ...
    @staticmethod
    def open_in_memory(
        *,
        local_state_dir: _Path | None = None,
        thresholds: _ThresholdsByEnvironment | None = None,
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
        idempotency_key: str | None = None,
    ) -> Awaitable[Deployment]: ...
    def approve(self, id: str, actor: str, note: str | None = None) -> Awaitable[Deployment]: ...
    def reject(self, id: str, actor: str, note: str | None = None) -> Awaitable[Deployment]: ...
    def start(self, id: str, actor: str, note: str | None = None) -> Awaitable[Deployment]: ...
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
    def start_rollout(self, id: str, plan: _Document, actor: str) -> Awaitable[Rollout]: ...
    def run_rollout(self, id: str, plan: _Document, actor: str) -> Awaitable[Rollout]: ...
    def wait_rollout(self, id: str) -> Awaitable[Rollout]: ...
    def rollout(self, id: str) -> Awaitable[Rollout]: ...
    def rollouts(self, *, active_only: bool = False) -> Awaitable[builtins.list[Rollout]]: ...
    def releases(self, service: str, environment: str, *, limit: int = 50) -> Awaitable[builtins.list[Release]]: ...
    def override_rollout(self, id: str, actor: str, note: str) -> Awaitable[Rollout]: ...
    def set_thresholds(self, environment: str, thresholds: _Document) -> None: ...
    def logs(self, id: str, instance_id: str) -> InstanceLogs: ...
    def close(self) -> Awaitable[None]: ...
    def __aenter__(self) -> Awaitable[Engine]: ...
    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Awaitable[None]: ...

@final
class SyncEngine:
    """The deployment engine for blocking code: ``engine = loco.SyncEngine.open("loco.db")``."""

    @staticmethod
    def open(
        path: _Path,
        *,
        local_state_dir: _Path | None = None,
        thresholds: _ThresholdsByEnvironment | None = None,
    ) -> SyncEngine: ...
    @staticmethod
    def open_in_memory(
        *,
        local_state_dir: _Path | None = None,
        thresholds: _ThresholdsByEnvironment | None = None,
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
        idempotency_key: str | None = None,
    ) -> Deployment: ...
    def approve(self, id: str, actor: str, note: str | None = None) -> Deployment: ...
    def reject(self, id: str, actor: str, note: str | None = None) -> Deployment: ...
    def start(self, id: str, actor: str, note: str | None = None) -> Deployment: ...
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
    def start_rollout(self, id: str, plan: _Document, actor: str) -> Rollout: ...
    def run_rollout(self, id: str, plan: _Document, actor: str) -> Rollout: ...
    def wait_rollout(self, id: str) -> Rollout: ...
    def rollout(self, id: str) -> Rollout: ...
    def rollouts(self, *, active_only: bool = False) -> builtins.list[Rollout]: ...
    def releases(self, service: str, environment: str, *, limit: int = 50) -> builtins.list[Release]: ...
    def override_rollout(self, id: str, actor: str, note: str) -> Rollout: ...
    def set_thresholds(self, environment: str, thresholds: _Document) -> None: ...
    def logs(self, id: str, instance_id: str) -> SyncInstanceLogs: ...
    def close(self) -> None: ...
    def __enter__(self) -> SyncEngine: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

class LocoError(Exception):
    """Base class of every Loco error; ``code`` is the stable error code shared by every surface."""

    code: str
    details: list[FieldError]

class ValidationError(LocoError):
    """Input is missing or invalid (``validation_error``); ``details`` lists every bad field."""

class NotFoundError(LocoError):
    """No deployment has this id (``not_found``)."""

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
    state: str

class PlatformError(LocoError):
    """A platform operation failed (``platform_error``)."""

    platform: str

class RollbackFailedError(LocoError):
    """Restoring the previous release failed; the deployment is not serving a known-good release
    (``rollback_failed``)."""

    deployment_id: str
