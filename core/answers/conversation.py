"""Conversations: earlier turns kept within a budget, and a follow-up made into a standalone search query."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from core.answers.conversation_prompt import rewrite_messages
from core.errors import BackendUnavailable, BadInput
from core.models.chat import Generator
from core.models.chat.thinking import visible_text
from core.types import Turn

ROLES = ("user", "assistant")
REWRITE_TURNS = 6  # the last turns shown to the LLM that rewrites a follow-up
REWRITE_TOKENS = 600  # about this many tokens of them
MAX_QUERY_CHARS = 500  # a rewritten query longer than this is cut
_BYTES_PER_TOKEN = 4  # UTF-8 bytes per token, roughly, for Latin and CJK text alike


def approx_tokens(text: str) -> int:
    """A rough token count (UTF-8 bytes / 4) for budgets; no tokenizer needed."""
    return -(-len(text.encode("utf-8")) // _BYTES_PER_TOKEN)


def recent_turns(conversation: Sequence[Turn], max_turns: int = REWRITE_TURNS,
                 max_tokens: int = REWRITE_TOKENS) -> tuple[Turn, ...]:
    """The last turns that fit in `max_turns` and about `max_tokens`, oldest first; the newest is cut to fit."""
    kept: list[Turn] = []
    left = max_tokens
    for turn in reversed(conversation[-max_turns:] if max_turns else ()):
        cost = approx_tokens(turn.content)
        if cost > left:
            if not kept:
                kept.append(Turn(turn.role, turn.content[: left * _BYTES_PER_TOKEN // 3]))
            break
        kept.append(turn)
        left -= cost
    return tuple(reversed(kept))


def check_turns(conversation: Iterable[Turn]) -> tuple[Turn, ...]:
    """The turns, refused with BadInput when a role is not "user" or "assistant"."""
    turns = tuple(conversation)
    for number, turn in enumerate(turns, start=1):
        if turn.role not in ROLES:
            raise BadInput(f"Turn {number} of the conversation has role {turn.role!r}: use \"user\" or \"assistant\".")
    return turns


def read_turns(lines: Iterable[str], name: str = "the conversation") -> tuple[Turn, ...]:
    """Turns from JSON Lines of {"role": "user"|"assistant", "content": "..."}; BadInput names the bad line."""
    turns: list[Turn] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInput(f"Line {number} of {name} is not JSON ({exc.msg}): write one "
                           '{"role": "user"|"assistant", "content": "..."} object per line.') from exc
        if not isinstance(record, dict) or not isinstance(record.get("content"), str):
            raise BadInput(f'Line {number} of {name} needs a "content" string and a "role" of "user" or "assistant".')
        turns.append(Turn(str(record.get("role", "")), record["content"]))
    return check_turns(turns)


def joined_query(question: str, conversation: Sequence[Turn]) -> str:
    """Without an LLM: the previous user question and the follow-up, searched together."""
    previous = next((t.content.strip() for t in reversed(conversation) if t.role == "user" and t.content.strip()), "")
    return f"{previous[:MAX_QUERY_CHARS]} {question.strip()}".strip()


def standalone_query(question: str, conversation: Sequence[Turn],
                     generator: Generator | None) -> tuple[str, tuple[str, ...]]:
    """(the query to search, warnings): the question itself without earlier user turns, else the LLM's rewrite
    of the follow-up from the last turns, else (no LLM, or it failed) the previous question joined to it."""
    turns = recent_turns(conversation)
    if not any(t.role == "user" and t.content.strip() for t in turns):
        return question.strip(), ()
    if generator is None:
        return joined_query(question, turns), ()
    try:
        text = visible_text(generator.stream(rewrite_messages(question, turns)))
    except BackendUnavailable as exc:
        return joined_query(question, turns), (
            f"The follow-up could not be rewritten by the language model, so it was searched together with the "
            f"previous question: {exc}",)
    query = _first_line(text)[:MAX_QUERY_CHARS]
    if not query:
        return joined_query(question, turns), (
            "The language model returned no standalone query, so the follow-up was searched together with the "
            "previous question.",)
    return query, ()


def _first_line(text: str) -> str:
    """The first non-blank line of the model's output, without surrounding quotes."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line.strip("\"'“”«»`").strip()
