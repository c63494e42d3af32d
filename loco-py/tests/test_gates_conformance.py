"""Every vector of ``tests/conformance/gates.json`` through ``SyncEngine`` on a real SQLite file,
checked as the vectors' description says: the error code, its fields and (for
``approval_required``) its ``approvals`` and ``required``; what ``approval_status`` counts at now
plus ``after_minutes``; each deployment's status and event kinds, and the gates stored after the
step. Reviewer groups are set and removed as the vectors' ``group`` and ``remove_group`` steps
say."""

from __future__ import annotations

import datetime
import json
import pathlib
from typing import Any, Dict, List

import pytest

import loco

VECTORS_PATH = pathlib.Path(__file__).resolve().parents[2] / "tests" / "conformance" / "gates.json"
VECTORS: List[Dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["vectors"]


def test_the_vectors_are_there() -> None:
    assert len(VECTORS) >= 40


def create(engine: loco.SyncEngine, environment: str, service: str = "web") -> loco.Deployment:
    """The vectors' deployment (of service web unless named); production ones must state a risk, so all do."""
    return engine.create(service=service, environment=environment, version="1.0.0", requester="alice",
                         work_refs=["GATE-1"], rollback_plan="redeploy", risk="low")


def minutes_from_now(minutes: int) -> str:
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)).isoformat()


def run_step(engine: loco.SyncEngine, refs: Dict[str, str], step: Dict[str, Any]) -> Any:
    op = step["op"]
    if op == "gate":
        return engine.set_gate(step["gate"], "root")
    if op == "remove_gate":
        return engine.remove_gate(step["environment"], step.get("service"))
    if op == "group":
        return engine.set_group(step["group"], "root")
    if op == "remove_group":
        return engine.remove_group(step["name"])
    if op == "create":
        d = create(engine, step["environment"], step.get("service", "web"))
        refs[step["ref"]] = d.id
        return d
    target = refs[step["ref"]]
    if op == "approve":
        return engine.approve(target, step["actor"])
    if op == "reject":
        return engine.reject(target, step["actor"], "vector")
    if op == "start":
        return engine.start(target, "dana", override_reason=step.get("override_reason"))
    if op == "status":
        after = step.get("after_minutes")
        return engine.approval_status(target, None if after is None else minutes_from_now(after))
    raise AssertionError(f"unknown op {op!r}")


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_gate_vector(vector: Dict[str, Any], tmp_path: pathlib.Path) -> None:
    with loco.SyncEngine.open(tmp_path / "loco.db") as engine:
        refs: Dict[str, str] = {}
        for n, step in enumerate(vector["steps"]):
            at = f"step {n} ({step['op']})"
            expect = step.get("expect")
            if expect is None:
                run_step(engine, refs, step)
                continue
            if "error" in expect:
                with pytest.raises(loco.LocoError) as caught:
                    run_step(engine, refs, step)
                err = caught.value
                assert err.code == expect["error"], (at, err)
                if "fields" in expect:
                    assert [d["field"] for d in err.details] == expect["fields"], (at, err)
                if expect["error"] == "approval_required":
                    assert isinstance(err, loco.ApprovalRequiredError), at
                    assert (err.approvals, err.required) == (expect["approvals"], expect["required"]), at
                    assert (err.deployment_id, err.environment) == (refs[step["ref"]], "production"), at
                if "until_set" in expect:
                    assert isinstance(err, loco.PolicyViolationError), at
                    assert (err.until is not None) == expect["until_set"], at
            else:
                result = run_step(engine, refs, step)
                if step["op"] == "status":
                    assert isinstance(result, loco.ApprovalStatus), at
                    assert result.deployment_id == refs[step["ref"]], at
                    if "approvals" in expect:
                        assert [a.actor for a in result.approvals] == expect["approvals"], at
                    if "required" in expect:
                        assert result.required == expect["required"], at
                    if "rejected" in expect:
                        assert result.rejected == expect["rejected"], at
                    if "startable_at_set" in expect:
                        assert (result.startable_at is not None) == expect["startable_at_set"], at
                elif step["op"] == "gate":
                    assert isinstance(result, loco.ApprovalGate), at
                    assert result.environment == step["gate"]["environment"], at
                elif step["op"] == "group":
                    assert isinstance(result, loco.ReviewerGroup), at
                    assert result.name == step["group"]["name"], at
            for ref, status in expect.get("statuses", {}).items():
                assert engine.get(refs[ref]).status == status, (at, ref)
            for ref, kinds in expect.get("events", {}).items():
                assert [e.kind for e in engine.events(refs[ref])] == kinds, (at, ref)
            if "gates" in expect:
                assert [[g.environment, g.required_approvals] for g in engine.gates()] == expect["gates"], at
        assert engine.verify_audit().valid
