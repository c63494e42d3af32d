"""Every error a rollout call can end in, raised as its ``LocoError`` subclass with the core's code
and facts: conflicts, pauses, plan and threshold validation (field names as written in the
document), missing rollouts, platform failures, a failed restore, and arguments of the wrong type."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import stat
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

import loco
from conftest import request
from rollout_helpers import APP, approved, plan, service_processes, unique_service


def long_canary(version: str) -> Dict[str, Any]:
    """A canary that stays at its first share for ten minutes: a rollout that is surely running."""
    return plan(version, strategy={"type": "canary", "steps": [50], "interval_seconds": 600})


@pytest.fixture
def local(tmp_path: pathlib.Path) -> Iterator[loco.SyncEngine]:
    """A blocking engine with the local platform, closed after the test."""
    engine = loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state")
    yield engine
    engine.close()


def fields(error: loco.LocoError) -> List[str]:
    return [d["field"] for d in error.details]


def test_rollout_conflict_in_progress_and_not_paused_while_a_rollout_runs(local: loco.SyncEngine) -> None:
    service = unique_service()
    first = approved(local, service, "v1")
    started = local.start_rollout(first, long_canary("v1"), "deploy-bot")
    assert started.state == "running"
    assert started.previous is None

    second = approved(local, service, "v2")
    with pytest.raises(loco.RolloutConflictError) as conflict:
        local.start_rollout(second, long_canary("v2"), "deploy-bot")
    e = conflict.value
    assert (e.code, e.service, e.environment, e.active_deployment_id) == (
        "rollout_conflict", service, "staging", first)
    assert e.details == []
    assert str(e) == f"{service}/staging already has an active rollout (deployment '{first}')"
    assert local.get(second).status == "approved", "the refused start changed nothing"

    with pytest.raises(loco.RolloutInProgressError) as in_progress:
        local.succeed(first, "deploy-bot")
    assert (in_progress.value.code, in_progress.value.deployment_id) == ("rollout_in_progress", first)

    with pytest.raises(loco.RolloutNotPausedError) as not_paused:
        local.override_rollout(first, "carol", "go on")
    assert (not_paused.value.code, not_paused.value.deployment_id, not_paused.value.state) == (
        "rollout_not_paused", first, "running")
    with pytest.raises(loco.ValidationError) as no_note:
        local.override_rollout(first, "carol", " ")
    assert fields(no_note.value) == ["note"]

    # Logs of an instance that does not run on this engine.
    with pytest.raises(loco.PlatformError) as platform:
        next(iter(local.logs(first, "ins_00000000000000000000000000")))
    assert platform.value.platform == "local"
    assert "is not running on this engine" in str(platform.value)

    assert [(r.deployment_id, r.state) for r in local.rollouts(active_only=True)] == [(first, "running")]
    # Rolling back a first release stops its instances.
    assert local.rollback(first, "carol", "not now").status == "rolled_back"
    assert local.rollout(first).state == "rolled_back"
    assert local.rollouts(active_only=True) == []
    local.close()
    assert service_processes(service) == []


#: Plan changes and the fields the core names for them.
PLAN_CASES: List[Tuple[Dict[str, Any], List[str]]] = [
    ({"strategy": {"type": "canary", "steps": [50, 25], "interval_seconds": 1}}, ["strategy.steps[1]"]),
    ({"strategy": {"type": "canary", "steps": [0], "interval_seconds": -1}},
     ["strategy.steps[0]", "strategy.interval_seconds"]),
    ({"strategy": {"type": "rolling", "max_surge": 0, "max_unavailable": 0}}, ["strategy.max_surge"]),
    ({"instances": 0, "health": {"retries": 1000, "probes": [{"type": "http", "path": "health"}]}},
     ["instances", "health.retries", "health.probes[0].path"]),
    ({"colour": "red"}, ["colour"]),
    ({"instances": "2"}, ["instances"]),
    ({"analysis": {"monitor_seconds": 4000, "thresholds": {"alpha": 2}}},
     ["analysis.monitor_seconds", "analysis.thresholds.alpha"]),
    ({"platform": "railway"}, ["platform"]),
]


@pytest.mark.parametrize(("changes", "expected"), PLAN_CASES, ids=[json.dumps(c) for c, _ in PLAN_CASES])
def test_plans_are_validated_by_the_core_with_field_names_as_written(
    local: loco.SyncEngine, changes: Dict[str, Any], expected: List[str]
) -> None:
    id = approved(local, unique_service(), "v1")
    with pytest.raises(loco.ValidationError) as error:
        local.start_rollout(id, {**plan("v1"), **changes}, "deploy-bot")
    assert error.value.code == "validation_error"
    assert fields(error.value) == expected
    assert local.get(id).status == "approved", "nothing was started"


def test_plan_documents_as_json_text_malformed_and_unknown_strategies(local: loco.SyncEngine) -> None:
    id = approved(local, unique_service(), "v1")
    with pytest.raises(loco.ValidationError) as as_text:
        local.start_rollout(id, json.dumps({**plan("v1"), "colour": "red"}), "ops")
    assert fields(as_text.value) == ["colour"]
    with pytest.raises(loco.ValidationError) as malformed:
        local.start_rollout(id, '{"platform": ', "ops")
    assert len(malformed.value.details) == 1
    with pytest.raises(loco.ValidationError) as unknown:
        local.run_rollout(id, {**plan("v1"), "strategy": {"type": "yolo"}}, "ops")
    assert "unknown variant `yolo`" in unknown.value.details[0]["message"]
    with pytest.raises(loco.ValidationError) as no_actor:
        local.start_rollout(id, plan("v1"), " ")
    assert fields(no_actor.value) == ["actor"]
    with pytest.raises(loco.NotFoundError):
        local.rollout(id)


def test_a_plan_naming_the_local_platform_needs_an_engine_opened_with_local_state_dir(
    sync_engine: loco.SyncEngine,
) -> None:
    d = sync_engine.create(**request())
    sync_engine.approve(d.id, "bob")
    with pytest.raises(loco.ValidationError) as error:
        sync_engine.start_rollout(d.id, plan("1.4.0"), "ops")
    assert fields(error.value) == ["platform"]
    assert "no platform named 'local'" in error.value.details[0]["message"]


def test_not_found_and_invalid_transition_without_a_rollout(local: loco.SyncEngine) -> None:
    d = local.create(**request(service=unique_service()))
    calls: List[Callable[[], object]] = [
        lambda: local.rollout(d.id),
        lambda: local.wait_rollout(d.id),
        lambda: local.logs(d.id, "ins_x").next_line(),
    ]
    for call in calls:
        with pytest.raises(loco.NotFoundError) as error:
            call()
        assert error.value.deployment_id == d.id
        assert str(error.value) == f"deployment '{d.id}' has no rollout"
    missing = "dep_00000000000000000000000000"
    with pytest.raises(loco.NotFoundError) as unknown:
        local.start_rollout(missing, plan("v1"), "ops")
    assert unknown.value.deployment_id == missing
    with pytest.raises(loco.InvalidTransitionError) as pending:
        local.run_rollout(d.id, plan("v1"), "ops")
    assert (pending.value.from_status, pending.value.action) == ("pending_approval", "start")
    assert local.rollouts() == []
    assert local.releases(d.service, d.environment) == []


def test_the_asyncio_engine_raises_the_same_errors(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        async with await loco.Engine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state") as engine:
            d = await engine.create(**request(service=unique_service()))
            with pytest.raises(loco.NotFoundError):
                await engine.rollout(d.id)
            with pytest.raises(loco.NotFoundError):
                async for _ in engine.logs(d.id, "ins_x"):
                    pass
            with pytest.raises(loco.InvalidTransitionError):
                await engine.start_rollout(d.id, plan("v1"), "ops")
            with pytest.raises(loco.ValidationError) as bad:
                await engine.run_rollout(d.id, {**plan("v1"), "colour": "red"}, "ops")
            assert fields(bad.value) == ["colour"]
            with pytest.raises(loco.ValidationError) as thresholds:
                engine.set_thresholds("production", {"critical_error_rate": 1.5})
            assert fields(thresholds.value) == ["thresholds.production.critical_error_rate"]
            assert await engine.rollouts(active_only=True) == []

    asyncio.run(main())


def test_platform_error_when_the_state_dir_cannot_be_created(tmp_path: pathlib.Path) -> None:
    file = tmp_path / "a-file"
    file.write_text("not a directory")
    with pytest.raises(loco.PlatformError) as error:
        loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=file / "state")
    assert (error.value.code, error.value.platform) == ("platform_error", "local")
    assert str(error.value).startswith("platform 'local' failed: cannot create ")


def test_rollback_failed_when_the_release_to_restore_can_no_longer_start(
    local: loco.SyncEngine, tmp_path: pathlib.Path
) -> None:
    service = unique_service()
    # v1 runs through a launcher script that is deleted once v2 replaced it.
    launcher = tmp_path / "run-v1.sh"
    launcher.write_text(f"#!/bin/sh\nexec python3 {APP}\n")
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR)
    v1 = approved(local, service, "v1")
    first = local.run_rollout(v1, {**plan("v1"), "release": {"version": "v1", "command": [str(launcher)]}}, "ops")
    assert first.state == "succeeded", first.failure
    v2 = approved(local, service, "v2")
    assert local.run_rollout(v2, plan("v2"), "ops").state == "succeeded"
    os.remove(launcher)

    with pytest.raises(loco.RollbackFailedError) as error:
        local.rollback(v2, "carol", "back to v1")
    assert (error.value.code, error.value.deployment_id) == ("rollback_failed", v2)
    assert str(error.value).startswith(f"rollback of deployment '{v2}' failed: ")
    rollout = local.rollout(v2)
    assert rollout.state == "rollback_failed"
    assert rollout.failure is not None and rollout.failure["code"] == "rollback_failed"
    local.close()
    assert service_processes(service) == []


def test_threshold_documents_are_validated_by_the_core_with_the_environment_in_the_field_name(
    tmp_path: pathlib.Path,
) -> None:
    with pytest.raises(loco.ValidationError) as error:
        loco.SyncEngine.open(
            tmp_path / "loco.db",
            thresholds={"production": {"min_samples": 0, "alpha": 2}, "staging": {"min_samples": 5}},
        )
    assert fields(error.value) == ["thresholds.production.min_samples", "thresholds.production.alpha"]
    # A document that does not parse names the culprit's full path; nothing else is checked then.
    with pytest.raises(loco.ValidationError) as unknown:
        loco.SyncEngine.open_in_memory(
            thresholds={"production": {"min_samples": 0}, "staging": {"minSamples": 5}})
    assert fields(unknown.value) == ["thresholds.staging.minSamples"]
    assert unknown.value.details[0]["message"].startswith("unknown field `minSamples`, expected one of `min_samples`")
    with pytest.raises(loco.ValidationError) as malformed:
        loco.SyncEngine.open_in_memory(thresholds={"staging": '{"min_samples": '})
    assert fields(malformed.value) == ["thresholds"]

    engine = loco.SyncEngine.open_in_memory(thresholds={"staging": '{"min_samples": 5}'})
    with pytest.raises(loco.ValidationError) as too_high:
        engine.set_thresholds("production", {"critical_error_rate": 1.5})
    assert fields(too_high.value) == ["thresholds.production.critical_error_rate"]
    with pytest.raises(loco.ValidationError) as wrong_type:
        engine.set_thresholds("production", {"critical_error_rate": "high"})
    assert fields(wrong_type.value) == ["thresholds.production.critical_error_rate"]
    assert wrong_type.value.details[0]["message"].startswith('invalid type: string "high", expected f64')
    engine.set_thresholds("production", {})
    engine.close()


def test_releases_refuse_a_limit_outside_1_to_500(sync_engine: loco.SyncEngine) -> None:
    for limit in (0, 501, -3, 2**40):
        with pytest.raises(loco.ValidationError) as error:
            sync_engine.releases("checkout", "staging", limit=limit)
        assert fields(error.value) == ["limit"], limit
    assert sync_engine.releases("checkout", "staging", limit=1) == []
    assert sync_engine.releases("checkout", "staging", limit=500) == []


def test_arguments_of_the_wrong_type_raise_type_error(tmp_path: pathlib.Path) -> None:
    engine = loco.SyncEngine.open_in_memory()
    d = engine.create(**request())
    cyclic: Dict[str, Any] = dict(plan("v1"))
    cyclic["self"] = cyclic
    # The calls below break the stubs on purpose.
    e: Any = engine
    sync_engine: Any = loco.SyncEngine
    cases: List[Tuple[Callable[[], object], str]] = [
        (lambda: e.start_rollout(d.id, 42, "ops"), "must be a dict or a JSON string; got int"),
        (lambda: e.start_rollout(d.id, [plan("v1")], "ops"), "must be a dict or a JSON string; got list"),
        (lambda: e.run_rollout(d.id, None, "ops"), "must be a dict or a JSON string; got NoneType"),
        (lambda: e.run_rollout(d.id, {**plan("v1"), "instances": {1}}, "ops"), "cannot be written as JSON"),
        (lambda: e.start_rollout(d.id, cyclic, "ops"), "cannot be written as JSON: Circular reference"),
        (lambda: e.start_rollout(7, plan("v1"), "ops"), "'id'"),
        (lambda: e.start_rollout(d.id, plan("v1"), ["ops"]), "'actor'"),
        (lambda: e.wait_rollout(None), "'id'"),
        (lambda: e.rollout({}), "'id'"),
        (lambda: e.rollouts("active"), "positional"),
        (lambda: e.rollouts(active_only="yes"), "'active_only'"),
        (lambda: e.releases("checkout", 3), "'environment'"),
        (lambda: e.releases("checkout", "staging", limit=2.5), "'limit'"),
        (lambda: e.override_rollout(d.id, "carol", False), "'note'"),
        (lambda: e.set_thresholds("production", 0.5), "must be a dict or a JSON string; got float"),
        (lambda: e.set_thresholds(None, {}), "'environment'"),
        (lambda: e.logs(d.id, 5), "'instance_id'"),
        (lambda: sync_engine.open_in_memory(local_state_dir=1), "'local_state_dir'"),
        (lambda: sync_engine.open_in_memory(thresholds=[]), "must be a dict of environment to thresholds"),
        (lambda: sync_engine.open_in_memory(thresholds={"prod": 5}), '["prod"] must be a dict or a JSON string'),
        (lambda: sync_engine.open_in_memory(thresholds={1: {}}), "keys) must be strings"),
    ]
    for call, message in cases:
        with pytest.raises(TypeError) as error:
            call()
        # The argument's name is in the message, or (Python 3.11+) in a note.
        text = " ".join([str(error.value), *getattr(error.value, "__notes__", [])])
        assert message in text, (message, text)
    assert engine.get(d.id).status == "pending_approval", "nothing was written"
    engine.close()


def test_saved_thresholds_outlive_the_engine_and_set_ones_do_not(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "loco.db"
    with loco.SyncEngine.open(db) as engine:
        engine.save_thresholds("Production", {"min_samples": 7, "critical_error_rate": 0.3})
        engine.set_thresholds("staging", {"min_samples": 9})
        now = engine.thresholds()
        assert now["production"]["min_samples"] == 7 and now["staging"]["min_samples"] == 9
        # A bad document is refused whole, naming its field, and nothing is stored.
        with pytest.raises(loco.ValidationError) as bad:
            engine.save_thresholds("qa", {"min_samples": 0})
        assert fields(bad.value) == ["thresholds.qa.min_samples"]
    with loco.SyncEngine.open(db) as engine:
        after = engine.thresholds()
        assert sorted(after) == ["production"], "only saved thresholds are loaded by a later engine"
        assert after["production"]["min_samples"] == 7
        assert after["production"]["critical_error_rate"] == 0.3
        assert after["production"]["alpha"] == 0.05, "every field is filled in"

    async def asynchronously() -> None:
        async with await loco.Engine.open(db) as engine:
            await engine.save_thresholds("production", '{"min_samples": 11}')
        async with await loco.Engine.open(db) as engine:
            assert engine.thresholds()["production"]["min_samples"] == 11

    asyncio.run(asynchronously())
