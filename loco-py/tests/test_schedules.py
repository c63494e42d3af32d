"""Scheduled starts from Python on real SQLite files: a time in the past, too far ahead or not RFC
3339 refused with ``ValidationError`` on ``at``; a freeze window in force at that time refused with
``PolicyViolationError`` unless an override reason goes with it; due starts made by
``run_due_starts()`` as the schedule's actor, or refused with the error's code in ``outcome``;
cancelling, listing, and the same through the asyncio ``Engine``."""

from __future__ import annotations

import asyncio
import datetime
import pathlib
import time
from typing import Any, Dict, List

import pytest

import loco
from conftest import request, run

ACTOR = "deploy-bot"
REVIEWER = "bob@example.com"


def from_now(**delta: float) -> str:
    """The RFC 3339 time ``delta`` (``seconds=``, ``hours=``, ``days=``) from now."""
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(**delta)).isoformat()


def approved(engine: loco.SyncEngine, **overrides: Any) -> str:
    d = engine.create(**request(**overrides))
    engine.approve(d.id, REVIEWER)
    return d.id


def window_around(hours_from_now: float, name: str = "maintenance") -> Dict[str, Any]:
    """A one-off staging window from an hour before to an hour after ``hours_from_now``."""
    return {
        "name": name,
        "environments": ["staging"],
        "reason": "database maintenance",
        "schedule": {"type": "once", "start": from_now(hours=hours_from_now - 1),
                     "end": from_now(hours=hours_from_now + 1)},
    }


def fields(error: loco.LocoError) -> List[str]:
    return [d["field"] for d in error.details]


def test_a_schedule_is_pending_as_asked_by_its_actor_unless_by_is_given(sync_engine: loco.SyncEngine) -> None:
    waiting = sync_engine.create(**request()).id
    at = from_now(hours=2)

    scheduled = sync_engine.schedule_start(waiting, at, ACTOR)

    assert isinstance(scheduled, loco.ScheduledStart)
    assert (scheduled.deployment_id, scheduled.actor, scheduled.scheduled_by) == (waiting, ACTOR, ACTOR)
    assert (scheduled.state, scheduled.rollout, scheduled.override_reason) == ("pending", False, None)
    assert (scheduled.outcome, scheduled.ended_at) == (None, None)
    assert scheduled.at.endswith("Z")
    assert sync_engine.get(waiting).status == "pending_approval"

    again = sync_engine.schedule_start(waiting, from_now(hours=3), ACTOR, by="alice@example.com")
    assert again.scheduled_by == "alice@example.com"
    assert [s.at for s in sync_engine.scheduled_starts()] == [again.at]


def test_a_time_in_the_past_too_far_ahead_or_not_rfc_3339_is_a_validation_error_on_at(
    sync_engine: loco.SyncEngine,
) -> None:
    id = approved(sync_engine)
    for at in (from_now(seconds=-60), from_now(days=91), "tomorrow at two"):
        with pytest.raises(loco.ValidationError) as caught:
            sync_engine.schedule_start(id, at, ACTOR)
        assert caught.value.code == "validation_error"
        assert fields(caught.value) == ["at"], at
    assert sync_engine.scheduled_starts() == []


def test_a_blank_actor_or_by_an_unknown_or_started_deployment_and_a_rollout_without_a_plan_are_refused(
    sync_engine: loco.SyncEngine,
) -> None:
    id = approved(sync_engine)
    with pytest.raises(loco.ValidationError) as blank:
        sync_engine.schedule_start(id, from_now(hours=1), " ")
    assert "actor" in fields(blank.value)
    with pytest.raises(loco.ValidationError) as nobody:
        sync_engine.schedule_start(id, from_now(hours=1), ACTOR, by=" ")
    assert fields(nobody.value) == ["by"]
    with pytest.raises(loco.NotFoundError):
        sync_engine.schedule_start("dep_missing", from_now(hours=1), ACTOR)
    with pytest.raises(loco.ValidationError) as no_plan:
        sync_engine.schedule_start(id, from_now(hours=1), ACTOR, rollout=True)
    assert fields(no_plan.value) == ["plan"]

    sync_engine.start(id, ACTOR)
    with pytest.raises(loco.InvalidTransitionError) as started:
        sync_engine.schedule_start(id, from_now(hours=1), ACTOR)
    assert started.value.from_status == "started"
    assert sync_engine.scheduled_starts() == []


