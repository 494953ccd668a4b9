"""Questions first: an ingest's embedding waits while a question runs, and its vectors are the same as at once."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core.models.embed import make_embedder
from core.models.embed.background import BackgroundEmbedder
from core.models.foreground import Foreground
from tests.conftest import tiny_settings

TEXTS = [f"Section {i}: a parcel label costs {i} credits and expires after {i * 7} days." for i in range(10)]


class CountingEmbedder:
    """A real embedder that notes how many document texts each call gave it."""

    def __init__(self, inner) -> None:
        self.inner, self.model_id, self.dim = inner, inner.model_id, inner.dim
        self.calls: list[int] = []

    def embed_documents(self, texts) -> np.ndarray:
        self.calls.append(len(texts))
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


@pytest.fixture(scope="module")
def embedder(tmp_path_factory, reranker_dir, embedder_dir):
    """The tiny in-process embedder."""
    return make_embedder(tiny_settings(reranker_dir, embedder_dir, tmp_path_factory.mktemp("chroma")))


def test_an_ingest_waits_while_a_question_runs(embedder):
    foreground, counting = Foreground(), CountingEmbedder(embedder)
    background = BackgroundEmbedder(embedder.model_id, embedder.dim, lambda: counting, foreground.give_way, step=4)
    vectors: list[np.ndarray] = []
    with foreground.question():
        worker = threading.Thread(target=lambda: vectors.append(background.embed_documents(TEXTS)))
        worker.start()
        time.sleep(1.0)
        assert counting.calls == [], "nothing is embedded while the question runs"
        assert background.embed_query("label costs").shape == (embedder.dim,), "questions are not held"
    worker.join(120)
    assert counting.calls == [4, 4, 2]
    at_once = embedder.embed_documents(TEXTS)  # in bfloat16, batches padded otherwise differ by about 2e-3
    assert np.allclose(vectors[0], at_once, atol=1e-2)
    assert ((vectors[0] @ at_once.T).argmax(axis=1) == np.arange(len(TEXTS))).all(), "each text's own vector"


def test_a_stream_of_questions_does_not_stall_an_ingest(embedder):
    foreground = Foreground(patience=0.05)
    background = BackgroundEmbedder(embedder.model_id, embedder.dim, lambda: embedder, foreground.give_way, step=4)
    with foreground.question():  # a question that never ends
        assert background.embed_documents(TEXTS[:6]).shape == (6, embedder.dim)


def test_after_waiting_its_patience_out_background_work_takes_a_turn():
    foreground = Foreground(patience=1.0)
    with foreground.question():
        start = time.monotonic()
        foreground.give_way()
        waited = time.monotonic() - start
        foreground.give_way()
        again = time.monotonic() - start - waited
    assert waited >= 1.0, "it waited for the question, up to its patience"
    assert again < 0.5, "then it runs as long as it waited without waiting again"
    start = time.monotonic()
    foreground.give_way()
    assert time.monotonic() - start < 0.5, "no question: no wait"


def test_without_giving_way_documents_are_embedded_in_one_call(embedder):
    counting = CountingEmbedder(embedder)
    background = BackgroundEmbedder(embedder.model_id, embedder.dim, lambda: counting)
    assert background.embed_documents(TEXTS).shape == (len(TEXTS), embedder.dim)
    assert counting.calls == [len(TEXTS)]
