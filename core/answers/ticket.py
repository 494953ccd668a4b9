"""Ticket replies: a customer's message checked, the questions in it found, their passages merged."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.answers.run import distinct_passages
from core.answers.ticket_prompt import question_messages
from core.errors import BackendUnavailable, BadInput
from core.models.chat import Generator
from core.models.chat.thinking import visible_text
from core.types import Candidate, SearchResult

MAX_TICKET_CHARS = 20_000
MAX_QUESTIONS = 3  # each question is searched and reranked on its own: this bounds the reranker's work
MAX_QUESTION_CHARS = 300  # and this the length of each query it reads
MAX_REPLY_PASSAGES = 6
_SENTENCE = re.compile(r"[^.!?。！？؟\n]+[.!?。！？؟]*")
_QUESTION_MARK = re.compile(r"[?？؟]")
_LIST_PREFIX = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s*")


def check_ticket(message: str) -> str:
    """The message without surrounding blanks; BadInput when it is blank or longer than MAX_TICKET_CHARS."""
    text = message.strip()
    if not text:
        raise BadInput("The customer's message is empty: paste the text the customer wrote.")
    if len(text) > MAX_TICKET_CHARS:
        raise BadInput(f"The customer's message has {len(text):,} characters; the limit is {MAX_TICKET_CHARS:,}. "
                       "Paste the part that asks the questions.")
    return text


def likely_questions(message: str, most: int = MAX_QUESTIONS) -> tuple[str, ...]:
    """Without an LLM: the sentences ending in a question mark (in their order), else the first sentence."""
    found = [s.strip() for s in _SENTENCE.findall(message) if s.strip()]
    asked = [s for s in found if _QUESTION_MARK.search(s[-1:])]
    chosen = asked[:most] or found[:1]
    return tuple(s[:MAX_QUESTION_CHARS] for s in chosen)


def extract_questions(message: str, generator: Generator | None,
                      most: int = MAX_QUESTIONS) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(questions, warnings): the LLM's list of the message's questions, else the sentences most like questions."""
    if generator is None:
        return likely_questions(message, most), ()
    try:
        text = visible_text(generator.stream(question_messages(message, most)))
    except BackendUnavailable as exc:
        return likely_questions(message, most), (
            f"The language model could not list the message's questions, so its sentences ending in a question "
            f"mark were searched: {exc}",)
    lines = [_LIST_PREFIX.sub("", line).strip() for line in text.splitlines()]
    questions = tuple(line[:MAX_QUESTION_CHARS] for line in lines if line)[:most]
    if not questions:
        return likely_questions(message, most), (
            "The language model found no question in the message, so its sentences ending in a question mark "
            "were searched.",)
    return questions, ()


def merged_passages(results: Sequence[SearchResult], per_question: int,
                    most: int = MAX_REPLY_PASSAGES) -> tuple[Candidate, ...]:
    """The best passages of every question in turn (first of each, then second...), each passage once."""
    tops = [distinct_passages(r.candidates, per_question) for r in results]
    interleaved = [top[i] for i in range(per_question) for top in tops if i < len(top)]
    return distinct_passages(interleaved, most)


def merged_search(results: Sequence[SearchResult], questions: Sequence[str], language: str | None,
                  per_question: int) -> SearchResult:
    """One SearchResult for all questions: merged passages, summed timings, every warning once."""
    timings: dict[str, float] = {}
    for result in results:
        for stage, ms in result.timings_ms.items():
            timings[stage] = timings.get(stage, 0.0) + ms
    warnings = tuple(dict.fromkeys(w for r in results for w in r.warnings))
    return SearchResult("\n".join(questions), language, merged_passages(results, per_question), timings, warnings)
