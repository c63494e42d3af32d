"""Result objects: attributes, ``to_dict()`` in exactly the HTTP JSON shape, ``repr``, equality,
paging, the audit report, metrics, and strings that round-trip verbatim."""

from __future__ import annotations

import pathlib
import re
import sqlite3
from typing import Any, Dict, List, Optional

import pytest

import loco
from conftest import request, run

DEPLOYMENT_FIELDS = {
    "id",
    "service",
    "environment",
    "version",
    "requester",
    "work_refs",
    "rollback_plan",
    "risk",
    "commit",
    "status",
    "reviewed_by",
    "reviewed_at",
    "created_at",
    "updated_at",
}
EVENT_FIELDS = {"seq", "id", "deployment_id", "kind", "actor", "request_id", "note", "from_status", "to_status", "at", "data", "hash"}
RFC3339_UTC_MICROS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_deployment_attributes_and_to_dict(sync_engine: loco.SyncEngine) -> None:
    d = sync_engine.create(**request(environment="prod", risk="migration", commit="9f2c1e7"))
    as_dict: Dict[str, Any] = dict(d.to_dict())
    assert set(as_dict) == DEPLOYMENT_FIELDS
    for field in DEPLOYMENT_FIELDS:
        assert getattr(d, field) == as_dict[field], field
    assert d.id.startswith("dep_") and len(d.id) == 30
    assert (d.status, d.risk, d.reviewed_by, d.reviewed_at) == ("pending_approval", "migration", None, None)
    assert d.commit == "9f2c1e7"
    assert RFC3339_UTC_MICROS.match(d.created_at) and d.created_at == d.updated_at

    approved = sync_engine.approve(d.id, "bob")
    assert approved.reviewed_by == "bob"
    assert approved.reviewed_at is not None and RFC3339_UTC_MICROS.match(approved.reviewed_at)
    assert approved.updated_at == approved.reviewed_at
    assert approved.created_at == d.created_at


def test_event_attributes_and_to_dict(sync_engine: loco.SyncEngine) -> None:
    d = sync_engine.create(**request())
    sync_engine.reject(d.id, "bob", "not this week")
    created, rejected = sync_engine.events(d.id)
    for event in (created, rejected):
        as_dict: Dict[str, Any] = dict(event.to_dict())
        assert set(as_dict) == EVENT_FIELDS
        for field in EVENT_FIELDS:
            assert getattr(event, field) == as_dict[field], field
        assert event.id.startswith("evt_") and len(event.hash) == 64
        assert RFC3339_UTC_MICROS.match(event.at)
    assert (created.seq, created.kind, created.actor, created.from_status, created.to_status, created.note) == (
        1,
        "created",
        "alice@example.com",
        None,
        "pending_approval",
        None,
    )
    assert (rejected.seq, rejected.kind, rejected.from_status, rejected.to_status, rejected.note) == (
        2,
        "rejected",
        "pending_approval",
        "rejected",
        "not this week",
    )
    assert rejected.at == sync_engine.get(d.id).reviewed_at
    assert created.data == {**request(), "risk": None}, "created carries the request it accepted"
    assert rejected.data is None


def test_results_are_values(sync_engine: loco.SyncEngine) -> None:
    d = sync_engine.create(**request())
    assert sync_engine.get(d.id) == d
    assert sync_engine.get(d.id) != sync_engine.approve(d.id, "bob")
    assert sync_engine.events(d.id)[0] == sync_engine.events(d.id)[0]
    with pytest.raises(AttributeError):
        d.status = "approved"  # type: ignore[misc]
    with pytest.raises(TypeError):
        hash(d)
    refs = d.work_refs
    refs.append("mutated")
    assert sync_engine.get(d.id).work_refs == ["PAY-142"]


def test_reprs_name_the_essentials(sync_engine: loco.SyncEngine) -> None:
    d = sync_engine.create(**request(service="it's"))
    assert repr(d) == (
        f"Deployment(id='{d.id}', service=\"it's\", environment='staging', version='1.4.0', "
        "status='pending_approval')"
    )
    (event,) = sync_engine.events(d.id)
    assert repr(event) == (
        f"Event(seq=1, deployment_id='{d.id}', kind='created', actor='alice@example.com', "
        "to_status='pending_approval')"
    )
    assert repr(sync_engine.verify_audit()) == "AuditReport(valid=True, events_checked=1, first_broken=None)"
    assert repr(sync_engine.list(limit=1)) == f"Page(items=[{d!r}], next_cursor=None)"
    assert repr(sync_engine).startswith("SyncEngine('") and repr(loco.SyncEngine.open_in_memory()) == (
        "SyncEngine(':memory:')"
    )


def test_pages_walk_every_deployment_once_newest_first(sync_engine: loco.SyncEngine) -> None:
    ids = [sync_engine.create(**request(service="pay" if i % 3 else "auth")).id for i in range(12)]
    seen: List[str] = []
    cursor: Optional[str] = None
    pages = 0
    while True:
        page = sync_engine.list(service="pay", limit=3, cursor=cursor)
        pages += 1
        assert len(page) == len(page.items) <= 3
        assert list(page) == page.items
        seen.extend(d.id for d in page)
        as_dict: Dict[str, Any] = dict(page.to_dict())
        assert set(as_dict) == {"items", "next_cursor"}
        assert as_dict["items"] == [d.to_dict() for d in page.items]
        assert as_dict["next_cursor"] == page.next_cursor
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = [i for n, i in enumerate(ids) if n % 3][::-1]
    assert seen == expected
    assert pages == 3
    assert len(sync_engine.list()) == 12
    assert [d.id for d in sync_engine.list(service="auth", environment="staging")] == [ids[9], ids[6], ids[3], ids[0]]
    assert len(sync_engine.list(environment="production")) == 0


