"""Every vector of ``tests/conformance/lifecycle.json`` through the Python API, once with the
asyncio ``Engine`` and once with the blocking ``SyncEngine``, each on a real SQLite file."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any, Awaitable, Callable, Dict, List, Optional

import pytest

import loco
from conftest import load_vectors

DOC = load_vectors()
VECTORS: List[Dict[str, Any]] = DOC["vectors"]

#: Calls ``method(*args, **kwargs)`` on the engine under test and returns the plain result.
Call = Callable[..., Any]


def create_kwargs(step: Dict[str, Any]) -> Dict[str, Any]:
    """``base`` with the step's ``input`` merged over it; ``None`` means the field is absent,
    which the binding passes to the core as an empty value."""
    body: Dict[str, Any] = dict(DOC["base"])
    body.update(step.get("input") or {})
    if "idempotency_key" in step:
        body["idempotency_key"] = step["idempotency_key"]
    return body


def run_vector(vector: Dict[str, Any], call: Call) -> None:
    name = vector["name"]
    current: Optional[str] = None
    for i, step in enumerate(vector["steps"]):
        ctx = f"vector {name!r} step {i}"
        op: str = step["op"]
        expect: Dict[str, Any] = step["expect"]
        result: Any = None
        error: Optional[loco.LocoError] = None
        try:
            if op == "create":
                result = call("create", **create_kwargs(step))
            else:
                target = DOC["missing_id"] if step.get("id") == "missing" else current
                assert target is not None, ctx
                result = call(op, target, step["actor"], step.get("note"))
        except loco.LocoError as e:
            error = e

        code = expect.get("error")
        if code is not None:
            assert error is not None, f"{ctx}: expected {code}, got {result!r}"
            assert error.code == code, f"{ctx}: {error!r}"
            if "fields" in expect:
                assert [d["field"] for d in error.details] == expect["fields"], ctx
            if isinstance(error, loco.ValidationError):
                assert error.details and all(d["message"] for d in error.details), ctx
            else:
                assert error.details == [], ctx
        else:
            assert error is None, f"{ctx}: unexpected {error!r}"
            assert isinstance(result, loco.Deployment), ctx
            if op == "create":
                if "same_deployment" in expect:
                    assert (result.id == current) == expect["same_deployment"], ctx
                if current is None:
                    current = result.id
            as_json: Dict[str, Any] = dict(result.to_dict())
            for key, value in expect.get("deployment", {}).items():
                assert as_json[key] == value, f"{ctx}: deployment.{key}"
                assert getattr(result, key) == value, f"{ctx}: Deployment.{key}"
            if expect.get("reviewed_at_set"):
                assert result.reviewed_at is not None, ctx

        if "status" in expect:
            assert current is not None, ctx
            assert call("get", current).status == expect["status"], f"{ctx}: status"
        if "events" in expect:
            assert current is not None, ctx
            events = call("events", current)
            assert [e.kind for e in events] == expect["events"], f"{ctx}: events"
            for key, value in expect.get("last_event", {}).items():
                assert events[-1].to_dict()[key] == value, f"{ctx}: last_event.{key}"
    report = call("verify_audit")
    assert report.valid, f"vector {name!r}: audit chain {report!r}"


def test_the_vector_file_is_complete() -> None:
    assert len(VECTORS) >= 100
    names = {v["name"] for v in VECTORS}
    statuses = ["pending_approval", "approved", "rejected", "started", "succeeded", "failed", "rolled_back"]
    actions = ["approve", "reject", "start", "succeed", "fail", "rollback"]
    missing = [f"{a} from {s}" for s in statuses for a in actions if f"{a} from {s}" not in names]
    assert missing == []


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_with_sync_engine(vector: Dict[str, Any], db_path: pathlib.Path) -> None:
    engine = loco.SyncEngine.open(db_path)
    try:
        run_vector(vector, lambda method, *args, **kwargs: getattr(engine, method)(*args, **kwargs))
    finally:
        engine.close()


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_with_async_engine(vector: Dict[str, Any], db_path: pathlib.Path) -> None:
    loop = asyncio.new_event_loop()

    def wait(make: Callable[[], Awaitable[Any]]) -> Any:
        async def invoke() -> Any:
            return await make()

        return loop.run_until_complete(invoke())

    try:
        engine = wait(lambda: loco.Engine.open(db_path))
        try:
            run_vector(vector, lambda method, *args, **kwargs: wait(lambda: getattr(engine, method)(*args, **kwargs)))
        finally:
            wait(engine.close)
    finally:
        loop.close()
