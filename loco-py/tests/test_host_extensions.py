"""Health probes and metric sources written in Python (``loco.HealthProbe``, ``loco.MetricSource``)
under the real orchestrator: a canary judged by a registered source and by a platform's own
``stats``, probes gating instances (failing, raising, hanging; ``async`` and plain), plans naming
what is not registered, bad answers named by field, and exceptions summarized."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import pytest

import loco
from conftest import run
from rollout_helpers import approved, approved_async
from test_host_platform import HEALTH, AsyncSim, SyncSim, host_plan, key

#: Versions whose canary fails three requests in four (a critical error rate).
BAD = "v2"


def window(version: str) -> loco.WindowStatsDict:
    """What a monitoring API reports for ``version`` over any window: 200 requests, p99 40 ms."""
    errors = 150 if version == BAD else 1
    return {"requests": 200, "errors": errors, "error_rate": errors / 200, "p50_ms": 12.0, "p95_ms": 30.0,
            "p99_ms": 40.0, "cpu_percent": None, "memory_percent": None}


class Monitoring:
    """A metric source with an ``async`` ``stats``; records every question it is asked."""

    def __init__(self, name: str = "monitoring") -> None:
        self.name = name
        self.asked: List[Tuple[str, str, float]] = []
        self.bad_answer: List[Any] = []
        self.raise_with: Optional[str] = None

    async def stats(self, target: Mapping[str, str], version: str, window_seconds: float) -> Any:
        await asyncio.sleep(0)
        self.asked.append((key(target), version, window_seconds))
        if self.raise_with is not None:
            raise ConnectionError(self.raise_with)
        return self.bad_answer[0] if self.bad_answer else window(version)


class SyncMonitoring:
    """The same source with a plain ``stats`` (run on Loco's threads)."""

    def __init__(self, name: str = "monitoring") -> None:
        self.name = name
        self.asked: List[str] = []

    def stats(self, target: Mapping[str, str], version: str, window_seconds: float) -> loco.WindowStatsDict:
        self.asked.append(version)
        return window(version)


class MeasuringSim(AsyncSim):
    """A Python platform that measures its own traffic: ``stats`` makes it a metric source."""

    def __init__(self) -> None:
        super().__init__()
        self.capabilities["metrics"] = True
        self.asked: List[str] = []

    async def stats(self, target: Mapping[str, str], version: str, window_seconds: float) -> loco.WindowStatsDict:
        self.asked.append(version)
        return window(version)


def analysed(version: str, source: Dict[str, Any], *, platform: str = "sim", **overrides: Any) -> Dict[str, Any]:
    """A one-step canary of ``version`` judged quickly from ``source``; an inconclusive window
    pauses, and a pause rolls back after 0.3 s."""
    plan = host_plan(version, "canary", platform=platform, **overrides)
    plan["strategy"] = {"type": "canary", "steps": [25], "interval_seconds": 0.3}
    plan["analysis"] = {"source": source, "thresholds": {"min_samples": 50}, "monitor_seconds": 0,
                        "poll_seconds": 0.05, "pause_timeout_seconds": 0.3, "inconclusive_extensions": 0}
    return plan


def story(engine: loco.SyncEngine, deployment_id: str, rollout: loco.Rollout) -> str:
    """Everything recorded about a rollout, as one text to search."""
    return json.dumps([e.to_dict() for e in engine.events(deployment_id)]) + json.dumps(rollout.failure)


HOST_SOURCE = {"type": "host", "name": "monitoring"}


def test_the_protocols_are_runtime_checkable() -> None:
    assert isinstance(Monitoring(), loco.MetricSource)
    assert isinstance(SyncMonitoring(), loco.MetricSource)
    assert isinstance(MeasuringSim(), loco.MetricSource)
    assert not isinstance(AsyncSim(), loco.MetricSource)
    assert isinstance(lambda target, instance: True, loco.HealthProbe)
    assert not isinstance("ready", loco.HealthProbe)


def test_a_host_metric_source_judges_the_canary(db_path: Any) -> None:
    sim, monitoring = AsyncSim(), Monitoring()

    async def main() -> None:
        async with await loco.Engine.open(db_path, platforms=[sim], metric_sources=[monitoring]) as engine:
            v1 = await approved_async(engine, "shop", "v1")
            assert (await engine.run_rollout(v1, host_plan("v1"), "ops")).state == "succeeded"
            v2 = await approved_async(engine, "shop", "v2")
            bad = await engine.run_rollout(v2, analysed("v2", HOST_SOURCE), "ops")
            assert bad.state == "rolled_back", bad.failure
            assert bad.failure is not None and bad.failure["code"] == "analysis_critical"
            assert "error rate" in bad.failure["message"]
            assert (await engine.get(v2)).status == "rolled_back"
            v3 = await approved_async(engine, "shop", "v3")
            good = await engine.run_rollout(v3, analysed("v3", HOST_SOURCE), "ops")
            assert good.state == "succeeded", good.failure
            judgement = good.progress["analysis"]
            assert judgement is not None and judgement["verdict"] == "pass"
            assert judgement["canary"]["requests"] == 200

    run(main)
    assert sim.fleet.running() == ["v3", "v3"]
    asked = {(target, version) for target, version, _ in monitoring.asked}
    # The canary and, while it still takes traffic, the baseline, over the window observed so far.
    assert {("shop/staging", "v2"), ("shop/staging", "v1"), ("shop/staging", "v3")} <= asked
    assert all(0 < seconds < 5 for _, _, seconds in monitoring.asked)


def test_a_plain_metric_source_registered_later_judges_under_a_sync_engine(db_path: Any) -> None:
    sim, monitoring = SyncSim(), SyncMonitoring("datadog")
    with loco.SyncEngine.open(db_path, platforms=[sim]) as engine:
        engine.register_metric_source(monitoring)
        approved_v1 = approved(engine, "shop", "v1")
        assert engine.run_rollout(approved_v1, host_plan("v1"), "ops").state == "succeeded"
        v2 = approved(engine, "shop", "v2")
        rollout = engine.run_rollout(v2, analysed("v2", {"type": "host", "name": "datadog"}), "ops")
        assert rollout.state == "rolled_back"
        assert rollout.failure is not None and rollout.failure["code"] == "analysis_critical"
    assert BAD in monitoring.asked
    assert sim.fleet.running() == ["v1", "v1"]


def test_a_platform_with_stats_is_its_own_metric_source(db_path: Any) -> None:
    sim = MeasuringSim()

    async def main() -> None:
        async with await loco.Engine.open(db_path, platforms=[sim]) as engine:
            v1 = await approved_async(engine, "shop", "v1")
            assert (await engine.run_rollout(v1, host_plan("v1"), "ops")).state == "succeeded"
            v2 = await approved_async(engine, "shop", "v2")
            bad = await engine.run_rollout(v2, analysed("v2", {"type": "platform"}), "ops")
            assert bad.state == "rolled_back" and bad.failure is not None
            assert bad.failure["code"] == "analysis_critical"
            v3 = await approved_async(engine, "shop", "v3")
            good = await engine.run_rollout(v3, analysed("v3", {"type": "platform"}), "ops")
            assert good.state == "succeeded", good.failure

    run(main)
    assert {"v1", "v2", "v3"} <= set(sim.asked)
    assert sim.fleet.running() == ["v3", "v3"]


def test_metrics_are_refused_from_a_platform_without_stats(db_path: Any) -> None:
    with loco.SyncEngine.open(db_path, platforms=[AsyncSim()]) as engine:
        claims = AsyncSim("claims")
        claims.capabilities["metrics"] = True
        with pytest.raises(loco.ValidationError) as refused:
            engine.register_platform(claims)
        assert [d["field"] for d in refused.value.details] == ["capabilities.metrics"]
        assert "has no stats() method" in str(refused.value)
        dep = approved(engine, "shop", "v1")
        with pytest.raises(loco.ValidationError) as refused:
            engine.start_rollout(dep, analysed("v1", {"type": "platform"}), "ops")
        assert [d["field"] for d in refused.value.details] == ["analysis.source"]


def test_a_plan_naming_an_unregistered_probe_or_source_is_refused_with_the_fields(db_path: Any) -> None:
    sim = SyncSim()
    with loco.SyncEngine.open(db_path, platforms=[sim], probes={"ready": lambda target, instance: True},
                              metric_sources=[SyncMonitoring()]) as engine:
        dep = approved(engine, "shop", "v1")
        health = dict(HEALTH, probes=[{"type": "host", "name": "ready"}, {"type": "host", "name": "warm"}])
        plan = analysed("v1", {"type": "host", "name": "newrelic"}, health=health)
        with pytest.raises(loco.ValidationError) as refused:
            engine.start_rollout(dep, plan, "ops")
        details = refused.value.details
        assert [d["field"] for d in details] == ["health.probes[1].name", "analysis.source.name"]
        assert "no host probe named 'warm' is registered" in details[0]["message"]
        assert "no metric source named 'newrelic' is registered" in details[1]["message"]
        assert "monitoring" in details[1]["message"], "the message lists what is registered"
        assert engine.get(dep).status == "approved"
        assert sim.fleet.calls == [], "refused before anything ran"


def probing(version: str, *names: str, **health: Any) -> Dict[str, Any]:
    """An immediate rollout of ``version`` whose health checks run the host probes ``names``."""
    spec = dict(HEALTH, probes=[{"type": "host", "name": n} for n in names], retries=0, **health)
    return host_plan(version, health=spec)


def test_an_async_probe_gates_every_instance_and_its_exception_rolls_back(db_path: Any) -> None:
    sim = AsyncSim()
    checked: List[Tuple[str, str, str]] = []

    async def ready(target: Mapping[str, str], instance: loco.InstanceDict) -> None:
        await asyncio.sleep(0)
        checked.append((key(target), instance["version"], instance["id"]))
        if instance["version"] == BAD:
            raise RuntimeError(f"{instance['version']} answers 503 on /ready")

    async def main() -> None:
        async with await loco.Engine.open(db_path, platforms=[sim], probes={"ready": ready}) as engine:
            v1 = await approved_async(engine, "shop", "v1")
            assert (await engine.run_rollout(v1, probing("v1", "ready"), "ops")).state == "succeeded"
            assert sorted(c[2] for c in checked) == sorted(sim.fleet.instances), "every instance, by its id"
            v2 = await approved_async(engine, "shop", "v2")
            rollout = await engine.run_rollout(v2, probing("v2", "ready"), "ops")
            assert rollout.state == "rolled_back"
            assert rollout.failure is not None and rollout.failure["code"] == "health_check_failed"
            assert ("host probe ready: ready() raised RuntimeError: v2 answers 503 on /ready "
                    "[test_host_extensions.py:") in rollout.failure["message"]

    run(main)
    assert {c[:2] for c in checked} == {("shop/staging", "v1"), ("shop/staging", "v2")}
    assert sim.fleet.running() == ["v1", "v1"]


def test_a_plain_probe_returning_false_fails_the_check(db_path: Any) -> None:
    sim = SyncSim()

    def warm(target: Mapping[str, str], instance: loco.InstanceDict) -> bool:
        return instance["version"] != BAD

    with loco.SyncEngine.open(db_path, platforms=[sim]) as engine:
        engine.register_probe("warm", warm)
        assert engine.run_rollout(approved(engine, "shop", "v1"), probing("v1", "warm"), "ops").state == "succeeded"
        v2 = approved(engine, "shop", "v2")
        rollout = engine.run_rollout(v2, probing("v2", "warm"), "ops")
        assert rollout.state == "rolled_back"
        assert rollout.failure is not None and "host probe warm: warm() returned False" in rollout.failure["message"]
    assert sim.fleet.running() == ["v1", "v1"]


def test_a_hanging_probe_fails_at_the_time_limit_and_is_cancelled(db_path: Any) -> None:
    sim = AsyncSim()
    cancelled: List[str] = []

    async def hangs(target: Mapping[str, str], instance: loco.InstanceDict) -> bool:
        if instance["version"] == BAD:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(instance["id"])
                raise
        return True

    async def main() -> None:
        async with await loco.Engine.open(db_path, platforms=[sim]) as engine:
            engine.register_probe("hangs", hangs)
            v1 = await approved_async(engine, "shop", "v1")
            assert (await engine.run_rollout(v1, probing("v1", "hangs", timeout_seconds=0.3), "ops")).state \
                == "succeeded"
            v2 = await approved_async(engine, "shop", "v2")
            started = time.monotonic()
            rollout = await engine.run_rollout(v2, probing("v2", "hangs", timeout_seconds=0.3), "ops")
            assert time.monotonic() - started < 10
            assert rollout.state == "rolled_back"
            assert rollout.failure is not None and "host probe hangs: timed out after" in rollout.failure["message"]
            for _ in range(100):
                if cancelled:
                    break
                await asyncio.sleep(0.01)
            assert cancelled, "the abandoned coroutine was cancelled"

    run(main)
    assert sim.fleet.running() == ["v1", "v1"]


def test_a_blocking_plain_probe_fails_at_the_time_limit(db_path: Any) -> None:
    sim = SyncSim()

    def slow(target: Mapping[str, str], instance: loco.InstanceDict) -> None:
        if instance["version"] == BAD:
            time.sleep(1.0)

    with loco.SyncEngine.open(db_path, platforms=[sim], probes={"slow": slow}) as engine:
        assert engine.run_rollout(approved(engine, "shop", "v1"), probing("v1", "slow"), "ops").state == "succeeded"
        v2 = approved(engine, "shop", "v2")
        started = time.monotonic()
        rollout = engine.run_rollout(v2, probing("v2", "slow", timeout_seconds=0.2), "ops")
        assert rollout.state == "rolled_back"
        assert rollout.failure is not None and "host probe slow: timed out after" in rollout.failure["message"]
        assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({"errors": 1}, "stats() returned a bad shape: result.requests: is missing"),
        ({"requests": 200, "errors": "1"}, "stats() returned a bad shape: result.errors: invalid type: string"),
        ({"requests": 200, "errors": 1, "p99": 40}, "stats() returned a bad shape: result: unknown field `p99`"),
        ({"requests": 200, "errors": 1, "p99_ms": "fast"}, "stats() returned a bad shape: result.p99_ms: invalid type"),
        ({"requests": 20, "errors": 30}, "stats() returned a bad shape: result.errors: 30 is more than requests (20)"),
        ([200, 1], "stats() returned a bad shape: result: must be a dict, not a list"),
        (None, "stats() returned a bad shape: result: must be a dict, not None"),
    ],
)
def test_bad_stats_are_platform_errors_naming_the_field(db_path: Any, answer: Any, named: str) -> None:
    sim, monitoring = SyncSim(), Monitoring()
    monitoring.bad_answer.append(answer)
    with loco.SyncEngine.open(db_path, platforms=[sim], metric_sources=[monitoring]) as engine:
        assert engine.run_rollout(approved(engine, "shop", "v1"), host_plan("v1"), "ops").state == "succeeded"
        v2 = approved(engine, "shop", "v2")
        rollout = engine.run_rollout(v2, analysed("v2", HOST_SOURCE), "ops")
        # No numbers: the window is inconclusive, which pauses, and the pause times out.
        assert rollout.state == "rolled_back"
        assert rollout.failure is not None and rollout.failure["code"] == "pause_timeout"
        assert f"metrics unavailable from monitoring: {named}" in story(engine, v2, rollout)


