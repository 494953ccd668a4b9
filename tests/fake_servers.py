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
def serve(reply: Reply, *, hang_s: float = 0.0, get: Reply | None = None) -> Iterator[tuple[str, list[dict]]]:
    """Serve POSTs with `reply(request_json)` after `hang_s` seconds, and GETs with `get({})` when given;
    yields (base URL, POST requests seen)."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if get is None:
                self.send_error(404)
                return
            self._send(*get({}))

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            seen.append({"path": self.path, **body})
            time.sleep(hang_s)
            self._send(*reply(body))

        def _send(self, status: int, payload: bytes) -> None:
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


# --- An OpenAI-compatible chat server that streams server-sent events (for core.models.chat) ---

from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402


@dataclass(frozen=True)
class ChatReply:
    """What the fake chat server does with one request: an HTTP error, or SSE events with pauses."""

    status: int = 200
    events: tuple[bytes, ...] = ()  # raw event bytes, e.g. from sse_events()
    error: str = "error"  # the message of a non-200 answer
    hang_before_headers_s: float = 0.0
    pause_s: float = 0.0  # before each event


def sse_events(pieces: Sequence[str], *, model: str = "fake-model", finish_reason: str = "stop",
               reasoning: Sequence[str] = ()) -> tuple[bytes, ...]:
    """The SSE events of a streamed chat completion: a role chunk, reasoning and content deltas, finish, [DONE]."""

    def chunk(delta: dict, finish: str | None = None) -> bytes:
        body = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        return f"data: {json.dumps(body)}\n\n".encode()

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"reasoning_content": text}) for text in reasoning]
    events += [chunk({"content": text}) for text in pieces]
    events += [chunk({}, finish_reason), b"data: [DONE]\n\n"]
    return tuple(events)


def raw_sse(*payloads: str) -> tuple[bytes, ...]:
    """Events carrying exactly these data payloads (for malformed streams)."""
    return tuple(f"data: {payload}\n\n".encode() for payload in payloads)


@contextmanager
def serve_chat(reply: Callable[[dict], ChatReply]) -> Iterator[tuple[str, list[dict]]]:
    """Serve POST /v1/chat/completions as `reply(request_json)` says; yields (base URL, requests seen)."""
    seen: list[dict] = []
    stopping = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            seen.append({"path": self.path, "authorization": self.headers.get("Authorization"), **body})
            answer = reply(body)
            if stopping.wait(answer.hang_before_headers_s):
                return
            try:
                if answer.status != 200:
                    payload = json.dumps({"error": {"message": answer.error, "type": "invalid_request_error",
                                                    "code": answer.status}}).encode()
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.wfile.flush()
                for event in answer.events:
                    if stopping.wait(answer.pause_s):
                        return
                    self.wfile.write(event)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as clients with timeouts do

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()


def refused_url() -> str:
    """The URL of a loopback port where nothing listens (connections are refused)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- A server that answers each request as the next scripted step says (for the one HTTP retry policy) ---


@dataclass(frozen=True)
class Step:
    """One scripted answer: an HTTP error status with headers, or a hang before any answer; 200 means `ok`."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    hang_s: float = 0.0


Ok = Callable[[str, dict], tuple[str, bytes]]  # (path, request JSON) -> (content type, body)


@contextmanager
def serve_steps(steps: Sequence[Step], ok: Ok, port: int = 0) -> Iterator[tuple[str, list[str]]]:
    """GETs and POSTs answered by `steps` in turn, then by `ok`; yields (base URL, paths requested)."""
    seen: list[str] = []
    script = list(steps)
    stopping = threading.Event()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self._answer({})

        def do_POST(self) -> None:  # noqa: N802
            self._answer(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}"))

        def _answer(self, body: dict) -> None:
            with lock:
                seen.append(self.path)
                step = script.pop(0) if script else Step()
            if stopping.wait(step.hang_s):
                return
            if step.status == 200:
                content_type, payload = ok(self.path, body)
            else:
                content_type = "application/json"
                payload = json.dumps({"error": {"message": f"scripted {step.status}", "code": step.status}}).encode()
            try:
                self.send_response(step.status)
                for name, value in (("Content-Type", content_type), *step.headers):
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
