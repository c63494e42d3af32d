"""P7 peer: Loco's create and get routes on the standard library's http.server.

ThreadingHTTPServer with HTTP/1.1 keep-alive and Nagle off, one sqlite3 connection per handler
thread (WAL, synchronous=FULL, via peer_store), write transactions serialized by one lock so
threads queue in Python instead of spinning on SQLITE_BUSY.

Usage: http_peer.py --db PATH [--port 0]
Prints `LISTENING 127.0.0.1:PORT` once it accepts connections; serves until killed.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from peer_store import LifecycleError, Store

PREFIX = "/api/v1/deployments"
MAX_BODY = 1024 * 1024
STATUS_BY_CODE = {"validation_error": 400, "not_found": 404, "invalid_transition": 409, "self_approval": 403}
CREATE_FIELDS = {"service", "environment", "version", "requester", "work_refs", "rollback_plan", "risk"}

write_lock = threading.Lock()
local = threading.local()
db_path = ""


def store() -> Store:
    if not hasattr(local, "store"):
        local.store = Store(db_path, create_schema=False)
    return local.store


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def send_json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_error_json(self, status: int, code: str, message: str) -> None:
        self.send_json(status, {"error": {"code": code, "message": message, "details": []}})

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.send_json(200, {"status": "ok"})
            return
        if not self.path.startswith(PREFIX + "/"):
            self.send_error_json(404, "not_found", "no such route")
            return
        deployment_id = self.path[len(PREFIX) + 1 :]
        deployment = store().get(deployment_id)
        if deployment is None:
            self.send_error_json(404, "not_found", f"deployment '{deployment_id}' not found")
        else:
            self.send_json(200, deployment)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error_json(413, "payload_too_large", "body over 1 MiB")
            self.close_connection = True
            return
        body = self.rfile.read(length)
        if self.path != PREFIX:
            self.send_error_json(404, "not_found", "no such route")
            return
        try:
            fields = json.loads(body)
        except ValueError as e:
            self.send_error_json(400, "validation_error", f"malformed JSON: {e}")
            return
        if not isinstance(fields, dict) or set(fields) - CREATE_FIELDS:
            self.send_error_json(400, "validation_error", "expected an object with the create fields only")
            return
        try:
            with write_lock:
                deployment = store().create(**fields)
        except LifecycleError as e:
            self.send_error_json(STATUS_BY_CODE.get(e.code, 500), e.code, str(e))
            return
        self.send_json(201, deployment)


def main() -> None:
    global db_path
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    db_path = args.db
    Store(db_path).close()  # create the schema once, before any handler thread
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"LISTENING 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