def test_counts_alone_are_enough_and_the_error_rate_is_computed(db_path: Any) -> None:
    sim, monitoring = SyncSim(), Monitoring()
    monitoring.bad_answer.append({"requests": 200, "errors": 150})
    with loco.SyncEngine.open(db_path, platforms=[sim], metric_sources=[monitoring]) as engine:
        assert engine.run_rollout(approved(engine, "shop", "v1"), host_plan("v1"), "ops").state == "succeeded"
        v2 = approved(engine, "shop", "v2")
        rollout = engine.run_rollout(v2, analysed("v2", HOST_SOURCE), "ops")
        assert rollout.failure is not None and rollout.failure["code"] == "analysis_critical"
        judgement = rollout.progress["analysis"]
        assert judgement is not None
        canary = judgement["canary"]
        assert (canary["error_rate"], canary["p99_ms"], canary["cpu_percent"]) == (0.75, None, None)


def test_exceptions_carry_the_message_and_where_they_were_raised(db_path: Any) -> None:
    sim, monitoring = SyncSim(), Monitoring()
    monitoring.raise_with = "datadog is down"

    def odd(target: Mapping[str, str], instance: loco.InstanceDict) -> Any:
        # Only for v3: the rollback health-checks v1 with the same probe.
        return "yes" if instance["version"] == "v3" else None

    with loco.SyncEngine.open(db_path, platforms=[sim], metric_sources=[monitoring], probes={"odd": odd}) as engine:
        assert engine.run_rollout(approved(engine, "shop", "v1"), host_plan("v1"), "ops").state == "succeeded"
        v2 = approved(engine, "shop", "v2")
        rollout = engine.run_rollout(v2, analysed("v2", HOST_SOURCE), "ops")
        assert rollout.state == "rolled_back"
        assert ("metrics unavailable from monitoring: stats() raised ConnectionError: datadog is down "
                "[test_host_extensions.py:") in story(engine, v2, rollout)
        assert " in stats]" in story(engine, v2, rollout)
        v3 = approved(engine, "shop", "v3")
        rollout = engine.run_rollout(v3, probing("v3", "odd"), "ops")
        assert rollout.state == "rolled_back" and rollout.failure is not None
        assert "host probe odd: odd() returned a bad shape: result: invalid type: string \"yes\"" in \
            rollout.failure["message"]


