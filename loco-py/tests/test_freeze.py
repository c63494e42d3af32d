"""Freeze windows from Python on real SQLite files: setting, listing, replacing and removing
windows; which one is in force; a start (plain or a rollout) during one refused with
``PolicyViolationError`` naming the window and writing nothing; an admin's ``override_reason``
recorded as a ``policy_override`` event just before ``started``, covered by the audit; and the
same through the asyncio ``Engine``."""

from __future__ import annotations

import datetime
import json
import pathlib
from typing import Any, Dict, List, Sequence

import pytest

import loco
from conftest import request, run
from rollout_helpers import create_request, plan, service_processes, unique_service

REASON = "release freeze for the board meeting"


def in_force(name: str = "board-meeting", environments: Sequence[str] = ("production",)) -> Dict[str, Any]:
    """A one-off window in force from long ago until 23 hours from now."""
    end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=23)
    return {
        "name": name,
        "environments": list(environments),
        "reason": REASON,
        "schedule": {"type": "once", "start": "2000-01-01T00:00:00Z", "end": end.isoformat()},
    }


def weekend(name: str = "weekend") -> Dict[str, Any]:
    """Every weekend in Berlin, from Friday 18:00 for 62 hours."""
    return {
        "name": name,
        "environments": ["production"],
        "reason": "no weekend deploys",
        "schedule": {"type": "recurring", "cron": "0 18 * * FRI", "duration_minutes": 3720,
                     "time_zone": "Europe/Berlin"},
    }


def approved_in(engine: loco.SyncEngine, environment: str = "production") -> str:
    """An approved deployment in ``environment`` (production ones state their risk)."""
    risk = "low: config only" if environment == "production" else None
    d = engine.create(**request(environment=environment, risk=risk))
    engine.approve(d.id, "bob@example.com")
    return d.id


def kinds(events: List[loco.Event]) -> List[str]:
    return [e.kind for e in events]


def fields(error: loco.LocoError) -> List[str]:
    return [d["field"] for d in error.details]


