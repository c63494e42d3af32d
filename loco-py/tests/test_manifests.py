"""Stored manifests from Python on real SQLite files: applying a ``service.yaml`` stores it as the
service's version 1 and sets its pipeline, gates and freeze windows; the same text again changes
nothing; a changed one is version 2 and takes away the gate and window version 1 set and it does
not; every version stays readable, also after reopening; a bad manifest raises ``ValidationError``
with every problem at its line and stores nothing; a blank actor, a missing service or version
are refused; creates record the version in force; and the same through the asyncio ``Engine``."""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any, Dict, List

import pytest

import loco
from conftest import request, run

REPO = pathlib.Path(__file__).resolve().parents[2]
VECTORS: List[Dict[str, Any]] = json.loads(
    (REPO / "tests" / "conformance" / "manifests.json").read_text(encoding="utf-8"))["vectors"]
INVALID = [v for v in VECTORS if not v["expect"]["valid"]]

#: The first valid vector: checkout through dev, staging and production, a two-approver gate on
#: production and a weekend freeze window there.
FIRST: str = next(v for v in VECTORS if v["expect"]["valid"])["manifest"]

#: Version 2: the gate moves from production to staging, the weekend window gives way to a
#: year-end one.
SECOND = """apiVersion: loco/v1
service: checkout
stages:
  - environment: dev
  - environment: staging
    approval:
      required_approvals: 1
  - environment: production
freeze_windows:
  - name: year-end
    environments: [production]
    reason: year-end change freeze
    schedule: {type: once, start: "2026-12-20T00:00:00Z", end: "2027-01-04T00:00:00Z"}
"""


def fields(error: loco.LocoError) -> List[str]:
    return [d["field"] for d in error.details]


def versions(records: List[loco.ManifestRecordDict]) -> List[int]:
    return [r["version"] for r in records]


def created_data(events: List[loco.Event]) -> Dict[str, Any]:
    """The data of the ``created`` event that opens ``events``."""
    created = events[0]
    assert created.kind == "created" and created.data is not None
    return created.data


def test_a_first_manifest_is_version_1_and_sets_its_pipeline_gate_and_window(tmp_path: pathlib.Path) -> None:
    with loco.SyncEngine.open(tmp_path / "loco.db") as engine:
        assert engine.manifests() == []
        record = engine.apply_manifest(FIRST, "root")
        assert type(record) is dict
        assert (record["service"], record["version"], record["applied_by"]) == ("checkout", 1, "root")
        assert record["text"] == FIRST
        assert record["digest"] == hashlib.sha256(FIRST.encode()).hexdigest()
        assert len(record["digest"]) == 64 and set(record["digest"]) <= set("0123456789abcdef")
        assert record["manifest"] == loco.parse_manifest(FIRST)
        assert record["applied_at"].endswith("Z")
        assert json.loads(json.dumps(record)) == record, "plain JSON, like the HTTP body"

        assert engine.manifest("checkout") == record
        assert engine.manifest("checkout", 1) == record
        assert engine.manifest_history("checkout") == [record]
        assert engine.manifests() == [record]

        assert [p.to_dict() for p in engine.pipelines()] == [
            {"service": "checkout", "stages": ["dev", "staging", "production"], "require_previous_success": True}]
        assert [g.to_dict() for g in engine.gates()] == [
            {"environment": "production", "service": "checkout", "required_approvals": 2,
             "approvers": ["alice", "bob", "carol"], "groups": [], "expires_after_minutes": 1440,
             "wait_minutes": None}]
        assert [(w.name, w.environments) for w in engine.freeze_windows()] == [("weekend", ["production"])]


def test_the_newest_text_again_changes_nothing_and_returns_that_version(tmp_path: pathlib.Path) -> None:
    with loco.SyncEngine.open(tmp_path / "loco.db") as engine:
        first = engine.apply_manifest(FIRST, "root")
        again = engine.apply_manifest(FIRST, "erin")
        assert again == first, "the stored version, still applied by root"
        assert versions(engine.manifest_history("checkout")) == [1]


def test_a_changed_manifest_is_version_2_and_takes_away_what_only_version_1_set(tmp_path: pathlib.Path) -> None:
    with loco.SyncEngine.open(tmp_path / "loco.db") as engine:
        first = engine.apply_manifest(FIRST, "root")
        second = engine.apply_manifest(SECOND, "erin")
        assert (second["version"], second["applied_by"], second["text"]) == (2, "erin", SECOND)
        assert second["digest"] != first["digest"]
        assert versions(engine.manifest_history("checkout")) == [2, 1]
        assert engine.manifest_history("checkout") == [second, first]
        assert engine.manifest("checkout", 1)["text"] == FIRST
        assert engine.manifest("checkout") == second
        assert engine.manifests() == [second]

        assert [(g.environment, g.required_approvals) for g in engine.gates()] == [("staging", 1)], \
            "the production gate version 1 set is gone"
        assert [w.name for w in engine.freeze_windows()] == ["year-end"]
        assert [p.stages for p in engine.pipelines()] == [["dev", "staging", "production"]]

        assert engine.apply_manifest(FIRST, "root")["version"] == 3, "only the newest text is kept as is"


def test_every_invalid_vector_is_refused_at_its_lines_and_nothing_is_stored(tmp_path: pathlib.Path) -> None:
    with loco.SyncEngine.open(tmp_path / "loco.db") as engine:
        stored = engine.apply_manifest(FIRST, "root")
        gates = engine.gates()
        for vector in INVALID:
            with pytest.raises(loco.ValidationError) as caught:
                engine.apply_manifest(vector["manifest"], "root")
            got = [(d["field"], d.get("line")) for d in caught.value.details]
            assert got == [(p["field"], p["line"]) for p in vector["expect"]["problems"]], vector["name"]
            assert all(type(d.get("column")) is int for d in caught.value.details), vector["name"]
        assert engine.manifests() == [stored]
        assert engine.manifest_history("checkout") == [stored]
        assert engine.gates() == gates


