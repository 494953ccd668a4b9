"""Shared fixtures: the Qwen3 tokenizer and tiny random Qwen3 checkpoints saved like the real repos."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.tiny_qwen3 import build_embedder, build_reranker, load_tokenizer, real_tokenizer_dir

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TOKENIZER_DIR = real_tokenizer_dir()
# The test ids say which tokenizer a test ran with: the real Qwen3 one, or a stand-in trained here.
TOKENIZER_KIND = "qwen3-tokenizer" if TOKENIZER_DIR else "trained-tokenizer"


@pytest.fixture(scope="session", params=[TOKENIZER_KIND])
def tokenizer_kind(request: pytest.FixtureRequest) -> str:
    """Which tokenizer the tiny checkpoints carry; part of every dependent test's id."""
    return request.param


@pytest.fixture(scope="session")
def reranker_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_kind: str) -> Path:
    """A tiny random Qwen3ForCausalLM laid out like Qwen3-Reranker."""
    return build_reranker(tmp_path_factory.mktemp("reranker"), load_tokenizer(TOKENIZER_DIR))


@pytest.fixture(scope="session")
def embedder_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_kind: str) -> Path:
    """A tiny random Qwen3Model laid out like Qwen3-Embedding."""
    return build_embedder(tmp_path_factory.mktemp("embedder"), load_tokenizer(TOKENIZER_DIR))


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's POLYDESK_* variables or secrets.toml."""
    for name in list(os.environ):
        if name.startswith("POLYDESK_") and name != "POLYDESK_TEST_TOKENIZER":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def vllm_servers(tmp_path_factory: pytest.TempPathFactory, reranker_dir: Path, embedder_dir: Path):
    """Real vLLM reranker and embedding servers on the tiny checkpoints, started together, stopped at the end."""
    from tests import vllm_servers as vllm

    vllm.require_vllm()
    workdir = tmp_path_factory.mktemp("vllm")
    servers = {
        "reranker": vllm.start("reranker", reranker_dir, "tiny-reranker", workdir),
        "embedding": vllm.start("embedding", embedder_dir, "tiny-embedder", workdir),
    }
    try:
        for server in servers.values():
            vllm.wait_ready(server)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def tiny_settings(reranker_dir: Path, embedder_dir: Path, chroma_path: Path, **overrides: object):
    """Settings for the tiny checkpoints and a store of the test's own."""
    from core.settings import load_settings

    return load_settings(reranker_model=str(reranker_dir), embedding_model=str(embedder_dir),
                         chroma_path=chroma_path, device="cpu", **overrides)


@pytest.fixture(scope="session")
def sample_pipeline(tmp_path_factory: pytest.TempPathFactory, reranker_dir: Path, embedder_dir: Path):
    """A pipeline on the tiny models with the sample documentation ingested as collection `parcelio`."""
    from core.pipeline import Pipeline

    pipeline = Pipeline(tiny_settings(reranker_dir, embedder_dir, tmp_path_factory.mktemp("chroma")))
    report = pipeline.ingest([SAMPLE], "parcelio")
    assert not report.failed, report.failed
    return pipeline


@pytest.fixture(scope="session")
def chat_model_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_kind: str) -> Path:
    """A tiny random Qwen3ForCausalLM with Qwen3's hybrid-thinking chat template, like Qwen/Qwen3-0.6B."""
    from tests.tiny_qwen3 import build_chat_model

    return build_chat_model(tmp_path_factory.mktemp("chat"), load_tokenizer(TOKENIZER_DIR))


@pytest.fixture
def make_candidate():
    """A factory of reranked candidates: make_candidate(text, language="en", source=..., heading_path=...)."""
    from core.types import Candidate, Chunk

    def make(text: str, language: str | None = "en", *, source: str = "guide.md",
             heading_path: tuple[str, ...] = ("Guide",), score: float = 0.9, rank: int = 1) -> Candidate:
        chunk = Chunk(id=f"{source}#{rank}", text=text, source=source, title=source, heading_path=heading_path,
                      anchor="", language=language, index=rank - 1, content_hash=str(hash(text)),
                      token_count=len(text.split()), kind="prose")
        return Candidate(chunk=chunk, collection="test", fused_score=score, fused_rank=rank, rerank_score=score,
                         rerank_rank=rank)

    return make
