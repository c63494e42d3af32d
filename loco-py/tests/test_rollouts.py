"""Rollouts on the local platform from Python: real demo-service processes behind the core's
weighted proxy, real HTTP traffic through it, canary analysis on the proxy's measurements. Every
test closes its engine and checks that none of its service's processes survives."""

from __future__ import annotations

import asyncio
import json
import pathlib
import subprocess
import sys
import time
from typing import Any, Dict

import pytest

import loco
from conftest import run
from rollout_helpers import (
    Traffic,
    analysis,
    approved,
    approved_async,
    plan,
    service_processes,
    unique_service,
    versions,
)

#: Latency differences under 250 ms are noise here: a fresh Python process on a loaded machine has
#: hiccups of tens of milliseconds, and these tests are about error rates.
QUIET_LATENCY: Dict[str, Any] = {"min_samples": 20, "latency_noise_floor_ms": 250}


async def open_local(tmp_path: pathlib.Path, **options: Any) -> loco.Engine:
    return await loco.Engine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state", **options)


async def release_v1(engine: loco.Engine, service: str) -> loco.Rollout:
    """Releases ``v1`` of ``service`` all at once; it then serves through the proxy."""
    v1 = await approved_async(engine, service, "v1")
    first = await engine.run_rollout(v1, plan("v1"), "deploy-bot")
    assert first.state == "succeeded", first.failure
    return first


async def wait_for_state(engine: loco.Engine, id: str, state: str, within: float = 20.0) -> loco.Rollout:
    deadline = time.monotonic() + within
    while True:
        rollout = await engine.rollout(id)
        if rollout.state == state or time.monotonic() > deadline:
            return rollout
        await asyncio.sleep(0.05)


def test_a_healthy_canary_is_promoted_through_every_step_and_then_serves_all_traffic(
    tmp_path: pathlib.Path,
) -> None:
    service = unique_service()

    async def main() -> None:
        engine = await open_local(tmp_path)
        try:
            first = await release_v1(engine, service)
            endpoint = first.progress["endpoint"]
            assert endpoint is not None and endpoint.startswith("127.0.0.1:")
            assert versions(endpoint, 4) == {"v1": 4}

            v2 = await approved_async(engine, service, "v2")
            traffic = Traffic(endpoint)
            canary = plan(
                "v2",
                strategy={"type": "canary", "steps": [25, 50], "interval_seconds": 1},
                analysis=analysis(QUIET_LATENCY, monitor_seconds=0.5),
            )
            rollout = await engine.run_rollout(v2, canary, "deploy-bot")
            statuses = traffic.stop()

            assert rollout.state == "succeeded", rollout.failure
            assert rollout.failure is None and not rollout.is_active
            assert rollout.previous is not None and rollout.previous.version == "v1"
            assert rollout.previous.deployment_id == first.deployment_id
            assert rollout.progress["traffic"] == [{"version": "v2", "percent": 100}]
            assert rollout.progress["completed_steps"] == rollout.progress["total_steps"]
            assert rollout.analysis is not None and rollout.analysis["verdict"] == "pass"
            assert rollout.analysis == rollout.progress["analysis"]
            assert rollout.plan["strategy"] == {"type": "canary", "steps": [25, 50], "interval_seconds": 1.0}
            assert rollout.plan["analysis"]["thresholds"]["latency_noise_floor_ms"] == 250
            assert (await engine.get(v2)).status == "succeeded"
            assert statuses.get("200", 0) > 0 and "500" not in statuses, statuses

            events = await engine.events(v2)
            promotions = [(e.data["from_percent"], e.data["to_percent"]) for e in events
                          if e.kind == "canary_promoted" and e.data]
            assert promotions == [(25, 50), (50, 100)]
            assert any(e.kind == "step_progress" for e in events)
            verdicts = [e.data["judgement"]["verdict"] for e in events if e.kind == "analysis" and e.data]
            assert verdicts.count("pass") == 3, verdicts  # 25 %, 50 % and the monitoring window
            assert set(verdicts) <= {"pass", "inconclusive"}, verdicts

            assert versions(endpoint, 6) == {"v2": 6}
            releases = await engine.releases(service, "staging")
            assert [(r.version, r.deployment_id, r.retired_at is None) for r in releases] == [
                ("v2", v2, True),
                ("v1", first.deployment_id, False),
            ]
            assert releases[0].spec["command"] == ["python3", first.plan["release"]["command"][1]]
            assert [r.version for r in await engine.releases(service, "staging", limit=1)] == ["v2"]
            old_pids = {i["pid"] for i in first.progress["instances"]}
            live = service_processes(service)
            assert not old_pids & set(live), "the old release was stopped"
            assert live == sorted(i["pid"] for i in rollout.progress["instances"]
                                  if i["version"] == "v2" and i["state"] == "running" and i["pid"])
        finally:
            await engine.close()
        assert service_processes(service) == []

    run(main)