def test_a_window_is_returned_as_stored_listed_by_name_replaced_and_kept_in_the_file(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "loco.db"
    with loco.SyncEngine.open(db) as engine:
        stored = engine.set_freeze_window(weekend(), "admin@example.com")
        assert stored.to_dict() == weekend()
        holidays = engine.set_freeze_window(json.dumps({
            "name": "holidays",
            "environments": ["production", "staging"],
            "reason": "holidays",
            "schedule": {"type": "once", "start": "2026-12-20T00:00:00+01:00", "end": "2027-01-04T00:00:00Z"},
        }), "admin@example.com")
        assert holidays.schedule == {
            "type": "once", "start": "2026-12-19T23:00:00.000000Z", "end": "2027-01-04T00:00:00.000000Z",
        }
        assert [w.name for w in engine.freeze_windows()] == ["holidays", "weekend"]
        replaced = engine.set_freeze_window({**weekend(), "reason": "still no weekend deploys"}, "admin@example.com")
        assert replaced.reason == "still no weekend deploys"
        assert len(engine.freeze_windows()) == 2

    with loco.SyncEngine.open(db) as engine:
        assert [w.name for w in engine.freeze_windows()] == ["holidays", "weekend"]
        assert engine.freeze_windows()[1].reason == "still no weekend deploys"
        engine.remove_freeze_window("holidays")
        with pytest.raises(loco.NotFoundError) as missing:
            engine.remove_freeze_window("holidays")
        assert missing.value.code == "not_found"
        assert [w.name for w in engine.freeze_windows()] == ["weekend"]


def test_a_bad_window_names_every_bad_field_and_stores_nothing(sync_engine: loco.SyncEngine) -> None:
    bad = {
        "name": "bad name",
        "environments": [" "],
        "reason": "",
        "schedule": {"type": "recurring", "cron": "* *", "duration_minutes": 0, "time_zone": "Mars/Olympus"},
    }
    with pytest.raises(loco.ValidationError) as caught:
        sync_engine.set_freeze_window(bad, "admin")
    assert fields(caught.value) == [
        "name", "environments[0]", "reason", "schedule.cron", "schedule.duration_minutes", "schedule.time_zone",
    ]
    with pytest.raises(loco.ValidationError):
        sync_engine.set_freeze_window({**weekend(), "colour": "red"}, "admin")
    with pytest.raises(loco.ValidationError) as caught:
        sync_engine.set_freeze_window(weekend(), " ")
    assert fields(caught.value) == ["by"]
    with pytest.raises(TypeError):
        sync_engine.set_freeze_window(["not", "a", "window"], "admin")  # type: ignore[arg-type]
    assert sync_engine.freeze_windows() == []


def test_the_active_freeze_is_the_occurrence_in_force_for_the_environment(sync_engine: loco.SyncEngine) -> None:
    sync_engine.set_freeze_window(weekend(), "admin")
    saturday = sync_engine.active_freeze("Production", "2026-12-05T13:00:00+01:00")
    assert saturday is not None and saturday.to_dict() == {
        "window": "weekend",
        "reason": "no weekend deploys",
        "start": "2026-12-04T17:00:00.000000Z",
        "end": "2026-12-07T07:00:00.000000Z",
    }
    assert sync_engine.active_freeze("staging", "2026-12-05T12:00:00Z") is None
    assert sync_engine.active_freeze("production", "2026-12-07T07:00:00Z") is None, "the end is exclusive"

    sync_engine.set_freeze_window(in_force(), "admin")
    now = sync_engine.active_freeze("production")
    assert now is not None and (now.window, now.reason) == ("board-meeting", REASON)

    with pytest.raises(loco.ValidationError) as caught:
        sync_engine.active_freeze("production", "next friday")
    assert fields(caught.value) == ["at"]
    with pytest.raises(loco.ValidationError) as caught:
        sync_engine.active_freeze(" ")
    assert fields(caught.value) == ["environment"]


def test_a_start_during_a_freeze_is_refused_naming_the_window_and_writes_nothing(
    sync_engine: loco.SyncEngine,
) -> None:
    sync_engine.set_freeze_window(in_force(), "root")
    frozen = approved_in(sync_engine, "production")
    free = approved_in(sync_engine, "staging")

    with pytest.raises(loco.PolicyViolationError) as caught:
        sync_engine.start(frozen, "ops")
    err = caught.value
    assert isinstance(err, loco.LocoError)
    assert err.code == "policy_violation"
    assert (err.rule, err.policy, err.environment) == ("freeze_window", "board-meeting", "production")
    active = sync_engine.active_freeze("production")
    assert active is not None and err.until == active.end
    assert fields(err) == ["freeze_window"]
    assert REASON in str(err)
    assert sync_engine.get(frozen).status == "approved"
    assert kinds(sync_engine.events(frozen)) == ["created", "approved"]

    assert sync_engine.start(free, "ops").status == "started", "staging is not frozen"
    sync_engine.remove_freeze_window("board-meeting")
    assert sync_engine.start(frozen, "ops").status == "started", "nothing is frozen any more"


def test_an_override_reason_starts_it_and_is_recorded_just_before_started(sync_engine: loco.SyncEngine) -> None:
    sync_engine.set_freeze_window(in_force(), "root")
    id = approved_in(sync_engine)

    started = sync_engine.start(id, "root", override_reason="hotfix for INC-7")
    assert started.status == "started"
    events = sync_engine.events(id)
    assert kinds(events) == ["created", "approved", "policy_override", "started"]
    record = events[2]
    assert (record.actor, record.note) == ("root", "hotfix for INC-7")
    assert record.data is not None
    assert (record.data["rule"], record.data["name"], record.data["environment"]) == (
        "freeze_window", "board-meeting", "production",
    )
    active = sync_engine.active_freeze("production")
    assert active is not None and (record.data["start"], record.data["end"]) == (active.start, active.end)
    assert sync_engine.verify_audit().valid


def test_a_blank_override_reason_is_a_validation_error_on_override_reason(sync_engine: loco.SyncEngine) -> None:
    sync_engine.set_freeze_window(in_force(), "root")
    id = approved_in(sync_engine)
    with pytest.raises(loco.ValidationError) as caught:
        sync_engine.start(id, "root", override_reason="  ")
    assert fields(caught.value) == ["override_reason"]
    assert kinds(sync_engine.events(id)) == ["created", "approved"]


def test_a_rollout_during_a_freeze_is_refused_and_an_override_lets_one_through(tmp_path: pathlib.Path) -> None:
    service = unique_service()
    engine = loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state")
    try:
        engine.set_freeze_window(in_force(), "root")
        d = engine.create(**create_request(service, "v1", "production"), risk="low: config only")
        engine.approve(d.id, "bob@example.com")
        id = d.id
        with pytest.raises(loco.PolicyViolationError) as caught:
            engine.start_rollout(id, plan("v1"), "ops")
        assert caught.value.policy == "board-meeting"
        with pytest.raises(loco.NotFoundError):
            engine.rollout(id)
        with pytest.raises(loco.PolicyViolationError):
            engine.run_rollout(id, plan("v1"), "ops")
        assert engine.get(id).status == "approved"

        engine.start_rollout(id, plan("v1"), "root", override_reason="security patch CVE-2026-1234")
        done = engine.wait_rollout(id)
        assert done.state == "succeeded", done.failure
        found = kinds(engine.events(id))
        assert found[found.index("started") - 1] == "policy_override", found
        assert engine.verify_audit().valid
    finally:
        engine.close()
    assert service_processes(service) == []


def test_the_asyncio_engine_sets_checks_refuses_and_overrides(db_path: pathlib.Path) -> None:
    async def main() -> None:
        async with await loco.Engine.open(db_path) as engine:
            stored = await engine.set_freeze_window(in_force(), "root")
            assert stored.name == "board-meeting"
            assert [w.name for w in await engine.freeze_windows()] == ["board-meeting"]
            active = await engine.active_freeze("production")
            assert active is not None and active.window == "board-meeting"
            assert await engine.active_freeze("production", "1999-12-31T23:59:59Z") is None

            d = await engine.create(**request(environment="production", risk="low: config only"))
            await engine.approve(d.id, "bob@example.com")
            with pytest.raises(loco.PolicyViolationError) as caught:
                await engine.start(d.id, "ops")
            assert (caught.value.code, caught.value.policy, caught.value.until) == (
                "policy_violation", "board-meeting", active.end,
            )
            started = await engine.start(d.id, "root", override_reason="hotfix for INC-7")
            assert started.status == "started"
            assert kinds(await engine.events(d.id)) == ["created", "approved", "policy_override", "started"]

            await engine.remove_freeze_window("board-meeting")
            with pytest.raises(loco.NotFoundError):
                await engine.remove_freeze_window("board-meeting")
            assert await engine.freeze_windows() == []

    run(main)
