"""Deploy locks from Python on real SQLite files: every vector of
``tests/conformance/locks.json`` through ``SyncEngine`` (checked as the Rust runner checks
them); a second start on a target refused with ``PolicyViolationError`` naming the holder; a
forced release recorded as a ``lock_released`` event; concurrent starts from asyncio tasks of
which exactly one wins; the locks kept across reopening."""

from __future__ import annotations

import asyncio
import json
import pathlib
from typing import Any, Dict, List

import pytest

import loco

VECTORS_PATH = pathlib.Path(__file__).resolve().parents[2] / "tests" / "conformance" / "locks.json"
VECTORS: List[Dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["vectors"]


def new(service: str = "web", environment: str = "production") -> Dict[str, Any]:
    return {
        "service": service,
        "environment": environment,
        "version": "1.0.0",
        "requester": "alice",
        "work_refs": ["LOCK-1"],
        "rollback_plan": "redeploy",
        "risk": "low",
    }


def approved(engine: loco.SyncEngine, service: str = "web", environment: str = "production") -> str:
    d = engine.create(**new(service, environment))
    engine.approve(d.id, "bob")
    return d.id


def test_the_vectors_are_there() -> None:
    assert len(VECTORS) >= 20


def run_step(engine: loco.SyncEngine, refs: Dict[str, str], step: Dict[str, Any]) -> Any:
    op, actor = step["op"], step.get("actor", "dana")
    if op == "create":
        d = engine.create(**new(step["service"], step["environment"]))
        refs[step["ref"]] = d.id
        return d
    if op == "release":
        return engine.release_lock(step["service"], step["environment"], "root", step["reason"])
    target = refs[step["ref"]]
    if op == "approve":
        return engine.approve(target, "bob")
    if op in ("start", "succeed"):
        return getattr(engine, op)(target, actor)
    return getattr(engine, op)(target, actor, "vector")


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_lock_vector(vector: Dict[str, Any], tmp_path: pathlib.Path) -> None:
    with loco.SyncEngine.open(tmp_path / "loco.db") as engine:
        refs: Dict[str, str] = {}
        for n, step in enumerate(vector["steps"]):
            at = f"step {n}"
            expect = step.get("expect")
            if expect is None:
                run_step(engine, refs, step)
                continue
            if "error" in expect:
                with pytest.raises(loco.LocoError) as caught:
                    run_step(engine, refs, step)
                err = caught.value
                assert err.code == expect["error"], at
                assert [d["field"] for d in err.details] == expect["fields"], at
                if "holder" in expect:
                    assert isinstance(err, loco.PolicyViolationError)
                    assert (err.rule, err.policy) == ("deploy_lock", refs[expect["holder"]]), at
            else:
                result = run_step(engine, refs, step)
                if "released" in expect:
                    service, environment, ref, holder = expect["released"]
                    assert isinstance(result, loco.DeployLock)
                    assert (result.service, result.environment, result.deployment_id, result.holder) == (
                        service, environment, refs[ref], holder,
                    ), at
            names = {v: k for k, v in refs.items()}
            if "locks" in expect:
                found = [[l.service, l.environment, names[l.deployment_id], l.holder] for l in engine.locks()]
                assert found == expect["locks"], at
            for ref, status in expect.get("statuses", {}).items():
                assert engine.get(refs[ref]).status == status, at
        assert engine.verify_audit().valid


def test_a_forced_release_is_recorded_on_the_holder_and_the_locks_survive_reopening(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "loco.db"
    with loco.SyncEngine.open(db) as engine:
        holder = approved(engine)
        engine.start(holder, "dana")
        waiting = approved(engine)
        with pytest.raises(loco.PolicyViolationError) as caught:
            engine.start(waiting, "erin")
        assert caught.value.code == "policy_violation"
        assert caught.value.environment == "production"
        assert caught.value.until is None
        assert holder in str(caught.value)
        assert [e.kind for e in engine.events(waiting)] == ["created", "approved"]
    with loco.SyncEngine.open(db) as engine:
        (lock,) = engine.locks()
        assert (lock.service, lock.deployment_id, lock.holder) == ("web", holder, "dana")
        assert lock.to_dict() == {
            "service": "web", "environment": "production", "deployment_id": holder, "holder": "dana",
            "since": engine.get(holder).updated_at,
        }
        with pytest.raises(loco.ValidationError) as blank:
            engine.release_lock("web", "production", "root", " ")
        assert [d["field"] for d in blank.value.details] == ["reason"]
        with pytest.raises(loco.NotFoundError):
            engine.release_lock("web", "staging", "root", "nothing there")
        released = engine.release_lock("web", "production", "root", "runner died")
        assert released == lock
        last = engine.events(holder)[-1]
        assert (last.kind, last.actor, last.note) == ("lock_released", "root", "runner died")
        assert last.data == {"service": "web", "environment": "production", "holder": "dana", "since": lock.since}
        assert engine.get(holder).status == "started"
        assert engine.start(waiting, "erin").status == "started"


def test_of_concurrent_asyncio_starts_on_one_target_exactly_one_wins(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        engine = await loco.Engine.open(str(tmp_path / "loco.db"))
        ids = []
        for _ in range(16):
            d = await engine.create(**new())
            await engine.approve(d.id, "bob")
            ids.append(d.id)
        results = await asyncio.gather(*(engine.start(i, "dana") for i in ids), return_exceptions=True)
        won = [r for r in results if isinstance(r, loco.Deployment)]
        refused = [r for r in results if isinstance(r, loco.PolicyViolationError)]
        assert (len(won), len(refused)) == (1, 15), results
        locks = await engine.locks()
        assert [l.deployment_id for l in locks] == [won[0].id]
        await engine.close()

    asyncio.run(main())
