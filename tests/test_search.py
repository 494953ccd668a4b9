"""Hybrid search over the sample collection: every stage's scores, filters, and visible degradation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.knowledge.search import HybridSearcher, SearchDepth
from core.models.embed.http import OpenAICompatEmbedder
from core.models.rerank.http import VLLMReranker
from core.types import SEARCH_STAGES


def test_candidates_carry_every_stage(sample_pipeline):
    result = sample_pipeline.search("How long is an access token valid before it expires?", ["parcelio"], top_n=5)
    assert result.query_language == "en"
    assert len(result.candidates) == 5
    assert [c.rerank_rank for c in result.candidates] == [1, 2, 3, 4, 5]
    scores = [c.rerank_score for c in result.candidates]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) > 1
    for c in result.candidates:
        assert c.collection == "parcelio" and c.fused_rank >= 1 and c.fused_score > 0
        assert c.dense_rank is not None or c.lexical_rank is not None
    assert any(c.dense_rank for c in result.candidates) or any(c.lexical_rank for c in result.candidates)
    assert {"language", "embed", "dense", "lexical", "fused", "reranked", "total"} <= set(result.timings_ms)
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("question", "sources"),
    [
        ("ERR_TOKEN_EXPIRED", ("errors.md", "authentication.md")),
        ("shipment.delivered", ("webhooks.md", "openapi.yaml")),
        ("访问令牌 过期", ("zh/",)),
        ("アクセストークン 有効期限", ("ja/",)),
    ],
)
def test_lexical_leg_finds_identifiers_and_unspaced_scripts(sample_pipeline, question, sources):
    result = sample_pipeline.search(question, ["parcelio"])
    collection, chunk_id = result.rankings["lexical"][0]
    best = sample_pipeline.store.chunks(collection, [chunk_id])[0]
    assert best.source.startswith(sources) or best.source.endswith(sources), best.source


def test_language_filter(sample_pipeline):
    result = sample_pipeline.search("token", ["parcelio"], languages=["ja", "zh"], top_n=20)
    assert result.candidates and {c.chunk.language for c in result.candidates} <= {"ja", "zh"}


def test_collection_instruction_is_used(sample_pipeline):
    question = "What does HTTP 429 mean?"
    default = sample_pipeline.search(question, ["parcelio"], top_n=3)
    sample_pipeline.store.update_settings("parcelio", rerank_instruction="Find the passage that lists error codes")
    try:
        custom = sample_pipeline.search(question, ["parcelio"], top_n=3)
    finally:
        sample_pipeline.store.update_settings("parcelio", rerank_instruction="")
    assert [c.rerank_score for c in default.candidates] != pytest.approx([c.rerank_score for c in custom.candidates])


def test_lexical_index_follows_the_collection(sample_pipeline, tmp_path):
    page = tmp_path / "zebra.md"
    page.write_text("# Zebra crossings\n\nParcelio couriers stop at every zebracrossingxyz marking.\n")
    assert not sample_pipeline.search("zebracrossingxyz", ["parcelio"]).candidates[0].lexical_rank
    sample_pipeline.ingest([page], "parcelio")
    try:
        top = sample_pipeline.search("zebracrossingxyz", ["parcelio"], top_n=30).candidates
        assert any(c.chunk.source == "zebra.md" and c.lexical_rank == 1 for c in top)
    finally:
        sample_pipeline.store.delete_source("parcelio", "zebra.md")


def test_the_result_reports_every_stage_ranking(sample_pipeline):
    result = sample_pipeline.search("Wie lange ist ein Zugriffstoken gültig?", ["parcelio"], top_n=4)
    assert list(result.rankings) == list(SEARCH_STAGES)
    assert len(result.rankings["fused"]) == len(result.rankings["reranked"]) == 10  # the CPU budget
    shown = [("parcelio", c.chunk.id) for c in result.candidates]
    assert list(result.rankings["reranked"][:4]) == shown
    by_fusion = sorted(result.candidates, key=lambda c: c.fused_rank)
    assert [result.rankings["fused"].index(("parcelio", c.chunk.id)) + 1 for c in by_fusion] == \
        [c.fused_rank for c in by_fusion]
    for stage, rank_of in (("dense", "dense_rank"), ("lexical", "lexical_rank")):
        ranking = result.rankings[stage]
        assert len(ranking) == len(set(ranking)) <= 50
        for c in result.candidates:
            if getattr(c, rank_of) is not None:
                assert ranking[getattr(c, rank_of) - 1] == ("parcelio", c.chunk.id)


def test_a_searcher_without_models_reports_only_its_stages(sample_pipeline):
    searcher = HybridSearcher(sample_pipeline.store, None, None, sample_pipeline.languages.detect, "x")
    result = searcher.search("Retry-After", ["parcelio"])
    assert list(result.rankings) == ["lexical", "fused"] and result.warnings == ()
    assert result.rankings["fused"][: len(result.candidates)] == tuple(("parcelio", c.chunk.id)
                                                                        for c in result.candidates)


def degraded_searcher(pipeline, *, embedder=None, reranker=None) -> HybridSearcher:
    """A searcher over the sample store with one backend swapped for an unreachable server."""
    return HybridSearcher(pipeline.store, embedder or pipeline.embedder, reranker or pipeline.reranker,
                          pipeline.languages.detect, "Given a web search query, retrieve relevant passages",
                          SearchDepth(20, 20, 10))


def test_unreachable_reranker_keeps_the_fused_order(sample_pipeline):
    reranker = VLLMReranker("http://127.0.0.1:9", "m", "x", retries=0)
    result = degraded_searcher(sample_pipeline, reranker=reranker).search("rate limit", ["parcelio"])
    assert result.candidates and all(c.rerank_score is None for c in result.candidates)
    assert [c.fused_rank for c in result.candidates] == sorted(c.fused_rank for c in result.candidates)
    assert "Reranking skipped" in result.warnings[0]


def test_unreachable_embedding_server_leaves_lexical_results(sample_pipeline, embedder_dir):
    embedder = OpenAICompatEmbedder("http://127.0.0.1:9", str(embedder_dir), "x", dim=64, retries=0)
    result = degraded_searcher(sample_pipeline, embedder=embedder).search("Retry-After", ["parcelio"])
    assert result.candidates and all(c.dense_rank is None and c.lexical_rank for c in result.candidates)
    assert "Dense retrieval skipped" in result.warnings[0]


def test_search_cli_json(sample_pipeline, reranker_dir, embedder_dir):
    env = {"POLYDESK_EMBEDDING_MODEL": str(embedder_dir), "POLYDESK_RERANKER_MODEL": str(reranker_dir),
           "POLYDESK_CHROMA_PATH": str(sample_pipeline.settings.chroma_path)}
    done = subprocess.run([str(Path(sys.executable).with_name("polydesk")), "search", "webhook retries",
                           "--collection", "parcelio", "--top-n", "2", "--json"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["candidates"]) == 2 and result["candidates"][0]["rerank_rank"] == 1
    assert result["candidates"][0]["chunk"]["source"] and "reranked" in result["timings_ms"]
