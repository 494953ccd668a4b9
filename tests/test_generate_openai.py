"""The OpenAI-compatible chat generator against a real loopback server speaking the SSE streaming format."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from core.answers.prompt import build_messages
from core.answers.translate import translate
from core.errors import BackendUnavailable
from core.models.chat import make_generator
from core.models.chat.http import OpenAIChatGenerator
from core.settings import load_settings
from tests.fake_servers import ChatReply, raw_sse, refused_url, serve_chat, sse_events

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
NO_THINKING = {"enable_thinking": False}


def generator(url: str, model: str = "Qwen/Qwen3-8B", **options) -> OpenAIChatGenerator:
    """A client with short timeouts and no retries unless asked."""
    settings = {"first_token_timeout": 2.0, "total_timeout": 10.0, "retries": 0, **options}
    return OpenAIChatGenerator(url, model, **settings)


def test_streams_pieces_and_sends_an_openai_request(make_candidate):
    pieces = ["Tokens ", "expire ", "after an hour ", "[1]."]
    with serve_chat(lambda _request: ChatReply(events=sse_events(pieces))) as (url, seen):
        messages = build_messages("When do tokens expire?", [make_candidate("Tokens expire after an hour.")], "en")
        chat = generator(f"{url}/v1", "Qwen/Qwen3-8B", api_key="sk-test", max_tokens=64)
        assert list(chat.stream(messages)) == pieces
    request = seen[0]
    assert request["path"] == "/v1/chat/completions" and request["authorization"] == "Bearer sk-test"
    assert request["model"] == "Qwen/Qwen3-8B" and request["messages"] == messages
    assert request["stream"] is True and request["max_tokens"] == 64 and request["temperature"] == 0
    assert request["chat_template_kwargs"] == NO_THINKING


@pytest.mark.parametrize(("model", "thinking", "sent"), [
    ("Qwen/Qwen3-8B", "auto", True),
    ("qwen3:8b", "auto", True),
    ("Qwen/Qwen3-30B-A3B-FP8", "auto", True),
    ("gpt-4o-mini", "auto", False),
    ("Qwen/Qwen3-4B-Instruct-2507", "auto", False),
    ("Qwen/Qwen3-4B-Thinking-2507", "auto", False),
    ("gpt-4o-mini", "off", True),
    ("Qwen/Qwen3-8B", "on", False),
])
def test_thinking_switch_is_sent_only_where_it_belongs(model, thinking, sent):
    with serve_chat(lambda _request: ChatReply(events=sse_events(["ok"]))) as (url, seen):
        assert list(generator(url, model, thinking=thinking).stream(MESSAGES)) == ["ok"]
    assert ("chat_template_kwargs" in seen[0]) is sent
    if sent:
        assert seen[0]["chat_template_kwargs"] == NO_THINKING


def test_a_server_rejecting_chat_template_kwargs_is_asked_again_without_and_remembered():
    def reply(request: dict) -> ChatReply:
        if "chat_template_kwargs" in request:
            return ChatReply(status=400, error="Unrecognized request argument supplied: chat_template_kwargs")
        return ChatReply(events=sse_events(["fine"]))

    with serve_chat(reply) as (url, seen):
        chat = generator(url, "Qwen/Qwen3-8B")
        assert chat.sends_thinking_switch
        assert list(chat.stream(MESSAGES)) == ["fine"]
        assert list(chat.stream(MESSAGES)) == ["fine"]
    assert ["chat_template_kwargs" in request for request in seen] == [True, False, False]
    assert not chat.sends_thinking_switch


def test_another_bad_request_is_not_remembered_as_a_thinking_problem():
    with serve_chat(lambda _request: ChatReply(status=400, error="context too long")) as (url, seen):
        chat = generator(url, "Qwen/Qwen3-8B")
        with pytest.raises(BackendUnavailable, match=r"HTTP 400 \(context too long\)"):
            list(chat.stream(MESSAGES))
    assert len(seen) == 2 and chat.sends_thinking_switch


def test_thinking_off_on_a_server_that_rejects_it_says_how_to_fix():
    with serve_chat(lambda _request: ChatReply(status=400, error="unknown field")) as (url, seen):
        with pytest.raises(BackendUnavailable, match="POLYDESK_LLM_THINKING=auto"):
            list(generator(url, "gpt-4o-mini", thinking="off").stream(MESSAGES))
    assert len(seen) == 1


def test_reasoning_and_think_blocks_are_not_part_of_the_answer():
    events = sse_events(["<thi", "nk>\nplan</th", "ink>\n\n", "Answer [1]."], reasoning=["secret plan"])
    with serve_chat(lambda _request: ChatReply(events=events)) as (url, _seen):
        assert "".join(generator(url, thinking="on").stream(MESSAGES)) == "Answer [1]."


def test_refused_connection_is_retried_then_reported():
    chat = generator(refused_url(), retries=1)
    pauses: list[float] = []
    chat.retry = replace(chat.retry, sleep=pauses.append)
    with pytest.raises(BackendUnavailable, match="cannot be reached.*POLYDESK_LLM_URL"):
        list(chat.stream(MESSAGES))
    assert len(pauses) == 1  # one pause before the retry


def test_timeout_before_the_response_starts():
    with serve_chat(lambda _request: ChatReply(hang_before_headers_s=5, events=sse_events(["late"]))) as (url, seen):
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match=r"sent no data for 0.5 s \(timeout\)"):
            list(generator(url, first_token_timeout=0.5, retries=2).stream(MESSAGES))
        assert time.monotonic() - started < 3 and len(seen) == 1  # a timeout is not retried


def test_timeout_before_the_first_token():
    with serve_chat(lambda _request: ChatReply(pause_s=5, events=sse_events(["late"]))) as (url, _seen):
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match=r"sent no data for 0.5 s while streaming the answer \(timeout\)"):
            list(generator(url, first_token_timeout=0.5).stream(MESSAGES))
        assert time.monotonic() - started < 3


def test_the_whole_answer_is_bounded_too():
    events = sse_events(["word "] * 50)
    with serve_chat(lambda _request: ChatReply(pause_s=0.05, events=events)) as (url, _seen):
        received: list[str] = []
        with pytest.raises(BackendUnavailable, match="did not finish the answer within 0.5 s.*LLM_TOTAL_TIMEOUT"):
            for piece in generator(url, first_token_timeout=1.0, total_timeout=0.5).stream(MESSAGES):
                received.append(piece)
        assert 2 <= len(received) < 50  # it streamed, then stopped at the deadline


def test_server_error_is_retried_then_reported():
    with serve_chat(lambda _request: ChatReply(status=500, error="CUDA out of memory")) as (url, seen):
        with pytest.raises(BackendUnavailable, match=r"HTTP 500 \(CUDA out of memory\); see the server's log"):
            list(generator(url, retries=1).stream(MESSAGES))
    assert len(seen) == 2


def test_unknown_model_names_the_setting():
    with serve_chat(lambda _request: ChatReply(status=404, error="The model `x` does not exist.")) as (url, _seen):
        with pytest.raises(BackendUnavailable, match="HTTP 404.*POLYDESK_LLM_MODEL.*/v1/models"):
            list(generator(url, "x").stream(MESSAGES))


@pytest.mark.parametrize("events", [
    raw_sse("not json at all"),
    raw_sse('{"id": "x", "object": "chat.completion.chunk"}'),
    raw_sse('{"choices": [{"index": 0, "delta": {"content": 5}}]}'),
])
def test_malformed_stream(events):
    with serve_chat(lambda _request: ChatReply(events=events)) as (url, _seen):
        with pytest.raises(BackendUnavailable, match="not in the OpenAI chat format"):
            list(generator(url).stream(MESSAGES))


def test_an_error_event_mid_stream_after_some_text():
    events = sse_events(["Partial "])[:2] + raw_sse('{"error": {"message": "engine died"}}')
    with serve_chat(lambda _request: ChatReply(events=events)) as (url, _seen):
        received: list[str] = []
        with pytest.raises(BackendUnavailable, match="engine died"):
            for piece in generator(url).stream(MESSAGES):
                received.append(piece)
    assert received == ["Partial "]


def test_an_empty_answer_is_a_failure_with_its_reason():
    with serve_chat(lambda _request: ChatReply(events=sse_events([], finish_reason="length",
                                                                 reasoning=["long thoughts"]))) as (url, _seen):
        with pytest.raises(BackendUnavailable, match=r"no answer text \(finish reason: length\)"):
            list(generator(url, thinking="on").stream(MESSAGES))


def test_translate_uses_the_same_generator():
    with serve_chat(lambda _request: ChatReply(events=sse_events(["Les jetons ", "expirent."]))) as (url, seen):
        assert translate(generator(url, "gpt-4o-mini"), "Tokens expire.", "fr") == "Les jetons expirent."
    assert "into French" in seen[0]["messages"][0]["content"] and "Tokens expire." in seen[0]["messages"][1]["content"]


def test_make_generator_follows_the_settings():
    assert make_generator(load_settings(llm="off", llm_url="http://127.0.0.1:9")) is None
    chat = make_generator(load_settings(llm_url="http://127.0.0.1:9/v1", llm_model="gpt-4o-mini", http_timeout=3,
                                        llm_total_timeout=7, llm_max_tokens=99, llm_thinking="off"))
    assert isinstance(chat, OpenAIChatGenerator) and chat.model_id == "gpt-4o-mini" and chat.url == "http://127.0.0.1:9"
    assert (chat.first_token_timeout, chat.total_timeout, chat.max_tokens) == (3, 7, 99) and chat.sends_thinking_switch
