"""Subscriptions yield every committed event in commit order, replay history after a sequence
number, and end when the engine closes — through ``async for`` and through ``for``."""

from __future__ import annotations

import asyncio
import pathlib
from typing import List, Tuple

import pytest

import loco
from conftest import request, run


def test_async_subscription_yields_committed_events_in_order(db_path: pathlib.Path) -> None:
    async def scenario() -> None:
        async with await loco.Engine.open(db_path) as engine:
            subscription = engine.subscribe()
            d = await engine.create(**request())
            await engine.approve(d.id, "bob", "ok")
            with pytest.raises(loco.InvalidTransitionError):
                await engine.succeed(d.id, "bot")  # refused: no event
            await engine.start(d.id, "bot")
            await engine.succeed(d.id, "bot")
            seen: List[loco.Event] = []
            async for event in subscription:
                seen.append(event)
                if len(seen) == 4:
                    break
            assert [e.kind for e in seen] == ["created", "approved", "started", "succeeded"]
            assert [e.seq for e in seen] == [1, 2, 3, 4]
            assert seen == await engine.events(d.id)
            assert seen[1].note == "ok"

    run(scenario)


def test_async_subscription_waits_for_events_committed_later(db_path: pathlib.Path) -> None:
    async def consume(subscription: loco.Subscription, n: int) -> List[Tuple[int, str]]:
        out: List[Tuple[int, str]] = []
        async for event in subscription:
            out.append((event.seq, event.kind))
            if len(out) == n:
                break
        return out

    async def scenario() -> None:
        async with await loco.Engine.open(db_path) as engine:
            consumer = asyncio.ensure_future(consume(engine.subscribe(), 3))
            await asyncio.sleep(0)
            d = await engine.create(**request())
            await engine.reject(d.id, "bob", "not now")
            e = await engine.create(**request(service="billing"))
            assert await asyncio.wait_for(consumer, timeout=30) == [(1, "created"), (2, "rejected"), (3, "created")]
            assert e.status == "pending_approval"

    run(scenario)


def test_subscribe_after_replays_history_then_continues(db_path: pathlib.Path) -> None:
    async def scenario() -> None:
        async with await loco.Engine.open(db_path) as engine:
            d = await engine.create(**request())
            await engine.approve(d.id, "bob")
            await engine.start(d.id, "bot")
            subscription = engine.subscribe_after(1)
            await engine.succeed(d.id, "bot")
            seqs: List[int] = []
            async for event in subscription:
                seqs.append(event.seq)
                if len(seqs) == 3:
                    break
            assert seqs == [2, 3, 4]

    run(scenario)


def test_async_iteration_ends_when_the_engine_closes(db_path: pathlib.Path) -> None:
    async def scenario() -> None:
        engine = await loco.Engine.open(db_path)
        subscription = engine.subscribe()
        await engine.create(**request())
        await engine.close()
        kinds = [event.kind async for event in subscription]
        assert kinds == ["created"]

    run(scenario)


def test_cancelling_a_pending_next_loses_no_event(db_path: pathlib.Path) -> None:
    async def scenario() -> None:
        async with await loco.Engine.open(db_path) as engine:
            subscription = engine.subscribe()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(subscription.__anext__(), timeout=0.05)
            d = await engine.create(**request())
            event = await asyncio.wait_for(subscription.__anext__(), timeout=30)
            assert (event.seq, event.deployment_id) == (1, d.id)

    run(scenario)


def test_sync_subscription_iterates_in_order_and_ends_on_close(db_path: pathlib.Path) -> None:
    engine = loco.SyncEngine.open(db_path)
    subscription = engine.subscribe()
    d = engine.create(**request())
    engine.approve(d.id, "bob")
    engine.start(d.id, "bot")
    engine.fail(d.id, "bot", "503s")
    engine.rollback(d.id, "bot", "back to 1.3.9")
    engine.close()
    events = list(subscription)
    assert [e.kind for e in events] == ["created", "approved", "started", "failed", "rolled_back"]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert subscription.next_event(timeout=1) is None


def test_sync_subscribe_after_and_timeouts(sync_engine: loco.SyncEngine) -> None:
    d = sync_engine.create(**request())
    sync_engine.approve(d.id, "bob")
    subscription = sync_engine.subscribe_after(0)
    first = subscription.next_event(timeout=30)
    second = subscription.next_event(timeout=30)
    assert first is not None and second is not None
    assert [first.kind, second.kind] == ["created", "approved"]
    with pytest.raises(TimeoutError):
        subscription.next_event(timeout=0.05)
    sync_engine.start(d.id, "bot")
    third = subscription.next_event(timeout=30)
    assert third is not None and (third.seq, third.kind) == (3, "started")


def test_a_late_reader_sees_every_event_once_in_order(sync_engine: loco.SyncEngine) -> None:
    subscription = sync_engine.subscribe()
    for i in range(300):
        d = sync_engine.create(**request(service=f"svc-{i}"))
        sync_engine.approve(d.id, "bob")
        sync_engine.start(d.id, "bot")
        sync_engine.succeed(d.id, "bot")
    seqs = []
    for _ in range(1200):
        event = subscription.next_event(timeout=30)
        assert event is not None
        seqs.append(event.seq)
    assert seqs == list(range(1, 1201))
