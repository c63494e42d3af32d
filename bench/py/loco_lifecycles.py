"""P6: full lifecycles (create -> approve -> start -> succeed) through Loco's Python binding.

Usage: loco_lifecycles.py --db PREFIX --count N [--warmup W] [--tasks T]
Measures the blocking engine (`loco.SyncEngine`) and the asyncio engine (`await loco.Engine.open`),
each on a fresh file (PREFIX-sync.db, PREFIX-async.db), printing for each
`RESULT variant=sync|async lifecycles=N seconds=S build=PROFILE` (timed part only). With --tasks T,
measures instead T asyncio tasks running N/T lifecycles each at once through one `loco.Engine`
(PREFIX-tasks.db): `RESULT variant=tasks lifecycles=N seconds=S tasks=T build=PROFILE`.
Exits with status 3 and `UNAVAILABLE: ...` when the `loco` package is not installed.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
import time

from loco_build import checked_profile

try:
    import loco
except ModuleNotFoundError as e:
    if e.name != "loco":
        raise
    print(f"UNAVAILABLE: `import loco` failed in {sys.executable}")
    sys.exit(3)
if not hasattr(getattr(loco, "Engine", None), "open"):
    print("UNAVAILABLE: `loco` imports but has no Engine.open yet")
    sys.exit(3)
BUILD = checked_profile(loco)


def fields(i: int) -> dict:
    # 64 services in turn: each of the 64 asyncio tasks (given every 64th number) starts
    # deployments of a service of its own, as the deploy lock needs (one started deployment per
    # service and environment).
    return dict(
        service=f"svc-{i % 64:03}",
        environment="staging",
        version=f"1.{i}.0",
        requester="alice@example.com",
        work_refs=[f"PAY-{i}"],
        rollback_plan="redeploy the previous version",
    )


def open_sync(path: str):
    sync_engine = getattr(loco, "SyncEngine", None)
    if sync_engine is not None:
        return sync_engine.open(path) if hasattr(sync_engine, "open") else sync_engine(path)
    if hasattr(loco.Engine, "open_sync"):
        return loco.Engine.open_sync(path)
    return None


def run_sync(path: str, count: int, warmup: int) -> float | None:
    engine = open_sync(path)
    if engine is None:
        return None

    def lifecycle(i: int) -> None:
        d = engine.create(**fields(i))
        engine.approve(d.id, "bob@example.com")
        engine.start(d.id, "deploy-bot")
        engine.succeed(d.id, "deploy-bot")

    for i in range(warmup):
        lifecycle(i)
    started = time.perf_counter()
    for i in range(warmup, warmup + count):
        lifecycle(i)
    seconds = time.perf_counter() - started
    if hasattr(engine, "close"):
        engine.close()
    return seconds


async def lifecycle(engine, i: int) -> None:
    d = await engine.create(**fields(i))
    await engine.approve(d.id, "bob@example.com")
    await engine.start(d.id, "deploy-bot")
    await engine.succeed(d.id, "deploy-bot")


async def run_tasks(path: str, count: int, warmup: int, tasks: int) -> float:
    engine = await loco.Engine.open(path)

    async def share(numbers: range) -> None:
        for i in numbers:
            await lifecycle(engine, i)

    for i in range(warmup):
        await lifecycle(engine, i)
    numbers = range(warmup, warmup + count)
    started = time.perf_counter()
    await asyncio.gather(*(share(numbers[k::tasks]) for k in range(tasks)))
    seconds = time.perf_counter() - started
    await engine.close()
    return seconds


async def run_async(path: str, count: int, warmup: int) -> float:
    engine = await loco.Engine.open(path)
    for i in range(warmup):
        await lifecycle(engine, i)
    started = time.perf_counter()
    for i in range(warmup, warmup + count):
        await lifecycle(engine, i)
    seconds = time.perf_counter() - started
    if hasattr(engine, "close"):
        closing = engine.close()
        if inspect.isawaitable(closing):
            await closing
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True, help="path prefix; -sync.db and -async.db are added")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=0)
    args = parser.parse_args()
    if args.tasks > 0:
        seconds = asyncio.run(run_tasks(f"{args.db}-tasks.db", args.count, args.warmup, args.tasks))
        print(f"RESULT variant=tasks lifecycles={args.count} seconds={seconds:.6f} tasks={args.tasks} build={BUILD}")
        return
    seconds = run_sync(f"{args.db}-sync.db", args.count, args.warmup)
    if seconds is not None:
        print(f"RESULT variant=sync lifecycles={args.count} seconds={seconds:.6f} build={BUILD}", flush=True)
    seconds = asyncio.run(run_async(f"{args.db}-async.db", args.count, args.warmup))
    print(f"RESULT variant=async lifecycles={args.count} seconds={seconds:.6f} build={BUILD}", flush=True)


if __name__ == "__main__":
    main()
