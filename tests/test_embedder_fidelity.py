"""The in-process embedder computes exactly Qwen3-Embedding's last-token pooling of the canonical strings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from core.errors import ConfigError
from core.models.embed.local import QwenLocalEmbedder

TASK = "Given a web search query, retrieve relevant passages that answer the query"
DOCUMENTS = [
    "Rate limits: the API answers 429 Too Many Requests when you exceed 100 requests per minute.",
    "レート制限を超えると、APIは429を返します。",
    "速率限制：超过每分钟 100 个请求时返回 429。",
    "تجاوز حد المعدل يؤدي إلى الرمز 429.",
    "x",
]
QUERY = "What happens when I send too many requests?"


def hand_pooled(folder: Path, texts: list[str]) -> np.ndarray:
    """Left-padded batch, hidden state at the last position, L2-normalised: written from the model card."""
    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModel.from_pretrained(folder, dtype=torch.float32).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    assert all(row[-1] == tokenizer.convert_tokens_to_ids("<|endoftext|>") for row in batch["input_ids"])
    with torch.no_grad():
        last = model(**batch).last_hidden_state[:, -1]
    return torch.nn.functional.normalize(last, dim=-1).numpy()


@pytest.fixture(scope="module")
def embedder(embedder_dir: Path) -> QwenLocalEmbedder:
    """The in-process embedder on the tiny checkpoint in float32 (as the reference), with batches that mix lengths."""
    return QwenLocalEmbedder(embedder_dir, "tiny-embedder", TASK, batch_size=2, cpu_profile=False)


def test_documents_are_embedded_plain(embedder, embedder_dir):
    vectors = embedder.embed_documents(DOCUMENTS)
    assert vectors.shape == (len(DOCUMENTS), embedder.dim)
    np.testing.assert_allclose(vectors, hand_pooled(embedder_dir, DOCUMENTS), atol=1e-5)


def test_queries_carry_the_instruction(embedder, embedder_dir):
    expected = hand_pooled(embedder_dir, [f"Instruct: {TASK}\nQuery:{QUERY}"])[0]
    np.testing.assert_allclose(embedder.embed_query(QUERY), expected, atol=1e-5)
    assert not np.allclose(embedder.embed_query(QUERY), hand_pooled(embedder_dir, [QUERY])[0], atol=1e-3)


def test_matryoshka_truncates_and_renormalises(embedder_dir):
    small = QwenLocalEmbedder(embedder_dir, "tiny-embedder", TASK, dim=32, cpu_profile=False)
    full = hand_pooled(embedder_dir, DOCUMENTS)[:, :32]
    vectors = small.embed_documents(DOCUMENTS)
    assert small.dim == 32 and vectors.shape == (len(DOCUMENTS), 32)
    np.testing.assert_allclose(vectors, full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_dimension_larger_than_the_model_is_refused(embedder_dir):
    with pytest.raises(ConfigError, match="POLYDESK_EMBEDDING_DIM=4096 is larger than"):
        QwenLocalEmbedder(embedder_dir, "tiny-embedder", TASK, dim=4096)


def test_empty_input(embedder):
    assert embedder.embed_documents([]).shape == (0, embedder.dim)