def test_a_release_failing_60_percent_of_requests_is_rolled_back_on_the_analysis(tmp_path: pathlib.Path) -> None:
    service = unique_service()

    async def main() -> None:
        engine = await open_local(tmp_path)
        try:
            first = await release_v1(engine, service)
            endpoint = first.progress["endpoint"]
            assert endpoint is not None
            v2 = await approved_async(engine, service, "v2")
            traffic = Traffic(endpoint)
            bad = plan(
                "v2",
                env={"FAILURE_RATE": "0.6"},
                strategy={"type": "canary", "steps": [20, 50], "interval_seconds": 10},
                analysis=analysis(),
            )
            rollout = await engine.run_rollout(v2, bad, "deploy-bot")
            statuses = traffic.stop()

            assert rollout.state == "rolled_back"
            assert rollout.failure is not None and rollout.failure["code"] == "analysis_critical"
            assert "above the critical 50%" in rollout.failure["message"]
            assert rollout.analysis is not None
            assert (rollout.analysis["verdict"], rollout.analysis["severity"]) == ("fail", "critical")
            assert rollout.analysis["canary"]["requests"] >= 10
            assert rollout.progress["traffic"] == [{"version": "v1", "percent": 100}]
            assert rollout.finished_at is not None
            assert (await engine.get(v2)).status == "rolled_back"
            events = await engine.events(v2)
            assert "canary_promoted" not in [e.kind for e in events], "never promoted past 20 %"
            critical = [e for e in events if e.kind == "analysis" and e.data
                        and e.data["judgement"]["severity"] == "critical"]
            assert critical, "the deciding analysis is recorded"
            assert [(e.kind, e.actor) for e in events if e.to_status is not None] == [
                ("created", "alice@example.com"),
                ("approved", "bob@example.com"),
                ("started", "deploy-bot"),
                ("failed", "loco"),
                ("rolled_back", "loco"),
            ]
            assert statuses.get("500", 0) > 0, "the bad release did fail requests"
            assert versions(endpoint, 6) == {"v1": 6}
            assert [r.version for r in await engine.releases(service, "staging")] == ["v1"]
        finally:
            await engine.close()
        assert service_processes(service) == []

    run(main)


