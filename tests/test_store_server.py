"""The store against a real `chroma run` server: ingest, search, and a clear error when it is down."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.errors import BackendUnavailable
from core.pipeline import Pipeline
from tests.conftest import SAMPLE, tiny_settings

CHROMA = Path(sys.executable).with_name("chroma")


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_chroma(path: Path, port: int) -> subprocess.Popen:
    """`chroma run` on loopback, waiting until its heartbeat answers."""
    process = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    pytest.fail("chroma run did not start within 60 s")


def stop(process: subprocess.Popen) -> None:
    """End a server we started."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_ingest_and_search_through_a_chroma_server(tmp_path, reranker_dir, embedder_dir):
    port = free_port()
    server = start_chroma(tmp_path / "server-data", port)
    try:
        settings = tiny_settings(reranker_dir, embedder_dir, tmp_path / "unused", chroma_url=f"http://127.0.0.1:{port}")
        pipeline = Pipeline(settings)
        report = pipeline.ingest([SAMPLE / "es"], "remote")
        assert not report.failed and report.totals()["added"] > 0
        again = pipeline.ingest([SAMPLE / "es"], "remote")
        assert {f.status for f in again.files} == {"unchanged"}
        result = pipeline.search("¿Cuánto dura un token de acceso?", ["remote"], top_n=3)
        assert len(result.candidates) == 3 and all(c.chunk.source.endswith(".md") for c in result.candidates)
        assert [i.name for i in pipeline.store.collections()] == ["remote"]
        assert not (tmp_path / "unused").exists(), "server mode must not create a local store"
    finally:
        stop(server)
    with pytest.raises(BackendUnavailable, match=f"Chroma store at http://127.0.0.1:{port} cannot be reached"):
        pipeline.search("token", ["remote"])


def test_unreachable_chroma_server_is_a_clear_error(tmp_path, reranker_dir, embedder_dir):
    settings = tiny_settings(reranker_dir, embedder_dir, tmp_path, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailable, match="check that the server is running and POLYDESK_CHROMA_URL"):
        Pipeline(settings).store.collections()
