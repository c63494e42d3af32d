"""A platform written in Python: each instance "runs" as an asyncio task (a stand-in for calls to
your own cloud's API), and Loco's orchestrator drives it through a canary — deploy, health checks,
traffic shifts 20 % → 50 % → 100 %, and stopping the old release — exactly as it drives its
built-in platforms.

Run: python examples/python/custom_platform.py   (after ``pip install ./loco-py``)
"""

from __future__ import annotations

import asyncio
import pathlib
import tempfile
from typing import Any, Dict, List, Mapping

import loco


class TaskPlatform:
    """Implements ``loco.Platform`` with ``async`` methods; they run on the event loop that opened
    the engine. Instance ids are chosen by Loco; the platform only has to start what it is asked."""

    name = "tasks"
    capabilities: loco.CapabilitiesDict = {
        "traffic": "percentage",
        "native_rollback": False,
        "logs": False,
        "metrics": False,
    }

    def __init__(self) -> None:
        self.tasks: Dict[str, asyncio.Task[None]] = {}
        self.versions: Dict[str, str] = {}
        self.split: List[loco.TrafficWeightDict] = []
        self.log: List[str] = []

    async def _serve(self, instance_id: str) -> None:
        while True:  # "serving" until stopped
            await asyncio.sleep(3600)

    def _instance(self, instance_id: str) -> loco.InstanceDict:
        return {
            "id": instance_id,
            "version": self.versions[instance_id],
            "address": None,
            "pid": None,
            "state": "running" if not self.tasks[instance_id].done() else "stopped",
            "platform_id": f"task-{instance_id[-6:].lower()}",
        }

    async def deploy(
        self, target: Mapping[str, str], release: loco.ReleaseSpecDict, instance_ids: List[str]
    ) -> List[loco.InstanceDict]:
        for instance_id in instance_ids:
            self.versions[instance_id] = release["version"]
            self.tasks[instance_id] = asyncio.create_task(self._serve(instance_id))
        self.log.append(f"deploy {release['version']} x{len(instance_ids)}")
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
        restarted = await self.deploy(target, release, replacement_ids[:missing])
        return [self._instance(i) for i in alive] + restarted

    async def test_connection(self) -> None:
        return None


def plan(version: str, strategy: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "platform": "tasks",
        "strategy": strategy,
        "release": {"version": version, "image": f"registry.example/shop:{version}"},
        "instances": 2,
        "health": {"probes": [], "retries": 1, "backoff_initial_seconds": 0.05, "interval_seconds": 0.1},
    }


async def release(engine: loco.Engine, version: str, strategy: Dict[str, Any]) -> loco.Rollout:
    d = await engine.create(service="shop", environment="staging", version=version, requester="alice@example.com",
                            work_refs=["SHOP-1"], rollback_plan="roll back to the previous release")
    await engine.approve(d.id, "bob@example.com")
    return await engine.run_rollout(d.id, plan(version, strategy), "deploy-bot")


async def main() -> None:
    platform = TaskPlatform()
    assert isinstance(platform, loco.Platform)
    with tempfile.TemporaryDirectory() as tmp:
        async with await loco.Engine.open(pathlib.Path(tmp) / "loco.db", platforms=[platform]) as engine:
            first = await release(engine, "1.0.0", {"type": "immediate"})
            print(f"1.0.0: {first.state}")
            canary = await release(engine, "1.1.0", {"type": "canary", "steps": [20, 50], "interval_seconds": 0.2})
            print(f"1.1.0: {canary.state}, traffic {canary.progress['traffic']}")
            assert canary.state == "succeeded", canary.failure
    for line in platform.log:
        print("  platform:", line)
    running = sorted(platform.versions[i] for i, task in platform.tasks.items() if not task.done())
    assert running == ["1.1.0", "1.1.0"], running


if __name__ == "__main__":
    asyncio.run(main())
