"""The in-process reranker scores exactly what the Qwen3-Reranker model card scores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from core.models.rerank.local import QwenLocalReranker

# Written here from the model card, independently of core/models/rerank/prompt.py, so the format is pinned.
CARD_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct "
    'provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
CARD_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
CARD_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
CUSTOM_INSTRUCTION = "Given a support question about a REST API, retrieve documentation passages that answer it"

QUERY = "How do I refresh an expired access token?"
DOCUMENTS = [
    "Call POST /v1/token/refresh with the refresh token to get a new access token. " * 6,
    "アクセストークンの有効期限が切れた場合は、リフレッシュトークンで新しいトークンを取得してください。",
    "만료된 토큰은 /v1/token/refresh 엔드포인트로 갱신할 수 있습니다.",
    "Если срок действия токена истёк, API возвращает ошибку 401 ERR_TOKEN_EXPIRED.",
    "عند انتهاء صلاحية الرمز، أرسل طلبًا إلى نقطة التحديث للحصول على رمز جديد.",
    "Pagination uses an opaque cursor.",
]


def card_token_ids(tokenizer, query: str, document: str, instruction: str, max_length: int) -> list[int]:
    """Prefix ids + body ids (truncated to fit max_length) + suffix ids, as the model card builds them."""
    prefix = tokenizer.encode(CARD_PREFIX, add_special_tokens=False)
    suffix = tokenizer.encode(CARD_SUFFIX, add_special_tokens=False)
    body = tokenizer(
        f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}",
        truncation="longest_first", max_length=max_length - len(prefix) - len(suffix), add_special_tokens=False,
    )["input_ids"]
    return prefix + body + suffix


def card_scores(folder: Path, query: str, documents: list[str], instruction: str, max_length: int) -> list[float]:
    """The published algorithm: full logits, last position, log_softmax over [no, yes], exp of yes."""
    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = [card_token_ids(tokenizer, query, d, instruction, max_length) for d in documents]
    batch = tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    with torch.no_grad():
        logits = model(**batch).logits[:, -1, :]
    pair = torch.stack([logits[:, no], logits[:, yes]], dim=1)
    return torch.log_softmax(pair, dim=1)[:, 1].exp().tolist()


@pytest.fixture(scope="module")
def reranker(reranker_dir: Path) -> QwenLocalReranker:
    """The in-process reranker on the tiny checkpoint, with small batches so lengths mix inside batches."""
    return QwenLocalReranker(reranker_dir, "tiny-reranker", CARD_INSTRUCTION, max_length=8192, batch_size=3,
                             cpu_profile=False)  # the model card computes in float32


@pytest.mark.parametrize("instruction", [None, CUSTOM_INSTRUCTION], ids=["card-instruction", "custom-instruction"])
def test_token_ids_equal_the_model_card(reranker, reranker_dir, instruction):
    tokenizer = AutoTokenizer.from_pretrained(reranker_dir)
    expected = [card_token_ids(tokenizer, QUERY, d, instruction or CARD_INSTRUCTION, 8192) for d in DOCUMENTS]
    assert reranker.token_ids(QUERY, DOCUMENTS, instruction) == expected


def test_only_the_document_is_truncated(reranker_dir):
    short = QwenLocalReranker(reranker_dir, "tiny-reranker", CARD_INSTRUCTION, max_length=128, cpu_profile=False)
    tokenizer = AutoTokenizer.from_pretrained(reranker_dir)
    long_document = "The refresh endpoint accepts a refresh token and returns a new pair. " * 40
    ids = short.token_ids(QUERY, [long_document])[0]
    suffix = tokenizer.encode(CARD_SUFFIX, add_special_tokens=False)
    assert len(ids) == 128
    assert ids[-len(suffix):] == suffix
    assert ids == card_token_ids(tokenizer, QUERY, long_document, CARD_INSTRUCTION, 128)
    assert f"<Query>: {QUERY}\n<Document>: The refresh" in tokenizer.decode(ids)


@pytest.mark.parametrize("instruction", [None, CUSTOM_INSTRUCTION], ids=["card-instruction", "custom-instruction"])
def test_scores_equal_the_model_card_algorithm(reranker, reranker_dir, instruction):
    ours = reranker.scores(QUERY, DOCUMENTS, instruction)
    reference = card_scores(reranker_dir, QUERY, DOCUMENTS, instruction or CARD_INSTRUCTION, 8192)
    assert ours == pytest.approx(reference, abs=1e-5)
    assert max(ours) - min(ours) > 1e-3, "scores of different documents should differ"


def test_truncated_scores_equal_the_model_card_algorithm(reranker_dir):
    short = QwenLocalReranker(reranker_dir, "tiny-reranker", CARD_INSTRUCTION, max_length=128, batch_size=4,
                              cpu_profile=False)
    ours = short.scores(QUERY, DOCUMENTS)
    assert ours == pytest.approx(card_scores(reranker_dir, QUERY, DOCUMENTS, CARD_INSTRUCTION, 128), abs=1e-5)


def test_instruction_changes_the_scores(reranker):
    assert reranker.scores(QUERY, DOCUMENTS) != pytest.approx(reranker.scores(QUERY, DOCUMENTS, CUSTOM_INSTRUCTION))


def test_rerank_returns_indices_best_first(reranker):
    scores = reranker.scores(QUERY, DOCUMENTS)
    ranked = reranker.rerank(QUERY, DOCUMENTS, top_n=3)
    assert [r.index for r in ranked] == sorted(range(len(DOCUMENTS)), key=lambda i: -scores[i])[:3]
    assert [r.score for r in ranked] == pytest.approx(sorted(scores, reverse=True)[:3])
    assert reranker.rerank(QUERY, []) == []
