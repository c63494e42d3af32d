"""After ``os.fork()`` the child gets a fresh runtime: engines it opens work, and an engine
inherited from the parent raises ``StorageError`` instead of hanging."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import sys
import warnings
from typing import Callable

import pytest

import loco
from conftest import request

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def in_forked_child(body: Callable[[], int]) -> int:
    """Runs ``body`` in a forked child (killed after 60 s if it hangs); returns its exit code."""
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a multi-threaded process may deadlock; forking a process
        # with Loco's threads running is exactly the situation under test.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 70
        try:
            signal.alarm(60)
            code = body()
        except BaseException as e:
            print(f"child failed: {e!r}", file=sys.stderr)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_forked_child_reopens_and_refuses_the_inherited_engine(db_path: pathlib.Path) -> None:
    parent = loco.SyncEngine.open(db_path)
    d = parent.create(**request())

    def child() -> int:
        try:
            parent.get(d.id)
            return 2
        except loco.StorageError as e:
            if "another process" not in str(e):
                return 3
        mine = loco.SyncEngine.open(db_path)
        if mine.approve(d.id, "bob").status != "approved":
            return 4
        mine.close()

        async def use_async() -> str:
            async with await loco.Engine.open(db_path) as engine:
                return (await engine.start(d.id, "bot")).status

        return 0 if asyncio.run(use_async()) == "started" else 5

    assert in_forked_child(child) == 0
    # The parent's engine is untouched by the child and sees its writes.
    assert [e.kind for e in parent.events(d.id)] == ["created", "approved", "started"]
    assert parent.verify_audit().valid
    parent.close()


def test_forked_child_can_use_a_fresh_async_engine_after_the_parent_used_one(db_path: pathlib.Path) -> None:
    async def parent_work() -> str:
        async with await loco.Engine.open(db_path) as engine:
            return (await engine.create(**request())).id

    dep_id = asyncio.run(parent_work())

    def child() -> int:
        async def child_work() -> int:
            async with await loco.Engine.open(db_path) as engine:
                return len(await engine.events(dep_id))

        return 0 if asyncio.run(child_work()) == 1 else 6

    assert in_forked_child(child) == 0
