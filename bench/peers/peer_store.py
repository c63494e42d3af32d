"""A plain pure-Python implementation of Loco's lifecycle contract on the sqlite3 module.

It is the benchmark's peer: what a competent Python developer would write for the same job.
WAL and synchronous=FULL, the same two tables (current state + append-only events), one
transaction per action, the same validation, transition and self-approval rules, and the same
SHA-256 event chain. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from datetime import datetime, timezone

SCHEMA = """
CREATE TABLE IF NOT EXISTS deployments (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    service         TEXT NOT NULL,
    environment     TEXT NOT NULL,
    version         TEXT NOT NULL,
    requester       TEXT NOT NULL,
    work_refs       TEXT NOT NULL,
    rollback_plan   TEXT NOT NULL,
    risk            TEXT,
    status          TEXT NOT NULL,
    reviewed_by     TEXT,
    reviewed_at     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deployments_by_service_env ON deployments (service, environment, seq);
CREATE INDEX IF NOT EXISTS deployments_by_status ON deployments (status, seq);

CREATE TABLE IF NOT EXISTS deployment_events (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    deployment_id TEXT NOT NULL REFERENCES deployments (id),
    kind          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    note          TEXT,
    from_status   TEXT,
    to_status     TEXT,
    at            TEXT NOT NULL,
    hash          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deployment_events_by_deployment ON deployment_events (deployment_id, seq);
"""

# action -> (statuses it is allowed from, status it leads to, event kind)
TRANSITIONS = {
    "approve": ({"pending_approval"}, "approved", "approved"),
    "reject": ({"pending_approval"}, "rejected", "rejected"),
    "start": ({"approved"}, "started", "started"),
    "succeed": ({"started"}, "succeeded", "succeeded"),
    "fail": ({"started"}, "failed", "failed"),
    "rollback": ({"started", "succeeded", "failed"}, "rolled_back", "rolled_back"),
}
NOTE_REQUIRED = {"reject", "fail", "rollback"}
REVIEW_ACTIONS = {"approve", "reject"}
NAME_MAX = 256
TEXT_MAX = 64 * 1024
WORK_REFS_MAX = 100

COLUMNS = (
    "id, service, environment, version, requester, work_refs, rollback_plan, risk, status, "
    "reviewed_by, reviewed_at, created_at, updated_at"
)


class LifecycleError(Exception):
    """A refused request; `code` is the same string Loco uses."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _check_name(errors: list[str], field: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{field} is required")
    elif len(value) > NAME_MAX or any(ord(c) < 32 for c in value):
        errors.append(f"{field} is too long or has control characters")


def _check_text(errors: list[str], field: str, value: object, required: bool) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(f"{field} is required")
    elif not isinstance(value, str) or len(value) > TEXT_MAX:
        errors.append(f"{field} must be text of at most 64 KiB")


def validate_new(fields: dict) -> None:
    errors: list[str] = []
    for name in ("service", "environment", "version", "requester"):
        _check_name(errors, name, fields.get(name))
    refs = fields.get("work_refs")
    if not isinstance(refs, list) or not refs or len(refs) > WORK_REFS_MAX:
        errors.append("work_refs needs 1 to 100 references")
    else:
        for i, ref in enumerate(refs):
            _check_name(errors, f"work_refs[{i}]", ref)
    _check_text(errors, "rollback_plan", fields.get("rollback_plan"), True)
    environment = fields.get("environment")
    production = isinstance(environment, str) and environment.strip().lower() in ("production", "prod")
    _check_text(errors, "risk", fields.get("risk"), production)
    if errors:
        raise LifecycleError("validation_error", "; ".join(errors))


def event_hash(prev_hash: str, seq: int, event: dict) -> str:
    canonical = json.dumps(
        [
            seq,
            event["id"],
            event["deployment_id"],
            event["kind"],
            event["actor"],
            event["note"],
            event["from_status"],
            event["to_status"],
            event["at"],
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


class Store:
    """One sqlite3 connection; every action is one IMMEDIATE transaction."""

    def __init__(self, path: str, create_schema: bool = True) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        if create_schema:
            self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def _append_event(self, deployment_id: str, kind: str, actor: str, note, from_status, to_status, at: str) -> None:
        row = self.conn.execute("SELECT seq, hash FROM deployment_events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (row[0] + 1, row[1]) if row else (1, "")
        event = {
            "id": "evt_" + uuid.uuid4().hex,
            "deployment_id": deployment_id,
            "kind": kind,
            "actor": actor,
            "note": note,
            "from_status": from_status,
            "to_status": to_status,
            "at": at,
        }
        self.conn.execute(
            "INSERT INTO deployment_events (seq, id, deployment_id, kind, actor, note, from_status, to_status, at, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, event["id"], deployment_id, kind, actor, note, from_status, to_status, at, event_hash(prev, seq, event)),
        )

    def create(self, **fields) -> dict:
        validate_new(fields)
        at = now()
        deployment = {
            "id": "dep_" + uuid.uuid4().hex,
            "service": fields["service"],
            "environment": fields["environment"],
            "version": fields["version"],
            "requester": fields["requester"],
            "work_refs": list(fields["work_refs"]),
            "rollback_plan": fields["rollback_plan"],
            "risk": fields.get("risk"),
            "status": "pending_approval",
            "reviewed_by": None,
            "reviewed_at": None,
            "created_at": at,
            "updated_at": at,
        }
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute(
                f"INSERT INTO deployments ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    deployment["id"],
                    deployment["service"],
                    deployment["environment"],
                    deployment["version"],
                    deployment["requester"],
                    json.dumps(deployment["work_refs"]),
                    deployment["rollback_plan"],
                    deployment["risk"],
                    "pending_approval",
                    None,
                    None,
                    at,
                    at,
                ),
            )
            self._append_event(deployment["id"], "created", deployment["requester"], None, None, "pending_approval", at)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return deployment

    def apply(self, deployment_id: str, action: str, actor: str, note: str | None = None) -> dict:
        errors: list[str] = []
        _check_name(errors, "actor", actor)
        _check_text(errors, "note", note, action in NOTE_REQUIRED)
        if errors:
            raise LifecycleError("validation_error", "; ".join(errors))
        allowed_from, to_status, kind = TRANSITIONS[action]
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            deployment = self._get(deployment_id)
            if deployment is None:
                raise LifecycleError("not_found", f"deployment '{deployment_id}' not found")
            from_status = deployment["status"]
            if from_status not in allowed_from:
                raise LifecycleError(
                    "invalid_transition", f"deployment '{deployment_id}' is {from_status}; cannot {action}"
                )
            if action in REVIEW_ACTIONS and actor.strip().lower() == deployment["requester"].strip().lower():
                raise LifecycleError("self_approval", f"{actor} requested '{deployment_id}' and cannot {action} it")
            at = now()
            deployment["status"] = to_status
            deployment["updated_at"] = at
            if action in REVIEW_ACTIONS:
                deployment["reviewed_by"] = actor
                deployment["reviewed_at"] = at
            self.conn.execute(
                "UPDATE deployments SET status = ?, updated_at = ?, reviewed_by = ?, reviewed_at = ? WHERE id = ?",
                (to_status, at, deployment["reviewed_by"], deployment["reviewed_at"], deployment_id),
            )
            self._append_event(deployment_id, kind, actor, note, from_status, to_status, at)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return deployment

    def approve(self, deployment_id: str, actor: str, note: str | None = None) -> dict:
        return self.apply(deployment_id, "approve", actor, note)

    def start(self, deployment_id: str, actor: str, note: str | None = None) -> dict:
        return self.apply(deployment_id, "start", actor, note)

    def succeed(self, deployment_id: str, actor: str, note: str | None = None) -> dict:
        return self.apply(deployment_id, "succeed", actor, note)

    def get(self, deployment_id: str) -> dict | None:
        return self._get(deployment_id)

    def _get(self, deployment_id: str) -> dict | None:
        row = self.conn.execute(f"SELECT {COLUMNS} FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
        if row is None:
            return None
        names = [c.strip() for c in COLUMNS.split(",")]
        deployment = dict(zip(names, row))
        deployment["work_refs"] = json.loads(deployment["work_refs"])
        return deployment
