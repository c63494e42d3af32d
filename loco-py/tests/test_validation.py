"""Pre-deployment validation from Python: ``validate_plan`` runs a plan's checks alone and returns
the report; ``start_rollout`` runs them first, and a blocking finding refuses the start with
``ValidationFailedError`` (carrying the report), records a ``validation`` event and leaves the
deployment ``approved``. Real SQLite files, and the real demo service once a plan passes."""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List, Optional

import pytest

import loco
from conftest import run
from rollout_helpers import approved, approved_async, plan, service_processes, unique_service


def requiring(variable: str, *, env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """A plan of the demo service whose validation requires ``variable`` to be set."""
    return plan("v1", env=env, validation={"config": {"required": [variable]}})


def kinds(events: List[loco.Event]) -> List[str]:
    return [e.kind for e in events]


def test_validate_plan_reports_a_missing_required_variable(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        engine = await loco.Engine.open(tmp_path / "loco.db")
        try:
            report = await engine.validate_plan(requiring("X"))
            assert isinstance(report, loco.ValidationReport)
            assert report.passed is False
            assert len(report.findings) == 1
            finding = report.findings[0]
            assert (finding["check"], finding["rule"], finding["location"]) == (
                "config",
                "missing_variable",
                "release.env.X",
            )
            assert (finding["severity"], finding["blocking"]) == ("high", True)
            assert [(c["check"], c["passed"]) for c in report.checks] == [("config", False)]
            assert report.to_dict()["findings"] == report.findings
        finally:
            await engine.close()

    run(main)


def test_validate_plan_passes_once_the_variable_is_set(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        engine = await loco.Engine.open(tmp_path / "loco.db")
        try:
            report = await engine.validate_plan(requiring("X", env={"X": "1"}))
            assert report.passed is True
            assert report.findings == []
            assert [(c["check"], c["passed"]) for c in report.checks] == [("config", True)]
            assert report.omitted == 0
        finally:
            await engine.close()

    run(main)


def test_validate_plan_records_nothing(sync_engine: loco.SyncEngine) -> None:
    report = sync_engine.validate_plan(requiring("X"))
    assert isinstance(report, loco.ValidationReport)
    assert report.passed is False
    assert [f["rule"] for f in report.findings] == ["missing_variable"]
    assert sync_engine.verify_audit().events_checked == 0


def test_validate_plan_accepts_the_plan_as_json_text(sync_engine: loco.SyncEngine) -> None:
    report = sync_engine.validate_plan(json.dumps(requiring("X", env={"X": "yes"})))
    assert report.passed is True


def test_an_unknown_field_under_validation_is_a_validation_error_naming_it(sync_engine: loco.SyncEngine) -> None:
    cases = [
        ({"config": {"required": ["X"]}, "artefact": {"path": "dist"}}, "validation.artefact"),
        ({"config": {"required": ["X"], "optional": ["Y"]}}, "validation.config.optional"),
    ]
    for validation, field in cases:
        with pytest.raises(loco.ValidationError) as caught:
            sync_engine.validate_plan(plan("v1", validation=validation))
        assert caught.value.code == "validation_error"
        assert [d["field"] for d in caught.value.details] == [field]
        assert field in str(caught.value)


def test_a_failing_validation_refuses_the_start_and_a_passing_one_precedes_started(tmp_path: pathlib.Path) -> None:
    service = unique_service()

    async def main() -> None:
        engine = await loco.Engine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state")
        try:
            id = await approved_async(engine, service, "v1")
            with pytest.raises(loco.ValidationFailedError) as caught:
                await engine.start_rollout(id, requiring("X"), "deploy-bot")
            err = caught.value
            assert isinstance(err, loco.LocoError)
            assert err.code == "validation_failed" == loco.ValidationFailedError.code
            assert err.deployment_id == id
            assert err.blocking_findings == 1
            assert err.details[0]["field"] == "release.env.X"
            assert len(err.details) == 1
            assert isinstance(err.report, loco.ValidationReport)
            assert err.report.passed is False
            assert err.report.findings[0]["rule"] == "missing_variable"

            assert (await engine.get(id)).status == "approved"
            refused = await engine.events(id)
            assert kinds(refused) == ["created", "approved", "validation"]
            assert refused[-1].data is not None and refused[-1].data["passed"] is False
            with pytest.raises(loco.NotFoundError):
                await engine.rollout(id)

            started = await engine.start_rollout(id, requiring("X", env={"X": "1"}), "deploy-bot")
            assert started.deployment_id == id
            done = await engine.wait_rollout(id)
            assert done.state == "succeeded", done.failure
            events = kinds(await engine.events(id))
            assert events[:5] == ["created", "approved", "validation", "validation", "started"]
            at = events.index("started")
            assert events[at - 1] == "validation"
            passed = (await engine.events(id))[at - 1]
            assert passed.data is not None and passed.data["passed"] is True
        finally:
            await engine.close()
        assert service_processes(service) == []

    run(main)


def test_the_blocking_engine_raises_validation_failed_too(tmp_path: pathlib.Path) -> None:
    engine = loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state")
    service = unique_service()
    try:
        id = approved(engine, service, "v1")
        with pytest.raises(loco.ValidationFailedError) as caught:
            engine.start_rollout(id, requiring("X"), "deploy-bot")
        err = caught.value
        assert isinstance(err, loco.LocoError)
        assert (err.code, err.deployment_id, err.blocking_findings) == ("validation_failed", id, 1)
        assert [d["field"] for d in err.details] == ["release.env.X"]
        assert err.report.passed is False
        assert engine.get(id).status == "approved"
        assert kinds(engine.events(id))[-1] == "validation"
        with pytest.raises(loco.NotFoundError):
            engine.rollout(id)
    finally:
        engine.close()
    assert service_processes(service) == []


def test_validation_names_are_exported() -> None:
    assert "ValidationFailedError" in loco.__all__
    assert "ValidationReport" in loco.__all__
    assert issubclass(loco.ValidationFailedError, loco.LocoError)
    assert "validation" in loco.EVENT_KINDS