def test_a_blank_actor_is_refused_on_by_and_nothing_is_stored(sync_engine: loco.SyncEngine) -> None:
    for actor in ["", "  "]:
        with pytest.raises(loco.ValidationError) as caught:
            sync_engine.apply_manifest(FIRST, actor)
        assert fields(caught.value) == ["by"]
    assert sync_engine.manifests() == []
    assert sync_engine.pipelines() == []


def test_a_service_without_a_manifest_or_a_missing_version_is_not_found(sync_engine: loco.SyncEngine) -> None:
    with pytest.raises(loco.NotFoundError) as newest:
        sync_engine.manifest("checkout")
    assert (newest.value.code, getattr(newest.value, "service")) == ("not_found", "checkout")
    with pytest.raises(loco.NotFoundError) as history:
        sync_engine.manifest_history("checkout")
    assert history.value.code == "not_found"

    sync_engine.apply_manifest(FIRST, "root")
    with pytest.raises(loco.NotFoundError) as missing:
        sync_engine.manifest("checkout", 2)
    assert missing.value.code == "not_found"
    assert "version 2" in str(missing.value)
    with pytest.raises(loco.NotFoundError):
        sync_engine.manifest("billing", 1)
    for version in [0, -1]:
        with pytest.raises(loco.ValidationError) as refused:
            sync_engine.manifest("checkout", version)
        assert fields(refused.value) == ["version"], version


def test_arguments_of_the_wrong_type_are_type_errors(sync_engine: loco.SyncEngine) -> None:
    bad: Any = FIRST.encode()
    with pytest.raises(TypeError):
        sync_engine.apply_manifest(bad, "root")
    with pytest.raises(TypeError):
        sync_engine.manifest("checkout", "1")  # type: ignore[arg-type]
    assert sync_engine.manifests() == []


def test_the_history_is_in_the_file(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "loco.db"
    with loco.SyncEngine.open(db) as engine:
        first = engine.apply_manifest(FIRST, "root")
        second = engine.apply_manifest(SECOND, "erin")
    with loco.SyncEngine.open(db) as engine:
        assert engine.manifest_history("checkout") == [second, first]
        assert engine.manifests() == [second]
        assert engine.apply_manifest(SECOND, "root") == second, "the stored text is still the newest"


def test_creates_record_the_manifest_version_that_ordered_them(sync_engine: loco.SyncEngine) -> None:
    sync_engine.apply_manifest(FIRST, "root")
    dev = sync_engine.create(**request(environment="dev"))
    assert created_data(sync_engine.events(dev.id))["manifest_version"] == 1

    with pytest.raises(loco.PolicyViolationError) as early:
        sync_engine.create(**request(environment="staging"))
    assert early.value.rule == "promotion_order", "the manifest's pipeline is in force"

    sync_engine.apply_manifest(SECOND, "root")
    later = sync_engine.create(**request(environment="dev", version="1.5.0"))
    assert created_data(sync_engine.events(later.id))["manifest_version"] == 2


def test_without_a_manifest_a_create_records_no_version(sync_engine: loco.SyncEngine) -> None:
    sync_engine.set_pipeline({"service": "checkout", "stages": ["dev", "staging"]}, "root")
    dev = sync_engine.create(**request(environment="dev"))
    assert "manifest_version" not in created_data(sync_engine.events(dev.id))


def test_each_call_returns_a_new_dict(sync_engine: loco.SyncEngine) -> None:
    record = sync_engine.apply_manifest(FIRST, "root")
    record["manifest"]["stages"].clear()
    record["version"] = 9
    fresh = sync_engine.manifest("checkout")
    assert fresh["version"] == 1 and len(fresh["manifest"]["stages"]) == 3


def test_the_asyncio_engine_applies_and_reads_manifests(db_path: pathlib.Path) -> None:
    async def main() -> None:
        async with await loco.Engine.open(db_path) as engine:
            first = await engine.apply_manifest(FIRST, "root")
            assert (first["version"], first["applied_by"], first["text"]) == (1, "root", FIRST)
            assert await engine.apply_manifest(FIRST, "erin") == first
            second = await engine.apply_manifest(SECOND, "erin")
            assert second["version"] == 2
            assert versions(await engine.manifest_history("checkout")) == [2, 1]
            assert (await engine.manifest("checkout", 1))["text"] == FIRST
            assert await engine.manifest("checkout") == second
            assert await engine.manifests() == [second]
            assert [g.environment for g in await engine.gates()] == ["staging"]

            with pytest.raises(loco.ValidationError) as bad:
                await engine.apply_manifest(FIRST.replace("required_approvals: 2", "required_approvals: 0"), "root")
            assert [(d["field"], d["line"]) for d in bad.value.details] == [
                ("stages[2].approval.required_approvals", 19)]
            with pytest.raises(loco.ValidationError) as blank:
                await engine.apply_manifest(FIRST, " ")
            assert fields(blank.value) == ["by"]
            with pytest.raises(loco.NotFoundError):
                await engine.manifest("checkout", 3)
            with pytest.raises(loco.NotFoundError):
                await engine.manifest_history("billing")
            assert await engine.manifests() == [second]

            dev = await engine.create(**request(environment="dev"))
            assert created_data(await engine.events(dev.id))["manifest_version"] == 2

    run(main)
