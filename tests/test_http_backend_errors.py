"""The HTTP backends fail clearly, retry only what is safe, and never hang past their timeout."""

from __future__ import annotations

import socket

import pytest

from core.errors import BackendUnavailable
from core.models.embed.http import OpenAICompatEmbedder
from core.models.rerank.http import VLLMReranker
from tests.fake_servers import as_json, serve

DOCS = ["first passage", "second passage", "third passage"]


def rerank_answer(request: dict) -> tuple[int, bytes]:
    """A well-formed vLLM rerank answer that scores later documents higher."""
    import json

    results = [{"index": i, "document": {"text": d}, "relevance_score": 0.1 * (i + 1)}
               for i, d in enumerate(request["documents"])]
    return 200, json.dumps({"id": "x", "model": request["model"], "results": results[::-1]}).encode()


def embeddings_answer(request: dict) -> tuple[int, bytes]:
    """A well-formed OpenAI embeddings answer with unnormalised 4-dimensional vectors."""
    import json

    data = [{"object": "embedding", "index": i, "embedding": [3.0, 4.0, 0.0, float(i)]}
            for i, _ in enumerate(request["input"])]
    return 200, json.dumps({"object": "list", "data": data, "model": request["model"],
                            "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()


def reranker(url: str, timeout: float = 5.0) -> VLLMReranker:
    """A reranker client with fast retries."""
    return VLLMReranker(url, "m", "find it", timeout=timeout, retries=2)


def embedder(url: str, timeout: float = 5.0) -> OpenAICompatEmbedder:
    """An embedding client with fast retries."""
    return OpenAICompatEmbedder(url, "m", "find it", timeout=timeout, retries=1)


def closed_port_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_reranker_maps_results_by_index_and_sends_the_canonical_prompt():
    with serve(rerank_answer) as (url, seen):
        ranked = reranker(url).rerank("where?", DOCS, top_n=2)
    assert [(r.index, r.score) for r in ranked] == [(2, pytest.approx(0.3)), (1, pytest.approx(0.2))]
    request = seen[0]
    assert request["path"] == "/v1/rerank" and request["top_n"] == 0
    assert request["query"].endswith("<Instruct>: find it\n<Query>: where?\n")
    suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    assert request["documents"][0] == f"<Document>: first passage{suffix}"


def test_reranker_refused_connection():
    with pytest.raises(BackendUnavailable, match="cannot be reached"):
        reranker(closed_port_url()).rerank("q", DOCS)


def test_reranker_timeout_is_not_retried():
    with serve(rerank_answer, hang_s=2.0) as (url, seen):
        with pytest.raises(BackendUnavailable, match="did not answer within 0.3 s"):
            reranker(url, timeout=0.3).rerank("q", DOCS)
    assert len(seen) == 1


def test_reranker_retries_5xx_then_gives_up():
    with serve(as_json(503, {"error": "overloaded"})) as (url, seen):
        with pytest.raises(BackendUnavailable, match="HTTP 503"):
            reranker(url).rerank("q", DOCS)
    assert len(seen) == 3


def test_reranker_does_not_retry_4xx():
    with serve(as_json(400, {"error": "bad model"})) as (url, seen):
        with pytest.raises(BackendUnavailable, match="HTTP 400.*bad model"):
            reranker(url).rerank("q", DOCS)
    assert len(seen) == 1


def test_reranker_malformed_json():
    with serve(lambda _r: (200, b"{not json")) as (url, _seen):
        with pytest.raises(BackendUnavailable, match="not JSON"):
            reranker(url).rerank("q", DOCS)


def test_reranker_unexpected_shape():
    with serve(as_json(200, {"data": []})) as (url, _seen):
        with pytest.raises(BackendUnavailable, match="unexpected format"):
            reranker(url).rerank("q", DOCS)


def test_reranker_fewer_results_than_documents():
    results = [{"index": 0, "relevance_score": 0.9}, {"index": 1, "relevance_score": 0.5}]
    with serve(as_json(200, {"results": results})) as (url, _seen):
        with pytest.raises(BackendUnavailable, match="returned 2 results for 3 documents"):
            reranker(url).rerank("q", DOCS)


def test_embedder_batches_and_normalises():
    with serve(embeddings_answer) as (url, seen):
        client = OpenAICompatEmbedder(url, "m", "find it", dim=None, batch_size=2)
        vectors = client.embed_documents(DOCS)
        query = client.embed_query("where?")
    assert vectors.shape == (3, 4)
    assert vectors[0].tolist() == pytest.approx([0.6, 0.8, 0.0, 0.0])
    assert [len(r["input"]) for r in seen] == [2, 1, 1]
    assert seen[-1]["input"] == ["Instruct: find it\nQuery:where?"]
    assert query.shape == (4,)


def test_embedder_asks_for_matryoshka_dimensions():
    with serve(embeddings_answer) as (url, seen):
        OpenAICompatEmbedder(url, "m", "find it", dim=32).embed_documents(["a"])
    assert seen[0]["dimensions"] == 32


def test_embedder_refused_connection():
    with pytest.raises(BackendUnavailable, match="cannot be reached"):
        embedder(closed_port_url()).embed_documents(DOCS)


def test_embedder_timeout():
    with serve(embeddings_answer, hang_s=2.0) as (url, _seen):
        with pytest.raises(BackendUnavailable, match="cannot be reached or timed out"):
            OpenAICompatEmbedder(url, "m", "find it", timeout=0.3, retries=0).embed_documents(DOCS)


def test_embedder_server_error():
    with serve(as_json(500, {"error": {"message": "boom"}})) as (url, seen):
        with pytest.raises(BackendUnavailable, match="HTTP 500"):
            embedder(url).embed_documents(DOCS)
    assert len(seen) == 2


def test_embedder_malformed_json():
    with serve(lambda _r: (200, b"[1, 2")) as (url, _seen):
        with pytest.raises(BackendUnavailable, match="unexpected format"):
            embedder(url).embed_documents(DOCS)


def test_embedder_fewer_vectors_than_texts():
    data = [{"object": "embedding", "index": 0, "embedding": [1.0, 0.0]}]
    with serve(as_json(200, {"object": "list", "data": data, "model": "m"})) as (url, _seen):
        with pytest.raises(BackendUnavailable, match="returned 1 vectors for 3 texts"):
            embedder(url).embed_documents(DOCS)
