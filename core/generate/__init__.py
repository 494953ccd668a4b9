"""LLM answers: the prompt, streaming generators (HTTP or in-process), citations, the extractive fallback.

The caller streams `make_generator(settings).stream(build_messages(...))`, then `finish_answer(...)`; when the
generator is None (POLYDESK_LLM=off) or raises BackendUnavailable, it shows `extractive_result(...)` with a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from core.generate.answer import EXTRACTIVE_MODEL, extractive_result, finish_answer
from core.generate.citations import parse_citations
from core.generate.extractive import NO_ANSWER_LABEL, extractive_answer
from core.generate.prompt import build_messages, language_name, translation_messages
from core.generate.thinking import is_hybrid_thinking_model
from core.generate.translate import needs_translation, translate
from core.settings import Settings

__all__ = [
    "EXTRACTIVE_MODEL", "NO_ANSWER_LABEL", "Generator", "build_messages", "extractive_answer", "extractive_result",
    "finish_answer", "is_hybrid_thinking_model", "language_name", "make_generator", "needs_translation",
    "parse_citations", "translate", "translation_messages",
]


class Generator(Protocol):
    """Streams the text of a chat answer; raises BackendUnavailable on failure, also mid-stream."""

    model_id: str

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]: ...


def make_generator(settings: Settings) -> Generator | None:
    """None when POLYDESK_LLM=off; the HTTP client when POLYDESK_LLM_URL is set; else the in-process model."""
    if settings.llm == "off":
        return None
    if settings.llm_url:
        from core.generate.openai_chat import OpenAIChatGenerator

        return OpenAIChatGenerator.from_settings(settings)
    from core.generate.local_chat import LocalChatGenerator

    return LocalChatGenerator.from_settings(settings)
