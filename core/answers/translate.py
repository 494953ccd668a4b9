"""On-demand translation of a passage by the same LLM that answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.answers.prompt import translation_messages
from core.errors import ConfigError
from core.models.chat.thinking import visible_text
from core.types import Candidate

if TYPE_CHECKING:
    from core.models.chat import Generator


def needs_translation(candidate: Candidate, question_language: str | None) -> bool:
    """True when the passage's language is known and differs from the question's (pt-BR and pt count as one)."""
    passage = (candidate.chunk.language or "").split("-")[0].lower()
    question = (question_language or "").split("-")[0].lower()
    return bool(passage and question and passage != question)


LLM_OFF = ("Translation is written by the language model, and none is configured (POLYDESK_LLM=off): the passage "
           "is shown as written. Set POLYDESK_LLM_URL to an OpenAI-compatible server, or POLYDESK_LLM=auto with a "
           "local model, to translate passages.")


def translate(generator: Generator | None, text: str, target_language: str) -> str:
    """`text` translated into `target_language` (ISO code); ConfigError without an LLM, BackendUnavailable when
    it fails."""
    if generator is None:
        raise ConfigError(LLM_OFF)
    return visible_text(generator.stream(translation_messages(text, target_language)))
