"""Every exception type with its ``code``, attributes and place in the hierarchy, raised through the
real API; wrong Python argument types raise ``TypeError`` instead of crashing."""

from __future__ import annotations

import pathlib
from typing import Any, Dict, List, Tuple, Type

import pytest

import loco
from conftest import request, run

CODES: Dict[Type[loco.LocoError], str] = {
    loco.ValidationError: "validation_error",
    loco.NotFoundError: "not_found",
    loco.InvalidTransitionError: "invalid_transition",
    loco.SelfApprovalError: "self_approval",
    loco.IdempotencyConflictError: "idempotency_conflict",
    loco.PayloadTooLargeError: "payload_too_large",
    loco.StorageError: "storage_error",
    loco.RolloutConflictError: "rollout_conflict",
    loco.RolloutInProgressError: "rollout_in_progress",
    loco.RolloutNotPausedError: "rollout_not_paused",
    loco.PlatformError: "platform_error",
    loco.RollbackFailedError: "rollback_failed",
    loco.UnauthenticatedError: "unauthenticated",
    loco.PermissionDeniedError: "permission_denied",
    loco.UnsupportedMediaTypeError: "unsupported_media_type",
    loco.RateLimitedError: "rate_limited",
    loco.ValidationFailedError: "validation_failed",
    loco.PolicyViolationError: "policy_violation",
    loco.ApprovalRequiredError: "approval_required",
}


def test_every_code_has_its_own_subclass_of_loco_error() -> None:
    assert issubclass(loco.LocoError, Exception)
    for cls, code in CODES.items():
        assert issubclass(cls, loco.LocoError), cls
        assert cls.code == code, cls
        assert cls.__module__ == "loco", cls
    assert len(set(CODES.values())) == len(CODES) == 19


def test_validation_error_lists_every_bad_field_in_order(sync_engine: loco.SyncEngine) -> None:
    with pytest.raises(loco.ValidationError) as caught:
        sync_engine.create(**request(service="  ", work_refs=["PAY-1", ""], environment="prod"))
    err = caught.value
    assert err.code == "validation_error"
    assert [d["field"] for d in err.details] == ["service", "work_refs[1]", "risk"]
    assert all(set(d) == {"field", "message"} and d["message"] for d in err.details)
    assert "service" in str(err)


def test_omitted_fields_are_validation_errors_not_type_errors(sync_engine: loco.SyncEngine) -> None:
    incomplete: Dict[str, Any] = {"service": "checkout"}
    with pytest.raises(loco.ValidationError) as caught:
        sync_engine.create(**incomplete)
    fields = [d["field"] for d in caught.value.details]
    assert fields == ["environment", "version", "requester", "work_refs", "rollback_plan"]


def test_not_found_names_the_id(sync_engine: loco.SyncEngine) -> None:
    with pytest.raises(loco.NotFoundError) as caught:
        sync_engine.get("dep_nope")
    assert caught.value.code == "not_found"
    assert caught.value.deployment_id == "dep_nope"
    assert caught.value.details == []
    with pytest.raises(loco.NotFoundError):
        sync_engine.events("dep_nope")


def test_invalid_transition_carries_from_status_and_action(sync_engine: loco.SyncEngine) -> None:
    d = sync_engine.create(**request())
    with pytest.raises(loco.InvalidTransitionError) as caught:
        sync_engine.start(d.id, "deploy-bot")
    err = caught.value
    assert (err.code, err.deployment_id, err.from_status, err.action) == (
        "invalid_transition",
        d.id,
        "pending_approval",
        "start",
    )
    assert sync_engine.get(d.id).status == "pending_approval"


def test_self_approval_names_actor_and_action(sync_engine: loco.SyncEngine) -> None:
    d = sync_engine.create(**request())
    with pytest.raises(loco.SelfApprovalError) as caught:
        sync_engine.approve(d.id, " Alice@Example.com")
    err = caught.value
    assert (err.code, err.deployment_id, err.actor, err.action) == (
        "self_approval",
        d.id,
        " Alice@Example.com",
        "approve",
    )
    with pytest.raises(loco.SelfApprovalError) as rejected:
        sync_engine.reject(d.id, "alice@example.com", "no")
    assert rejected.value.action == "reject"


def test_idempotency_conflict_names_the_key(sync_engine: loco.SyncEngine) -> None:
    first = sync_engine.create(**request(), idempotency_key="req-1")
    again = sync_engine.create(**request(), idempotency_key="req-1")
    assert again.id == first.id
    with pytest.raises(loco.IdempotencyConflictError) as caught:
        sync_engine.create(**request(version="9.9.9"), idempotency_key="req-1")
    assert (caught.value.code, caught.value.key) == ("idempotency_conflict", "req-1")
    assert len(sync_engine.list()) == 1


def test_idempotency_conflict_names_the_key_as_idempotency_key_too(sync_engine: loco.SyncEngine) -> None:
    sync_engine.create(**request(), idempotency_key="req-2")
    with pytest.raises(loco.IdempotencyConflictError) as caught:
        sync_engine.create(**request(version="9.9.9"), idempotency_key="req-2")
    assert (caught.value.idempotency_key, caught.value.key) == ("req-2", "req-2")


