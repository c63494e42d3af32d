"""Approval gates from Python on real SQLite files: a gate set, listed, replaced and kept across
reopening; two of three named reviewers approving, the first recorded as an ``approval_granted``
event; a start short of the approvals refused with ``ApprovalRequiredError`` carrying the count;
a start inside the gate's wait refused with ``PolicyViolationError`` (rule ``wait_timer``) until an
admin overrides it; bad gates and bad times refused naming their fields; reviewer groups a gate
admits by name, kept from removal while named; and the same through the asyncio ``Engine``."""

from __future__ import annotations

import datetime
import json
import pathlib
from typing import Any, Dict, List

import pytest

import loco
from conftest import request, run

RISK = "low: config only"


def two_of(*approvers: str, **extra: Any) -> Dict[str, Any]:
    """A production gate asking for two approvals (of ``approvers`` when named)."""
    return {"environment": "production", "required_approvals": 2, "approvers": list(approvers), **extra}


def pending(engine: loco.SyncEngine, environment: str = "production") -> str:
    return engine.create(**request(environment=environment, risk=RISK)).id


def kinds(events: List[loco.Event]) -> List[str]:
    return [e.kind for e in events]


def fields(error: loco.LocoError) -> List[str]:
    return [d["field"] for d in error.details]


def test_two_of_three_named_reviewers_approve_and_the_gate_and_history_survive_reopening(
    tmp_path: pathlib.Path,
) -> None:
    db = tmp_path / "loco.db"
    with loco.SyncEngine.open(db) as engine:
        stored = engine.set_gate(two_of("bob", "carol", "erin"), "root")
        assert isinstance(stored, loco.ApprovalGate)
        assert stored.to_dict() == {
            "environment": "production", "service": None, "required_approvals": 2,
            "approvers": ["bob", "carol", "erin"], "groups": [], "expires_after_minutes": None, "wait_minutes": None,
        }
        id = pending(engine)

        first = engine.approve(id, "carol", "looks fine")
        assert first.status == "pending_approval"
        granted = engine.events(id)[-1]
        assert (granted.kind, granted.actor, granted.note) == ("approval_granted", "carol", "looks fine")
        assert granted.data == {"approvals": 1, "required": 2}
        status = engine.approval_status(id)
        assert isinstance(status, loco.ApprovalStatus)
        assert (status.deployment_id, status.environment, status.status) == (id, "production", "pending_approval")
        assert ([a.actor for a in status.approvals], status.required, status.rejected) == (["carol"], 2, False)
        assert status.approvals[0].note == "looks fine"
        assert status.approvals[0].at == granted.at

    with loco.SyncEngine.open(db) as engine:
        assert engine.gates() == [stored]
        assert [a.actor for a in engine.approval_status(id).approvals] == ["carol"], "the approval is in the file"
        with pytest.raises(loco.PolicyViolationError) as outsider:
            engine.approve(id, "mallory")
        assert (outsider.value.rule, fields(outsider.value)) == ("approval_gate", ["approval_gate"])
        assert engine.approve(id, "bob").status == "approved"
        assert kinds(engine.events(id)) == ["created", "approval_granted", "approved"]
        done = engine.approval_status(id)
        assert ([a.actor for a in done.approvals], done.startable_at) == (["carol", "bob"], None)
        assert engine.start(id, "dana").status == "started"
        assert engine.verify_audit().valid


def test_a_start_short_of_the_approvals_raises_approval_required_and_writes_nothing(
    sync_engine: loco.SyncEngine,
) -> None:
    sync_engine.set_gate(json.dumps({"environment": "Production", "required_approvals": 3}), "root")
    id = pending(sync_engine)
    sync_engine.approve(id, "bob")

    with pytest.raises(loco.ApprovalRequiredError) as caught:
        sync_engine.start(id, "dana")
    err = caught.value
    assert isinstance(err, loco.LocoError)
    assert err.code == loco.ApprovalRequiredError.code == "approval_required"
    assert (err.deployment_id, err.environment, err.approvals, err.required) == (id, "production", 1, 3)
    assert [(d["field"], d["message"][:20]) for d in err.details] == [("approvals", "1 of the 3 approvals")]
    assert id in str(err)
    assert kinds(sync_engine.events(id)) == ["created", "approval_granted"]

    other = pending(sync_engine, "staging")
    sync_engine.approve(other, "bob")
    assert sync_engine.start(other, "dana").status == "started", "the gate guards only production"


