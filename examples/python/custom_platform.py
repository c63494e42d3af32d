"""A platform, a metric source and a health probe written in Python, driven by Loco's orchestrator
exactly as it drives its built-in ones.

Each instance "runs" as an asyncio task (a stand-in for calls to your own cloud's API), and the
platform's load balancer simulates the requests each version serves according to the traffic split.
A monitoring client (the stand-in for a Datadog or Prometheus query) reports each version's
requests, errors and latency from those requests, and the canary analysis judges on its numbers; a
probe checks that each instance has warmed up before it gets traffic. A release failing 80 % of its
requests is rolled back by the analysis, a healthy one is promoted 20 % → 50 % → 100 %.

Run: python examples/python/custom_platform.py   (after ``pip install ./loco-py``)
"""

from __future__ import annotations

import asyncio
import pathlib
import random
import tempfile
import time
from typing import Any, Dict, List, Mapping, NamedTuple, Optional

import loco

#: How long an instance takes to warm up (load its caches) before its probe passes.
WARM_UP_SECONDS = 0.1


class Request(NamedTuple):
    """One simulated request, as the load balancer saw it."""

    at: float
    version: str
    failed: bool
    latency_ms: float


class TaskPlatform:
    """Implements ``loco.Platform`` with ``async`` methods; they run on the event loop that opened
    the engine. Instance ids are chosen by Loco; the platform only has to start what it is asked."""

    name = "tasks"
    capabilities: loco.CapabilitiesDict = {
        "traffic": "percentage",
        "native_rollback": False,
        "logs": False,
        "metrics": False,  # its numbers come from the monitoring source below
    }

    def __init__(self) -> None:
        self.tasks: Dict[str, asyncio.Task[None]] = {}
        self.versions: Dict[str, str] = {}
        self.started: Dict[str, float] = {}
        self.failure_rates: Dict[str, float] = {}
        self.split: List[loco.TrafficWeightDict] = []
        self.requests: List[Request] = []
        self.load: Optional[asyncio.Task[None]] = None
        self.log: List[str] = []

    async def _serve(self, instance_id: str) -> None:
        while True:  # "serving" until stopped
            await asyncio.sleep(3600)

    async def _balance(self) -> None:
        """Sends 400 requests a second to the versions in the split, each failing at its release's
        ``FAILURE_RATE``."""
        rng = random.Random(7)
        while True:
            await asyncio.sleep(0.01)
            weights = [w for w in self.split if w["percent"] > 0]
            if not weights:
                continue
            for version in rng.choices([w["version"] for w in weights], [w["percent"] for w in weights], k=4):
                failed = rng.random() < self.failure_rates.get(version, 0.0)
                self.requests.append(Request(time.monotonic(), version, failed, rng.uniform(8.0, 30.0)))

    def _instance(self, instance_id: str) -> loco.InstanceDict:
        return {
            "id": instance_id,
            "version": self.versions[instance_id],
            "address": None,
            "pid": None,
            "state": "running" if not self.tasks[instance_id].done() else "stopped",
            "platform_id": f"task-{instance_id[-6:].lower()}",
        }

    def warmed_up(self, instance_id: str) -> bool:
        """Whether the instance runs and has been up for ``WARM_UP_SECONDS``."""
        task = self.tasks.get(instance_id)
        return task is not None and not task.done() and time.monotonic() - self.started[instance_id] >= WARM_UP_SECONDS

    async def deploy(
        self, target: Mapping[str, str], release: loco.ReleaseSpecDict, instance_ids: List[str]
    ) -> List[loco.InstanceDict]:
        if self.load is None:
            self.load = asyncio.create_task(self._balance())
        version = release["version"]
        self.failure_rates[version] = float(release.get("env", {}).get("FAILURE_RATE", "0"))
        for instance_id in instance_ids:
            self.versions[instance_id] = version
            self.started[instance_id] = time.monotonic()
            self.tasks[instance_id] = asyncio.create_task(self._serve(instance_id))
        self.log.append(f"deploy {version} x{len(instance_ids)}")
        return [self._instance(i) for i in instance_ids]

    async def set_traffic(self, target: Mapping[str, str], split: List[loco.TrafficWeightDict]) -> None:
        self.split = split
        self.log.append("traffic " + ", ".join(f"{w['version']}={w['percent']}%" for w in split))

    async def stop(self, target: Mapping[str, str], instances: List[loco.InstanceDict]) -> None:
        for instance in instances:
            task = self.tasks.get(instance["id"])
            if task is not None:
                task.cancel()
        self.log.append(f"stop x{len(instances)}")

    async def health(self, target: Mapping[str, str], instance: loco.InstanceDict) -> Any:
        task = self.tasks.get(instance["id"])
        if task is None or task.done():
            return {"state": "exited", "reason": "task finished"}
        return "running"

    async def status(self, target: Mapping[str, str]) -> Dict[str, Any]:
        return {"endpoint": None, "traffic": self.split, "instances": [self._instance(i) for i in self.tasks]}

    async def restore(
        self,
        target: Mapping[str, str],
        release: loco.ReleaseSpecDict,
        known: List[loco.InstanceDict],
        replacement_ids: List[str],
    ) -> List[loco.InstanceDict]:
        alive = [k["id"] for k in known if k["id"] in self.tasks and not self.tasks[k["id"]].done()]
        missing = max(len(known) - len(alive), 0 if alive else 1)
        restarted = await self.deploy(target, release, replacement_ids[:missing]) if missing else []
        self.log.append(f"restore {release['version']}: kept {len(alive)}, restarted {len(restarted)}")
        return [self._instance(i) for i in alive] + restarted

    async def test_connection(self) -> None:
        return None

    async def shutdown(self) -> None:
        """Called when the engine closes: the load balancer stops."""
        if self.load is not None:
            self.load.cancel()


