"""Readers during writes see a document's old or new chunks, never a mix; HTTP backends reuse connections."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from core.knowledge.store import NEVER, ChromaStore, to_metadata
from core.models.http_client import JsonClient
from core.settings import load_settings
from core.types import Chunk

DIM = 8


def version(tag: str, count: int) -> list[Chunk]:
    """One version of guide.md: `count` chunks whose ids and texts carry the tag."""
    return [Chunk(id=f"{tag}-{i}", text=f"{tag} passage {i}", source="guide.md", title="Guide", heading_path=("Guide",),
                  anchor="", language="en", index=i, content_hash=f"{tag}{i}", token_count=3, kind="prose")
            for i in range(count)]


def vectors(count: int, seed: int) -> np.ndarray:
    """Random unit vectors."""
    rows = np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_readers_never_see_a_half_written_document(tmp_path):
    store = ChromaStore.from_settings(load_settings(chroma_path=tmp_path / "chroma"))
    store.open_for_ingest("docs", "tiny", DIM)
    old, new = version("old", 30), version("new", 24)
    other = [Chunk(**{**c.__dict__, "id": f"other-{c.index}", "source": "other.md"}) for c in version("x", 10)]
    store.write_source("docs", other, vectors(10, 0), [])
    store.write_source("docs", old, vectors(30, 1), [])
    states = {frozenset(c.id for c in old), frozenset(c.id for c in new)}
    others = {c.id for c in other}
    seen: list[frozenset[str]] = []
    writing = threading.Event()
    writing.set()

    def write() -> None:
        try:
            for round_ in range(11):
                current, following = (old, new) if round_ % 2 == 0 else (new, old)
                store.write_source("docs", following, vectors(len(following), round_), [c.id for c in current])
        finally:
            writing.clear()

    def read() -> None:
        while writing.is_set():
            dense = {i for i, _ in store.dense_search("docs", vectors(1, 7)[0], 200)}
            listed = {c.id for c in store.all_chunks("docs")}
            for found in (dense, listed):
                assert others <= found, "a document nobody writes must stay whole"
                seen.append(frozenset(found - others))

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(read) for _ in range(3)] + [pool.submit(write)]
        for future in futures:
            future.result()
    assert len(seen) > 10
    mixed = [s for s in seen if s not in states]
    assert not mixed, f"{len(mixed)} of {len(seen)} reads saw a half-written document, e.g. {sorted(mixed[0])}"
    assert {c.id for c in store.all_chunks("docs")} - others == {c.id for c in new}
    assert store.info("docs").chunks == len(new) + len(other)
    assert store.sources("docs") == {"guide.md": len(new), "other.md": len(other)}


def test_an_http_backend_reuses_its_connections():
    connections: set[int] = set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as vLLM's server does

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            connections.add(self.client_address[1])
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = JsonClient(f"http://127.0.0.1:{server.server_address[1]}", name="test", timeout=10, retries=0)
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: client.post("/v1/rerank", {"q": 1}), range(80)))
        client.close()
    finally:
        server.shutdown()
        server.server_close()
    assert answers == [{"ok": True}] * 80
    assert len(connections) <= 4, f"{len(connections)} connections for 80 requests from 4 threads"


def test_a_store_from_before_generations_is_read_then_upgraded_by_its_next_write(tmp_path):
    store = ChromaStore.from_settings(load_settings(chroma_path=tmp_path / "chroma"))
    store.open_for_ingest("docs", "tiny", DIM)
    old = version("old", 5)
    legacy = store._client.get_collection("polydesk-docs")
    legacy.modify(metadata={k: v for k, v in legacy.metadata.items() if k != "generation"})
    legacy.add(ids=[c.id for c in old], documents=[c.text for c in old], embeddings=vectors(5, 0),
               metadatas=[to_metadata(c) for c in old])
    assert {c.id for c in store.all_chunks("docs")} == {c.id for c in old}
    assert len(store.dense_search("docs", vectors(1, 1)[0], 10)) == 5
    new = version("new", 3)
    store.write_source("docs", new, vectors(3, 2), [c.id for c in old[3:]])
    assert {c.id for c in store.all_chunks("docs")} == {c.id for c in old[:3] + new}
    assert store.info("docs").chunks == 6


def test_what_a_crashed_write_left_stays_invisible_and_is_undone(tmp_path):
    store = ChromaStore.from_settings(load_settings(chroma_path=tmp_path / "chroma"))
    store.open_for_ingest("docs", "tiny", DIM)
    old, new = version("old", 4), version("new", 4)
    store.write_source("docs", old, vectors(4, 0), [])
    collection = store._client.get_collection("polydesk-docs")
    uncommitted = collection.metadata["generation"] + 1
    collection.modify(metadata={**collection.metadata, "writing": uncommitted})  # as a write killed midway leaves it
    collection.add(ids=[c.id for c in new], documents=[c.text for c in new], embeddings=vectors(4, 1),
                   metadatas=[to_metadata(c) | {"written": uncommitted, "retired": NEVER} for c in new])
    found = collection.get(ids=[old[0].id], include=["metadatas"])
    collection.update(ids=found["ids"], metadatas=[found["metadatas"][0] | {"retired": uncommitted}])
    assert {c.id for c in store.all_chunks("docs")} == {c.id for c in old}
    assert {i for i, _ in store.dense_search("docs", vectors(1, 2)[0], 20)} == {c.id for c in old}
    assert set(store.source_state("docs", "guide.md").hashes) == {c.id for c in old}
    assert store.info("docs").chunks == 4, "counts show committed chunks only"
    assert [i.chunks for i in store.collections()] == [4]
    store.write_source("docs", [], np.zeros((0, DIM), dtype=np.float32), [old[1].id])
    assert {c.id for c in store.all_chunks("docs")} == {old[0].id, old[2].id, old[3].id}
    assert store.info("docs").chunks == 3, "the crashed write's chunks are gone"
