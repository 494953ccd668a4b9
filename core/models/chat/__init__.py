"""Chat models: streaming generators for answers and translations, over HTTP or in-process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from core.settings import Settings


class Generator(Protocol):
    """Streams the text of a chat answer; raises BackendUnavailable on failure, also mid-stream."""

    model_id: str

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]: ...


def make_generator(settings: Settings) -> Generator | None:
    """None when POLYDESK_LLM=off; the HTTP client when POLYDESK_LLM_URL is set; else the in-process model."""
    if settings.llm == "off":
        return None
    if settings.llm_url:
        from core.models.chat.http import OpenAIChatGenerator

        return OpenAIChatGenerator.from_settings(settings)
    from core.models.chat.local import LocalChatGenerator

    return LocalChatGenerator.from_settings(settings)
