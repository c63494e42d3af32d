"""Concurrent use: conflicting asyncio approvals have exactly one winner, and blocking calls
release the GIL so other threads run while one waits inside Rust."""

from __future__ import annotations

import asyncio
import pathlib
import threading
import time
from typing import List, Optional, Union

import loco
from conftest import request, run


def test_64_conflicting_async_approvals_have_exactly_one_winner(db_path: pathlib.Path) -> None:
    async def scenario() -> None:
        async with await loco.Engine.open(db_path) as engine:
            d = await engine.create(**request())
            results = await asyncio.gather(
                *(engine.approve(d.id, f"reviewer-{i}@example.com") for i in range(64)),
                return_exceptions=True,
            )
            winners = [r for r in results if isinstance(r, loco.Deployment)]
            losers = [r for r in results if isinstance(r, loco.InvalidTransitionError)]
            assert len(winners) == 1
            assert len(losers) == 63
            assert all(e.from_status == "approved" and e.action == "approve" for e in losers)
            assert winners[0].status == "approved"

            events = await engine.events(d.id)
            assert [e.kind for e in events] == ["created", "approved"]
            assert events[1].actor == winners[0].reviewed_by
            assert (await engine.verify_audit()).events_checked == 2

    run(scenario)


def test_many_async_lifecycles_interleave(db_path: pathlib.Path) -> None:
    async def lifecycle(engine: loco.Engine, i: int) -> str:
        d = await engine.create(**request(service=f"svc-{i}"))
        await engine.approve(d.id, "bob")
        await engine.start(d.id, "bot")
        return (await engine.succeed(d.id, "bot")).status

    async def scenario() -> None:
        async with await loco.Engine.open(db_path) as engine:
            statuses = await asyncio.gather(*(lifecycle(engine, i) for i in range(100)))
            assert statuses == ["succeeded"] * 100
            report = await engine.verify_audit()
            assert (report.valid, report.events_checked) == (True, 400)

    run(scenario)


def test_threads_sharing_a_sync_engine_all_make_progress(sync_engine: loco.SyncEngine) -> None:
    errors: List[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(25):
                d = sync_engine.create(**request(service=f"svc-{n}-{i}"))
                sync_engine.approve(d.id, "bob")
                sync_engine.start(d.id, "bot")
                sync_engine.succeed(d.id, "bot")
        except BaseException as e:  # reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(sync_engine.list(status="succeeded", limit=500)) == 200
    report = sync_engine.verify_audit()
    assert (report.valid, report.events_checked) == (True, 800)


def test_a_thread_waiting_inside_rust_does_not_hold_the_gil(sync_engine: loco.SyncEngine) -> None:
    """Thread A waits in ``next_event`` for an event that only the main thread can create. Were
    the GIL held during the wait, the main thread could not run at all: A would give up after
    its timeout with ``TimeoutError`` and the test would fail (it cannot hang)."""
    subscription = sync_engine.subscribe()
    waiting = threading.Event()
    received: List[Union[loco.Event, BaseException, None]] = []

    def wait_for_event() -> None:
        waiting.set()
        try:
            received.append(subscription.next_event(timeout=30))
        except BaseException as e:  # reported by the assertion below
            received.append(e)

    waiter = threading.Thread(target=wait_for_event)
    waiter.start()
    waiting.wait()
    # Not an assertion on time: it only makes it very likely that A is already blocked in Rust
    # when the main thread needs the GIL below. The test is correct either way.
    time.sleep(0.2)
    created = sync_engine.create(**request())
    waiter.join(timeout=60)
    assert not waiter.is_alive()
    assert len(received) == 1
    event: Optional[Union[loco.Event, BaseException, None]] = received[0]
    assert isinstance(event, loco.Event), event
    assert (event.kind, event.deployment_id) == ("created", created.id)


def test_two_threads_blocked_in_rust_both_wake(sync_engine: loco.SyncEngine) -> None:
    subscriptions = [sync_engine.subscribe(), sync_engine.subscribe()]
    ready = threading.Barrier(3)
    kinds: List[List[str]] = [[], []]

    def drain(i: int) -> None:
        ready.wait()
        for _ in range(3):
            event = subscriptions[i].next_event(timeout=30)
            assert event is not None
            kinds[i].append(event.kind)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    ready.wait()
    d = sync_engine.create(**request())
    sync_engine.approve(d.id, "bob")
    sync_engine.start(d.id, "bot")
    for t in threads:
        t.join(timeout=60)
    assert kinds == [["created", "approved", "started"]] * 2
