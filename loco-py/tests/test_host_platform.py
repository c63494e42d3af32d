"""Platforms written in Python (``loco.Platform``) under the real orchestrator: every strategy on
``async`` and plain methods, exceptions and bad answers from each method, methods that hang or block
their event loop, capabilities that refuse a strategy, recovery after the engine's process is
killed, and many rollouts at once on one platform."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, cast

import pytest

import loco
from conftest import run
from rollout_helpers import approved, approved_async

HEALTH: Dict[str, Any] = {
    "probes": [],
    "timeout_seconds": 1,
    "retries": 1,
    "backoff_initial_seconds": 0.01,
    "backoff_max_seconds": 0.05,
    "interval_seconds": 0.02,
}

STRATEGIES: Dict[str, Dict[str, Any]] = {
    "immediate": {"type": "immediate"},
    "rolling": {"type": "rolling", "max_surge": 1, "max_unavailable": 0},
    "blue_green": {"type": "blue_green", "switch_delay_seconds": 0.05},
    "canary": {"type": "canary", "steps": [10, 50], "interval_seconds": 0.05},
}


def host_plan(version: str, strategy: str = "immediate", *, platform: str = "sim", instances: int = 2,
              **overrides: Any) -> Dict[str, Any]:
    """A plan for the Python platform ``platform``, with a secret the platform must see revealed."""
    body: Dict[str, Any] = {
        "platform": platform,
        "strategy": STRATEGIES[strategy],
        "release": {"version": version, "image": f"registry.example/shop:{version}", "secret_env": {"TOKEN": "s3cret"}},
        "instances": instances,
        "health": HEALTH,
    }
    body.update(overrides)
    return body


def key(target: Mapping[str, str]) -> str:
    return f"{target['service']}/{target['environment']}"


class Fleet:
    """The simulated infrastructure behind the test platforms: instances and traffic per target,
    the calls made, and faults to inject (an exception, a hang, a bad answer per method)."""

    def __init__(self) -> None:
        self.instances: Dict[str, Dict[str, Any]] = {}
        self.traffic: Dict[str, List[Dict[str, Any]]] = {}
        self.splits: List[List[Dict[str, Any]]] = []
        self.calls: List[str] = []
        self.releases: List[Dict[str, Any]] = []
        self.raise_in: Dict[str, str] = {}
        self.answer: Dict[str, Any] = {}
        self.crashed_versions: Set[str] = set()
        self.faulty_version = "v2"

    def enter(self, method: str, version: Optional[str] = None) -> Optional[Any]:
        """Records the call; raises or returns the injected bad answer for the faulty version."""
        self.calls.append(method)
        if version in (None, self.faulty_version):
            if method in self.raise_in:
                raise RuntimeError(self.raise_in[method])
            if method in self.answer:
                return self.answer[method]
        return None

    def deploy(self, target: Mapping[str, str], release: Mapping[str, Any], ids: Sequence[str]) -> List[Dict[str, Any]]:
        bad = self.enter("deploy", release["version"])
        if bad is not None:
            return cast(List[Dict[str, Any]], bad)
        self.releases.append(dict(release))
        started = [{"id": i, "version": release["version"], "state": "running", "platform_id": f"m-{i[-6:]}"}
                   for i in ids]
        for instance in started:
            self.instances[instance["id"]] = dict(instance, target=key(target))
        return started

    def set_traffic(self, target: Mapping[str, str], split: List[Dict[str, Any]]) -> None:
        shifted = [w["version"] for w in split if w["percent"] > 0]
        self.enter("set_traffic", self.faulty_version if self.faulty_version in shifted else "")
        self.traffic[key(target)] = split
        self.splits.append(split)

    def stop(self, target: Mapping[str, str], instances: Sequence[Mapping[str, Any]]) -> None:
        self.enter("stop")
        for instance in instances:
            if instance["id"] in self.instances:
                self.instances[instance["id"]]["state"] = "stopped"

    def health(self, target: Mapping[str, str], instance: Mapping[str, Any]) -> Any:
        bad = self.enter("health", instance["version"])
        if bad is not None:
            return bad
        known = self.instances.get(instance["id"])
        if known is None or known["state"] != "running" or known["version"] in self.crashed_versions:
            return {"state": "exited", "reason": "simulated crash"}
        return "running"

    def status(self, target: Mapping[str, str]) -> Dict[str, Any]:
        self.enter("status")
        instances = [
            {k: v for k, v in i.items() if k != "target"} for i in self.instances.values() if i["target"] == key(target)
        ]
        return {"endpoint": f"https://{target['service']}.example", "traffic": self.traffic.get(key(target), []),
                "instances": instances}

    def restore(self, target: Mapping[str, str], release: Mapping[str, Any], known: Sequence[Mapping[str, Any]],
                replacement_ids: Sequence[str]) -> List[Dict[str, Any]]:
        self.enter("restore")
        alive = [dict(self.instances[k["id"]]) for k in known
                 if self.instances.get(k["id"], {}).get("state") == "running"]
        missing = max(len(known) - len(alive), 0 if alive else 1)
        restarted = self.deploy(target, release, list(replacement_ids[:missing])) if missing else []
        return [{k: v for k, v in i.items() if k != "target"} for i in alive] + restarted

    def running(self, target: str = "shop/staging") -> List[str]:
        """The versions of the running instances of ``target``, sorted."""
        return sorted(i["version"] for i in self.instances.values() if i["target"] == target and i["state"] == "running")


CAPABILITIES: Dict[str, Any] = {"traffic": "percentage", "native_rollback": False, "logs": False, "metrics": False}


class AsyncSim:
    """A platform with ``async`` methods (each yields to the event loop first); ``hang`` makes a
    method wait forever, ``block`` makes it block its event loop for that many seconds."""

    def __init__(self, name: str = "sim", traffic: str = "percentage") -> None:
        self.name = name
        self.capabilities = dict(CAPABILITIES, traffic=traffic)
        self.fleet = Fleet()
        self.hang: Set[str] = set()
        self.block: Dict[str, float] = {}
        self.cancelled: List[str] = []

    async def _pause(self, method: str, version: str) -> None:
        await asyncio.sleep(0)
        if version != self.fleet.faulty_version:
            return
        if method in self.block:
            time.sleep(self.block[method])  # on purpose: blocks the event loop
        if method in self.hang:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.append(method)
                raise

    async def deploy(self, target: Mapping[str, str], release: loco.ReleaseSpecDict,
                     instance_ids: List[str]) -> List[Dict[str, Any]]:
        await self._pause("deploy", release["version"])
        return self.fleet.deploy(target, release, instance_ids)

    async def set_traffic(self, target: Mapping[str, str], split: List[loco.TrafficWeightDict]) -> None:
        await asyncio.sleep(0)
        self.fleet.set_traffic(target, [dict(w) for w in split])

    async def stop(self, target: Mapping[str, str], instances: List[loco.InstanceDict]) -> None:
        await asyncio.sleep(0)
        self.fleet.stop(target, instances)

    async def health(self, target: Mapping[str, str], instance: loco.InstanceDict) -> Any:
        await asyncio.sleep(0)
        return self.fleet.health(target, instance)

    async def status(self, target: Mapping[str, str]) -> Dict[str, Any]:
        return self.fleet.status(target)

    async def restore(self, target: Mapping[str, str], release: loco.ReleaseSpecDict, known: List[loco.InstanceDict],
                      replacement_ids: List[str]) -> List[Dict[str, Any]]:
        await asyncio.sleep(0)
        return self.fleet.restore(target, release, known, replacement_ids)

    async def test_connection(self) -> None:
        await asyncio.sleep(0)


class SyncSim:
    """The same platform with plain methods (run on Loco's threads)."""

    def __init__(self, name: str = "sim") -> None:
        self.name = name
        self.fleet = Fleet()

    def capabilities(self) -> Dict[str, Any]:
        return CAPABILITIES

    def deploy(self, target: Mapping[str, str], release: loco.ReleaseSpecDict,
               instance_ids: List[str]) -> List[Dict[str, Any]]:
        return self.fleet.deploy(target, release, instance_ids)

    def set_traffic(self, target: Mapping[str, str], split: List[loco.TrafficWeightDict]) -> None:
        self.fleet.set_traffic(target, [dict(w) for w in split])

    def stop(self, target: Mapping[str, str], instances: List[loco.InstanceDict]) -> None:
        self.fleet.stop(target, instances)

    def health(self, target: Mapping[str, str], instance: loco.InstanceDict) -> Any:
        return self.fleet.health(target, instance)

    def status(self, target: Mapping[str, str]) -> Dict[str, Any]:
        return self.fleet.status(target)

    def restore(self, target: Mapping[str, str], release: loco.ReleaseSpecDict, known: List[loco.InstanceDict],
                replacement_ids: List[str]) -> List[Dict[str, Any]]:
        return self.fleet.restore(target, release, known, replacement_ids)

    def test_connection(self) -> None:
        pass


def test_the_test_platforms_satisfy_the_protocol() -> None:
    assert isinstance(AsyncSim(), loco.Platform)
    assert isinstance(SyncSim(), loco.Platform)
    assert not isinstance(object(), loco.Platform)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_every_strategy_runs_on_an_async_python_platform(db_path: pathlib.Path, strategy: str) -> None:
    sim = AsyncSim()

    async def main() -> None:
        async with await loco.Engine.open(db_path, platforms=[sim]) as engine:
            v1 = await approved_async(engine, "shop", "v1")
            assert (await engine.run_rollout(v1, host_plan("v1", instances=3), "ops")).state == "succeeded"
            v2 = await approved_async(engine, "shop", "v2")
            rollout = await engine.run_rollout(v2, host_plan("v2", strategy, instances=3), "ops")
            assert rollout.state == "succeeded", rollout.failure
            assert (await engine.get(v2)).status == "succeeded"
            assert rollout.progress["traffic"] == [{"version": "v2", "percent": 100}]
            assert {i["platform_id"] for i in rollout.progress["instances"] if i["version"] == "v2"} <= {
                i["platform_id"] for i in sim.fleet.instances.values()}
            assert [r.version for r in await engine.releases("shop", "staging")] == ["v2", "v1"]

    run(main)
    assert sim.fleet.traffic["shop/staging"] == [{"version": "v2", "percent": 100}]
    assert sim.fleet.running() == ["v2"] * 3
    # The platform sees the release as the core has it, secrets revealed.
    assert sim.fleet.releases[-1]["secret_env"] == {"TOKEN": "s3cret"}
    assert sim.fleet.releases[-1]["image"] == "registry.example/shop:v2"
    if strategy == "canary":
        shares = [[(w["version"], w["percent"]) for w in split] for split in sim.fleet.splits]
        assert shares[-3:] == [[("v2", 10), ("v1", 90)], [("v2", 50), ("v1", 50)], [("v2", 100)]]


def test_plain_methods_and_coroutines_both_run_under_a_sync_engine(db_path: pathlib.Path) -> None:
    plain, coroutines = SyncSim("plain"), AsyncSim("coroutines")
    with loco.SyncEngine.open(db_path, platforms=[plain]) as engine:
        engine.register_platform(coroutines)  # its coroutines run on Loco's private event loop
        for platform, sim_fleet in (("plain", plain.fleet), ("coroutines", coroutines.fleet)):
            for version in ("v1", "v2"):
                dep = approved(engine, "shop", version)
                rollout = engine.run_rollout(dep, host_plan(version, "canary", platform=platform), "ops")
                assert rollout.state == "succeeded", rollout.failure
            assert sim_fleet.running() == ["v2", "v2"]
            assert sim_fleet.traffic["shop/staging"] == [{"version": "v2", "percent": 100}]


@pytest.mark.parametrize(
    ("method", "state", "failure_code"),
    [
        ("deploy", "rolled_back", "step_failed"),
        ("health", "rolled_back", "health_check_failed"),
        ("set_traffic", "rolled_back", "step_failed"),
        ("restore", "rollback_failed", "rollback_failed"),
    ],
)
def test_an_exception_from_a_method_ends_the_rollout_as_the_core_decides(
    db_path: pathlib.Path, method: str, state: str, failure_code: str
) -> None:
    sim = AsyncSim()
    if method == "restore":
        sim.fleet.raise_in["deploy"] = "registry unreachable"
    sim.fleet.raise_in[method] = f"{method} exploded"

    async def main() -> None:
        async with await loco.Engine.open(db_path, platforms=[sim]) as engine:
            v1 = await approved_async(engine, "shop", "v1")
            assert (await engine.run_rollout(v1, host_plan("v1"), "ops")).state == "succeeded"
            v2 = await approved_async(engine, "shop", "v2")
            rollout = await engine.run_rollout(v2, host_plan("v2", "canary"), "ops")
            assert rollout.state == state, rollout.failure
            assert rollout.failure is not None and rollout.failure["code"] == failure_code
            story = json.dumps([e.to_dict() for e in await engine.events(v2)]) + json.dumps(rollout.failure)
            # The exception's type, message and where it was raised reach the record.
            assert f"{method}() raised RuntimeError: {method} exploded [test_host_platform.py:" in story
            if state == "rolled_back":
                assert (await engine.get(v2)).status == "rolled_back"
            else:
                assert "registry unreachable" in story

    run(main)
    if state == "rolled_back":
        assert sim.fleet.running() == ["v1", "v1"]
        assert sim.fleet.traffic["shop/staging"] == [{"version": "v1", "percent": 100}]


def test_a_method_that_never_answers_fails_at_the_time_limit_and_is_cancelled(db_path: pathlib.Path) -> None:
    sim = AsyncSim()
    sim.hang.add("deploy")
    quick = dict(HEALTH, timeout_seconds=0.3, retries=0)

    async def main() -> None:
        async with await loco.Engine.open(db_path, platforms=[sim]) as engine:
            v1 = await approved_async(engine, "shop", "v1")
            assert (await engine.run_rollout(v1, host_plan("v1", health=quick), "ops")).state == "succeeded"
            v2 = await approved_async(engine, "shop", "v2")
            started = time.monotonic()
            rollout = await engine.run_rollout(v2, host_plan("v2", health=quick), "ops")
            assert time.monotonic() - started < 10
            assert rollout.state == "rolled_back"
            assert rollout.failure is not None and "did not answer within 0.3 s" in rollout.failure["message"]
            for _ in range(100):
                if sim.cancelled:
                    break
                await asyncio.sleep(0.01)
            assert sim.cancelled == ["deploy"], "the abandoned coroutine was cancelled"
            # The engine (and the platform) still work.
            sim.hang.clear()
            v3 = await approved_async(engine, "shop", "v3")
            assert (await engine.run_rollout(v3, host_plan("v3", health=quick), "ops")).state == "succeeded"

    run(main)
    assert sim.fleet.running() == ["v3", "v3"]


def test_a_method_blocking_its_event_loop_does_not_stall_the_engine(db_path: pathlib.Path) -> None:
    sim = AsyncSim()
    sim.block["deploy"] = 1.0
    quick = dict(HEALTH, timeout_seconds=0.2, retries=0)

    async def main() -> None:
        async with await loco.Engine.open(db_path, platforms=[sim]) as engine:
            v1 = await approved_async(engine, "shop", "v1")
            assert (await engine.run_rollout(v1, host_plan("v1", health=quick), "ops")).state == "succeeded"
            v2 = await approved_async(engine, "shop", "v2")
            rollout = await engine.run_rollout(v2, host_plan("v2", health=quick), "ops")
            # The time limit fired on Loco's threads while the loop was blocked; the rollback ran
            # once the loop was free again.
            assert rollout.state == "rolled_back"
            assert rollout.failure is not None and "did not answer within" in rollout.failure["message"]
            assert (await engine.get(v1)).status == "succeeded"

    run(main)
    assert sim.fleet.traffic["shop/staging"] == [{"version": "v1", "percent": 100}]


def test_capabilities_that_cannot_split_traffic_refuse_a_canary(db_path: pathlib.Path) -> None:
    sim = AsyncSim("swap", traffic="atomic_swap")

    async def main() -> None:
        async with await loco.Engine.open(db_path, platforms=[sim]) as engine:
            dep = await approved_async(engine, "shop", "v1")
            with pytest.raises(loco.ValidationError) as refused:
                await engine.start_rollout(dep, host_plan("v1", "canary", platform="swap"), "ops")
            assert [d["field"] for d in refused.value.details] == ["strategy"]
            assert "traffic: atomic_swap" in str(refused.value)
            assert sim.fleet.calls == [], "refused before anything ran"
            rollout = await engine.run_rollout(dep, host_plan("v1", "blue_green", platform="swap"), "ops")
            assert rollout.state == "succeeded"

    run(main)


class Incomplete:
    name = "incomplete"
    capabilities = CAPABILITIES

    async def deploy(self, target: Any, release: Any, instance_ids: Any) -> Any:
        return []


def test_objects_that_are_not_platforms_are_refused_naming_what_is_wrong(db_path: pathlib.Path) -> None:
    with loco.SyncEngine.open(db_path) as engine:
        cases: List[tuple[Any, str]] = [(Incomplete(), "set_traffic"), (object(), "name")]
        bad_traffic = SyncSim()
        bad_traffic.capabilities = lambda: dict(CAPABILITIES, traffic="teleport")  # type: ignore[method-assign]
        cases.append((bad_traffic, "capabilities.traffic"))
        no_logs = AsyncSim()
        no_logs.capabilities["logs"] = True
        cases.append((no_logs, "capabilities.logs"))
        missing = AsyncSim()
        del missing.capabilities["metrics"]
        cases.append((missing, "capabilities.metrics"))
        for obj, field in cases:
            with pytest.raises(loco.ValidationError) as refused:
                engine.register_platform(obj)
            assert [d["field"] for d in refused.value.details] == [field], refused.value
        assert "percentage" in str(_refusal(engine, bad_traffic))
    with pytest.raises(loco.ValidationError):
        loco.SyncEngine.open(db_path, platforms=[Incomplete()])  # type: ignore[list-item]


def _refusal(engine: loco.SyncEngine, obj: Any) -> loco.ValidationError:
    try:
        engine.register_platform(obj)
    except loco.ValidationError as e:
        return e
    raise AssertionError("not refused")


@pytest.mark.parametrize(
    ("method", "answer", "named"),
    [
        ("deploy", [{"id": "ins_x", "version": "v2"}], "deploy() returned a bad shape: result[0].state: is missing"),
        ("deploy", [{"id": 7, "version": "v2", "state": "running"}], "result[0].id: invalid type: integer `7`"),
        ("deploy", {"not": "a list"}, "deploy() returned a bad shape: result: invalid type: map"),
        ("health", {"state": "exited"}, "health() returned a bad shape: result.reason: is missing"),
        ("health", "sleeping", "health() returned a bad shape: result.state: unknown variant `sleeping`"),
    ],
)
def test_bad_answers_are_platform_errors_naming_the_field(
    db_path: pathlib.Path, method: str, answer: Any, named: str
) -> None:
    sim = SyncSim()
    sim.fleet.answer[method] = answer
    with loco.SyncEngine.open(db_path, platforms=[sim]) as engine:
        dep = approved(engine, "shop", "v2")
        rollout = engine.run_rollout(dep, host_plan("v2"), "ops")
        assert rollout.state == "rolled_back"
        story = json.dumps([e.to_dict() for e in engine.events(dep)]) + json.dumps(rollout.failure)
        assert named in story, story


#: Runs in a child process: releases v1 on a platform whose state lives in a JSON file (a fake
#: cloud API that outlives the process), starts a ten-minute canary of v2, prints the facts and
#: waits to be killed.
CANARY_THEN_HANG = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, sys.argv[3])
    import loco
    from test_host_platform import FilePlatform, host_plan
    from rollout_helpers import approved
    db, state = sys.argv[1:3]
    engine = loco.SyncEngine.open(db, platforms=[FilePlatform(state)])
    v1 = approved(engine, "shop", "v1")
    assert engine.run_rollout(v1, host_plan("v1", platform="files"), "deploy-bot").state == "succeeded"
    v2 = approved(engine, "shop", "v2")
    plan = host_plan("v2", "canary", platform="files")
    plan["strategy"]["interval_seconds"] = 600
    engine.start_rollout(v2, plan, "deploy-bot")
    deadline = time.monotonic() + 30
    while engine.rollout(v2).progress["completed_steps"] < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    print(json.dumps({"v1": v1, "v2": v2}), flush=True)
    time.sleep(600)
    """
)


class FilePlatform:
    """A platform whose whole state is a JSON file, read and written on every call (coroutines)."""

    def __init__(self, path: str) -> None:
        self.name = "files"
        self.capabilities = CAPABILITIES
        self.path = path

    def _fleet(self) -> Fleet:
        fleet = Fleet()
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                saved = json.load(f)
            fleet.instances, fleet.traffic, fleet.calls = saved["instances"], saved["traffic"], saved["calls"]
        return fleet

    def _save(self, fleet: Fleet) -> None:
        with open(self.path + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"instances": fleet.instances, "traffic": fleet.traffic, "calls": fleet.calls}, f)
        os.replace(self.path + ".tmp", self.path)

    async def deploy(self, target: Mapping[str, str], release: loco.ReleaseSpecDict,
                     instance_ids: List[str]) -> List[Dict[str, Any]]:
        fleet = self._fleet()
        started = fleet.deploy(target, release, instance_ids)
        self._save(fleet)
        return started

    async def set_traffic(self, target: Mapping[str, str], split: List[loco.TrafficWeightDict]) -> None:
        fleet = self._fleet()
        fleet.set_traffic(target, [dict(w) for w in split])
        self._save(fleet)

    async def stop(self, target: Mapping[str, str], instances: List[loco.InstanceDict]) -> None:
        fleet = self._fleet()
        fleet.stop(target, instances)
        self._save(fleet)

    async def health(self, target: Mapping[str, str], instance: loco.InstanceDict) -> Any:
        return self._fleet().health(target, instance)

    async def status(self, target: Mapping[str, str]) -> Dict[str, Any]:
        fleet = self._fleet()
        answer = fleet.status(target)
        self._save(fleet)
        return answer

    async def restore(self, target: Mapping[str, str], release: loco.ReleaseSpecDict, known: List[loco.InstanceDict],
                      replacement_ids: List[str]) -> List[Dict[str, Any]]:
        fleet = self._fleet()
        restored = fleet.restore(target, release, known, replacement_ids)
        self._save(fleet)
        return restored

    async def test_connection(self) -> None:
        pass


def test_a_rollout_whose_engine_was_killed_is_recovered_through_the_re_registered_platform(
    tmp_path: pathlib.Path,
) -> None:
    db, state = tmp_path / "loco.db", str(tmp_path / "fleet.json")
    tests = str(pathlib.Path(__file__).parent)
    with subprocess.Popen([sys.executable, "-c", CANARY_THEN_HANG, str(db), state, tests],
                          stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            facts = json.loads(child.stdout.readline())
        finally:
            child.send_signal(signal.SIGKILL)
    assert child.returncode == -signal.SIGKILL
    platform = FilePlatform(state)
    assert sorted(i["version"] for i in platform._fleet().instances.values() if i["state"] == "running") == [
        "v1", "v1", "v2"]

    async def reopen() -> None:
        async with await loco.Engine.open(db, platforms=[platform]) as engine:
            recovered = await engine.rollout(facts["v2"])
            assert recovered.state == "rolled_back", "recovered while opening"
            assert recovered.failure is not None and recovered.failure["code"] == "engine_restarted"
            assert (await engine.get(facts["v2"])).status == "rolled_back"
            assert (await engine.get(facts["v1"])).status == "succeeded"
            assert await engine.rollouts(active_only=True) == []

    run(reopen)
    fleet = platform._fleet()
    assert fleet.traffic["shop/staging"] == [{"version": "v1", "percent": 100}]
    assert fleet.running() == ["v1", "v1"], "the canary instance was stopped, v1's were kept"
    assert "restore" in fleet.calls


def test_a_hundred_concurrent_rollouts_on_one_python_platform(db_path: pathlib.Path) -> None:
    sim = AsyncSim()

    async def main() -> List[str]:
        async with await loco.Engine.open(db_path, platforms=[sim]) as engine:
            ids = await asyncio.gather(*(approved_async(engine, f"svc-{n}", "v1") for n in range(100)))
            rollouts = await asyncio.gather(
                *(engine.run_rollout(dep, host_plan("v1", "canary", instances=1), "ops") for dep in ids))
            return [r.state for r in rollouts]

    started = time.monotonic()
    states = run(main)
    assert states == ["succeeded"] * 100
    assert time.monotonic() - started < 20
    assert len(sim.fleet.traffic) == 100
    assert all(split == [{"version": "v1", "percent": 100}] for split in sim.fleet.traffic.values())
