"""Pipelines and promotion from Python on real SQLite files: a pipeline set, listed and kept across
reopening; a create in a stage the version has not succeeded in before refused with
``PolicyViolationError`` (rule ``promotion_order``) and nothing written; a promotion creating the
next stage's deployment, requested by the promoter, with a ``promoted`` event naming its source;
the view following the version stage by stage; ``not_found`` on removal and on the view without a
pipeline; bad pipelines refused naming their fields; and the same through the asyncio ``Engine``."""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List

import pytest

import loco
from conftest import request, run

STAGES = ["dev", "staging", "production"]
RISK = "low: config only"


def web(**extra: Any) -> Dict[str, Any]:
    """The pipeline of service ``checkout`` through dev, staging and production."""
    return {"service": "checkout", "stages": STAGES, **extra}


def create(engine: loco.SyncEngine, environment: str, version: str = "1.4.0") -> loco.Deployment:
    return engine.create(**request(environment=environment, version=version, risk=RISK, commit="abc123"))


def succeed(engine: loco.SyncEngine, id: str) -> loco.Deployment:
    engine.approve(id, "bob")
    engine.start(id, "dana")
    return engine.succeed(id, "dana")


def fields(error: loco.LocoError) -> List[str]:
    return [d["field"] for d in error.details]


def stages(view: loco.PipelineView) -> List[List[Any]]:
    return [[s.environment, s.deployment_id, s.status] for s in view.stages]


