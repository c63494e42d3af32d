"""Type names of the ``loco`` package: status, event-kind and action literals, and the shapes of
the dictionaries that ``to_dict()`` and ``LocoError.details`` return (the HTTP API's JSON)."""

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
