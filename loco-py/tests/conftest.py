"""Shared fixtures and helpers for the ``loco`` tests: real SQLite files in ``tmp_path``, the
conformance vectors, and a way to call the asyncio API from plain test functions."""

from __future__ import annotations

import asyncio
import json
import pathlib
from typing import Any, Awaitable, Callable, Dict, Iterator, TypeVar

import pytest

import loco

T = TypeVar("T")

REPO = pathlib.Path(__file__).resolve().parents[2]
VECTORS_PATH = REPO / "tests" / "conformance" / "lifecycle.json"


def load_vectors() -> Dict[str, Any]:
    """The lifecycle contract vectors shared by every surface."""
    with VECTORS_PATH.open(encoding="utf-8") as f:
        doc: Dict[str, Any] = json.load(f)
    return doc


def request(**overrides: Any) -> Dict[str, Any]:
    """A valid create request (staging, so no risk needed) with ``overrides`` applied."""
    body: Dict[str, Any] = {
        "service": "checkout",
        "environment": "staging",
        "version": "1.4.0",
        "requester": "alice@example.com",
        "work_refs": ["PAY-142"],
        "rollback_plan": "redeploy 1.3.9",
    }
    body.update(overrides)
    return body


def run(make: Callable[[], Awaitable[T]]) -> T:
    """Runs ``make()`` inside a fresh event loop (the awaitables need a running loop)."""

    async def main() -> T:
        return await make()

    return asyncio.run(main())


@pytest.fixture
def db_path(tmp_path: pathlib.Path) -> pathlib.Path:
    """A path for a new SQLite database file."""
    return tmp_path / "loco.db"


@pytest.fixture
def sync_engine(db_path: pathlib.Path) -> Iterator[loco.SyncEngine]:
    """An open ``SyncEngine`` on a fresh file, closed after the test."""
    engine = loco.SyncEngine.open(db_path)
    yield engine
    engine.close()
