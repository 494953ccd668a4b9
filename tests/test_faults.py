"""Injected faults at the Pipeline level: each gives a clear warning and the degraded result, or a clear error.

The HTTP clients' own handling (retries, messages) is tested in test_http_backend_errors.py and
test_generate_openai.py, refused connections on the Ask page in test_ask.py; here a whole question runs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from core.errors import BackendUnavailable
from core.pipeline import Pipeline
from tests.conftest import ROOT, SAMPLE, tiny_settings
from tests.fake_servers import ChatReply, as_json, raw_sse, serve, serve_chat
from tests.test_store_server import free_port, start_chroma, stop

QUESTION = "How long is an access token valid?"
TIMEOUT_S = 0.5
HANG_S = 300.0  # far beyond the test's own limit: a client without a timeout fails the test
NO_HANG = pytest.mark.timeout(120, func_only=True)


def rerank_fewer(request: dict) -> tuple[int, bytes]:
    """A vLLM rerank answer with a score for the first document only."""
    return 200, json.dumps({"results": [{"index": 0, "relevance_score": 0.5}]}).encode()


def embeddings_none(request: dict) -> tuple[int, bytes]:
    """An embeddings answer without vectors (fewer than the one text asked)."""
    return 200, json.dumps({"object": "list", "data": [], "model": request["model"]}).encode()


FAULTS = {  # name -> (reply, seconds the server waits before answering)
    "hangs": (as_json(200, {}), HANG_S),
    "500": (as_json(500, {"error": "boom"}), 0.0),
    "malformed": (lambda _request: (200, b"{not json"), 0.0),
}


def pipeline_with(sample_pipeline: Pipeline, **urls: str) -> Pipeline:
    """A fresh pipeline on the sample store with some backends behind URLs, a short timeout and no retries."""
    settings = sample_pipeline.settings.model_copy(
        update={"http_timeout": TIMEOUT_S, "http_retries": 0, "embedding_dim": 64, **urls})
    return Pipeline(settings)


@NO_HANG
@pytest.mark.parametrize(("fault", "expected"), [
    ("hangs", f"did not answer within {TIMEOUT_S:g} s"), ("500", "HTTP 500"), ("malformed", "not JSON"),
    ("fewer", "returned 1 results for"),
])
def test_reranker_fault_keeps_the_fused_order(sample_pipeline, fault, expected):
    reply, hang_s = FAULTS.get(fault, (rerank_fewer, 0.0))
    with serve(reply, hang_s=hang_s) as (url, _seen):
        result = pipeline_with(sample_pipeline, reranker_url=url).search(QUESTION, ["parcelio"])
    assert len(result.candidates) == 3 and all(c.rerank_score is None for c in result.candidates)
    assert [c.fused_rank for c in result.candidates] == [1, 2, 3]
    assert len(result.warnings) == 1 and result.warnings[0].startswith("Reranking skipped, results in fused order")
    assert expected in result.warnings[0]


@NO_HANG
@pytest.mark.parametrize(("fault", "expected"), [
    ("hangs", "timed out (APITimeoutError)"), ("500", "HTTP 500"), ("malformed", "unexpected format"),
    ("fewer", "unexpected format: No embedding data received"),
])
def test_embedding_fault_gives_lexical_results(sample_pipeline, fault, expected):
    reply, hang_s = FAULTS.get(fault, (embeddings_none, 0.0))
    with serve(reply, hang_s=hang_s) as (url, _seen):
        result = pipeline_with(sample_pipeline, embedding_url=url).search("ERR_TOKEN_EXPIRED", ["parcelio"])
    assert result.candidates and all(c.dense_rank is None and c.lexical_rank for c in result.candidates)
    assert all(c.rerank_score is not None for c in result.candidates), "the reranker still runs"
    assert len(result.warnings) == 1 and result.warnings[0].startswith("Dense retrieval skipped, lexical results only")
    assert expected in result.warnings[0]


@NO_HANG
@pytest.mark.parametrize(("reply", "expected"), [
    (ChatReply(hang_before_headers_s=HANG_S), f"sent no data for {TIMEOUT_S:g} s (timeout)"),
    (ChatReply(status=500, error="boom"), "HTTP 500 (boom)"),
    (ChatReply(events=raw_sse("{not json")), "not in the OpenAI chat format"),
    (ChatReply(events=raw_sse("[DONE]")), "returned no answer text"),
], ids=["hangs", "500", "malformed", "empty"])
def test_llm_fault_gives_the_extractive_answer(sample_pipeline, reply, expected):
    with serve_chat(lambda _request: reply) as (url, _seen):
        answer = pipeline_with(sample_pipeline, llm_url=url).ask(QUESTION, ["parcelio"]).answer()
    assert answer.mode == "extractive" and [c.marker for c in answer.citations] == [1, 2, 3]
    assert len(answer.warnings) == 1 and answer.warnings[0].startswith("The language model failed")
    assert expected in answer.warnings[0]


@NO_HANG
def test_every_model_server_down_still_answers_from_the_lexical_index(sample_pipeline):
    with serve(as_json(503, {}), hang_s=0.0) as (url, _seen):
        answer = pipeline_with(sample_pipeline, embedding_url=url, reranker_url=url, llm_url=url) \
            .ask("ERR_TOKEN_EXPIRED", ["parcelio"]).answer()
    assert answer.mode == "extractive" and answer.citations
    assert [w.split(":")[0] for w in answer.warnings] == [
        "Dense retrieval skipped, lexical results only", "Reranking skipped, results in fused order",
        "The language model failed, showing the passages instead"]


@pytest.mark.timeout(240, func_only=True)
def test_chroma_server_restart_fails_questions_clearly_then_recovers(tmp_path, reranker_dir, embedder_dir):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_chroma(tmp_path / "server-data", port)
    try:
        pipeline = Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path / "unused", chroma_url=url, llm="off"))
        assert not pipeline.ingest([SAMPLE / "es"], "remote").failed
        before = pipeline.search("¿Cuánto dura un token de acceso?", ["remote"])
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
        for _ in range(3):
            with pytest.raises(BackendUnavailable) as caught:
                pipeline.ask("¿Cuánto dura un token de acceso?", ["remote"])
            message = str(caught.value)
            assert f"The Chroma store at {url} cannot be reached" in message
            assert "check that the server is running and POLYDESK_CHROMA_URL is right" in message
        server = start_chroma(tmp_path / "server-data", port)
        after = pipeline.search("¿Cuánto dura un token de acceso?", ["remote"])
        answer = pipeline.ask("¿Cuánto dura un token de acceso?", ["remote"]).answer()
    finally:
        stop(server)
    assert [c.chunk.id for c in after.candidates] == [c.chunk.id for c in before.candidates]
    assert not after.warnings and answer.citations


KILLED_INGEST = """
import sys
from pathlib import Path
from core.pipeline import Pipeline
from tests.conftest import tiny_settings
settings = tiny_settings(Path(sys.argv[1]), Path(sys.argv[2]), Path("unused"), chroma_url=sys.argv[3],
                         write_batch_rows=1)
