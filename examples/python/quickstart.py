"""Loco from Python: one deployment through its reviewed lifecycle, the event stream, the audit
chain, and the blocking twin reading the same file.

Run: python examples/python/quickstart.py [path/to/loco.db]   (default: a temporary file)
"""

from __future__ import annotations

import asyncio
import pathlib
import sys
import tempfile
from typing import List

import loco


async def lifecycle(db: pathlib.Path) -> str:
    async with await loco.Engine.open(db) as engine:
        events = engine.subscribe()  # every event committed from now on

        d = await engine.create(
            service="checkout",
            environment="production",
            version="2.4.0",
            requester="alice@example.com",
            work_refs=["PAY-142"],
            rollback_plan="redeploy 2.3.9",
            risk="new payment provider; feature-flagged",
        )
        print(f"created   {d.id} ({d.status})")

        try:
            await engine.approve(d.id, "alice@example.com")
        except loco.SelfApprovalError as e:
            print(f"refused   {e.code}: {e}")

        d = await engine.approve(d.id, "bob@example.com", "looks good")
        d = await engine.start(d.id, "deploy-bot")
        d = await engine.succeed(d.id, "deploy-bot")
        print(f"finished  {d.status}, reviewed by {d.reviewed_by} at {d.reviewed_at}")

        seen: List[str] = []
        async for event in events:
            seen.append(f"#{event.seq} {event.kind} by {event.actor}")
            if event.kind == "succeeded":
                break
        print("events    " + "; ".join(seen))

        report = await engine.verify_audit()
        print(f"audit     valid={report.valid} events={report.events_checked}")
        return d.id


def read_back(db: pathlib.Path, deployment_id: str) -> None:
    with loco.SyncEngine.open(db) as engine:
        d = engine.get(deployment_id)
        page = engine.list(service="checkout", status="succeeded")
        print(f"sync read {d.to_dict()['status']}; {len(page)} succeeded checkout deployment(s)")
        try:
            engine.rollback(deployment_id, "oncall@example.com")
        except loco.ValidationError as e:
            print(f"refused   {e.code}: {[detail['field'] for detail in e.details]}")
        d = engine.rollback(deployment_id, "oncall@example.com", "error rate up after release")
        print(f"rolled    {d.status}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(tmp) / "loco.db"
        deployment_id = asyncio.run(lifecycle(db))
        read_back(db, deployment_id)


if __name__ == "__main__":
    main()
