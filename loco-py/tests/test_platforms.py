"""Configured cloud platforms from Python: add, list, test and remove. The token goes in once and
never comes out — not in results, not in errors, not in the database file — and settings are
checked by the core, which names every bad field."""

from __future__ import annotations

import asyncio
import pathlib
import socket
from typing import List

import pytest

import loco

TOKEN = "fm2_python-secret-token-0123456789"


def fields(error: loco.LocoError) -> List[str]:
    return [d["field"] for d in error.details]


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_platform_is_added_listed_and_removed_and_its_token_never_shown(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "loco.db"
    with loco.SyncEngine.open(db) as engine:
        settings = {"kind": "fly", "app": "shop", "api_url": "http://127.0.0.1:9"}
        added = engine.add_platform("fly-prod", settings, TOKEN, "alice")
        assert isinstance(added, loco.PlatformConfig)
        assert (added.name, added.token, added.created_by) == ("fly-prod", "***", "alice")
        assert added.settings["kind"] == "fly" and added.settings["app"] == "shop"
        assert [p.name for p in engine.platforms()] == ["fly-prod"]
        engine.add_platform("render", '{"kind": "render", "service_id": "srv-abc"}', TOKEN, "alice")
        assert [p.name for p in engine.platforms()] == ["fly-prod", "render"]
        assert TOKEN not in repr(engine.platforms()) and TOKEN not in str(added.to_dict())
    raw = db.read_bytes() + (tmp_path / "loco.db-wal").read_bytes() if (tmp_path / "loco.db-wal").exists() else db.read_bytes()
    assert TOKEN.encode() not in raw, "the token is sealed in the database file"

    with loco.SyncEngine.open(db) as engine:
        assert [p.name for p in engine.platforms()] == ["fly-prod", "render"], "configurations outlive the engine"
        engine.remove_platform("render")
        with pytest.raises(loco.NotFoundError):
            engine.remove_platform("render")
        assert [p.name for p in engine.platforms()] == ["fly-prod"]


def test_bad_configurations_name_every_field_and_store_nothing(tmp_path: pathlib.Path) -> None:
    with loco.SyncEngine.open(tmp_path / "loco.db") as engine:
        with pytest.raises(loco.ValidationError) as bad:
            engine.add_platform("Local!", {"kind": "fly", "app": "Shop", "api_url": "http://example.com"}, " ", "ops")
        assert fields(bad.value) == ["name", "settings.api_url", "settings.app", "token"]
        with pytest.raises(loco.ValidationError) as unknown:
            engine.add_platform("x", {"kind": "render", "service_id": "srv-1", "colour": "red"}, TOKEN, "ops")
        assert fields(unknown.value) == ["settings.colour"]
        with pytest.raises(loco.ValidationError) as reserved:
            engine.add_platform("local", {"kind": "fly", "app": "shop"}, TOKEN, "ops")
        assert fields(reserved.value) == ["name"]
        assert engine.platforms() == []


def test_a_failed_connection_test_is_a_platform_error_without_the_token(tmp_path: pathlib.Path) -> None:
    port = closed_port()

    async def main() -> None:
        async with await loco.Engine.open(tmp_path / "loco.db") as engine:
            settings = {"kind": "render", "service_id": "srv-abc", "api_url": f"http://127.0.0.1:{port}"}
            await engine.add_platform("render-prod", settings, TOKEN, "alice")
            with pytest.raises(loco.PlatformError) as failed:
                await engine.test_platform("render-prod")
            assert failed.value.platform == "render-prod"
            assert TOKEN not in str(failed.value)
            with pytest.raises(loco.NotFoundError) as missing:
                await engine.test_platform("nope")
            assert missing.value.code == "not_found"

    asyncio.run(main())