def test_a_paused_canary_goes_on_after_override_rollout_and_succeeds(tmp_path: pathlib.Path) -> None:
    service = unique_service()

    async def main() -> None:
        engine = await open_local(tmp_path)
        try:
            first = await release_v1(engine, service)
            endpoint = first.progress["endpoint"]
            assert endpoint is not None
            v2 = await approved_async(engine, service, "v2")
            traffic = Traffic(endpoint)
            # 15 points worse than the baseline: above the `high` increase of 10 points (a pause),
            # far below the critical 50 % (a rollback).
            started = await engine.start_rollout(
                v2,
                plan(
                    "v2",
                    env={"FAILURE_RATE": "0.15"},
                    strategy={"type": "canary", "steps": [30], "interval_seconds": 1.5},
                    analysis=analysis(QUIET_LATENCY),
                ),
                "deploy-bot",
            )
            assert started.state == "running" and started.is_active
            paused = await wait_for_state(engine, v2, "paused")
            traffic.stop()
            assert paused.state == "paused", (paused.state, paused.failure)
            assert paused.is_active
            assert (await engine.get(v2)).status == "started", "a pause is not a failure"
            judgement = paused.analysis
            assert judgement is not None
            assert (judgement["verdict"], judgement["severity"]) == ("fail", "high")
            assert any("points above the baseline" in r for r in judgement["reasons"]), judgement["reasons"]
            assert judgement["error_rate_test"] is not None and judgement["error_rate_test"]["p_value"] < 0.05
            assert judgement["baseline"] is not None
            assert judgement["canary"]["requests"] >= 20 and judgement["baseline"]["requests"] >= 20
            assert judgement["canary"]["error_rate"] > judgement["baseline"]["error_rate"]
            assert [r.deployment_id for r in await engine.rollouts(active_only=True)] == [v2]

            continued = await engine.override_rollout(v2, "carol@example.com", "known noisy endpoint; accept")
            assert continued.state != "paused"
            done = await engine.wait_rollout(v2)
            assert done.state == "succeeded", done.failure
            assert (await engine.get(v2)).status == "succeeded"
            overrides = [e for e in await engine.events(v2) if e.data and e.data.get("action") == "override"]
            assert [e.actor for e in overrides] == ["carol@example.com"]
            assert await engine.rollouts(active_only=True) == []
        finally:
            await engine.close()
        assert service_processes(service) == []

    run(main)


def test_the_blocking_twin_runs_a_canary_follows_logs_and_keeps_the_release_history(
    tmp_path: pathlib.Path,
) -> None:
    service = unique_service()
    # The staging thresholds come from the open options, production's from set_thresholds.
    engine = loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state",
                                  thresholds={"staging": {"min_samples": 5}})
    try:
        engine.set_thresholds("production", '{"critical_error_rate": 0.3}')
        v1 = approved(engine, service, "v1")
        first = engine.run_rollout(v1, plan("v1"), "deploy-bot")
        assert first.state == "succeeded", first.failure
        assert first.previous is None, "a first release has nothing to restore"
        instance = first.progress["instances"][0]
        assert instance["state"] == "running" and isinstance(instance["pid"], int)

        logs = engine.logs(v1, instance["id"])
        listening = next(line for line in logs if "listening on" in line.line)
        assert listening.to_dict() == {
            "instance_id": instance["id"],
            "stream": "stdout",
            "line": f"demo-service v1 listening on {instance['address']}",
        }
        assert (listening.instance_id, listening.stream) == (instance["id"], "stdout")
        follower = engine.logs(v1, instance["id"])
        assert follower.next_line(timeout=5) == listening, "recent lines come first"
        with pytest.raises(TimeoutError):
            follower.next_line(timeout=0.05)

        v2 = approved(engine, service, "v2")
        rollout = engine.run_rollout(
            v2,
            plan("v2", strategy={"type": "canary", "steps": [50], "interval_seconds": 0.3}),
            "deploy-bot",
        )
        assert rollout.state == "succeeded", rollout.failure
        assert rollout.analysis is None, "no analysis in this plan"
        assert engine.rollout(v2) == rollout
        assert engine.wait_rollout(v2) == rollout
        assert follower.next_line(timeout=10) is None, "the stream ends when v1's instance stops"
        assert list(follower) == []

        assert sorted((r.deployment_id, r.state) for r in engine.rollouts()) == sorted(
            [(v1, "succeeded"), (v2, "succeeded")]
        )
        assert engine.rollouts(active_only=True) == []
        releases = engine.releases(service, "staging")
        assert [(r.version, r.retired_at is None) for r in releases] == [("v2", True), ("v1", False)]
        assert releases[0].instances == [i for i in rollout.progress["instances"] if i["version"] == "v2"]

        d = rollout.to_dict()
        assert list(d) == [
            "deployment_id", "service", "environment", "platform", "plan", "state", "progress", "previous",
            "failure", "actor", "owner", "lease", "heartbeat_at", "started_at", "updated_at", "finished_at",
        ]
        assert d["previous"] is not None and d["previous"]["version"] == "v1"
        assert list(releases[0].to_dict()) == [
            "version", "deployment_id", "platform", "spec", "instances", "activated_at", "retired_at",
        ]
        as_dict: Dict[str, Any] = dict(d)
        for name, value in as_dict.items():
            attribute = getattr(rollout, name)
            assert value == (attribute.to_dict() if isinstance(attribute, loco.Release) else attribute), name
        assert repr(rollout) == (
            f"Rollout(deployment_id='{v2}', service='{service}', environment='staging', state='succeeded', "
            f"steps='{rollout.progress['completed_steps']}/{rollout.progress['total_steps']}')"
        )
        assert repr(releases[0]).startswith(f"Release(version='v2', deployment_id='{v2}', activated_at='")
        assert loco.ROLLOUT_STATES == ("running", "paused", "succeeded", "rolling_back", "rolled_back",
                                       "rollback_failed")
    finally:
        engine.close()
    assert service_processes(service) == []


