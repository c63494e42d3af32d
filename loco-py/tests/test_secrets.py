"""Secrets from Python: a release's ``secret_env`` is sealed in the database file (under a key file
created private next to it), reaches the instance's environment and nothing else of the host's,
and every record the engine returns shows it as ``"***"``."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import secrets
import stat
from typing import Any, Dict, List

import pytest

import loco
from rollout_helpers import approved, plan, service_processes, unique_service

REDACTED = {"API_KEY": "***"}


def marker() -> str:
    """A value nobody else writes anywhere: what the tests look for."""
    return f"sk_live_{secrets.token_hex(16)}"


def secret_plan(version: str, secret_env: Dict[str, str], env: Dict[str, str] | None = None) -> Dict[str, Any]:
    """A plan running the demo service as ``version`` with ``secret_env``."""
    body = plan(version, env=env)
    body["release"]["secret_env"] = secret_env
    return body


def written_forms(value: str) -> List[bytes]:
    """``value`` as it could be written down: as is, in hex, and in standard and URL-safe base64
    at every byte alignment (only the characters that depend on ``value``'s bytes alone)."""
    raw = value.encode()
    forms = [raw, raw.hex().encode()]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).rstrip(b"=")
        for text in (encoded, encoded.replace(b"+", b"-").replace(b"/", b"_")):
            forms.append(text[4:-4])
    return forms


def assert_no_file_holds(directory: pathlib.Path, value: str, must_exist: List[pathlib.Path]) -> None:
    """No file under ``directory`` holds ``value`` in any written form; ``must_exist`` are there."""
    files = [p for p in directory.rglob("*") if p.is_file()]
    for path in must_exist:
        assert path in files, f"{path} exists: {files}"
    for path in files:
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            continue  # removed meanwhile (the SQLite -shm at close): nothing to leak
        for form in written_forms(value):
            assert form not in content, f"{path} holds the secret (as {form!r})"


def environment_of(pid: int) -> Dict[str, str]:
    """The environment process ``pid`` started with."""
    with open(f"/proc/{pid}/environ", "rb") as f:
        entries = f.read().split(b"\0")
    return dict(e.decode(errors="replace").split("=", 1) for e in entries if b"=" in e)


def running_pid(rollout: loco.Rollout, version: str) -> int:
    """The pid of the running instance of ``version`` in a rollout's progress."""
    pids = [i["pid"] for i in rollout.progress["instances"] if i["version"] == version and i["state"] == "running"]
    assert len(pids) == 1 and pids[0], rollout.progress
    pid: int = pids[0]
    return pid


def as_text(record: Any) -> str:
    """A record as JSON text, every field included."""
    return json.dumps(record.to_dict(), default=str)


