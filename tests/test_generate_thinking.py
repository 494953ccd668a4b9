"""Qwen3 thinking: which model ids take enable_thinking, and <think> blocks kept out of streamed answers."""

from __future__ import annotations

import pytest

from core.answers.translate import needs_translation
from core.models.chat.thinking import ThinkFilter, is_hybrid_thinking_model, thinking_switch


@pytest.mark.parametrize(("model", "hybrid"), [
    ("Qwen/Qwen3-8B", True), ("Qwen/Qwen3-0.6B", True), ("Qwen/Qwen3-30B-A3B", True), ("qwen3:8b", True),
    ("Qwen/Qwen3-8B-AWQ", True), ("/models/Qwen3-14B/", True),
    ("Qwen/Qwen3-4B-Instruct-2507", False), ("Qwen/Qwen3-30B-A3B-Thinking-2507", False),
    ("qwen3:4b-instruct-2507-q4_K_M", False), ("Qwen/Qwen3-Embedding-0.6B", False),
    ("gpt-4o-mini", False), ("Qwen/Qwen2.5-7B-Instruct", False), ("llama3.1:8b", False),
])
def test_hybrid_thinking_models(model, hybrid):
    assert is_hybrid_thinking_model(model) is hybrid


def test_thinking_setting():
    assert thinking_switch("auto", "Qwen/Qwen3-8B") == {"enable_thinking": False}
    assert thinking_switch("auto", "gpt-4o-mini") is None
    assert thinking_switch("off", "gpt-4o-mini") == {"enable_thinking": False}
    assert thinking_switch("on", "Qwen/Qwen3-8B") is None


def feed_all(pieces: list[str], thinking: bool = False) -> tuple[list[str], str]:
    """What the filter shows after each piece, and the joined text with the final flush."""
    think = ThinkFilter(thinking)
    shown = [think.feed(piece) for piece in pieces]
    return shown, "".join(shown) + think.flush()


@pytest.mark.parametrize(("pieces", "thinking", "text"), [
    (["Plain ", "answer."], False, "Plain answer."),
    (["\n", "  Indented answer"], False, "\n  Indented answer"),  # text without thinking is untouched
    (["<think>", "\nplan\n", "</think>", "\n\n", "Answer."], False, "Answer."),
    (["<th", "ink>pl", "an</thi", "nk>\n\nAnswer", " [1]."], False, "Answer [1]."),
    (["plan ", "more</think>", "\n\nAnswer."], True, "Answer."),  # the template opened <think> itself
    (["<think>never closed"], False, ""),
    (["<b>bold</b> answer"], False, "<b>bold</b> answer"),
    (["<", "b> answer"], False, "<b> answer"),
])
def test_think_filter(pieces, thinking, text):
    assert feed_all(pieces, thinking)[1] == text


def test_think_filter_streams_without_waiting_for_the_end():
    shown, _ = feed_all(["<think>x</think>\n\n", "First ", "second"])
    assert shown == ["", "First ", "second"]


def test_needs_translation(make_candidate):
    assert needs_translation(make_candidate("Hallo", "de"), "en")
    assert not needs_translation(make_candidate("Olá", "pt"), "pt-BR")
    assert not needs_translation(make_candidate("?", None), "en") and not needs_translation(make_candidate("x"), None)