def test_a_start_inside_the_wait_is_a_wait_timer_violation_until_an_admin_overrides_it(
    sync_engine: loco.SyncEngine,
) -> None:
    sync_engine.set_gate({"environment": "production", "required_approvals": 1, "wait_minutes": 60}, "root")
    id = pending(sync_engine)
    approved = sync_engine.approve(id, "bob")
    assert approved.status == "approved"
    status = sync_engine.approval_status(id)
    assert status.startable_at is not None

    with pytest.raises(loco.PolicyViolationError) as caught:
        sync_engine.start(id, "dana")
    err = caught.value
    assert (err.code, err.rule, err.policy, err.environment) == (
        "policy_violation", "wait_timer", "production", "production",
    )
    assert err.until == status.startable_at
    assert fields(err) == ["wait_timer"]
    assert kinds(sync_engine.events(id)) == ["created", "approved"]

    started = sync_engine.start(id, "root", override_reason="hotfix for INC-7")
    assert started.status == "started"
    events = sync_engine.events(id)
    assert kinds(events) == ["created", "approved", "policy_override", "started"]
    record = events[2]
    assert (record.actor, record.note) == ("root", "hotfix for INC-7")
    assert record.data is not None
    assert (record.data["rule"], record.data["environment"], record.data["end"]) == (
        "wait_timer", "production", status.startable_at,
    )
    assert sync_engine.verify_audit().valid


def test_removing_a_gate_brings_the_single_review_back_and_a_second_removal_is_not_found(
    sync_engine: loco.SyncEngine,
) -> None:
    sync_engine.set_gate(two_of(), "root")
    sync_engine.set_gate({"environment": "staging", "required_approvals": 1}, "root")
    assert [g.environment for g in sync_engine.gates()] == ["production", "staging"]
    id = pending(sync_engine)
    sync_engine.approve(id, "bob")

    sync_engine.remove_gate("production")
    with pytest.raises(loco.NotFoundError) as missing:
        sync_engine.remove_gate("production")
    assert missing.value.code == "not_found"
    assert "production" in str(missing.value)
    assert [g.environment for g in sync_engine.gates()] == ["staging"]
    assert sync_engine.approve(id, "carol").status == "approved"
    assert sync_engine.approval_status(id).required == 1


def test_a_services_own_gate_takes_precedence_and_is_removed_by_service(sync_engine: loco.SyncEngine) -> None:
    sync_engine.set_gate({"environment": "production", "required_approvals": 1}, "root")
    own = sync_engine.set_gate({"environment": "production", "service": "checkout", "required_approvals": 2}, "root")
    assert (own.service, own.required_approvals) == ("checkout", 2)
    assert [(g.service, g.required_approvals) for g in sync_engine.gates()] == [(None, 1), ("checkout", 2)]
    id = pending(sync_engine)
    assert sync_engine.approve(id, "bob").status == "pending_approval", "checkout's own gate of 2"
    with pytest.raises(loco.NotFoundError) as missing:
        sync_engine.remove_gate("production", service="api")
    assert "service 'api'" in str(missing.value)
    with pytest.raises(loco.ValidationError) as blank:
        sync_engine.remove_gate("production", " ")
    assert fields(blank.value) == ["service"]
    sync_engine.remove_gate("production", service="checkout")
    assert [g.service for g in sync_engine.gates()] == [None]
    assert sync_engine.approve(id, "carol").status == "approved", "the environment's gate of 1 again"


def test_a_bad_gate_names_every_bad_field_and_stores_nothing(sync_engine: loco.SyncEngine) -> None:
    with pytest.raises(loco.ValidationError) as caught:
        sync_engine.set_gate({"environment": " ", "required_approvals": 11, "approvers": ["bob", "Bob "],
                              "expires_after_minutes": 0}, "root")
    assert fields(caught.value) == ["environment", "required_approvals", "approvers[1]", "approvers",
                                    "expires_after_minutes"]
    with pytest.raises(loco.ValidationError) as caught:
        sync_engine.set_gate({**two_of(), "reviewers": ["sre"]}, "root")
    assert fields(caught.value) == ["gate"]
    with pytest.raises(loco.ValidationError) as caught:
        sync_engine.set_gate("{not json", "root")
    assert fields(caught.value) == ["gate"]
    with pytest.raises(loco.ValidationError) as caught:
        sync_engine.set_gate(two_of(), " ")
    assert fields(caught.value) == ["by"]
    with pytest.raises(TypeError):
        sync_engine.set_gate(["not", "a", "gate"], "root")  # type: ignore[arg-type]
    assert sync_engine.gates() == []


def test_a_gate_naming_a_group_admits_its_members_and_the_group_cannot_go_while_named(
    sync_engine: loco.SyncEngine,
) -> None:
    stored = sync_engine.set_group({"name": "sre", "members": ["bob", "carol"]}, "root")
    assert isinstance(stored, loco.ReviewerGroup)
    assert (stored.name, stored.members) == ("sre", ["bob", "carol"])
    assert stored.to_dict() == {"name": "sre", "members": ["bob", "carol"]}
    gate = sync_engine.set_gate({"environment": "production", "required_approvals": 1, "groups": ["sre"]}, "root")
    assert gate.groups == ["sre"]
    id = pending(sync_engine)

    with pytest.raises(loco.PolicyViolationError) as outsider:
        sync_engine.approve(id, "mallory")
    assert (outsider.value.rule, fields(outsider.value)) == ("approval_gate", ["approval_gate"])
    assert kinds(sync_engine.events(id)) == ["created"]
    assert sync_engine.approve(id, "Carol").status == "approved", "members compare ignoring case"

    assert sync_engine.groups() == [stored]
    with pytest.raises(loco.ValidationError) as named:
        sync_engine.remove_group("SRE")
    assert fields(named.value) == ["name"]
    assert sync_engine.groups() == [stored]

    sync_engine.remove_gate("production")
    sync_engine.remove_group("SRE")
    assert sync_engine.groups() == []
    with pytest.raises(loco.NotFoundError) as missing:
        sync_engine.remove_group("sre")
    assert missing.value.code == "not_found"
    assert "sre" in str(missing.value)


