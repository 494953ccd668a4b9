"""The checks a question passes before it is searched: not empty, not longer than the configured limit."""

from __future__ import annotations

from core.errors import BadInput


def check_question(question: str, max_chars: int) -> str:
    """The question itself, or BadInput saying why it cannot be searched."""
    if not question.strip():
        raise BadInput("The question is empty: type what you want to know.")
    if len(question) > max_chars:
        raise BadInput(f"The question has {len(question):,} characters, more than the limit of {max_chars:,}: "
                       "shorten it, or raise POLYDESK_MAX_QUESTION_CHARS.")
    return question
