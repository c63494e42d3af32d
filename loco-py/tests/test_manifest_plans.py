"""Starts without a plan from Python, on real SQLite files and the local platform: a deployment
created under a ``service.yaml`` manifest starts with the rollout plan its stage sets there
(``manifest_plan`` shows it, ``release.version`` empty until the deployment's version fills it);
one created before any manifest, or in a stage that sets no rollout, has none and is refused with
``ValidationError`` on ``plan``; an unknown id is ``NotFoundError``; the same through the asyncio
``Engine``. Every test that runs the demo service checks that none of its processes survives."""

from __future__ import annotations

import pathlib
from typing import Any, List

import pytest

import loco
from conftest import run
from rollout_helpers import APP, approved, approved_async, service_processes, unique_service


def manifest(service: str) -> str:
    """The manifest of ``service``: its dev stage runs the demo service on the local platform (the
    plan of ``rollout_helpers.plan``, as YAML and without a version), its staging stage sets no
    rollout."""
    return f"""apiVersion: loco/v1
service: {service}
stages:
  - environment: dev
    rollout:
      platform: local
      strategy: {{type: immediate}}
      release:
        command: [python3, '{APP}']
      health:
        probes:
          - {{type: http, path: /health}}
        timeout_seconds: 2
        retries: 20
        backoff_initial_seconds: 0.05
        backoff_max_seconds: 0.2
        interval_seconds: 0.5
  - environment: staging
"""


def fields(error: loco.LocoError) -> List[str]:
    return [d["field"] for d in error.details]


def assert_is_the_dev_plan(plan: loco.RolloutPlanDict) -> None:
    assert type(plan) is dict
    assert (plan["platform"], plan["instances"]) == ("local", 1)
    assert plan["strategy"] == {"type": "immediate"}
    assert plan["release"]["command"] == ["python3", APP]
    assert plan["release"]["version"] == "", "the deployment's version is used when it runs"
    assert plan["health"]["probes"] == [{"type": "http", "path": "/health", "expect_status": 200}], "defaults filled in"
    assert plan["health"]["retries"] == 20


def test_a_deployment_created_before_any_manifest_has_no_manifest_plan(tmp_path: pathlib.Path) -> None:
    service = unique_service()
    with loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state") as engine:
        before = approved(engine, service, "0.9.0", "dev")
        engine.apply_manifest(manifest(service), "root")

        with pytest.raises(loco.ValidationError) as refused:
            engine.manifest_plan(before)
        assert (refused.value.code, fields(refused.value)) == ("validation_error", ["plan"])
        assert f"was not created under a manifest of service '{service}'" in str(refused.value)

        with pytest.raises(loco.ValidationError) as start:
            engine.start_rollout(before, actor="ops")
        assert fields(start.value) == ["plan"]
        assert engine.get(before).status == "approved", "nothing started"
    assert service_processes(service) == []


def test_an_unknown_deployment_has_no_manifest_plan(sync_engine: loco.SyncEngine) -> None:
    with pytest.raises(loco.NotFoundError) as missing:
        sync_engine.manifest_plan("dep_missing")
    assert missing.value.code == "not_found"
    with pytest.raises(loco.NotFoundError):
        sync_engine.start_rollout("dep_missing", actor="ops")


def test_a_start_without_a_plan_rolls_out_the_plan_the_manifest_sets_for_the_stage(tmp_path: pathlib.Path) -> None:
    service = unique_service()
    engine = loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state")
    try:
        record = engine.apply_manifest(manifest(service), "root")
        v1 = approved(engine, service, "1.0.0", "dev")
        plan = engine.manifest_plan(v1)
        assert_is_the_dev_plan(plan)
        assert plan == record["manifest"]["stages"][0]["rollout"], "every default filled in, as parse_manifest"
        assert engine.manifest_plan(v1) is not plan, "each call returns a new dict"

        anonymous: Any = engine
        with pytest.raises(loco.ValidationError) as no_actor:
            anonymous.start_rollout(v1)
        assert fields(no_actor.value) == ["actor"], "an omitted actor is refused by the core"
        assert engine.get(v1).status == "approved"

        started = engine.start_rollout(v1, actor="ops")
        assert started.deployment_id == v1
        done = engine.wait_rollout(v1)
        assert done.state == "succeeded", done.failure
        assert done.plan["release"]["version"] == "1.0.0", "the deployment's version fills the empty one"
        assert (done.platform, done.plan["instances"]) == ("local", 1)
        assert engine.get(v1).status == "succeeded"

        staged = engine.promote(v1, "alice@example.com")
        assert staged.environment == "staging"
        with pytest.raises(loco.ValidationError) as none:
            engine.manifest_plan(staged.id)
        assert fields(none.value) == ["plan"]
        assert "sets no rollout" in str(none.value)
        assert f"stage 'staging' of version 1 of the manifest of '{service}'" in str(none.value)
        engine.approve(staged.id, "bob@example.com")
        with pytest.raises(loco.ValidationError) as start:
            engine.start_rollout(staged.id, None, "ops")
        assert fields(start.value) == ["plan"]
        assert engine.get(staged.id).status == "approved", "nothing started"

        # The plan manifest_plan gives is a plan start_rollout takes as it is, by keyword too.
        v2 = approved(engine, service, "2.0.0", "dev")
        engine.start_rollout(v2, plan=engine.manifest_plan(v2), actor="ops")
        assert engine.wait_rollout(v2).plan["release"]["version"] == "2.0.0"
    finally:
        engine.close()
    assert service_processes(service) == []


def test_the_asyncio_engine_starts_the_plan_the_manifest_sets(tmp_path: pathlib.Path) -> None:
    service = unique_service()

    async def main() -> None:
        async with await loco.Engine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state") as engine:
            before = await approved_async(engine, service, "0.9.0", "dev")
            await engine.apply_manifest(manifest(service), "root")
            with pytest.raises(loco.ValidationError) as refused:
                await engine.manifest_plan(before)
            assert fields(refused.value) == ["plan"]
            with pytest.raises(loco.NotFoundError):
                await engine.manifest_plan("dep_missing")

            v1 = await approved_async(engine, service, "1.0.0", "dev")
            assert_is_the_dev_plan(await engine.manifest_plan(v1))
            started = await engine.start_rollout(v1, None, "ops")
            assert started.deployment_id == v1
            done = await engine.wait_rollout(v1)
            assert done.state == "succeeded", done.failure
            assert done.plan["release"]["version"] == "1.0.0"

            staged = await engine.promote(v1, "alice@example.com")
            with pytest.raises(loco.ValidationError) as none:
                await engine.manifest_plan(staged.id)
            assert "sets no rollout" in str(none.value)

    run(main)
    assert service_processes(service) == []
