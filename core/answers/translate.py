"""On-demand translation of a passage by the same LLM that answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.answers.prompt import translation_messages
from core.models.chat.thinking import ThinkFilter
from core.types import Candidate

if TYPE_CHECKING:
    from core.models.chat import Generator


def needs_translation(candidate: Candidate, question_language: str | None) -> bool:
    """True when the passage's language is known and differs from the question's (pt-BR and pt count as one)."""
    passage = (candidate.chunk.language or "").split("-")[0].lower()
    question = (question_language or "").split("-")[0].lower()
    return bool(passage and question and passage != question)


def translate(generator: Generator, text: str, target_language: str) -> str:
    """`text` translated into `target_language` (ISO code); BackendUnavailable when the LLM fails."""
    think = ThinkFilter()
    pieces = [think.feed(piece) for piece in generator.stream(translation_messages(text, target_language))]
    return ("".join(pieces) + think.flush()).strip()
