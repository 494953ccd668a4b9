"""The answer without a language model: the passages as written, their sentences closest to the question in bold."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from core.answers.prompt import SECTION_SEPARATOR, section_of
from core.knowledge.language import language_name
from core.knowledge.lexical import lexical_tokens
from core.types import Candidate, Chunk

HIGHLIGHTS_PER_PASSAGE = 2
HIGHLIGHT_RATIO = 0.75
NO_ANSWER_LABEL = (
    "**No generated answer.** These are the most relevant passages of the documentation, quoted as written; "
    "the sentences closest to the question are in **bold**."
)
_STOPWORD_LISTS = {
    "en": "STOPWORDS_EN", "da": "STOPWORDS_DANISH", "nl": "STOPWORDS_DUTCH", "fr": "STOPWORDS_FRENCH",
    "de": "STOPWORDS_GERMAN", "it": "STOPWORDS_ITALIAN", "no": "STOPWORDS_NORWEGIAN", "nb": "STOPWORDS_NORWEGIAN",
    "pt": "STOPWORDS_PORTUGUESE", "ru": "STOPWORDS_RUSSIAN", "es": "STOPWORDS_SPANISH", "sv": "STOPWORDS_SWEDISH",
    "tr": "STOPWORDS_TURKISH", "zh": "STOPWORDS_CHINESE", "ko": "STOPWORDS_KOREAN",
}
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINE_PREFIX = re.compile(r"^\s*(?:(?:#{1,6}|>|[-*+]|\d{1,3}[.)])\s+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s)|[。！？]+")


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage: which line it is on, where it sits in the line, and its lexical tokens."""

    line: int
    start: int
    end: int
    tokens: frozenset[str]


def passage_body(chunk: Chunk) -> str:
    """The chunk's text without the heading-path line that the chunker puts in front."""
    text = chunk.text.strip()
    head, _, rest = text.partition("\n\n")
    contexts = {SECTION_SEPARATOR.join(chunk.heading_path), chunk.heading_path[-1] if chunk.heading_path else ""}
    return rest.strip() if rest and head.strip() in contexts - {""} else text


def sentences(lines: Sequence[str], language: str | None) -> list[Sentence]:
    """The sentences of the prose lines (not code blocks or table rows), with their tokens."""
    found: list[Sentence] = []
    in_fence = False
    for number, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence or not line.strip() or line.lstrip().startswith("|"):
            continue
        start = _LINE_PREFIX.match(line).end()
        for end in [m.end() for m in _SENTENCE_END.finditer(line, start)] + [len(line)]:
            text = line[start:end]
            if text.strip():
                left = start + len(text) - len(text.lstrip())
                right = end - (len(text) - len(text.rstrip()))
                found.append(Sentence(number, left, right, frozenset(lexical_tokens(text, language))))
            start = end
    return found


def best_sentences(question_tokens: set[str], passages: Sequence[list[Sentence]]) -> list[list[Sentence]]:
    """For each passage, up to HIGHLIGHTS_PER_PASSAGE sentences sharing the most distinct tokens with the question
    (the best one, and a runner-up sharing at least HIGHLIGHT_RATIO as many; never one sharing none)."""
    chosen: list[list[Sentence]] = []
    for passage in passages:
        scores = [len(s.tokens & question_tokens) for s in passage]
        order = sorted(range(len(passage)), key=lambda i: (-scores[i], i))[:HIGHLIGHTS_PER_PASSAGE]
        best = scores[order[0]] if order else 0
        chosen.append([passage[i] for i in order if scores[i] > 0 and scores[i] >= HIGHLIGHT_RATIO * best])
    return chosen


def question_tokens(question: str, language: str | None) -> set[str]:
    """The question's distinct lexical tokens without the stopwords of its language (where bm25s has a list)."""
    return set(lexical_tokens(question, language)) - _stopword_tokens((language or "").split("-")[0].lower())


@lru_cache(maxsize=32)
def _stopword_tokens(language: str) -> frozenset[str]:
    """bm25s's stopwords of a language, as lexical tokens (stemmed like the text)."""
    import bm25s.stopwords as lists

    words = getattr(lists, _STOPWORD_LISTS.get(language, ""), ())
    return frozenset(lexical_tokens(" ".join(words), language)) if words else frozenset()


def highlight(lines: Sequence[str], picks: Sequence[Sentence]) -> list[str]:
    """The lines with the picked sentences wrapped in **bold** (emphasis inside them removed)."""
    marked = list(lines)
    for s in sorted(picks, key=lambda s: (s.line, -s.start)):  # right to left within a line keeps offsets valid
        line = marked[s.line]
        start, end = _bold_span(line, s.start, s.end)
        inner = line[start:end].replace("**", "").replace("__", "")
        marked[s.line] = f"{line[:start]}**{inner}**{line[end:]}" if inner.strip() else line
    return marked


def _bold_span(line: str, start: int, end: int) -> tuple[int, int]:
    """The span narrowed so that CommonMark reads the ** around it as bold: punctuation at an edge glued to a
    letter outside (as in `です。期限`, where no space follows `。`) is left outside the markers."""
    if end < len(line) and not line[end].isspace():
        while end > start and _is_punctuation(line[end - 1]):
            end -= 1
    if start > 0 and not line[start - 1].isspace() and not _is_punctuation(line[start - 1]):
        while start < end and _is_punctuation(line[start]):
            start += 1
    return start, end


def _is_punctuation(char: str) -> bool:
    """Unicode punctuation or an ASCII symbol, as CommonMark counts them for emphasis."""
    return unicodedata.category(char)[0] == "P" or (char.isascii() and not char.isalnum() and not char.isspace())


def extractive_answer(question: str, candidates: Sequence[Candidate], language: str | None) -> str:
    """Markdown: a clear "no generated answer" label, then each passage quoted with its best sentences in bold."""
    if not candidates:
        return f"{NO_ANSWER_LABEL}\n\nNo passage of the documentation matches the question."
    bodies = [passage_body(c.chunk).splitlines() for c in candidates]
    found = [sentences(lines, c.chunk.language) for lines, c in zip(bodies, candidates, strict=True)]
    picks = best_sentences(question_tokens(question, language), found)
    parts = [NO_ANSWER_LABEL]
    for number, (candidate, lines, chosen) in enumerate(zip(candidates, bodies, picks, strict=True), start=1):
        parts.append(_heading(number, candidate.chunk, language))
        parts.append("\n".join(f"> {line}".rstrip() for line in highlight(lines, chosen)))
    return "\n\n".join(parts)


def _heading(number: int, chunk: Chunk, question_language: str | None) -> str:
    """`[n] Section` with the source file (a link to its page when known), and the passage's language where it
    differs from the question's."""
    meta = f"[`{chunk.source}`]({chunk.url})" if chunk.url else f"`{chunk.source}`"
    if chunk.language and chunk.language != question_language:
        meta += f" · {language_name(chunk.language)}"
    return f"**[{number}] {section_of(chunk)}** · {meta}"
