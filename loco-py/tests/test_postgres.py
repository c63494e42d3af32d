"""The engine on PostgreSQL from Python: ``Engine.open("postgres://…")`` and the blocking twin keep
their records in the database (a second engine reads them), the URL's password never shows in a
``repr``, and an unreachable server is a ``loco.StorageError``. Uses the server at
``LOCO_TEST_POSTGRES_URL`` (default ``postgres://postgres@127.0.0.1:5432/test``), in a schema of
its own (made and dropped with ``psql``)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from typing import Iterator

import pytest

import loco
from conftest import request

SERVER = os.environ.get("LOCO_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


@pytest.fixture
def database() -> Iterator[str]:
    schema = "loco_py_" + uuid.uuid4().hex
    subprocess.run(["psql", SERVER, "-qc", f'CREATE SCHEMA "{schema}"'], check=True)
    separator = "&" if "?" in SERVER else "?"
    try:
        yield f"{SERVER}{separator}options=-csearch_path%3D{schema}"
    finally:
        subprocess.run(["psql", SERVER, "-qc", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'], check=True)


def test_the_blocking_engine_keeps_records_in_postgresql(database: str) -> None:
    with loco.SyncEngine.open(database) as engine:
        d = engine.create(**request(service="pg-shop"))
        engine.approve(d.id, "bob@example.com")
    with loco.SyncEngine.open(database) as again:
        assert again.get(d.id).status == "approved"
        assert [e.kind for e in again.events(d.id)] == ["created", "approved"]
        assert again.verify_audit().valid is True


def test_the_asyncio_engine_on_postgresql_and_its_events(database: str) -> None:
    async def main() -> None:
        engine = await loco.Engine.open(database)
        try:
            d = await engine.create(**request(service="pg-async"))
            with pytest.raises(loco.SelfApprovalError):
                await engine.approve(d.id, d.requester)
            listed = await engine.list(service="pg-async")
            assert [x.id for x in listed] == [d.id]
        finally:
            await engine.close()

    asyncio.run(main())


def test_a_password_in_the_url_is_never_shown() -> None:
    url = "postgres://loco:pg-s3cret-never-shown@127.0.0.1:1/test"
    with pytest.raises(loco.StorageError) as refused:
        loco.SyncEngine.open(url)
    assert refused.value.code == "storage_error"
    assert "pg-s3cret-never-shown" not in str(refused.value)
