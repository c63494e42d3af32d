"""Helpers for rollout tests on the local platform: plans that run the real demo service
(``python3 examples/demo-service/app.py``), HTTP traffic through the engine's proxy on keep-alive
connections (in threads, so it flows while the test waits on the engine), and a ``/proc`` scan
that finds every process a test's service still has."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import threading
from collections import Counter
from typing import Any, Dict, List, Optional

import loco
from conftest import REPO

#: The demo service every rollout test runs.
APP = str(REPO / "examples" / "demo-service" / "app.py")


def unique_service(prefix: str = "shop") -> str:
    """A service name no other test uses (its processes are found by it)."""
    return f"{prefix}-{secrets.token_hex(4)}"


def plan(version: str, *, env: Optional[Dict[str, str]] = None, **overrides: Any) -> Dict[str, Any]:
    """A plan running the demo service as ``version`` (all at once), checked over HTTP."""
    body: Dict[str, Any] = {
        "platform": "local",
        "strategy": {"type": "immediate"},
        "release": {"version": version, "command": ["python3", APP], "env": env or {}},
        "health": {
            "probes": [{"type": "http", "path": "/health"}],
            "timeout_seconds": 2,
            "retries": 20,
            "backoff_initial_seconds": 0.05,
            "backoff_max_seconds": 0.2,
            "interval_seconds": 0.5,
        },
    }
    body.update(overrides)
    return body


def analysis(thresholds: Optional[Dict[str, Any]] = None, **extra: Any) -> Dict[str, Any]:
    """Canary analysis on the proxy's measurements, judged quickly enough for tests."""
    body: Dict[str, Any] = {
        "source": {"type": "platform"},
        "thresholds": thresholds,
        "monitor_seconds": 0,
        "pause_timeout_seconds": 120,
        "poll_seconds": 0.2,
        "inconclusive_extensions": 4,
    }
    body.update(extra)
    return body


def create_request(service: str, version: str, environment: str = "staging") -> Dict[str, Any]:
    """The create arguments of a deployment of ``service``."""
    return {
        "service": service,
        "environment": environment,
        "version": version,
        "requester": "alice@example.com",
        "work_refs": ["OPS-7"],
        "rollback_plan": "roll back to the previous release",
    }


def approved(engine: loco.SyncEngine, service: str, version: str, environment: str = "staging") -> str:
    """Creates and approves a deployment; returns its id."""
    d = engine.create(**create_request(service, version, environment))
    engine.approve(d.id, "bob@example.com")
    return d.id


async def approved_async(engine: loco.Engine, service: str, version: str, environment: str = "staging") -> str:
    """``approved`` for the asyncio engine."""
    d = await engine.create(**create_request(service, version, environment))
    await engine.approve(d.id, "bob@example.com")
    return d.id


def _connection(endpoint: str) -> http.client.HTTPConnection:
    host, port = endpoint.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=5)


def versions(endpoint: str, n: int) -> Dict[str, int]:
    """Sends ``n`` requests one after another on one connection and counts the versions that
    answered; every answer must be a 200 whose body names the same version as the header."""
    seen: Counter[str] = Counter()
    conn = _connection(endpoint)
    try:
        for _ in range(n):
            conn.request("GET", "/")
            response = conn.getresponse()
            body = response.read().decode()
            assert response.status == 200, body
            version = response.getheader("x-loco-version") or ""
            assert json.loads(body)["version"] == version
            seen[version] += 1
    finally:
        conn.close()
    return dict(seen)


class Traffic:
    """Keeps ``clients`` keep-alive connections busy with ``GET /`` through the proxy until
    ``stop()``; counts the statuses (and connection errors) seen."""

    def __init__(self, endpoint: str, clients: int = 4) -> None:
        self.statuses: Counter[str] = Counter()
        self._endpoint = endpoint
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def _loop(self) -> None:
        conn = _connection(self._endpoint)
        while not self._stopped.is_set():
            try:
                conn.request("GET", "/")
                response = conn.getresponse()
                response.read()
                key = str(response.status)
            except (OSError, http.client.HTTPException):
                # A connection the proxy closed while switching releases: count it, reconnect.
                key = "error"
                conn.close()
                conn = _connection(self._endpoint)
            with self._lock:
                self.statuses[key] += 1
        conn.close()

    def stop(self) -> Dict[str, int]:
        """Stops every client; returns the counts."""
        self._stopped.set()
        for thread in self._threads:
            thread.join()
        return dict(self.statuses)


def service_processes(service: str) -> List[int]:
    """The live processes started for ``service`` (their environment has ``LOCO_SERVICE``)."""
    marker = f"\0LOCO_SERVICE={service}\0".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                # A zombie (exited, not yet reaped) has an empty environment, so it does not count.
                environ = b"\0" + f.read()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if marker in environ:
            found.append(int(entry))
    return sorted(found)
