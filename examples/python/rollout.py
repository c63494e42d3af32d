"""A canary rollout on this machine from Python: the demo service (python3) runs as real processes
behind Loco's local proxy, traffic flows through it, a release failing 60 % of its requests is
rolled back by the canary analysis, and a healthy one is promoted to 100 %.

Run: python examples/python/rollout.py   (after ``pip install ./loco-py``)
"""

from __future__ import annotations

import asyncio
import http.client
import pathlib
import tempfile
import threading
from collections import Counter
from typing import Any, Dict, Optional

import loco

APP = str(pathlib.Path(__file__).resolve().parents[1] / "demo-service" / "app.py")


def plan(version: str, strategy: Dict[str, Any], env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """The plan is the same JSON document in every language: snake_case keys, as in docs/rollouts.md."""
    return {
        "platform": "local",
        "strategy": strategy,
        "release": {"version": version, "command": ["python3", APP], "env": env or {}},
        "health": {"probes": [{"type": "http", "path": "/health"}], "retries": 20, "backoff_initial_seconds": 0.05},
    }


def canary(version: str, env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Observed for 1 s at 25 % and at 50 %, judged on the proxy's measurements, then watched for
    0.5 s at 100 % before the old release is stopped."""
    return {
        **plan(version, {"type": "canary", "steps": [25, 50], "interval_seconds": 1}, env),
        "analysis": {"monitor_seconds": 0.5, "poll_seconds": 0.2, "inconclusive_extensions": 4,
                     "pause_timeout_seconds": 30},
    }


class Traffic:
    """Steady traffic through the proxy on keep-alive connections, counting who answered."""

    def __init__(self, endpoint: str, clients: int = 4) -> None:
        self.answered: Counter[str] = Counter()
        self._host, port = endpoint.rsplit(":", 1)
        self._port = int(port)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def _client(self) -> None:
        conn = http.client.HTTPConnection(self._host, self._port, timeout=5)
        while not self._stop.is_set():
            try:
                conn.request("GET", "/")
                response = conn.getresponse()
                response.read()
                key = f"{response.getheader('x-loco-version')} {response.status}"
            except (OSError, http.client.HTTPException):
                key, conn = "connection reset", http.client.HTTPConnection(self._host, self._port, timeout=5)
            with self._lock:
                self.answered[key] += 1
        conn.close()

    def take(self) -> Dict[str, int]:
        """The counts so far, starting over."""
        with self._lock:
            counts, self.answered = dict(self.answered), Counter()
        return counts

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


async def watch(engine: loco.Engine) -> None:
    """Live progress: promotions, verdicts and the lifecycle's ends, as they are committed."""
    async for e in engine.subscribe():
        if e.kind == "canary_promoted":
            print(f"    {e.note}")
        elif e.kind == "analysis" and e.data:
            print(f"    analysis: {e.data['judgement']['verdict']}")
        elif e.kind in ("failed", "rolled_back", "succeeded"):
            print(f"    {e.kind}: {e.note or ''}")


async def main() -> None:
    state = tempfile.TemporaryDirectory(prefix="loco-rollout-")
    engine = await loco.Engine.open(
        pathlib.Path(state.name) / "loco.db",
        local_state_dir=pathlib.Path(state.name) / "state",  # registers the `local` platform
        # Judge after 20 requests per side; ignore latency differences under 250 ms (a fresh Python
        # process on a busy machine has hiccups of tens of milliseconds).
        thresholds={"staging": {"min_samples": 20, "latency_noise_floor_ms": 250}},
    )
    watcher = asyncio.ensure_future(watch(engine))

    async def approved(version: str) -> str:
        d = await engine.create(service="shop", environment="staging", version=version,
                                requester="alice@example.com", work_refs=["SHOP-1"],
                                rollback_plan="Loco restores the previous release")
        await engine.approve(d.id, "bob@example.com")
        return d.id

    try:
        # The first release, all at once.
        first = await engine.run_rollout(await approved("1.0.0"), plan("1.0.0", {"type": "immediate"}), "deploy-bot")
        endpoint = first.progress["endpoint"]
        assert endpoint is not None
        print(f"1.0.0 {first.state}; the service answers on http://{endpoint}/")
        traffic = Traffic(endpoint)

        # A bad release: 60 % of its answers are errors; the analysis rolls it back at once.
        print("1.1.0 (fails 60 % of requests), canary 25 % → 50 %:")
        bad = await engine.run_rollout(await approved("1.1.0"), canary("1.1.0", {"FAILURE_RATE": "0.6"}), "deploy-bot")
        assert bad.failure is not None and bad.analysis is not None
        print(f"1.1.0 {bad.state} ({bad.failure['code']}): {bad.analysis['reasons'][0]}")
        print(f"    answered meanwhile: {traffic.take()}")

        # A healthy release: promoted step by step, then it serves everything.
        print("1.2.0, canary 25 % → 50 %:")
        good = await engine.run_rollout(await approved("1.2.0"), canary("1.2.0"), "deploy-bot")
        traffic.stop()
        print(f"1.2.0 {good.state}; traffic {good.progress['traffic']}")
        print(f"    answered meanwhile: {traffic.take()}")

        releases = await engine.releases("shop", "staging")
        print("releases:", ", ".join(f"{r.version}{'' if r.retired_at is None else ' (retired)'}" for r in releases))
        assert (bad.state, good.state) == ("rolled_back", "succeeded")
        assert [r.version for r in releases] == ["1.2.0", "1.0.0"]
    finally:
        await engine.close()  # stops the service's processes
        await watcher  # the event stream ends with the engine
        state.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
