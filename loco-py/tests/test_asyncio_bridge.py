"""How awaited results reach asyncio: each event loop watches an inbox that finished operations
fill; one wake-up of the loop delivers every result queued by then. Results must reach the loop
and the task that awaited them, errors must arrive as the same exceptions, a cancelled await
must take no result, and a loop that cannot watch a socket must still be served."""

from __future__ import annotations

import asyncio
import pathlib
import selectors
import threading
from typing import Any, Dict, List

import loco
from conftest import request, run


def test_each_of_many_concurrent_awaits_gets_its_own_result(db_path: pathlib.Path) -> None:
    async def scenario() -> None:
        async with await loco.Engine.open(db_path) as engine:
            created = await asyncio.gather(
                *(engine.create(**request(service=f"svc-{i}", version=f"1.0.{i}")) for i in range(64))
            )
            assert [(d.service, d.version) for d in created] == [(f"svc-{i}", f"1.0.{i}") for i in range(64)]
            assert len({d.id for d in created}) == 64
            fetched = await asyncio.gather(*(engine.get(d.id) for d in created))
            assert [d.id for d in fetched] == [d.id for d in created]

    run(scenario)


def test_errors_arrive_as_the_same_exceptions_among_successes(db_path: pathlib.Path) -> None:
    async def scenario() -> None:
        async with await loco.Engine.open(db_path) as engine:
            pending = await engine.create(**request())
            results: List[Any] = list(
                await asyncio.gather(
                    engine.start(pending.id, "bot"),  # never approved
                    engine.get("dep_does_not_exist"),
                    engine.create(**request(service="other")),
                    return_exceptions=True,
                )
            )
            assert isinstance(results[0], loco.InvalidTransitionError)
            assert results[0].code == "invalid_transition"
            assert isinstance(results[1], loco.NotFoundError)
            assert isinstance(results[2], loco.Deployment) and results[2].service == "other"

    run(scenario)


def test_a_cancelled_await_takes_no_result_and_the_loop_goes_on(db_path: pathlib.Path) -> None:
    async def scenario() -> None:
        async with await loco.Engine.open(db_path) as engine:
            pending = asyncio.ensure_future(engine.create(**request(service="cancelled")))
            pending.cancel()
            try:
                await pending
                raise AssertionError("a cancelled await returned")
            except asyncio.CancelledError:
                pass
            # The loop keeps serving results after it.
            later = await engine.create(**request(service="later"))
            assert later.service == "later"
            assert (await engine.get(later.id)).id == later.id

    run(scenario)


def test_two_loops_in_two_threads_each_get_their_own_results(db_path: pathlib.Path) -> None:
    outcomes: Dict[str, List[str]] = {}
    failures: List[BaseException] = []

    def in_thread(name: str) -> None:
        async def scenario() -> None:
            # A file each: two engines opening one file at once may race on its schema.
            async with await loco.Engine.open(db_path.with_name(f"{name}.db")) as engine:
                created = await asyncio.gather(
                    *(engine.create(**request(service=f"{name}-{i}")) for i in range(20))
                )
                outcomes[name] = [d.service for d in created]

        try:
            asyncio.run(scenario())
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=in_thread, args=(name,)) for name in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    assert outcomes == {name: [f"{name}-{i}" for i in range(20)] for name in ("left", "right")}


def test_a_loop_run_again_after_another_is_served(db_path: pathlib.Path) -> None:
    async def one(service: str) -> str:
        async with await loco.Engine.open(db_path) as engine:
            return (await engine.create(**request(service=service))).service

    assert [asyncio.run(one(f"run-{i}")) for i in range(3)] == ["run-0", "run-1", "run-2"]


class _NoReaderLoop(asyncio.SelectorEventLoop):
    """A loop that cannot watch sockets, like Windows' proactor loop."""

    readers_refused = 0

    def add_reader(self, fd: Any, callback: Any, *args: Any) -> None:  # type: ignore[override]
        if callback.__class__.__module__.startswith("loco"):
            _NoReaderLoop.readers_refused += 1
            raise NotImplementedError
        super().add_reader(fd, callback, *args)


def test_a_loop_without_add_reader_is_served_the_generic_way(db_path: pathlib.Path) -> None:
    async def scenario() -> List[str]:
        async with await loco.Engine.open(db_path) as engine:
            created = await asyncio.gather(*(engine.create(**request(service=f"plain-{i}")) for i in range(8)))
            with_error = await asyncio.gather(engine.get("dep_missing"), return_exceptions=True)
            assert isinstance(with_error[0], loco.NotFoundError)
            return [d.service for d in created]

    loop = _NoReaderLoop(selectors.DefaultSelector())
    try:
        assert loop.run_until_complete(scenario()) == [f"plain-{i}" for i in range(8)]
    finally:
        loop.close()
    assert _NoReaderLoop.readers_refused >= 1