def test_list_filters_by_status(sync_engine: loco.SyncEngine) -> None:
    a = sync_engine.create(**request())
    b = sync_engine.create(**request())
    sync_engine.approve(b.id, "bob")
    assert [d.id for d in sync_engine.list(status="approved")] == [b.id]
    assert [d.id for d in sync_engine.list(status="pending_approval")] == [a.id]
    assert len(sync_engine.list(status="rolled_back")) == 0


def test_audit_report(sync_engine: loco.SyncEngine) -> None:
    empty = sync_engine.verify_audit()
    assert empty.to_dict() == {
        "valid": True,
        "events_checked": 0,
        "deployments_checked": 0,
        "deployments_status_only": 0,
        "head_hash": None,
        "exported_head_seq": None,
        "first_broken": None,
    }
    d = sync_engine.create(**request())
    sync_engine.approve(d.id, "bob")
    report = sync_engine.verify_audit()
    assert (report.valid, report.events_checked, report.first_broken) == (True, 2, None)
    assert report.head_hash == sync_engine.events(d.id)[-1].hash


def test_audit_report_names_the_first_broken_link(db_path: pathlib.Path) -> None:
    engine = loco.SyncEngine.open(db_path)
    d = engine.create(**request())
    engine.approve(d.id, "bob", "fine")
    engine.start(d.id, "bot")
    engine.close()
    # Tamper the way an attacker with file access would: drop the append-only guard, edit a note.
    with sqlite3.connect(db_path) as db:
        db.execute("DROP TRIGGER deployment_events_are_append_only_update")
        db.execute("UPDATE deployment_events SET note = 'edited' WHERE seq = 2")
    db.close()

    engine = loco.SyncEngine.open(db_path)
    report = engine.verify_audit()
    engine.close()
    assert (report.valid, report.events_checked, report.head_hash) == (False, 2, None)
    link = report.first_broken
    assert link is not None
    assert (link.seq, link.deployment_id) == (2, d.id)
    assert link.event_id.startswith("evt_") and link.reason
    as_dict: Dict[str, Any] = dict(report.to_dict())
    assert as_dict["first_broken"] == link.to_dict()
    assert set(link.to_dict()) == {"seq", "event_id", "deployment_id", "field", "reason"}
    assert link.field is None
    assert repr(link).startswith("BrokenLink(seq=2, event_id='evt_")


def test_metrics_text_counts_statuses(sync_engine: loco.SyncEngine) -> None:
    d = sync_engine.create(**request())
    sync_engine.approve(d.id, "bob")
    with pytest.raises(loco.ValidationError):
        sync_engine.create(**request(service=""))
    text = sync_engine.metrics_text()
    assert 'sparki_deployment_total{stage="staging",platform="none",strategy="none",status="approved"} 1' in text
    assert 'sparki_deployment_validation_errors_total{stage="staging",error_type="service"} 1' in text
    assert text.endswith("# EOF\n")


def test_unicode_round_trips_verbatim(db_path: pathlib.Path) -> None:
    odd: Dict[str, Any] = {
        "service": "支付-サービス 🚀",
        "environment": "staging",
        "version": "v1.0.0'; DROP TABLE deployments; --",
        "requester": "zoë@example.com",
        "work_refs": ['" OR 1=1 --', "PAY-142", "%s%n{}", "ℵ₀"],
        "rollback_plan": "line 1\nline 2\ttabbed — ünïcode \U0001f980",
        "risk": "  surrounding spaces kept  ",
    }

    async def scenario() -> None:
        async with await loco.Engine.open(db_path) as engine:
            d = await engine.create(**odd)
            await engine.approve(d.id, "Łukasz 🦀", "ça va — 承認")
            got = await engine.get(d.id)
            for key, value in odd.items():
                assert getattr(got, key) == value, key
            approved = (await engine.events(d.id))[1]
            assert (approved.actor, approved.note) == ("Łukasz 🦀", "ça va — 承認")
            listed = await engine.list(service="支付-サービス 🚀")
            assert [x.id for x in listed] == [d.id]

    run(scenario)


def test_in_memory_engines_are_private(db_path: pathlib.Path) -> None:
    async def scenario() -> None:
        one = await loco.Engine.open_in_memory()
        two = await loco.Engine.open_in_memory()
        d = await one.create(**request())
        assert (await one.get(d.id)).id == d.id
        with pytest.raises(loco.NotFoundError):
            await two.get(d.id)
        assert repr(one) == "Engine(':memory:')"
        await one.close()
        await two.close()

    run(scenario)


def test_engines_open_str_and_pathlike_paths(db_path: pathlib.Path) -> None:
    with loco.SyncEngine.open(str(db_path)) as engine:
        d = engine.create(**request())
    with loco.SyncEngine.open(db_path) as engine:
        assert engine.get(d.id).id == d.id
    with pytest.raises(loco.StorageError):
        engine.get(d.id)
