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
rollback) and recovers rollouts an earlier engine left unfinished. A plan's ``validation`` checks
run before its rollout starts (``validate_plan(plan)`` runs them alone and returns a
:class:`ValidationReport`); a blocking finding refuses the start with
:class:`ValidationFailedError`, whose ``report`` is that report. Python objects can take part
too: platforms (:class:`Platform`, ``platforms=[...]``), metric sources for canary analysis
(:class:`MetricSource`, ``metric_sources=[...]``) and health probes (:class:`HealthProbe`,
``probes={name: fn}``).

Freeze windows (``set_freeze_window(window, by)``) name times when deployments to an environment
may not start: ``start`` and ``start_rollout`` then raise :class:`PolicyViolationError`, unless an
admin passes ``override_reason=...``, which the history records as a ``policy_override`` event.
One deployment per service and environment may be started at a time: a second ``start`` there
raises :class:`PolicyViolationError` (rule ``deploy_lock``) until the first succeeds, fails or is
rolled back; ``locks()`` lists them and ``release_lock(...)`` forces a stuck one free.
``schedule_start(id, at, actor)`` schedules a waiting deployment's start for a time (refused with
:class:`PolicyViolationError` inside a freeze window unless ``override_reason=...``);
``run_due_starts()``, which an embedding service calls on a timer of its own, starts those due as
their actor and returns them as they ended (:class:`ScheduledStart`, ``started`` or ``refused``);
``scheduled_starts()`` lists them and ``cancel_scheduled_start(id)`` cancels one.
Approval gates (``set_gate(gate, by)``) ask for N distinct reviewers of an environment's
deployments: each approval short of N is recorded as an ``approval_granted`` event, the Nth
approves; ``start`` before that raises :class:`ApprovalRequiredError` (``approvals``,
``required``), and inside the gate's ``wait_minutes`` after approval
:class:`PolicyViolationError` (rule ``wait_timer``). ``approval_status(id)`` returns an
:class:`ApprovalStatus`. A gate's ``groups`` admit the members of reviewer groups
(``set_group(group, by)``, ``groups()``, ``remove_group(name)``; :class:`ReviewerGroup`).
Pipelines (``set_pipeline(pipeline, by)``) order the environments a service's versions go
through: a ``create`` of a version in a stage it has not succeeded in the stage before raises
:class:`PolicyViolationError` (rule ``promotion_order``); ``promote(id, actor)`` creates a
succeeded deployment's version in the next stage with a ``promoted`` event, and
``pipeline_view(service, version)`` returns a :class:`PipelineView` of where it stands.
A service's whole release policy (its stages, each stage's rollout plan and approval gate, its
freeze windows) can be written in one ``service.yaml`` manifest: :func:`parse_manifest` reads and
checks one without an engine, raising :class:`ValidationError` whose ``details`` give each
problem's path, line and column; :func:`manifest_schema` returns its JSON Schema.
``apply_manifest(text, actor)`` sets all of it at once and stores the manifest as the service's
next version (the newest version's text again changes nothing and returns that version);
``manifest(service, version=None)``, ``manifest_history(service)`` and ``manifests()`` read the
versions applied, as plain ``dict`` objects (``ManifestRecordDict``).

Results are immutable objects (:class:`Deployment`, :class:`Event`, :class:`Page`,
:class:`AuditReport`, :class:`Rollout`, :class:`Release`, :class:`LogLine`,
:class:`ServiceDefinition`, :class:`ValidationReport`, :class:`ApprovalGate`,
:class:`ApprovalStatus`, :class:`ReviewerGroup`, :class:`Pipeline`, :class:`PipelineView`,
:class:`ScheduledStart`) whose ``to_dict()`` is the HTTP API's
JSON; timestamps are RFC 3339 UTC strings. They, the ``Literal`` names of statuses and codes, and the ``TypedDict`` shapes of
every JSON object are generated from the JSON Schema of the Rust data model (``loco._types``).
Errors are :class:`LocoError` subclasses carrying the stable ``code`` of every surface. See
``docs/python.md``.
"""

from . import _types
from ._loco import (
    ACTIVE_ROLLOUT_STATES,
    BUILD_PROFILE,
    EVENT_KINDS,
    ROLLOUT_STATES,
    STATUSES,
    ApprovalRequiredError,
    Engine,
    HealthProbe,
    IdempotencyConflictError,
    InstanceLogs,
    InvalidTransitionError,
    LocoError,
    MetricSource,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    Platform,
    PlatformError,
    PolicyViolationError,
    RateLimitedError,
    RollbackFailedError,
    RolloutConflictError,
    RolloutInProgressError,
    RolloutNotPausedError,
    SelfApprovalError,
    StorageError,
    Subscription,
    SyncEngine,
    SyncInstanceLogs,
    SyncSubscription,
    UnauthenticatedError,
    UnsupportedMediaTypeError,
    ValidationError,
    ValidationFailedError,
    __version__,
    manifest_schema,
    parse_manifest,
)
from ._types import *  # noqa: F403 (every name in _types.__all__)

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
    "PermissionDeniedError",
    "Platform",
    "PlatformError",
    "PolicyViolationError",
    "RateLimitedError",
    "RollbackFailedError",
    "RolloutConflictError",
    "RolloutInProgressError",
    "RolloutNotPausedError",
    "SelfApprovalError",
    "StorageError",
    "Subscription",
    "SyncEngine",
    "SyncInstanceLogs",
    "SyncSubscription",
    "UnauthenticatedError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "ValidationFailedError",
    "__version__",
    "manifest_schema",
    "parse_manifest",
]
__all__ += _types.__all__