def test_facts_are_attributes_named_as_in_the_core(sync_engine: loco.SyncEngine) -> None:
    d = sync_engine.create(**request())
    with pytest.raises(loco.InvalidTransitionError) as caught:
        sync_engine.succeed(d.id, "bot")
    facts = {name: getattr(caught.value, name) for name in ("deployment_id", "from_status", "action")}
    assert facts == {"deployment_id": d.id, "from_status": "pending_approval", "action": "succeed"}
    assert not hasattr(caught.value, "actor"), "only the facts of this error are set"


def test_reject_without_note_is_refused_by_the_core(sync_engine: loco.SyncEngine) -> None:
    d = sync_engine.create(**request())
    for action in (sync_engine.reject,):
        with pytest.raises(loco.ValidationError) as caught:
            action(d.id, "bob")
        assert [x["field"] for x in caught.value.details] == ["note"]
    sync_engine.approve(d.id, "bob")
    sync_engine.start(d.id, "bot")
    for action in (sync_engine.fail, sync_engine.rollback):
        with pytest.raises(loco.ValidationError) as caught:
            action(d.id, "bot")
        assert [x["field"] for x in caught.value.details] == ["note"]
    assert [e.kind for e in sync_engine.events(d.id)] == ["created", "approved", "started"]


def test_bad_list_arguments_are_validation_errors(sync_engine: loco.SyncEngine) -> None:
    cases: List[Tuple[Dict[str, Any], str]] = [
        ({"status": "done"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": -3}, "limit"),
        ({"limit": 2**40}, "limit"),
        ({"cursor": "' OR 1=1 --"}, "cursor"),
    ]
    for kwargs, field in cases:
        with pytest.raises(loco.ValidationError) as caught:
            sync_engine.list(**kwargs)
        assert [d["field"] for d in caught.value.details] == [field], kwargs


def test_payload_too_large_is_part_of_the_hierarchy() -> None:
    # The core raises it only for HTTP bodies over 1 MiB, which no engine call has; the class
    # exists so code shared with the HTTP client can catch every code the same way.
    assert issubclass(loco.PayloadTooLargeError, loco.LocoError)
    assert loco.PayloadTooLargeError.code == "payload_too_large"


def test_storage_error_after_close(db_path: pathlib.Path) -> None:
    engine = loco.SyncEngine.open(db_path)
    engine.close()
    with pytest.raises(loco.StorageError) as caught:
        engine.create(**request())
    assert caught.value.code == "storage_error"
    assert caught.value.details == []

    async def closed_async() -> None:
        engine = await loco.Engine.open(db_path)
        await engine.close()
        await engine.get("dep_x")

    with pytest.raises(loco.StorageError):
        run(closed_async)


def test_storage_error_for_a_file_that_is_not_a_database(tmp_path: pathlib.Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(loco.StorageError):
        loco.SyncEngine.open(junk)
    with pytest.raises(loco.StorageError):
        run(lambda: loco.Engine.open(junk))


def test_storage_error_for_a_missing_directory(tmp_path: pathlib.Path) -> None:
    with pytest.raises(loco.StorageError):
        loco.SyncEngine.open(tmp_path / "no" / "such" / "dir" / "loco.db")


@pytest.mark.parametrize(
    "call",
    [
        lambda e: e.create(**request(service=42)),
        lambda e: e.create(**request(work_refs="PAY-1")),
        lambda e: e.create(**request(work_refs=[1, 2])),
        lambda e: e.create(**request(risk=b"bytes")),
        lambda e: e.create(**request(), idempotency_key=7),
        lambda e: e.create(**request(), unknown_field="x"),
        lambda e: e.approve(None, "bob"),
        lambda e: e.approve("dep_x", 3),
        lambda e: e.reject("dep_x", "bob", ["note"]),
        lambda e: e.get(1.5),
        lambda e: e.create(**request(commit=0x9F2C1E7)),
        lambda e: e.list(limit="ten"),
        lambda e: e.list(status=3),
        lambda e: e.subscribe_after("zero"),
    ],
)
def test_wrong_argument_types_raise_type_error(sync_engine: loco.SyncEngine, call: Any) -> None:
    with pytest.raises(TypeError):
        call(sync_engine)
    assert sync_engine.verify_audit().events_checked == 0


def test_wrong_argument_types_raise_type_error_in_async_methods(db_path: pathlib.Path) -> None:
    async def scenario() -> None:
        engine = await loco.Engine.open(db_path)
        bad: Any = 42
        with pytest.raises(TypeError):
            engine.create(**request(service=bad))
        with pytest.raises(TypeError):
            engine.approve(bad, "bob")
        with pytest.raises(TypeError):
            loco.Engine.open(bad)
        await engine.close()

    run(scenario)


def test_unencodable_strings_raise_instead_of_crashing(sync_engine: loco.SyncEngine) -> None:
    with pytest.raises(UnicodeEncodeError):
        sync_engine.create(**request(service="lone \udc80 surrogate"))


def test_engines_cannot_be_constructed_directly() -> None:
    with pytest.raises(TypeError):
        loco.Engine()
    with pytest.raises(TypeError):
        loco.SyncEngine()


def test_bad_timeout_is_a_value_error(sync_engine: loco.SyncEngine) -> None:
    subscription = sync_engine.subscribe()
    for timeout in (-1.0, float("nan")):
        with pytest.raises(ValueError):
            subscription.next_event(timeout)
