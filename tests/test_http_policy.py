"""One HTTP retry policy, the same suite against every model-server client on real loopback servers."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest

from core.errors import BackendUnavailable
from core.models.chat.http import OpenAIChatGenerator
from core.models.embed.http import OpenAICompatEmbedder
from core.models.http_client import RetryPolicy
from core.models.rerank.http import VLLMReranker
from core.ops.doctor import served_models
from tests.fake_servers import Ok, Step, refused_url, serve_steps, sse_events

TIMEOUT_S = 0.5
HANG_S = 5.0  # longer than TIMEOUT_S; the server stops waiting when the test ends


def ok_answer(path: str, body: dict) -> tuple[str, bytes]:
    """A well-formed answer for whichever endpoint was asked."""
    if path.endswith("/embeddings"):
        data = [{"object": "embedding", "index": i, "embedding": [3.0, 4.0]} for i, _ in enumerate(body["input"])]
        return "application/json", json.dumps({"object": "list", "data": data, "model": "m",
                                               "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
    if path.endswith("/rerank"):
        results = [{"index": i, "relevance_score": 0.5 - 0.1 * i} for i, _ in enumerate(body["documents"])]
        return "application/json", json.dumps({"results": results}).encode()
    if path.endswith("/chat/completions"):
        return "text/event-stream", b"".join(sse_events(["Hallo ", "[1]."]))
    return "application/json", json.dumps({"data": [{"id": "m"}]}).encode()


@dataclass(frozen=True)
class Client:
    """How to call one client once, with its retry policy's pauses recorded instead of slept."""

    name: str
    call: Callable[[str, RetryPolicy], object]


def _embedding(url: str, retry: RetryPolicy) -> object:
    client = OpenAICompatEmbedder(url, "m", "find it", dim=2, timeout=TIMEOUT_S, retries=retry.retries)
    client.retry = retry
    return client.embed_documents(["Zustellung", "配達"]).shape


def _reranker(url: str, retry: RetryPolicy) -> object:
    client = VLLMReranker(url, "m", "find it", timeout=TIMEOUT_S, retries=retry.retries)
    client._http.retry = retry
    return [r.index for r in client.rerank("¿Cuándo llega?", ["hoy", "mañana"])]


def _chat(url: str, retry: RetryPolicy) -> object:
    client = OpenAIChatGenerator(url, "m", first_token_timeout=TIMEOUT_S, total_timeout=10.0, retries=retry.retries)
    client.retry = retry
    return "".join(client.stream([{"role": "user", "content": "Wann kommt das Paket?"}]))


def _status(url: str, retry: RetryPolicy) -> object:
    return served_models(url, timeout=TIMEOUT_S, retry=retry)


CLIENTS = [Client("embedding", _embedding), Client("reranker", _reranker), Client("chat", _chat),
           Client("status", _status)]
EXPECTED = {"embedding": (2, 2), "reranker": [0, 1], "chat": "Hallo [1].", "status": ["m"]}


def run(client: Client, steps: list[Step], ok: Ok = ok_answer) -> tuple[object, list[str], list[float]]:
    """(the call's result or its BackendUnavailable, paths requested, pauses taken) against scripted steps."""
    pauses: list[float] = []
    with serve_steps(steps, ok) as (url, seen):
        try:
            result: object = client.call(url, RetryPolicy(2, sleep=pauses.append))
        except BackendUnavailable as exc:
            result = exc
    return result, seen, pauses


@pytest.fixture(params=CLIENTS, ids=lambda c: c.name)
def client(request: pytest.FixtureRequest) -> Client:
    """Each model-server client in turn."""
    return request.param


def test_5xx_is_retried_then_succeeds(client):
    result, seen, pauses = run(client, [Step(503), Step(502)])
    assert result == EXPECTED[client.name] and len(seen) == 3
    assert 0.25 <= pauses[0] <= 0.5 and 0.5 <= pauses[1] <= 1.0  # doubling backoff with jitter


def test_5xx_gives_up_after_the_retries(client):
    result, seen, pauses = run(client, [Step(500)] * 5)
    assert isinstance(result, BackendUnavailable) and "500" in str(result)
    assert len(seen) == 3 and len(pauses) == 2


def test_retry_after_on_5xx_is_honoured(client):
    result, seen, pauses = run(client, [Step(503, (("Retry-After", "2"),))])
    assert result == EXPECTED[client.name] and len(seen) == 2 and pauses == [2.0]


def test_retry_after_beyond_the_bound_is_not_waited_for(client):
    result, seen, pauses = run(client, [Step(503, (("Retry-After", "3600"),))])
    assert isinstance(result, BackendUnavailable) and len(seen) == 1 and pauses == []


def test_429_is_not_retried_and_its_retry_after_is_reported(client):
    result, seen, pauses = run(client, [Step(429, (("Retry-After", "7"),))])
    assert isinstance(result, BackendUnavailable) and "429" in str(result) and "retry after 7 s" in str(result)
    assert len(seen) == 1 and pauses == []


@pytest.mark.parametrize("status", [408, 409])
def test_other_4xx_are_not_retried(client, status):
    result, seen, pauses = run(client, [Step(status)])
    assert isinstance(result, BackendUnavailable) and str(status) in str(result)
    assert len(seen) == 1 and pauses == []


def test_a_timeout_is_not_retried(client):
    result, seen, pauses = run(client, [Step(hang_s=HANG_S)])
    assert isinstance(result, BackendUnavailable) and len(seen) == 1 and pauses == []


def test_a_refused_connection_is_retried_once_the_server_is_up(client):
    url = refused_url()
    pauses: list[float] = []
    with ExitStack() as servers:
        def start_server(pause: float) -> None:
            """The first pause brings the server up on the refused port."""
            if not pauses:
                servers.enter_context(serve_steps([], ok_answer, port=urlparse(url).port or 0))
            pauses.append(pause)

        result = client.call(url, RetryPolicy(2, sleep=start_server))
    assert result == EXPECTED[client.name] and len(pauses) == 1
