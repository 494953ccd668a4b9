"""Concurrent model calls merge into shared batches, give each caller what a lone call gives, and fail alone."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from core.models.batching import MergingQueue
from core.models.embed.local import QwenLocalEmbedder
from core.models.rerank.local import QwenLocalReranker

THREADS = 12


class Recorder:
    """A model stand-in that doubles numbers, refuses negative ones, and records each batch it runs."""

    def __init__(self) -> None:
        self.batches: list[tuple[object, list[int]]] = []
        self.release = threading.Event()

    def __call__(self, key: object, items: list[int]) -> list[int]:
        self.batches.append((key, items))
        self.release.wait(30)
        if any(i < 0 for i in items):
            raise ValueError(f"negative item in {items}")
        return [2 * i for i in items]


def run_while_blocked(queue: MergingQueue, recorder: Recorder, calls: list[tuple[object, list[int]]]) -> list:
    """Submit one call, let the rest queue up behind it, then release the model; outputs or errors per call."""
    def submit(call: tuple[object, list[int]]) -> object:
        try:
            return list(queue.submit(*call))
        except ValueError as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        first = pool.submit(submit, calls[0])
        while not recorder.batches:
            time.sleep(0.001)
        rest = [pool.submit(submit, call) for call in calls[1:]]
        while len(queue._waiting) < len(calls) - 1:
            time.sleep(0.001)
        recorder.release.set()
        return [first.result()] + [future.result() for future in rest]


def test_waiting_calls_merge_into_one_batch_per_key():
    recorder = Recorder()
    queue = MergingQueue(recorder)
    calls = [("a", [1]), ("a", [2, 3]), ("b", [4]), ("a", [5]), ("b", [6, 7])]
    outputs = run_while_blocked(queue, recorder, calls)
    assert outputs == [[2], [4, 6], [8], [10], [12, 14]]
    assert recorder.batches == [("a", [1]), ("a", [2, 3, 5]), ("b", [4, 6, 7])]


def test_a_failing_call_fails_alone():
    recorder = Recorder()
    queue = MergingQueue(recorder)
    calls = [("a", [1]), ("a", [2]), ("a", [-3]), ("a", [4])]
    outputs = run_while_blocked(queue, recorder, calls)
    assert outputs[:2] == [[2], [4]] and outputs[3] == [8]
    assert isinstance(outputs[2], ValueError) and "[-3]" in str(outputs[2])
    assert ("a", [2, -3, 4]) in recorder.batches, "the waiting calls were first tried as one batch"


def test_batches_stop_at_max_items():
    recorder = Recorder()
    queue = MergingQueue(recorder, max_items=3)
    calls = [("a", [1]), ("a", [2, 3]), ("a", [4]), ("a", [5, 6, 7, 8])]
    outputs = run_while_blocked(queue, recorder, calls)
    assert outputs == [[2], [4, 6], [8], [10, 12, 14, 16]]
    assert [items for _key, items in recorder.batches] == [[1], [2, 3, 4], [5, 6, 7, 8]]


def concurrently(calls: list) -> list:
    """Run zero-argument callables from THREADS threads released together; results or exceptions, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


QUESTIONS = ["How long is a token valid?", "¿Cómo pagino los envíos?", "アクセストークンの有効期限は？",
             "What does 429 mean?"]
PASSAGES = ["Access tokens expire after one hour.", "Use next_cursor to page through shipments.",
            "トークンは1時間で期限切れになります。", "A 429 answer means too many requests; wait for Retry-After.",
            "Webhooks are signed with HMAC-SHA256."]


def test_concurrent_reranking_matches_lone_calls(reranker_dir):
    # float32: in bfloat16 a batch's padding moves scores by ~0.005, which would hide a batching bug
    reranker = QwenLocalReranker(reranker_dir, "tiny", "Find the passage that answers the question", cpu_profile=False)
    requests = [(QUESTIONS[i % 4], PASSAGES[i % 5:] + PASSAGES[: i % 3], "Other instruction" if i % 3 == 0 else None)
                for i in range(THREADS)]
    lone = [reranker.scores(*request) for request in requests]
    together = concurrently([lambda r=request: reranker.scores(*r) for request in requests])
    for alone, merged in zip(lone, together, strict=True):
        assert merged == pytest.approx(alone, abs=1e-5)


def test_concurrent_embedding_matches_lone_calls_and_a_bad_input_fails_alone(embedder_dir):
    embedder = QwenLocalEmbedder(embedder_dir, "tiny", "Given a question, retrieve passages", cpu_profile=False)
    calls = [(lambda q=q: embedder.embed_query(q)) for q in QUESTIONS]
    calls += [(lambda i=i: embedder.embed_documents(PASSAGES[i:])) for i in range(THREADS - len(QUESTIONS) - 1)]
    calls.append(lambda: embedder.embed_documents(["fine", None]))  # type: ignore[list-item]
    lone = [embedder.embed_query(q) for q in QUESTIONS]
    lone += [embedder.embed_documents(PASSAGES[i:]) for i in range(THREADS - len(QUESTIONS) - 1)]
    together = concurrently(calls)
    for alone, merged in zip(lone, together[:-1], strict=True):
        assert isinstance(merged, np.ndarray) and merged.shape == alone.shape
        np.testing.assert_allclose(merged, alone, atol=1e-5)
    assert isinstance(together[-1], Exception)
