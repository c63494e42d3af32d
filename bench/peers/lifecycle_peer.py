"""P6 peer: full lifecycles (create -> approve -> start -> succeed) through the pure-Python store.

Usage: lifecycle_peer.py --db PATH --count N [--warmup W]
Prints `RESULT impl=pure-python lifecycles=N seconds=S` (timed part only).
"""

from __future__ import annotations

import argparse
import time

from peer_store import Store


def lifecycle(store: Store, i: int) -> None:
    d = store.create(
        service=f"svc-{i % 100:03}",
        environment="staging",
        version=f"1.{i}.0",
        requester="alice@example.com",
        work_refs=[f"PAY-{i}"],
        rollback_plan="redeploy the previous version",
    )
    store.approve(d["id"], "bob@example.com")
    store.start(d["id"], "deploy-bot")
    store.succeed(d["id"], "deploy-bot")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    store = Store(args.db)
    for i in range(args.warmup):
        lifecycle(store, i)
    started = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.count):
        lifecycle(store, i)
    seconds = time.perf_counter() - started
    store.close()
    print(f"RESULT impl=pure-python lifecycles={args.count} seconds={seconds:.6f}")


if __name__ == "__main__":
    main()
