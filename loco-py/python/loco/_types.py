"""Type names of the ``loco`` package: status, event-kind, action and rollout literals, and the
shapes of the dictionaries that ``to_dict()``, the rollout attributes and ``LocoError.details``
return (the HTTP API's JSON)."""

from typing import Any, Dict, List, Literal, Optional, TypedDict

#: Where a deployment is in its lifecycle.
Status = Literal[
    "pending_approval",
    "approved",
    "rejected",
    "started",
    "succeeded",
    "failed",
    "rolled_back",
]

#: What an event records: ``created`` and one kind per lifecycle action, plus the rollout events
#: ``step_progress``, ``health_check``, ``analysis`` and ``canary_promoted`` (which carry their facts
#: in ``Event.data``).
EventKind = Literal[
    "created",
    "approved",
    "rejected",
    "started",
    "succeeded",
    "failed",
    "rolled_back",
    "step_progress",
    "health_check",
    "analysis",
    "canary_promoted",
]

#: A lifecycle action, as named in ``InvalidTransitionError.action`` and ``SelfApprovalError.action``.
Action = Literal["approve", "reject", "start", "succeed", "fail", "rollback"]


class FieldError(TypedDict):
    """One invalid input field of a ``ValidationError``."""

    field: str
    message: str


class DeploymentDict(TypedDict):
    """``Deployment.to_dict()``: the HTTP API's deployment JSON."""

    id: str
    service: str
    environment: str
    version: str
    requester: str
    work_refs: List[str]
    rollback_plan: str
    risk: Optional[str]
    status: Status
    reviewed_by: Optional[str]
    reviewed_at: Optional[str]
    created_at: str
    updated_at: str


class EventDict(TypedDict):
    """``Event.to_dict()``: the HTTP API's event JSON."""

    seq: int
    id: str
    deployment_id: str
    kind: EventKind
    actor: str
    note: Optional[str]
    from_status: Optional[Status]
    to_status: Optional[Status]
    at: str
    data: Optional[Dict[str, Any]]
    hash: str


class PageDict(TypedDict):
    """``Page.to_dict()``: the HTTP API's list response."""

    items: List[DeploymentDict]
    next_cursor: Optional[str]


class BrokenLinkDict(TypedDict):
    """``BrokenLink.to_dict()``."""

    seq: int
    event_id: str
    deployment_id: str
    reason: str


class AuditReportDict(TypedDict):
    """``AuditReport.to_dict()``."""

    valid: bool
    events_checked: int
    head_hash: Optional[str]
    first_broken: Optional[BrokenLinkDict]


#: Where a rollout is; ``running``, ``paused`` and ``rolling_back`` hold the service+environment.
RolloutState = Literal["running", "paused", "succeeded", "rolling_back", "rolled_back", "rollback_failed"]

#: The canary judge's answer.
Verdict = Literal["pass", "fail", "inconclusive"]

#: How bad a failed verdict is: ``critical`` rolls back at once, ``high`` pauses for a person.
Severity = Literal["critical", "high"]

#: What the engine last recorded about an instance.
InstanceState = Literal["starting", "running", "stopped"]

#: Which output stream a log line came from.
LogStream = Literal["stdout", "stderr"]


class TrafficWeightDict(TypedDict):
    """A share of traffic for one release version (the shares of one split add up to 100)."""

    version: str
    percent: int


class InstanceDict(TypedDict):
    """One running copy of a release."""

    id: str
    version: str
    address: Optional[str]
    pid: Optional[int]
    state: InstanceState


class WindowStatsDict(TypedDict):
    """Metrics of one release version over an observation window."""

    requests: int
    errors: int
    error_rate: float
    p50_ms: Optional[float]
    p95_ms: Optional[float]
    p99_ms: Optional[float]
    cpu_percent: Optional[float]
    memory_percent: Optional[float]


class SignificanceTestDict(TypedDict):
    """One statistical test: is the canary worse than the baseline?"""

    statistic: float
    z: float
    p_value: float


class JudgementDict(TypedDict):
    """A verdict of the canary analysis with the numbers behind it (``Rollout.analysis``)."""

    verdict: Verdict
    severity: Optional[Severity]
    reasons: List[str]
    canary: WindowStatsDict
    baseline: Optional[WindowStatsDict]
    error_rate_test: Optional[SignificanceTestDict]
    latency_test: Optional[SignificanceTestDict]


class RolloutProgressDict(TypedDict):
    """``Rollout.progress``: where a rollout's steps stand, recorded after every step."""

    completed_steps: int
    total_steps: int
    step: str
    traffic: List[TrafficWeightDict]
    instances: List[InstanceDict]
    endpoint: Optional[str]
    analysis: Optional[JudgementDict]


class RolloutFailureDict(TypedDict):
    """``Rollout.failure``: why a rollout did not succeed (``code`` such as ``analysis_critical``,
    ``health_check_failed``, ``pause_timeout``, ``rollback_requested``, ``engine_restarted``)."""

    code: str
    message: str
    step: Optional[int]


class ReleaseSpecDict(TypedDict):
    """``Release.spec``: how a release is run (the plan's ``release`` with defaults filled in)."""

    version: str
    command: List[str]
    env: Dict[str, str]
    image: Optional[str]


class ReleaseDict(TypedDict):
    """``Release.to_dict()``: the HTTP API's release JSON."""

    version: str
    deployment_id: str
    platform: str
    spec: ReleaseSpecDict
    instances: List[InstanceDict]
    activated_at: str
    retired_at: Optional[str]


class RolloutDict(TypedDict):
    """``Rollout.to_dict()``: the HTTP API's rollout JSON."""

    deployment_id: str
    service: str
    environment: str
    platform: str
    plan: Dict[str, Any]
    state: RolloutState
    progress: RolloutProgressDict
    previous: Optional[ReleaseDict]
    failure: Optional[RolloutFailureDict]
    actor: str
    owner: str
    heartbeat_at: str
    started_at: str
    updated_at: str
    finished_at: Optional[str]


class LogLineDict(TypedDict):
    """``LogLine.to_dict()``."""

    instance_id: str
    stream: LogStream
    line: str