def test_a_bad_group_and_a_gate_naming_a_missing_group_name_their_fields(sync_engine: loco.SyncEngine) -> None:
    with pytest.raises(loco.ValidationError) as nameless:
        sync_engine.set_gate({**two_of(), "groups": ["ghost"]}, "root")
    assert fields(nameless.value) == ["groups[0]"]
    assert sync_engine.gates() == []

    with pytest.raises(loco.ValidationError) as bad:
        sync_engine.set_group(json.dumps({"name": "s re", "members": ["bob", " ", "Bob"]}), "root")
    assert fields(bad.value) == ["name", "members[1]", "members[2]"]
    with pytest.raises(loco.ValidationError) as unknown:
        sync_engine.set_group({"name": "sre", "owner": "bob"}, "root")
    assert fields(unknown.value) == ["group"]
    with pytest.raises(loco.ValidationError) as nobody:
        sync_engine.set_group({"name": "sre"}, " ")
    assert fields(nobody.value) == ["by"]
    with pytest.raises(TypeError):
        sync_engine.set_group(["sre"], "root")  # type: ignore[arg-type]
    assert sync_engine.groups() == []


def test_the_asyncio_engine_sets_lists_and_removes_groups(db_path: pathlib.Path) -> None:
    async def main() -> None:
        async with await loco.Engine.open(db_path) as engine:
            stored = await engine.set_group({"name": "oncall", "members": ["dana"]}, "root")
            assert isinstance(stored, loco.ReviewerGroup)
            assert stored.members == ["dana"]
            replaced = await engine.set_group({"name": "oncall", "members": ["erin"]}, "root")
            assert await engine.groups() == [replaced]

            await engine.set_gate({"environment": "production", "required_approvals": 1, "groups": ["oncall"]},
                                  "root")
            d = await engine.create(**request(environment="production", risk=RISK))
            with pytest.raises(loco.PolicyViolationError):
                await engine.approve(d.id, "dana")
            assert (await engine.approve(d.id, "erin")).status == "approved"
            with pytest.raises(loco.ValidationError) as named:
                await engine.remove_group("oncall")
            assert fields(named.value) == ["name"]

            await engine.remove_gate("production")
            await engine.remove_group("oncall")
            with pytest.raises(loco.NotFoundError):
                await engine.remove_group("oncall")
            assert await engine.groups() == []

    run(main)


def test_approval_status_refuses_a_bad_time_and_an_unknown_deployment(sync_engine: loco.SyncEngine) -> None:
    sync_engine.set_gate(two_of(expires_after_minutes=60), "root")
    id = pending(sync_engine)
    sync_engine.approve(id, "bob")
    with pytest.raises(loco.ValidationError) as caught:
        sync_engine.approval_status(id, "in an hour")
    assert fields(caught.value) == ["at"]
    with pytest.raises(loco.NotFoundError) as missing:
        sync_engine.approval_status("dep_missing")
    assert missing.value.deployment_id == "dep_missing"

    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=61)
    assert [a.actor for a in sync_engine.approval_status(id).approvals] == ["bob"]
    assert sync_engine.approval_status(id, later.isoformat()).approvals == [], "expired after an hour"


def test_the_asyncio_engine_sets_counts_refuses_and_removes(db_path: pathlib.Path) -> None:
    async def main() -> None:
        async with await loco.Engine.open(db_path) as engine:
            stored = await engine.set_gate(two_of(wait_minutes=30), "root")
            assert (stored.required_approvals, stored.wait_minutes) == (2, 30)
            assert await engine.gates() == [stored]

            d = await engine.create(**request(environment="production", risk=RISK))
            assert (await engine.approve(d.id, "bob")).status == "pending_approval"
            with pytest.raises(loco.ApprovalRequiredError) as caught:
                await engine.start(d.id, "dana")
            assert (caught.value.code, caught.value.approvals, caught.value.required) == ("approval_required", 1, 2)

            assert (await engine.approve(d.id, "carol")).status == "approved"
            status = await engine.approval_status(d.id)
            assert [a.actor for a in status.approvals] == ["bob", "carol"]
            with pytest.raises(loco.PolicyViolationError) as waiting:
                await engine.start(d.id, "dana")
            assert (waiting.value.rule, waiting.value.until) == ("wait_timer", status.startable_at)
            with pytest.raises(loco.ValidationError) as bad_at:
                await engine.approval_status(d.id, "tomorrow")
            assert fields(bad_at.value) == ["at"]

            await engine.remove_gate("production")
            with pytest.raises(loco.NotFoundError):
                await engine.remove_gate("production")
            assert await engine.gates() == []
            assert (await engine.start(d.id, "dana")).status == "started", "no gate, no wait"

    run(main)
