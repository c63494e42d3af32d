"""The audit from Python: an edited deployment is named with its field, and a head exported with
``audit_head()`` (signed with ``LOCO_AUDIT_KEY``) finds events deleted from the end of the chain, a
wrong key and a forged head."""

from __future__ import annotations

import json
import pathlib
import sqlite3

import pytest

import loco
from conftest import request, run


def tamper(db_path: pathlib.Path, *statements: str) -> None:
    """Edits the file the way an attacker with file access would: around the append-only guards."""
    db = sqlite3.connect(db_path)
    with db:
        db.execute("DROP TRIGGER IF EXISTS deployment_events_are_append_only_delete")
        for statement in statements:
            db.execute(statement)
    db.close()


def test_an_edited_version_is_named_with_its_field(db_path: pathlib.Path) -> None:
    engine = loco.SyncEngine.open(db_path)
    d = engine.create(**request())
    tamper(db_path, f"UPDATE deployments SET version = '9.9.9' WHERE id = '{d.id}'")
    report = engine.verify_audit()
    engine.close()
    link = report.first_broken
    assert link is not None and not report.valid
    assert (link.deployment_id, link.field) == (d.id, "version")
    assert link.reason == f"deployment {d.id} has version '9.9.9' but its events establish '1.4.0'"


def test_an_exported_head_finds_a_truncated_chain(db_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCO_AUDIT_KEY", "a long random secret")
    engine = loco.SyncEngine.open(db_path)
    engine.create(**request())
    newest = engine.create(**request(service="web"))
    head = engine.audit_head()
    assert isinstance(head, loco.AuditHead)
    assert (head.seq, len(head.hash), len(head.hmac or "")) == (2, 64, 64)
    assert head.at == engine.events(newest.id)[-1].at
    assert repr(head).startswith("AuditHead(seq=2, hash='")
    report = engine.verify_audit_against(head.to_dict())
    assert (report.valid, report.exported_head_seq, report.deployments_checked) == (True, 2, 2)

    tamper(
        db_path,
        f"DELETE FROM deployment_events WHERE deployment_id = '{newest.id}'",
        f"DELETE FROM deployments WHERE id = '{newest.id}'",
    )
    assert engine.verify_audit().valid, "a truncated chain is consistent by itself"
    report = engine.verify_audit_against(json.dumps(head.to_dict()))
    assert report.first_broken is not None and not report.valid
    assert "the chain ends at #1" in report.first_broken.reason

    monkeypatch.setenv("LOCO_AUDIT_KEY", "some other key")
    report = engine.verify_audit_against(head.to_dict())
    assert report.first_broken is not None and "HMAC does not match" in report.first_broken.reason
    monkeypatch.delenv("LOCO_AUDIT_KEY")
    with pytest.raises(loco.ValidationError) as raised:
        engine.verify_audit_against(head.to_dict())
    assert [d["field"] for d in raised.value.details] == ["head.hmac"]
    engine.close()


def test_the_async_engine_exports_and_checks_heads(db_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCO_AUDIT_KEY", raising=False)

    async def scenario() -> None:
        engine = await loco.Engine.open(db_path)
        await engine.create(**request())
        head = await engine.audit_head()
        assert (head.seq, head.hmac) == (1, None)
        report = await engine.verify_audit_against(head.to_dict())
        assert report.valid and report.exported_head_seq == 1
        with pytest.raises(loco.ValidationError):
            await engine.verify_audit_against({"seq": 1, "hash": "abc"})
        await engine.close()

    run(scenario)
