"""P6 peer: full lifecycles (create -> approve -> start -> succeed) through the pure-Python store.

Usage: lifecycle_peer.py --db PATH --count N [--warmup W] [--threads T]
Prints `RESULT impl=pure-python lifecycles=N seconds=S threads=T` (timed part only). With T > 1,
T threads share the file, each with its own connection, and run N/T lifecycles each at once: the
best a pure-Python service does with concurrent callers (every action an IMMEDIATE transaction,
so writers queue on SQLite's lock; `synchronous=FULL` as before).
"""

from __future__ import annotations

import argparse
import threading
import time

from peer_store import Store


def lifecycle(store: Store, i: int) -> None:
    d = store.create(
        service=f"svc-{i % 64:03}",
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
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    store = Store(args.db)
    for i in range(args.warmup):
        lifecycle(store, i)
    if args.threads <= 1:
        started = time.perf_counter()
        for i in range(args.warmup, args.warmup + args.count):
            lifecycle(store, i)
        seconds = time.perf_counter() - started
    else:
        seconds = concurrently(args.db, args.threads, range(args.warmup, args.warmup + args.count))
    store.close()
    print(f"RESULT impl=pure-python lifecycles={args.count} seconds={seconds:.6f} threads={args.threads}")


def concurrently(path: str, threads: int, numbers: range) -> float:
    """Runs the lifecycles numbered `numbers` on `threads` threads (each its own connection, every
    thread's share interleaved), all released at once; the seconds until the last one ends."""
    stores = [Store(path, create_schema=False) for _ in range(threads)]
    gate = threading.Barrier(threads + 1)
    failures: list[BaseException] = []

    def work(k: int) -> None:
        gate.wait()
        try:
            for i in numbers[k::threads]:
                lifecycle(stores[k], i)
        except BaseException as e:  # reported after the run; a failed run is not a result
            failures.append(e)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    gate.wait()
    started = time.perf_counter()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - started
    for s in stores:
        s.close()
    if failures:
        raise failures[0]
    return seconds


if __name__ == "__main__":
    main()