class Nameless:
    async def stats(self, target: Any, version: str, window_seconds: float) -> Any:
        return {}


class Statless:
    name = "statless"


def test_objects_that_are_not_probes_or_sources_are_refused_naming_what_is_wrong(db_path: Any) -> None:
    with loco.SyncEngine.open(db_path) as engine:
        sources: Sequence[Tuple[Any, str]] = [(Nameless(), "name"), (Statless(), "stats"), (AsyncSim(), "stats")]
        for obj, field in sources:
            with pytest.raises(loco.ValidationError) as refused:
                engine.register_metric_source(obj)
            assert [d["field"] for d in refused.value.details] == [field], refused.value
        probes: Sequence[Tuple[str, Any, str]] = [(" ", lambda t, i: True, "name"), ("ready", 5, "probe")]
        for name, probe, field in probes:
            with pytest.raises(loco.ValidationError) as refused:
                engine.register_probe(name, probe)
            assert [d["field"] for d in refused.value.details] == [field], refused.value
    with pytest.raises(loco.ValidationError):
        loco.SyncEngine.open(db_path, metric_sources=[Statless()])  # type: ignore[list-item]
    with pytest.raises(loco.ValidationError):
        loco.SyncEngine.open(db_path, probes={"ready": 5})  # type: ignore[dict-item]


def test_a_probe_registered_again_under_its_name_replaces_the_first(db_path: Any) -> None:
    seen: Set[str] = set()

    def first(target: Mapping[str, str], instance: loco.InstanceDict) -> bool:
        seen.add("first")
        return False

    def second(target: Mapping[str, str], instance: loco.InstanceDict) -> bool:
        seen.add("second")
        return True

    with loco.SyncEngine.open(db_path, platforms=[SyncSim()], probes={"ready": first}) as engine:
        engine.register_probe("ready", second)
        assert engine.run_rollout(approved(engine, "shop", "v1"), probing("v1", "ready"), "ops").state == "succeeded"
    assert seen == {"second"}