def show(progress):
    print(progress.done, progress.stage, flush=True)
Pipeline(settings).ingest([Path(sys.argv[4])], "docs", show)
"""


def stored(pipeline: Pipeline) -> dict[str, tuple]:
    """Every stored chunk of `docs`: id -> (text, source, index, language)."""
    return {c.id: (c.text, c.source, c.index, c.language) for c in pipeline.store.all_chunks("docs")}


@pytest.mark.timeout(300, func_only=True)
def test_killed_ingest_into_a_chroma_server_converges_to_a_clean_run(tmp_path, reranker_dir, embedder_dir):
    port = free_port()
    url, folder = f"http://127.0.0.1:{port}", SAMPLE / "en"
    server = start_chroma(tmp_path / "server-data", port)
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", KILLED_INGEST, str(reranker_dir), str(embedder_dir), url, str(folder)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        for line in process.stdout:
            done, stage = line.split()
            if int(done) >= 4 and stage == "store":
                process.send_signal(signal.SIGKILL)
                break
        assert process.wait(timeout=120) == -signal.SIGKILL, "the run ended before it could be killed"
        pipeline = Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path / "unused", chroma_url=url))
        report = pipeline.ingest([folder], "docs")
        assert not report.failed and any(f.status == "unchanged" for f in report.files)
        resumed = stored(pipeline)
        pipeline.store.delete_collection("docs")
        pipeline.ingest([folder], "docs")
        clean = stored(pipeline)
        assert pipeline.store.info("docs").chunks == len(clean)
    finally:
        stop(server)
    assert resumed == clean and len(resumed) > 20