def test_a_secret_reaches_only_the_instance_and_is_sealed_or_redacted_everywhere_else(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = unique_service("vault")
    secret, outer = marker(), marker()
    # The host's own environment, which must not reach the instance.
    monkeypatch.setenv("OUTER_SECRET", outer)
    monkeypatch.setenv("LOCO_OUTER_SECRET", outer)
    db = tmp_path / "loco.db"
    key_file = tmp_path / "loco.db.key"
    engine = loco.SyncEngine.open(db, local_state_dir=tmp_path / "state")
    try:
        assert not key_file.exists(), "no key before the first secret"
        id = approved(engine, service, "v1")
        rollout = engine.run_rollout(id, secret_plan("v1", {"API_KEY": secret}, {"VERSION": "v1"}), "deploy-bot")
        assert rollout.state == "succeeded", rollout.failure
        assert rollout.plan["release"]["secret_env"] == REDACTED
        assert rollout.plan["release"]["env"] == {"VERSION": "v1"}, "plain env is shown as it is"
        assert engine.rollout(id).plan["release"]["secret_env"] == REDACTED
        assert [r.plan["release"]["secret_env"] for r in engine.rollouts()] == [REDACTED]
        releases = engine.releases(service, "staging")
        assert [r.spec["secret_env"] for r in releases] == [REDACTED]

        events = engine.events(id)
        subscription = engine.subscribe_after(0)
        replayed: List[loco.Event] = []
        while not replayed or replayed[-1].seq < events[-1].seq:
            event = subscription.next_event(timeout=10)
            assert event is not None, "the replay reaches the last event"
            replayed.append(event)
        records = [rollout, engine.rollout(id), *engine.rollouts(), *releases, *events, *replayed]
        texts = [as_text(r) for r in records]
        texts += [as_text(engine.get(id)), engine.metrics_text()]
        for text in texts:
            assert secret not in text
            assert "loco:v1:" not in text, f"no record shows a sealed value either: {text}"

        pid = running_pid(rollout, "v1")
        assert pid in service_processes(service)
        child = environment_of(pid)
        assert child["API_KEY"] == secret
        assert child["VERSION"] == "v1"
        for name in ("OUTER_SECRET", "LOCO_OUTER_SECRET", "LOCO_MASTER_KEY", "LOCO_ADMIN_TOKEN"):
            assert name not in child, f"{name} reached the instance"
        platform_vars = {"LOCO_INSTANCE_ID", "LOCO_VERSION", "LOCO_SERVICE", "LOCO_ENVIRONMENT"}
        assert {n for n in child if n.startswith("LOCO_")} <= platform_vars, sorted(child)

        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        wal = tmp_path / "loco.db-wal"
        assert_no_file_holds(tmp_path, secret, [db, wal, key_file])
    finally:
        engine.close()
    assert service_processes(service) == []
    assert_no_file_holds(tmp_path, secret, [db, key_file])

    # Opened again, the same key is used and the secret still shows redacted.
    key = key_file.read_bytes()
    with loco.SyncEngine.open(db, local_state_dir=tmp_path / "state") as again:
        assert again.rollout(id).plan["release"]["secret_env"] == REDACTED
        assert [r.spec["secret_env"] for r in again.releases(service, "staging")] == [REDACTED]
    assert key_file.read_bytes() == key


@pytest.mark.parametrize(
    ("env", "secret_env"),
    [
        pytest.param({}, {"API_KEY": "***"}, id="the redaction placeholder"),
        pytest.param({"API_KEY": "plain"}, {"API_KEY": "sealed"}, id="both plain and secret"),
    ],
)
def test_a_bad_secret_is_refused_with_its_field(
    tmp_path: pathlib.Path, env: Dict[str, str], secret_env: Dict[str, str]
) -> None:
    service = unique_service("vault")
    with loco.SyncEngine.open(tmp_path / "loco.db", local_state_dir=tmp_path / "state") as engine:
        id = approved(engine, service, "v1")
        with pytest.raises(loco.ValidationError) as refused:
            engine.run_rollout(id, secret_plan("v1", secret_env, env), "deploy-bot")
        assert refused.value.code == "validation_error"
        assert [d["field"] for d in refused.value.details] == ["release.secret_env.API_KEY"]
        with pytest.raises(loco.NotFoundError):
            engine.rollout(id)
    assert service_processes(service) == []
    assert not os.path.exists(tmp_path / "loco.db.key"), "nothing was sealed"


def test_an_in_memory_engine_seals_with_a_key_it_never_writes(tmp_path: pathlib.Path) -> None:
    service = unique_service("vault")
    secret = marker()
    with loco.SyncEngine.open_in_memory(local_state_dir=tmp_path / "state") as engine:
        id = approved(engine, service, "v1")
        rollout = engine.run_rollout(id, secret_plan("v1", {"API_KEY": secret}), "deploy-bot")
        assert rollout.state == "succeeded", rollout.failure
        assert rollout.plan["release"]["secret_env"] == REDACTED
        assert environment_of(running_pid(rollout, "v1"))["API_KEY"] == secret
        assert_no_file_holds(tmp_path, secret, [])
    assert service_processes(service) == []
    assert list(tmp_path.rglob("*.key")) == [], "an in-memory engine writes no key file"
