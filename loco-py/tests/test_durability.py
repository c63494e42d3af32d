"""What one process writes and closes, a new process reads back intact — through both APIs."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import textwrap
from typing import Any, Dict

import loco
from conftest import request, run

READER = textwrap.dedent(
    """
    import asyncio, json, sys
    import loco

    path, dep_id = sys.argv[1], sys.argv[2]
    engine = loco.SyncEngine.open(path)
    out = {
        "deployment": engine.get(dep_id).to_dict(),
        "events": [e.to_dict() for e in engine.events(dep_id)],
        "audit": engine.verify_audit().to_dict(),
        "listed": [d.id for d in engine.list(status="rolled_back")],
    }
    engine.close()

    async def read_async():
        async with await loco.Engine.open(path) as engine:
            return (await engine.get(dep_id)).to_dict()

    out["async_deployment"] = asyncio.run(read_async())
    json.dump(out, sys.stdout, ensure_ascii=False)
    """
)


def read_in_new_process(path: pathlib.Path, dep_id: str) -> Dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", READER, str(path), dep_id],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: Dict[str, Any] = json.loads(done.stdout)
    return result


def test_async_writes_survive_close_and_a_new_process(db_path: pathlib.Path) -> None:
    async def write() -> Dict[str, Any]:
        engine = await loco.Engine.open(db_path)
        d = await engine.create(**request(service="支付 🚀", requester="zoë@example.com"))
        await engine.approve(d.id, "bob@example.com", "ok ✅")
        await engine.start(d.id, "deploy-bot")
        await engine.fail(d.id, "deploy-bot", "health check failed: 503 — naïve retry")
        final = await engine.rollback(d.id, "deploy-bot", "redeployed 1.3.9")
        events = [e.to_dict() for e in await engine.events(d.id)]
        await engine.close()
        return {"deployment": final.to_dict(), "events": events}

    written = run(write)
    read = read_in_new_process(db_path, written["deployment"]["id"])
    assert read["deployment"] == written["deployment"]
    assert read["async_deployment"] == written["deployment"]
    assert read["events"] == written["events"]
    assert [e["kind"] for e in read["events"]] == ["created", "approved", "started", "failed", "rolled_back"]
    assert read["audit"]["valid"] is True
    assert read["audit"]["events_checked"] == 5
    assert read["audit"]["head_hash"] == written["events"][-1]["hash"]
    assert read["listed"] == [written["deployment"]["id"]]


def test_sync_writes_survive_close_and_a_new_process(db_path: pathlib.Path) -> None:
    engine = loco.SyncEngine.open(db_path)
    d = engine.create(**request(environment="Production", risk="schema migration"), idempotency_key="k-1")
    engine.approve(d.id, "bob@example.com")
    engine.start(d.id, "deploy-bot")
    engine.succeed(d.id, "deploy-bot")
    final = engine.rollback(d.id, "deploy-bot", "customer reports")
    events = [e.to_dict() for e in engine.events(d.id)]
    engine.close()

    read = read_in_new_process(db_path, d.id)
    assert read["deployment"] == final.to_dict()
    assert read["events"] == events
    assert read["audit"] == {
        "valid": True,
        "events_checked": 5,
        "deployments_checked": 1,
        "deployments_status_only": 0,
        "head_hash": events[-1]["hash"],
        "exported_head_seq": None,
        "first_broken": None,
    }

    # The idempotency key survived too: replaying the request returns the same deployment.
    again = loco.SyncEngine.open(db_path)
    replay = again.create(**request(environment="Production", risk="schema migration"), idempotency_key="k-1")
    assert replay.id == d.id
    assert replay.status == "rolled_back"
    again.close()


EXIT_RIGHT_AFTER_AWAIT = textwrap.dedent(
    """
    import asyncio, sys
    import loco

    async def main():
        engine = await loco.Engine.open(sys.argv[1])
        for _ in range(3):
            await engine.verify_audit()
        await engine.close()

    asyncio.run(main())
    """
)


def test_processes_exit_cleanly_right_after_awaiting(db_path: pathlib.Path) -> None:
    # Results reach asyncio from a Loco thread that holds the GIL briefly; an interpreter that
    # exits while such a thread waits for the GIL must not crash (it did, about one run in ten,
    # before the binding's exit hook waited for those threads).
    codes = [
        subprocess.run([sys.executable, "-c", EXIT_RIGHT_AFTER_AWAIT, str(db_path)], timeout=120, check=False).returncode
        for _ in range(30)
    ]
    assert codes == [0] * 30