#: Runs in a child process: releases v1, starts a ten-minute canary of v2, prints the facts as
#: JSON and waits to be killed.
ROLLOUT_THEN_HANG = """
import json, sys, time
import loco
sys.path.insert(0, sys.argv[4])
from rollout_helpers import approved, plan
db, state, service = sys.argv[1:4]
engine = loco.SyncEngine.open(db, local_state_dir=state)
v1 = approved(engine, service, "v1")
first = engine.run_rollout(v1, plan("v1"), "deploy-bot")
v2 = approved(engine, service, "v2")
engine.start_rollout(v2, plan("v2", strategy={"type": "canary", "steps": [50], "interval_seconds": 600}), "deploy-bot")
deadline = time.monotonic() + 30
while engine.rollout(v2).progress["completed_steps"] < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
pids = lambda r, version: [i["pid"] for i in r.progress["instances"] if i["version"] == version]
print(json.dumps({"v1": v1, "v2": v2, "v1_pids": pids(first, "v1"), "v2_pids": pids(engine.rollout(v2), "v2")}),
      flush=True)
time.sleep(600)
"""


def test_opening_with_the_same_state_dir_recovers_a_rollout_whose_engine_was_killed(tmp_path: pathlib.Path) -> None:
    db, state, service = tmp_path / "loco.db", tmp_path / "state", unique_service()
    with subprocess.Popen(
        [sys.executable, "-c", ROLLOUT_THEN_HANG, str(db), str(state), service, str(pathlib.Path(__file__).parent)],
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            facts = json.loads(child.stdout.readline())
        finally:
            child.kill()
    # The killed engine's instances run on, orphaned.
    assert service_processes(service) == sorted(facts["v1_pids"] + facts["v2_pids"])

    engine = loco.SyncEngine.open(db, local_state_dir=state)
    try:
        recovered = engine.rollout(facts["v2"])
        assert recovered.state == "rolled_back", "recovered while opening"
        assert recovered.failure is not None and recovered.failure["code"] == "engine_restarted"
        assert engine.get(facts["v2"]).status == "rolled_back"
        assert engine.rollouts(active_only=True) == []
        # v1's live processes were adopted and serve all traffic; the canary's were stopped.
        assert service_processes(service) == sorted(facts["v1_pids"])
        endpoint = recovered.progress["endpoint"]
        assert endpoint is not None
        assert versions(endpoint, 4) == {"v1": 4}
    finally:
        engine.close()
    assert service_processes(service) == []
