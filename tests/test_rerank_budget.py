"""The reranking budget: CPU defaults, the per-passage token cap, and bfloat16 rankings that agree with float32."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest
import torch

from core.models.rerank import RerankBudget, rerank_budget
from core.models.rerank import local as local_rerank
from core.models.rerank.local import QwenLocalReranker
from core.settings import load_settings
from tests.conftest import TOKENIZER_DIR
from tests.tiny_qwen3 import build_reranker, load_tokenizer

QUERIES = [
    "How do I refresh an expired access token?",
    "Wie storniere ich eine Sendung?",
    "配送ラベルを再印刷するには?",
]
PASSAGES = [
    "To refresh an expired access token, send the refresh token to POST /v1/token/refresh.",
    "Eine Sendung wird mit DELETE /v1/shipments/{id} storniert, solange sie nicht abgeholt wurde.",
    "ラベルは GET /v1/shipments/{id}/label で何度でも再印刷できます。",
    "Les colis de plus de 30 kg partent en fret sur palette.",
    "Webhook signatures use HMAC-SHA256 over the raw body.",
    "Límite de peticiones: 600 por minuto y clave; la cabecera Retry-After indica la espera.",
    "토큰이 만료되면 API는 401을 반환합니다.",
    "Если срок действия токена истёк, API возвращает 401.",
]


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-a between two score lists over the same items."""
    pairs = list(combinations(range(len(a)), 2))
    agree = sum(1 if (a[i] - a[j]) * (b[i] - b[j]) > 0 else -1 if (a[i] - a[j]) * (b[i] - b[j]) < 0 else 0
                for i, j in pairs)
    return agree / len(pairs)


def assert_rankings_agree(exact: QwenLocalReranker, fast: QwenLocalReranker, queries: list[str],
                          documents: list[str]) -> None:
    """Top 3 share at least 2, Kendall's tau >= 0.7 and scores within 0.05 for every query."""
    for query in queries:
        reference, scores = exact.scores(query, documents), fast.scores(query, documents)
        top3 = {r.index for r in exact.rerank(query, documents, top_n=3)}
        assert len(top3 & {r.index for r in fast.rerank(query, documents, top_n=3)}) >= 2, query
        assert kendall_tau(reference, scores) >= 0.7, query
        assert max(abs(e - f) for e, f in zip(reference, scores, strict=True)) < 0.05, query


def test_cpu_defaults_apply_only_to_an_in_process_reranker_on_a_cpu_with_the_profile_on():
    assert rerank_budget(load_settings(device="cpu")) == RerankBudget(10, 256)
    assert rerank_budget(load_settings(device="cpu", cpu_profile=False)) == RerankBudget(30, None)
    assert rerank_budget(load_settings(device="cpu", reranker_url="http://127.0.0.1:9")) == RerankBudget(30, None)


def test_settings_override_the_defaults(monkeypatch):
    monkeypatch.setenv("POLYDESK_RERANK_K", "20")
    monkeypatch.setenv("POLYDESK_RERANK_MAX_PASSAGE_TOKENS", "128")
    assert rerank_budget(load_settings(device="cpu")) == RerankBudget(20, 128)
    assert rerank_budget(load_settings(device="cpu", cpu_profile=False)) == RerankBudget(20, 128)


def test_the_in_process_reranker_takes_the_budget_from_settings(reranker_dir: Path):
    settings = load_settings(device="cpu", reranker_model=str(reranker_dir), rerank_max_passage_tokens=16)
    assert QwenLocalReranker.from_settings(settings).max_passage_tokens == 16


def test_a_long_passage_is_scored_on_its_first_tokens(reranker_dir: Path):
    capped = QwenLocalReranker(reranker_dir, "tiny", "find it", max_passage_tokens=12)
    whole = QwenLocalReranker(reranker_dir, "tiny", "find it")
    long_passage = " ".join(PASSAGES)
    tokenizer = whole._model.tokenizer
    head = tokenizer.decode(tokenizer(long_passage, add_special_tokens=False)["input_ids"][:12])
    assert capped.capped([long_passage]) == [head] and head != long_passage
    assert capped.scores(QUERIES[0], [long_passage]) == pytest.approx(whole.scores(QUERIES[0], [head]), abs=1e-6)
    assert capped.scores(QUERIES[0], [long_passage]) != pytest.approx(whole.scores(QUERIES[0], [long_passage]))


def unsaturated(scores: list[float]) -> bool:
    """Scores inside (0.02, 0.98) and spread by more than 0.05, so that their order means something."""
    return 0.02 < min(scores) and max(scores) < 0.98 and max(scores) - min(scores) > 0.05


@pytest.fixture(scope="module")
def float32_reranker(tmp_path_factory: pytest.TempPathFactory, tokenizer_kind: str) -> QwenLocalReranker:
    """The first tiny random reranker (by seed) whose float32 scores on the inputs are not saturated."""
    tokenizer = load_tokenizer(TOKENIZER_DIR)
    for seed in range(10):
        folder = build_reranker(tmp_path_factory.mktemp(f"reranker-seed-{seed}"), tokenizer, seed=seed)
        reranker = QwenLocalReranker(folder, "tiny", "find it", cpu_profile=False)
        if all(unsaturated(reranker.scores(query, PASSAGES)) for query in QUERIES):
            return reranker
    raise AssertionError("no seed in 0-9 gives a tiny reranker with unsaturated scores")


def test_bfloat16_rankings_agree_with_float32(float32_reranker: QwenLocalReranker, monkeypatch):
    float32 = float32_reranker
    monkeypatch.setattr(local_rerank, "preferred_dtype", lambda _device, _profile: torch.bfloat16)
    bfloat16 = QwenLocalReranker(Path(float32._model.model.name_or_path), "tiny", "find it")
    assert next(bfloat16._model.model.parameters()).dtype == torch.bfloat16
    assert_rankings_agree(float32, bfloat16, QUERIES, PASSAGES)
