"""Loco: an embeddable deployment engine.

A deployment moves through a reviewed lifecycle (``pending_approval`` → ``approved`` → ``started``
→ ``succeeded``/``failed``, with ``rejected`` and ``rolled_back`` as terminal exits); every action
appends one hash-chained event to a durable SQLite store.

Two doors into the same Rust engine:

- :class:`Engine` for asyncio: ``engine = await loco.Engine.open("loco.db")``; every method returns
  an awaitable, and ``async for event in engine.subscribe()`` streams committed events.
- :class:`SyncEngine` for blocking code: ``engine = loco.SyncEngine.open("loco.db")``; the same
  methods return results directly and release the GIL while they work.

Results are immutable objects (:class:`Deployment`, :class:`Event`, :class:`Page`,
:class:`AuditReport`) whose ``to_dict()`` is the HTTP API's JSON; timestamps are RFC 3339 UTC
strings. Errors are :class:`LocoError` subclasses carrying the stable ``code`` of every surface.
See ``docs/python.md``.
"""

from ._loco import (
    EVENT_KINDS,
    STATUSES,
    AuditReport,
    BrokenLink,
    Deployment,
    Engine,
    Event,
    IdempotencyConflictError,
    InvalidTransitionError,
    LocoError,
    NotFoundError,
    Page,
    PayloadTooLargeError,
    PlatformError,
    RollbackFailedError,
    RolloutConflictError,
    RolloutInProgressError,
    RolloutNotPausedError,
    SelfApprovalError,
    StorageError,
    Subscription,
    SyncEngine,
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
    PageDict,
    Status,
)

__all__ = [
    "EVENT_KINDS",
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
    "InvalidTransitionError",
    "LocoError",
    "NotFoundError",
    "Page",
    "PageDict",
    "PayloadTooLargeError",
    "PlatformError",
    "RollbackFailedError",
    "RolloutConflictError",
    "RolloutInProgressError",
    "RolloutNotPausedError",
    "SelfApprovalError",
    "Status",
    "StorageError",
    "Subscription",
    "SyncEngine",
    "SyncSubscription",
    "ValidationError",
    "__version__",
]
