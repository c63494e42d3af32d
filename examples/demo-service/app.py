#!/usr/bin/env python3
"""A tiny HTTP service for Loco's tests and demo; standard library only.

Environment:
  PORT               port to listen on (127.0.0.1); the local platform sets it
  VERSION            version it reports (default: LOCO_VERSION, else "dev")
  FAILURE_RATE       share of `GET /` answered 500, 0..1 (default 0); deterministic: with 0.25
                     exactly every fourth request fails
  LATENCY_MS         extra delay per `GET /`, in milliseconds (default 0)
  HEALTH_FAIL_AFTER  seconds after start when `GET /health` starts answering 503 (default: never)

Routes: `GET /` -> {"version", "instance"} (or 500), `GET /health` -> 200 "ok" (or 503).
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("VERSION") or os.environ.get("LOCO_VERSION") or "dev"
INSTANCE = os.environ.get("LOCO_INSTANCE_ID", "local")
FAILURE_RATE = float(os.environ.get("FAILURE_RATE", "0"))
LATENCY = float(os.environ.get("LATENCY_MS", "0")) / 1000.0
HEALTH_FAIL_AFTER = float(os.environ["HEALTH_FAIL_AFTER"]) if os.environ.get("HEALTH_FAIL_AFTER") else None
STARTED = time.monotonic()

_lock = threading.Lock()
_debt = 0.0


def should_fail():
    """Accumulates FAILURE_RATE per request and fails whenever a whole failure is owed."""
    global _debt
    with _lock:
        _debt += FAILURE_RATE
        if _debt >= 1.0 - 1e-9:
            _debt -= 1.0
            return True
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status, body, content_type="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            if HEALTH_FAIL_AFTER is not None and time.monotonic() - STARTED >= HEALTH_FAIL_AFTER:
                self._send(503, "unhealthy\n", "text/plain")
            else:
                self._send(200, "ok\n", "text/plain")
            return
        if LATENCY:
            time.sleep(LATENCY)
        if should_fail():
            self._send(500, json.dumps({"error": "injected failure", "version": VERSION}) + "\n")
        else:
            self._send(200, json.dumps({"version": VERSION, "instance": INSTANCE}) + "\n")

    def log_message(self, fmt, *args):
        # Access logs would drown the instance's log stream in tests and the demo.
        pass


def main():
    port = int(os.environ.get("PORT", "8000"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"demo-service {VERSION} listening on 127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
