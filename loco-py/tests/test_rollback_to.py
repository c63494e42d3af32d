"""Rolling a target back to any retained release from Python, on the local platform for real:
demo-service processes behind the core's proxy, the answering version read from the
``x-loco-version`` header, kept instances checked in ``/proc``. Every test closes its engine and
checks that none of its service's processes survives."""

from __future__ import annotations

import pathlib
from typing import Any, List

import pytest

import loco
from conftest import run
from rollout_helpers import approved, approved_async, plan, service_processes, unique_service, versions


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            # The state follows the parenthesised command name, which may contain spaces.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pids(rollout: loco.Rollout, version: str) -> List[int]:
    """The process ids of the rollout's running instances of ``version``."""
    return sorted(i["pid"] for i in rollout.progress["instances"]
                  if i["version"] == version and i["state"] == "running" and i["pid"] is not None)


def fields(error: loco.LocoError) -> List[str]:
    return [d["field"] for d in error.details]


async def release(engine: loco.Engine, service: str, version: str, **overrides: Any) -> loco.Rollout:
    """Releases ``version`` of ``service`` all at once; it then serves through the proxy."""
    id = await approved_async(engine, service, version)
    rollout = await engine.run_rollout(id, plan(version, **overrides), "deploy-bot")
    assert rollout.state == "succeeded", rollout.failure
    return rollout


def test_rollback_to_brings_back_a_release_two_releases_ago(tmp_path: pathlib.Path) -> None:
    service = unique_service()

    async def main() -> None:
        engine = await loco.Engine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state")
        try:
            v1 = await release(engine, service, "v1")
            await release(engine, service, "v2")
            v3 = await release(engine, service, "v3")
            endpoint = v1.progress["endpoint"]
            assert endpoint is not None
            assert versions(endpoint, 3) == {"v3": 3}

            rollout = await engine.rollback_to(service, "staging", "v1", "carol@example.com",
                                               "v2 and v3 both leak memory")
            assert rollout.state == "rolled_back", rollout.failure
            assert rollout.deployment_id == v3.deployment_id, "the serving release's deployment is rolled back"
            assert rollout.previous is not None and rollout.previous.version == "v1"
            assert rollout.previous.deployment_id == v1.deployment_id
            assert rollout.progress["traffic"] == [{"version": "v1", "percent": 100}]
            assert (await engine.get(v3.deployment_id)).status == "rolled_back"
            assert versions(endpoint, 4) == {"v1": 4}, "v1 was started again and serves on the same port"

            events = await engine.events(v3.deployment_id)
            rolled_back = [e for e in events if e.kind == "rolled_back"]
            assert [(e.actor, e.note) for e in rolled_back] == [("carol@example.com", "v2 and v3 both leak memory")]
            releases = await engine.releases(service, "staging")
            assert [(r.version, r.retired_at is None) for r in releases][:2] == [("v1", True), ("v3", False)]
            current = releases[0]
            assert service_processes(service) == sorted(i["pid"] for i in current.instances if i["pid"]), (
                "only the restored release runs")
        finally:
            await engine.close()
        assert service_processes(service) == []

    run(main)


def test_rollback_to_refuses_the_serving_an_unknown_and_an_unexplained_version(tmp_path: pathlib.Path) -> None:
    service = unique_service()
    engine = loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state")
    try:
        for version in ("v1", "v2"):
            id = approved(engine, service, version)
            assert engine.run_rollout(id, plan(version), "deploy-bot").state == "succeeded"

        with pytest.raises(loco.ValidationError) as unknown:
            engine.rollback_to(service, "staging", "v9", "carol", "no such release")
        assert fields(unknown.value) == ["version"]
        assert unknown.value.details[0]["field"] == "version"
        assert "(retained, newest first: v2, v1)" in str(unknown.value)
        with pytest.raises(loco.ValidationError) as serving:
            engine.rollback_to(service, "staging", "v2", "carol", "already there")
        assert fields(serving.value) == ["version"]
        assert "already serves" in str(serving.value)
        with pytest.raises(loco.ValidationError) as no_note:
            engine.rollback_to(service, "staging", "v1", "carol", " ")
        assert fields(no_note.value) == ["note"]
        with pytest.raises(loco.ValidationError) as blank:
            engine.rollback_to("", "", "", "carol", "why")
        assert fields(blank.value) == ["service", "environment", "version"]
        assert [r.version for r in engine.releases(service, "staging")] == ["v2", "v1"], "nothing changed"
    finally:
        engine.close()
    assert service_processes(service) == []


def test_within_the_scale_down_delay_a_rollback_serves_from_the_kept_process(tmp_path: pathlib.Path) -> None:
    service = unique_service()
    engine = loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state")
    try:
        v1 = approved(engine, service, "v1")
        first = engine.run_rollout(v1, plan("v1"), "deploy-bot")
        assert first.state == "succeeded", first.failure
        endpoint = first.progress["endpoint"]
        assert endpoint is not None
        v1_pids = pids(first, "v1")
        assert len(v1_pids) == 1

        v2 = approved(engine, service, "v2")
        second = engine.run_rollout(v2, plan("v2", scale_down_delay_seconds=60), "deploy-bot")
        assert second.state == "succeeded", second.failure
        assert second.plan["scale_down_delay_seconds"] == 60
        assert versions(endpoint, 3) == {"v2": 3}
        assert all(alive(pid) for pid in v1_pids), "v1 keeps running without traffic"
        assert set(v1_pids) < set(service_processes(service))

        assert engine.rollback(v2, "carol@example.com", "bad release").status == "rolled_back"
        assert versions(endpoint, 4) == {"v1": 4}
        current = engine.releases(service, "staging", limit=1)[0]
        assert current.version == "v1"
        assert sorted(i["pid"] for i in current.instances if i["pid"]) == v1_pids, "the same process serves again"
        assert all(alive(pid) for pid in v1_pids)
        assert service_processes(service) == v1_pids, "v2 was stopped"
    finally:
        engine.close()
    assert service_processes(service) == []


def test_open_passes_release_retention_and_lease_to_the_core(tmp_path: pathlib.Path) -> None:
    service = unique_service()
    with pytest.raises(loco.ValidationError) as negative:
        loco.SyncEngine.open_in_memory(lease_seconds=-1)
    assert fields(negative.value) == ["lease_seconds"]
    with pytest.raises(loco.ValidationError) as endless:
        loco.SyncEngine.open_in_memory(lease_seconds=float("nan"))
    assert fields(endless.value) == ["lease_seconds"]

    engine = loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state",
                                  release_retention=2, lease_seconds=5)
    try:
        for version in ("v1", "v2", "v3"):
            id = approved(engine, service, version)
            rollout = engine.run_rollout(id, plan(version), "deploy-bot")
            assert rollout.state == "succeeded", rollout.failure
        assert [r.version for r in engine.releases(service, "staging")] == ["v3", "v2"], "two kept"
        with pytest.raises(loco.ValidationError) as dropped:
            engine.rollback_to(service, "staging", "v1", "carol", "too old")
        assert fields(dropped.value) == ["version"]
        assert engine.rollback_to(service, "staging", "v2", "carol", "v3 is slow").state == "rolled_back"
    finally:
        engine.close()
    assert service_processes(service) == []
