"""P6 host platforms: immediate rollouts, one after another, on a platform written in Python.

Usage: host_rollouts.py --db PATH --count N [--warmup W]
The platform keeps its instances in a dict (the work `MemoryPlatform` does in Rust) and counts
every call Loco makes to it. Prints `RESULT phase=plain rollouts=N seconds=S calls=C` for the timed
rollouts, then `RESULT phase=probes rollouts=K seconds=S calls=P` for K = N/10 rollouts whose
health checks each call a host probe (a function returning None) PROBES times.
Exits with status 3 and `UNAVAILABLE: ...` when the `loco` package (with host platforms) is not
installed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any, Dict, List

from loco_build import checked_profile

try:
    import loco
except ModuleNotFoundError as e:
    if e.name != "loco":
        raise
    print(f"UNAVAILABLE: `import loco` failed in {sys.executable}")
    sys.exit(3)
if not hasattr(loco, "Platform"):
    print("UNAVAILABLE: this `loco` build has no host platforms")
    sys.exit(3)
BUILD = checked_profile(loco)


class DictPlatform:
    """The least a platform can do: remember instances and the traffic split."""

    name = "bench"
    capabilities = {"traffic": "percentage", "native_rollback": False, "logs": False, "metrics": False}

    def __init__(self) -> None:
        self.instances: Dict[str, Dict[str, Any]] = {}
        self.split: List[Any] = []
        self.calls = 0

    async def deploy(self, target: Any, release: Any, instance_ids: List[str]) -> List[Dict[str, Any]]:
        self.calls += 1
        made = [
            {"id": i, "version": release["version"], "address": None, "pid": None, "state": "running"}
            for i in instance_ids
        ]
        for instance in made:
            self.instances[instance["id"]] = instance
        return made

    async def set_traffic(self, target: Any, split: List[Any]) -> None:
        self.calls += 1
        self.split = split

    async def stop(self, target: Any, instances: List[Any]) -> None:
        self.calls += 1
        for instance in instances:
            self.instances.pop(instance["id"], None)

    async def health(self, target: Any, instance: Any) -> str:
        self.calls += 1
        return "running"

    async def status(self, target: Any) -> Dict[str, Any]:
        self.calls += 1
        return {"endpoint": None, "traffic": self.split, "instances": list(self.instances.values())}

    async def restore(self, target: Any, release: Any, known: List[Any], replacement_ids: List[str]) -> List[Any]:
        self.calls += 1
        return await self.deploy(target, release, replacement_ids[: max(len(known), 1)])

    async def test_connection(self) -> None:
        self.calls += 1


PROBES = 50


def plan(version: str, probes: int = 0) -> Dict[str, Any]:
    return {"platform": "bench", "strategy": {"type": "immediate"}, "release": {"version": version}, "instances": 1,
            "health": {"probes": [{"type": "host", "name": "noop"}] * probes}}


async def run(path: str, count: int, warmup: int) -> None:
    platform = DictPlatform()
    probe_calls = 0

    def noop(target: Any, instance: Any) -> None:
        nonlocal probe_calls
        probe_calls += 1

    async with await loco.Engine.open(path, platforms=[platform], probes={"noop": noop}) as engine:

        async def one(i: int, probes: int = 0) -> None:
            version = f"1.{i}.0"
            d = await engine.create(service="host-bench", environment="staging", version=version,
                                    requester="alice@example.com", work_refs=["PAY-1"],
                                    rollback_plan="redeploy the previous version")
            await engine.approve(d.id, "bob@example.com")
            rollout = await engine.run_rollout(d.id, plan(version, probes), "deploy-bot")
            if rollout.state != "succeeded":
                raise SystemExit(f"rollout {i} ended {rollout.state}: {rollout.failure}")

        for i in range(warmup):
            await one(i)
        calls_before = platform.calls
        started = time.perf_counter()
        for i in range(warmup, warmup + count):
            await one(i)
        seconds = time.perf_counter() - started
        print(f"RESULT phase=plain rollouts={count} seconds={seconds:.6f} calls={platform.calls - calls_before} build={BUILD}",
              flush=True)
        some = max(count // 10, 1)
        started = time.perf_counter()
        for i in range(warmup + count, warmup + count + some):
            await one(i, PROBES)
        seconds = time.perf_counter() - started
        print(f"RESULT phase=probes rollouts={some} seconds={seconds:.6f} calls={probe_calls} build={BUILD}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args.db, args.count, args.warmup))


if __name__ == "__main__":
    main()
