"""Loco: an embeddable deployment engine.

A deployment moves through a reviewed lifecycle (``pending_approval`` → ``approved`` → ``started``
→ ``succeeded``/``failed``, with ``rejected`` and ``rolled_back`` as terminal exits); every action
appends one hash-chained event to a durable SQLite store.

Two doors into the same Rust engine:

- :class:`Engine` for asyncio: ``engine = await loco.Engine.open("loco.db")``; every method returns
  an awaitable, and ``async for event in engine.subscribe()`` streams committed events.
- :class:`SyncEngine` for blocking code: ``engine = loco.SyncEngine.open("loco.db")``; the same
  methods return results directly and release the GIL while they work.

With ``local_state_dir=...`` at open, the engine also runs rollouts on this machine
(``run_rollout(id, plan, actor)``: processes behind a weighted proxy, canary analysis, automatic
rollback) and recovers rollouts an earlier engine left unfinished.

Results are immutable objects (:class:`Deployment`, :class:`Event`, :class:`Page`,
:class:`AuditReport`, :class:`Rollout`, :class:`Release`) whose ``to_dict()`` is the HTTP API's
JSON; timestamps are RFC 3339 UTC strings. Errors are :class:`LocoError` subclasses carrying the stable ``code`` of every surface.
See ``docs/python.md``.
"""

from ._loco import (
    EVENT_KINDS,
    ROLLOUT_STATES,
    STATUSES,
    AuditReport,
    BrokenLink,
    Deployment,
    Engine,
    Event,
    IdempotencyConflictError,
    InstanceLogs,
    InvalidTransitionError,
    LocoError,
    LogLine,
    NotFoundError,
    Page,
    PayloadTooLargeError,
    PlatformError,
    Release,
    RollbackFailedError,
    Rollout,
    RolloutConflictError,
    RolloutInProgressError,
    RolloutNotPausedError,
    SelfApprovalError,
    StorageError,
    Subscription,
    SyncEngine,
    SyncInstanceLogs,
    SyncSubscription,
    ValidationError,
    __version__,
)
from ._types import (
    Action,
    AuditReportDict,
    BrokenLinkDict,
    DeploymentDict,
    EventDict,
    EventKind,
    FieldError,
    InstanceDict,
    InstanceState,
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
    Severity,
    SignificanceTestDict,
    Status,
    TrafficWeightDict,
    Verdict,
    WindowStatsDict,
)

__all__ = [
    "EVENT_KINDS",
    "ROLLOUT_STATES",
    "STATUSES",
    "Action",
    "AuditReport",
    "AuditReportDict",
    "BrokenLink",
    "BrokenLinkDict",
    "Deployment",
    "DeploymentDict",
    "Engine",
    "Event",
    "EventDict",
    "EventKind",
    "FieldError",
    "IdempotencyConflictError",
    "InstanceDict",
    "InstanceLogs",
    "InstanceState",
    "InvalidTransitionError",
    "JudgementDict",
    "LocoError",
    "LogLine",
    "LogLineDict",
    "LogStream",
    "NotFoundError",
    "Page",
    "PageDict",
    "PayloadTooLargeError",
    "PlatformError",
    "Release",
    "ReleaseDict",
    "ReleaseSpecDict",
    "RollbackFailedError",
    "Rollout",
    "RolloutConflictError",
    "RolloutDict",
    "RolloutFailureDict",
    "RolloutInProgressError",
    "RolloutNotPausedError",
    "RolloutProgressDict",
    "RolloutState",
    "SelfApprovalError",
    "Severity",
    "SignificanceTestDict",
    "Status",
    "StorageError",
    "Subscription",
    "SyncEngine",
    "SyncInstanceLogs",
    "SyncSubscription",
    "TrafficWeightDict",
    "ValidationError",
    "Verdict",
    "WindowStatsDict",
    "__version__",
]
