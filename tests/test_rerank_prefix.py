"""The reranker's shared-prefix path scores what the whole-prompt path scores, and runs the prefix once a question."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.models.rerank import local as local_rerank
from core.models.rerank import prefix
from core.models.rerank.local import QwenLocalReranker
from core.models.rerank.prefix import split_rows
from tests.conftest import TOKENIZER_DIR
from tests.test_rerank_budget import assert_rankings_agree, unsaturated
from tests.tiny_qwen3 import build_reranker, load_tokenizer

INSTRUCTION = "Given a support question, retrieve the passage that answers it"
QUERIES = [
    "How do I refresh an expired access token?",
    "Wie storniere ich eine Sendung, die noch nicht abgeholt wurde?",
    "配送ラベルを再印刷するには?",
    "ما هو حد الطلبات في الدقيقة؟",
]
DOCUMENTS = [
    "To refresh an expired access token, send the refresh token to POST /v1/token/refresh. " * 8,
    "Eine Sendung wird mit DELETE /v1/shipments/{id} storniert.",
    "ラベルは GET /v1/shipments/{id}/label で何度でも再印刷できます。" * 5,
    "Ok.",
    "Límite de peticiones: 600 por minuto y clave; la cabecera Retry-After indica la espera.",
    "토큰이 만료되면 API는 401을 반환합니다. 새 토큰은 갱신 엔드포인트에서 받을 수 있습니다." * 3,
    "  Leading spaces, then: a colon and a new\nline.",
    "الحد الأقصى هو 600 طلب في الدقيقة لكل مفتاح.",
]
CAP = 24


@pytest.fixture(scope="module")
def reranker_folder(tmp_path_factory: pytest.TempPathFactory, tokenizer_kind: str) -> Path:
    """The first tiny random reranker (by seed) whose float32 scores on the inputs are not saturated."""
    tokenizer = load_tokenizer(TOKENIZER_DIR)
    for seed in range(10):
        folder = build_reranker(tmp_path_factory.mktemp(f"prefix-reranker-{seed}"), tokenizer, seed=seed)
        whole = QwenLocalReranker(folder, "tiny", INSTRUCTION, cpu_profile=False, reuse_prefix=False)
        if all(unsaturated(whole.scores(query, DOCUMENTS)) for query in QUERIES):
            return folder
    raise AssertionError("no seed in 0-9 gives a tiny reranker with unsaturated scores")


def rerankers(folder: Path, **options) -> tuple[QwenLocalReranker, QwenLocalReranker]:
    """The same checkpoint with and without prefix reuse."""
    return (QwenLocalReranker(folder, "tiny", INSTRUCTION, reuse_prefix=True, **options),
            QwenLocalReranker(folder, "tiny", INSTRUCTION, reuse_prefix=False, **options))


@pytest.mark.parametrize("batch_size", range(1, len(DOCUMENTS) + 1))
def test_float32_scores_equal_the_whole_prompt_path(reranker_folder: Path, batch_size: int):
    reused, whole = rerankers(reranker_folder, cpu_profile=False, batch_size=batch_size, max_passage_tokens=CAP)
    assert any(len(d) > len(c) for d, c in zip(DOCUMENTS, reused.capped(DOCUMENTS), strict=True)), "some are cut"
    for query in QUERIES:
        assert reused.scores(query, DOCUMENTS) == pytest.approx(whole.scores(query, DOCUMENTS), abs=1e-5)
    assert reused.scores(QUERIES[0], DOCUMENTS, "Find the error code") == pytest.approx(
        whole.scores(QUERIES[0], DOCUMENTS, "Find the error code"), abs=1e-5)


def test_the_prefix_runs_once_per_question_and_the_documents_run_only_their_own_tokens(reranker_folder, monkeypatch):
    reused = QwenLocalReranker(reranker_folder, "tiny", INSTRUCTION, cpu_profile=False, batch_size=3)
    prefixes: list[list[int]] = []
    batches: list[list[list[int]]] = []
    state, score = prefix.prefix_state, prefix.score_tails

    def recorded_state(model, ids):
        prefixes.append(list(ids))
        return state(model, ids)

    def recorded_tails(model, kv, tails, *ids):
        batches.append([list(t) for t in tails])
        return score(model, kv, tails, *ids)

    monkeypatch.setattr(prefix, "prefix_state", recorded_state)
    monkeypatch.setattr(prefix, "score_tails", recorded_tails)
    reused.scores(QUERIES[2], DOCUMENTS)
    assert len(prefixes) == 1 and [len(b) for b in batches] == [3, 3, 2]
    text = reused._model.tokenizer.decode(prefixes[0])
    assert text.startswith("<|im_start|>system\n") and text.endswith(f"<Query>: {QUERIES[2]}\n<Document>:")
    scored = sorted(prefixes[0] + tail for batch in batches for tail in batch)
    assert scored == sorted(reused.token_ids(QUERIES[2], DOCUMENTS)), "prefix + tails are the ids token_ids gives"


def test_rows_that_do_not_start_with_the_prefix_are_scored_whole(reranker_folder: Path):
    reused, whole = rerankers(reranker_folder, cpu_profile=False, max_length=40)  # truncation reaches the query
    query = QUERIES[0] + " " + "Please explain the whole token lifecycle in detail. " * 3
    rows = reused.token_ids(query, DOCUMENTS[:3], INSTRUCTION)
    assert split_rows(rows, reused._prefix_ids(query, INSTRUCTION)) == [None] * 3
    assert reused.scores(query, DOCUMENTS[:3]) == pytest.approx(whole.scores(query, DOCUMENTS[:3]), abs=1e-6)


def test_split_rows_keeps_only_rows_that_start_with_the_prefix():
    assert split_rows([[1, 2, 3, 4], [1, 2], [1, 9, 3], [1, 2, 5]], [1, 2]) == [[3, 4], None, None, [5]]


def test_bfloat16_rankings_agree_with_float32(reranker_folder: Path, monkeypatch):
    exact = QwenLocalReranker(reranker_folder, "tiny", INSTRUCTION, cpu_profile=False, reuse_prefix=False,
                              max_passage_tokens=CAP)
    monkeypatch.setattr(local_rerank, "preferred_dtype", lambda _device, _profile: torch.bfloat16)
    fast = QwenLocalReranker(reranker_folder, "tiny", INSTRUCTION, batch_size=3, max_passage_tokens=CAP)
    assert next(fast._model.model.parameters()).dtype == torch.bfloat16
    assert_rankings_agree(exact, fast, QUERIES, DOCUMENTS)
