"""Wall time of N full lifecycles (create → approve → start → succeed, one caller, sequential)
through ``loco.SyncEngine`` and ``await loco.Engine``; compare with ``lifecycle_timing.rs``.
Prints, never asserts. Build the extension with ``maturin develop --release`` first.

Usage: python lifecycle_timing.py [--memory] [N]
"""

from __future__ import annotations

import asyncio
import pathlib
import sys
import tempfile
import time
from typing import Any, Dict

import loco


def request(i: int) -> Dict[str, Any]:
    return {
        "service": f"svc-{i % 100:03}",
        "environment": "staging",
        "version": f"1.{i}.0",
        "requester": "alice@example.com",
        "work_refs": [f"PAY-{i}"],
        "rollback_plan": "redeploy the previous version",
    }


def time_sync(engine: loco.SyncEngine, count: int) -> float:
    def lifecycle(i: int) -> None:
        d = engine.create(**request(i))
        engine.approve(d.id, "bob@example.com")
        engine.start(d.id, "deploy-bot")
        engine.succeed(d.id, "deploy-bot")

    for i in range(10):
        lifecycle(i)
    started = time.perf_counter()
    for i in range(10, 10 + count):
        lifecycle(i)
    return time.perf_counter() - started


async def time_async(engine: loco.Engine, count: int) -> float:
    async def lifecycle(i: int) -> None:
        d = await engine.create(**request(i))
        await engine.approve(d.id, "bob@example.com")
        await engine.start(d.id, "deploy-bot")
        await engine.succeed(d.id, "deploy-bot")

    for i in range(10):
        await lifecycle(i)
    started = time.perf_counter()
    for i in range(10, 10 + count):
        await lifecycle(i)
    return time.perf_counter() - started


def main() -> None:
    memory = "--memory" in sys.argv
    numbers = [a for a in sys.argv[1:] if a != "--memory"]
    count = int(numbers[0]) if numbers else 1000
    target = "memory" if memory else "file"
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp)
        sync_engine = loco.SyncEngine.open_in_memory() if memory else loco.SyncEngine.open(path / "sync.db")
        seconds = time_sync(sync_engine, count)
        sync_engine.close()
        print(f"python sync {target}: {count} lifecycles in {seconds:.3f} s ({count / seconds:.0f}/s)")

        async def run_async() -> float:
            engine = await (loco.Engine.open_in_memory() if memory else loco.Engine.open(path / "async.db"))
            try:
                return await time_async(engine, count)
            finally:
                await engine.close()

        seconds = asyncio.run(run_async())
        print(f"python async {target}: {count} lifecycles in {seconds:.3f} s ({count / seconds:.0f}/s)")


if __name__ == "__main__":
    main()