def test_a_freeze_window_in_force_at_the_time_refuses_it_unless_an_override_reason_goes_with_it(
    sync_engine: loco.SyncEngine,
) -> None:
    sync_engine.set_freeze_window(window_around(hours_from_now=5), "admin@example.com")
    id = approved(sync_engine)

    with pytest.raises(loco.PolicyViolationError) as frozen:
        sync_engine.schedule_start(id, from_now(hours=5), ACTOR)
    assert (frozen.value.rule, frozen.value.policy, frozen.value.environment) == (
        "freeze_window", "maintenance", "staging")
    assert sync_engine.scheduled_starts() == []

    outside = sync_engine.schedule_start(id, from_now(hours=8), ACTOR)
    assert outside.state == "pending"
    overridden = sync_engine.schedule_start(id, from_now(hours=5), ACTOR, override_reason="hotfix for PAY-150")
    assert (overridden.state, overridden.override_reason) == ("pending", "hotfix for PAY-150")


def test_due_starts_are_made_as_their_actor_or_refused_with_the_error_code(db_path: pathlib.Path) -> None:
    with loco.SyncEngine.open(db_path) as engine:
        ready = approved(engine)
        waiting = engine.create(**request(service="billing")).id
        later = approved(engine, service="search")
        at = from_now(seconds=0.8)
        engine.schedule_start(ready, at, ACTOR, by="alice@example.com")
        engine.schedule_start(waiting, at, ACTOR)
        engine.schedule_start(later, from_now(hours=1), ACTOR)
        assert engine.run_due_starts() == []

        time.sleep(1.1)
        ended = {s.deployment_id: s for s in engine.run_due_starts()}

        assert set(ended) == {ready, waiting}
        assert (ended[ready].state, ended[ready].outcome) == ("started", None)
        assert ended[ready].ended_at is not None
        assert engine.get(ready).status == "started"
        last = engine.events(ready)[-1]
        assert (last.kind, last.actor) == ("started", ACTOR)

        refused = ended[waiting]
        assert refused.state == "refused"
        assert refused.outcome is not None
        assert refused.outcome.startswith("invalid_transition: ")
        assert engine.get(waiting).status == "pending_approval"

        assert engine.run_due_starts() == []
        assert engine.get(later).status == "approved"

    with loco.SyncEngine.open(db_path) as reopened:
        states = {s.deployment_id: s.state for s in reopened.scheduled_starts()}
        assert states == {ready: "started", waiting: "refused", later: "pending"}


def test_a_cancelled_schedule_is_kept_as_cancelled_and_cannot_be_cancelled_again(
    sync_engine: loco.SyncEngine,
) -> None:
    first = approved(sync_engine)
    second = approved(sync_engine, service="billing")
    sync_engine.schedule_start(first, from_now(hours=2), ACTOR)
    sync_engine.schedule_start(second, from_now(hours=1), ACTOR)
    assert [s.deployment_id for s in sync_engine.scheduled_starts()] == [second, first]

    cancelled = sync_engine.cancel_scheduled_start(first)

    assert (cancelled.deployment_id, cancelled.state) == (first, "cancelled")
    assert cancelled.ended_at is not None
    with pytest.raises(loco.NotFoundError) as again:
        sync_engine.cancel_scheduled_start(first)
    assert again.value.code == "not_found"
    with pytest.raises(loco.NotFoundError):
        sync_engine.cancel_scheduled_start("dep_missing")
    states = {s.deployment_id: s.state for s in sync_engine.scheduled_starts()}
    assert states == {first: "cancelled", second: "pending"}


def test_the_asyncio_engine_schedules_lists_cancels_and_runs_due_starts(db_path: pathlib.Path) -> None:
    async def main() -> None:
        async with await loco.Engine.open(db_path) as engine:
            ready = (await engine.create(**request())).id
            await engine.approve(ready, REVIEWER)
            dropped = (await engine.create(**request(service="billing"))).id

            scheduled = await engine.schedule_start(ready, from_now(seconds=0.8), ACTOR)
            assert isinstance(scheduled, loco.ScheduledStart)
            await engine.schedule_start(dropped, from_now(seconds=0.8), ACTOR, by="alice@example.com")
            assert {s.deployment_id for s in await engine.scheduled_starts()} == {ready, dropped}
            assert (await engine.cancel_scheduled_start(dropped)).state == "cancelled"
            await engine.set_freeze_window(window_around(hours_from_now=5), "admin@example.com")
            with pytest.raises(loco.PolicyViolationError):
                await engine.schedule_start(ready, from_now(hours=5), ACTOR)

            await asyncio.sleep(1.1)
            ended = await engine.run_due_starts()

            assert [(s.deployment_id, s.state) for s in ended] == [(ready, "started")]
            assert (await engine.get(ready)).status == "started"
            assert (await engine.events(ready))[-1].actor == ACTOR
            with pytest.raises(loco.NotFoundError):
                await engine.cancel_scheduled_start(dropped)

    run(main)
