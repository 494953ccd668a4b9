"""A small loopback HTTP server that misbehaves on purpose, to test how clients fail."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = Callable[[dict], tuple[int, bytes]]


@contextmanager
def serve(reply: Reply, *, hang_s: float = 0.0) -> Iterator[tuple[str, list[dict]]]:
    """Serve POSTs with `reply(request_json)` after `hang_s` seconds; yields (base URL, requests seen)."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            seen.append({"path": self.path, **body})
            time.sleep(hang_s)
            status, payload = reply(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def as_json(status: int, content: object) -> Callable[[dict], tuple[int, bytes]]:
    """A reply that always answers `content` as JSON with `status`."""
    return lambda _request: (status, json.dumps(content).encode())