def percentile(sorted_values: List[float], q: float) -> Optional[float]:
    """The ``q``-quantile by nearest rank; ``None`` without values."""
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))]


class Monitoring:
    """Implements ``loco.MetricSource``: what a monitoring API would report for one version over
    the last ``window_seconds``. (A ``stats`` method on the platform itself would make it its own
    source, for plans with ``"source": {"type": "platform"}``.)"""

    name = "monitoring"

    def __init__(self, platform: TaskPlatform) -> None:
        self.platform = platform

    async def stats(self, target: Mapping[str, str], version: str, window_seconds: float) -> loco.WindowStatsDict:
        since = time.monotonic() - window_seconds
        seen = [r for r in self.platform.requests if r.at >= since and r.version == version]
        errors = sum(r.failed for r in seen)
        latencies = sorted(r.latency_ms for r in seen)
        return {
            "requests": len(seen),
            "errors": errors,
            "error_rate": errors / len(seen) if seen else 0.0,
            "p50_ms": percentile(latencies, 0.50),
            "p95_ms": percentile(latencies, 0.95),
            "p99_ms": percentile(latencies, 0.99),
            "cpu_percent": None,  # not measured: the CPU rule is skipped
            "memory_percent": None,
        }


def plan(version: str, strategy: Dict[str, Any], failure_rate: float = 0.0) -> Dict[str, Any]:
    """Health checks run the host probe ``warmed-up`` (retried while the instance warms up)."""
    return {
        "platform": "tasks",
        "strategy": strategy,
        "release": {"version": version, "image": f"registry.example/shop:{version}",
                    "env": {"FAILURE_RATE": str(failure_rate)}},
        "instances": 2,
        "health": {"probes": [{"type": "host", "name": "warmed-up"}], "retries": 10,
                   "backoff_initial_seconds": 0.05, "backoff_max_seconds": 0.1, "interval_seconds": 0.1},
    }


def canary(version: str, failure_rate: float = 0.0) -> Dict[str, Any]:
    """Observed for 1 s at 20 % and at 50 %, judged on the monitoring source's numbers every 0.2 s,
    then watched for 0.5 s at 100 % before the old release is stopped."""
    return {
        **plan(version, {"type": "canary", "steps": [20, 50], "interval_seconds": 1}, failure_rate),
        "analysis": {"source": {"type": "host", "name": "monitoring"}, "monitor_seconds": 0.5,
                     "poll_seconds": 0.2, "inconclusive_extensions": 4, "pause_timeout_seconds": 30},
    }


async def release(engine: loco.Engine, version: str, rollout_plan: Dict[str, Any]) -> loco.Rollout:
    d = await engine.create(service="shop", environment="staging", version=version, requester="alice@example.com",
                            work_refs=["SHOP-1"], rollback_plan="roll back to the previous release")
    await engine.approve(d.id, "bob@example.com")
    return await engine.run_rollout(d.id, rollout_plan, "deploy-bot")


async def main() -> None:
    platform = TaskPlatform()
    monitoring = Monitoring(platform)
    checked: List[str] = []

    async def warmed_up(target: Mapping[str, str], instance: loco.InstanceDict) -> bool:
        """Implements ``loco.HealthProbe``: ``False`` (not yet) is retried with the plan's backoff."""
        checked.append(instance["id"])
        return platform.warmed_up(instance["id"])

    assert isinstance(platform, loco.Platform)
    assert isinstance(monitoring, loco.MetricSource)
    with tempfile.TemporaryDirectory() as tmp:
        async with await loco.Engine.open(
            pathlib.Path(tmp) / "loco.db",
            platforms=[platform],
            metric_sources=[monitoring],
            probes={"warmed-up": warmed_up},
        ) as engine:
            first = await release(engine, "1.0.0", plan("1.0.0", {"type": "immediate"}))
            print(f"1.0.0: {first.state}")
            assert first.state == "succeeded", first.failure

            broken = await release(engine, "1.1.0", canary("1.1.0", failure_rate=0.8))
            assert broken.failure is not None
            print(f"1.1.0 (fails 80 % of requests): {broken.state} ({broken.failure['code']}): "
                  f"{broken.failure['message']}")
            assert broken.state == "rolled_back" and broken.failure["code"] == "analysis_critical", broken.failure

            healthy = await release(engine, "1.2.0", canary("1.2.0"))
            judgement = healthy.progress["analysis"]
            verdict = judgement["verdict"] if judgement is not None else "none"
            print(f"1.2.0: {healthy.state}, traffic {healthy.progress['traffic']}, last analysis: {verdict}")
            assert healthy.state == "succeeded", healthy.failure
    for line in platform.log:
        print("  platform:", line)
    print(f"  probe: {len(checked)} checks of {len(set(checked))} instances")
    running = sorted(platform.versions[i] for i, task in platform.tasks.items() if not task.done())
    assert running == ["1.2.0", "1.2.0"], running


if __name__ == "__main__":
    asyncio.run(main())