def test_a_version_goes_through_every_stage_by_promotion_and_survives_reopening(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "loco.db"
    with loco.SyncEngine.open(db) as engine:
        stored = engine.set_pipeline(web(), "root")
        assert isinstance(stored, loco.Pipeline)
        assert stored.to_dict() == {"service": "checkout", "stages": STAGES, "require_previous_success": True}
        assert engine.pipelines() == [stored]

        dev = create(engine, "dev")
        view = engine.pipeline_view("checkout", "1.4.0")
        assert isinstance(view, loco.PipelineView)
        assert all(isinstance(s, loco.StageState) for s in view.stages)
        assert (view.service, view.version, view.next) == ("checkout", "1.4.0", "dev")
        assert stages(view) == [["dev", dev.id, "pending_approval"], ["staging", None, None],
                                ["production", None, None]]

        done = succeed(engine, dev.id)
        after_dev = engine.pipeline_view("checkout", "1.4.0")
        assert after_dev.next == "staging"
        assert after_dev.stages[0].updated_at == done.updated_at

        staging = engine.promote(dev.id, "erin")
        assert isinstance(staging, loco.Deployment)
        assert (staging.environment, staging.version, staging.status) == ("staging", "1.4.0", "pending_approval")
        assert (staging.requester, staging.commit, staging.risk) == ("erin", "abc123", RISK)
        assert (staging.work_refs, staging.rollback_plan) == (dev.work_refs, dev.rollback_plan)
        events = engine.events(staging.id)
        assert [e.kind for e in events] == ["created", "promoted"]
        promoted = events[-1]
        assert promoted.actor == "erin"
        assert promoted.data == {"from_deployment": dev.id, "from_environment": "dev"}

    with loco.SyncEngine.open(db) as engine:
        assert engine.pipelines() == [stored], "the pipeline is in the file"
        assert engine.promote(dev.id, "erin").id == staging.id, "promoting again gives the open one back"
        succeed(engine, staging.id)
        production = engine.promote(staging.id, "erin")
        assert production.environment == "production"
        assert engine.pipeline_view("checkout", "1.4.0").next == "production"
        succeed(engine, production.id)
        final = engine.pipeline_view("checkout", "1.4.0")
        assert stages(final) == [["dev", dev.id, "succeeded"], ["staging", staging.id, "succeeded"],
                                 ["production", production.id, "succeeded"]]
        assert final.next is None
        assert final.to_dict()["next"] is None
        with pytest.raises(loco.ValidationError) as last:
            engine.promote(production.id, "erin")
        assert fields(last.value) == ["environment"]
        assert engine.verify_audit().valid


def test_a_create_out_of_order_is_a_promotion_order_violation_and_writes_nothing(
    sync_engine: loco.SyncEngine,
) -> None:
    sync_engine.set_pipeline(json.dumps(web()), "root")
    with pytest.raises(loco.PolicyViolationError) as caught:
        create(sync_engine, "staging")
    err = caught.value
    assert (err.code, err.rule, err.policy, err.environment, err.until) == (
        "policy_violation", "promotion_order", "checkout", "staging", None)
    assert fields(err) == ["promotion_order"]
    assert "1.4.0" in str(err) and "dev" in str(err)
    assert len(sync_engine.list(service="checkout")) == 0, "nothing was created"

    dev = create(sync_engine, "dev")
    sync_engine.approve(dev.id, "bob")
    sync_engine.start(dev.id, "dana")
    with pytest.raises(loco.PolicyViolationError) as started:
        create(sync_engine, "staging")
    assert started.value.rule == "promotion_order", "started is not succeeded"
    with pytest.raises(loco.PolicyViolationError) as early:
        sync_engine.promote(dev.id, "erin")
    assert (early.value.rule, early.value.environment) == ("promotion_order", "staging")

    sync_engine.succeed(dev.id, "dana")
    with pytest.raises(loco.PolicyViolationError):
        create(sync_engine, "production")  # a stage cannot be skipped
    with pytest.raises(loco.PolicyViolationError):
        create(sync_engine, "staging", version="2.0.0")  # another version's success does not count
    assert create(sync_engine, "staging").status == "pending_approval"
    assert create(sync_engine, "preview").status == "pending_approval", "outside the pipeline"


def test_a_pipeline_without_required_success_orders_promotion_only(sync_engine: loco.SyncEngine) -> None:
    stored = sync_engine.set_pipeline(web(require_previous_success=False), "root")
    assert stored.require_previous_success is False
    production = create(sync_engine, "production")
    assert production.status == "pending_approval"
    assert sync_engine.pipeline_view("checkout", "1.4.0").next == "dev"


def test_removing_a_pipeline_lifts_its_order_and_a_second_removal_or_view_is_not_found(
    sync_engine: loco.SyncEngine,
) -> None:
    sync_engine.set_pipeline(web(), "root")
    sync_engine.set_pipeline({"service": "api", "stages": ["qa", "live"]}, "root")
    assert [[p.service, p.stages] for p in sync_engine.pipelines()] == [["api", ["qa", "live"]],
                                                                       ["checkout", STAGES]]
    sync_engine.set_pipeline({"service": "checkout", "stages": ["dev", "production"]}, "root")
    assert [p.stages for p in sync_engine.pipelines()] == [["qa", "live"], ["dev", "production"]], "replaced"

    sync_engine.remove_pipeline("checkout")
    with pytest.raises(loco.NotFoundError) as missing:
        sync_engine.remove_pipeline("checkout")
    assert (missing.value.code, getattr(missing.value, "service")) == ("not_found", "checkout")
    assert "checkout" in str(missing.value)
    with pytest.raises(loco.NotFoundError) as no_view:
        sync_engine.pipeline_view("checkout", "1.4.0")
    assert getattr(no_view.value, "service") == "checkout", "the fact names the service"
    assert create(sync_engine, "production").status == "pending_approval", "no pipeline, no order"

    dev = create(sync_engine, "dev")
    succeed(sync_engine, dev.id)
    with pytest.raises(loco.ValidationError) as no_pipeline:
        sync_engine.promote(dev.id, "erin")
    assert fields(no_pipeline.value) == ["service"]
    with pytest.raises(loco.NotFoundError) as unknown:
        sync_engine.promote("dep_missing", "erin")
    assert unknown.value.deployment_id == "dep_missing"


def test_a_bad_pipeline_names_every_bad_field_and_stores_nothing(sync_engine: loco.SyncEngine) -> None:
    with pytest.raises(loco.ValidationError) as caught:
        sync_engine.set_pipeline({"service": "", "stages": ["dev", " ", "dev"]}, "root")
    assert fields(caught.value) == ["service", "stages[1]", "stages[2]"]
    with pytest.raises(loco.ValidationError) as one:
        sync_engine.set_pipeline({"service": "checkout", "stages": ["dev"]}, "root")
    assert fields(one.value) == ["stages"]
    with pytest.raises(loco.ValidationError) as unknown:
        sync_engine.set_pipeline(web(gates={}), "root")
    assert fields(unknown.value) == ["pipeline"]
    with pytest.raises(loco.ValidationError) as not_json:
        sync_engine.set_pipeline("{not json", "root")
    assert fields(not_json.value) == ["pipeline"]
    with pytest.raises(loco.ValidationError) as nobody:
        sync_engine.set_pipeline(web(), " ")
    assert fields(nobody.value) == ["by"]
    with pytest.raises(TypeError):
        sync_engine.set_pipeline(["dev", "staging"], "root")  # type: ignore[arg-type]
    assert sync_engine.pipelines() == []

    sync_engine.set_pipeline(web(), "root")
    dev = create(sync_engine, "dev")
    succeed(sync_engine, dev.id)
    with pytest.raises(loco.ValidationError) as no_actor:
        sync_engine.promote(dev.id, " ")
    assert fields(no_actor.value) == ["actor"]


def test_the_asyncio_engine_sets_refuses_promotes_views_and_removes(db_path: pathlib.Path) -> None:
    async def main() -> None:
        async with await loco.Engine.open(db_path) as engine:
            stored = await engine.set_pipeline(web(), "root")
            assert stored.stages == STAGES
            assert await engine.pipelines() == [stored]

            with pytest.raises(loco.PolicyViolationError) as caught:
                await engine.create(**request(environment="staging"))
            assert caught.value.rule == "promotion_order"

            dev = await engine.create(**request(environment="dev"))
            await engine.approve(dev.id, "bob")
            await engine.start(dev.id, "dana")
            await engine.succeed(dev.id, "dana")
            staging = await engine.promote(dev.id, "erin")
            assert (staging.environment, staging.requester) == ("staging", "erin")
            promoted = (await engine.events(staging.id))[-1]
            assert promoted.kind == "promoted"
            assert promoted.data == {"from_deployment": dev.id, "from_environment": "dev"}

            view = await engine.pipeline_view("checkout", "1.4.0")
            assert stages(view) == [["dev", dev.id, "succeeded"], ["staging", staging.id, "pending_approval"],
                                    ["production", None, None]]
            assert view.next == "staging"

            await engine.remove_pipeline("checkout")
            with pytest.raises(loco.NotFoundError):
                await engine.remove_pipeline("checkout")
            with pytest.raises(loco.NotFoundError):
                await engine.pipeline_view("checkout", "1.4.0")
            with pytest.raises(loco.ValidationError) as bad:
                await engine.set_pipeline({"service": "checkout", "stages": ["dev", "dev"]}, "root")
            assert fields(bad.value) == ["stages[1]"]
            assert await engine.pipelines() == []

    run(main)
