"""One question answered: hybrid search, then the LLM's streamed answer with citations, degrading visibly."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from core.answers.extractive import extractive_answer
from core.answers.finish import EXTRACTIVE_MODEL, finish_answer
from core.answers.prompt import build_messages
from core.errors import BackendUnavailable, PolydeskError
from core.knowledge.language import language_name
from core.models.chat import Generator
from core.models.chat.thinking import ThinkFilter
from core.types import Answer, Candidate, SearchResult, Turn

NO_PASSAGES = "No passage of the selected collections matches this question."
EMPTY_GENERATION = ("The language model returned no answer text (an empty output, or only a thinking block), "
                    "so the passages are shown instead.")
Prompt = Callable[[Sequence[Candidate], str | None], list[dict[str, str]]]


def distinct_passages(candidates: Sequence[Candidate], top_n: int) -> tuple[Candidate, ...]:
    """The first `top_n` candidates whose text differs: the same passage in two collections counts once."""
    seen: set[str] = set()
    kept: list[Candidate] = []
    for candidate in candidates:
        key = candidate.chunk.content_hash or candidate.chunk.text
        if key not in seen:
            seen.add(key)
            kept.append(candidate)
        if len(kept) == top_n:
            break
    return tuple(kept)


class AnswerRun:
    """Streams the answer text once (`stream`), then gives the finished Answer (`answer`) and all timings."""

    def __init__(self, question: str, search: SearchResult, language: str | None,
                 generator: Callable[[], Generator | None], top_n: int = 3, *,
                 history: Sequence[Turn] = (), warnings: Sequence[str] = (),
                 requested_language: str | None = None, prompt: Prompt | None = None) -> None:
        self.question = question
        self.search = search
        self.search_query = search.query
        self.language = language or search.query_language
        self.requested_language = requested_language
        self.passages: tuple[Candidate, ...] = distinct_passages(search.candidates, top_n)
        self.timings_ms = dict(search.timings_ms)
        self.warnings = [*warnings, *search.warnings]
        self._generator = generator
        self._prompt = prompt or (lambda passages, lang: build_messages(question, passages, lang, history))
        self._mode = "extractive"
        self._model = EXTRACTIVE_MODEL
        self._text: list[str] = []

    def stream(self) -> Iterator[str]:
        """The answer as it is written: generated, or extractive when there is no LLM or it fails."""
        start = time.perf_counter()
        try:
            yield from self._pieces()
        finally:
            self.timings_ms["llm"] = (time.perf_counter() - start) * 1000
            self.timings_ms["total"] = self.search.timings_ms.get("total", 0.0) + self.timings_ms["llm"]

    def _pieces(self) -> Iterator[str]:
        """Generated pieces, or the extractive answer after a warning."""
        if not self.passages:
            yield self._keep(NO_PASSAGES)
            return
        try:
            generator = self._generator()
        except PolydeskError as exc:
            self.warnings.append(f"No language model, showing the passages instead: {exc}")
            generator = None
        if generator is None and self._needs_translation():
            self.warnings.append(
                f"The answer cannot be written in {language_name(self.requested_language)}: the language model is "
                "off (POLYDESK_LLM=off) or not configured, so the passages are quoted as written. Set "
                "POLYDESK_LLM_URL (or POLYDESK_LLM=auto with a local model) for answers in any language.")
        if generator is not None:
            try:
                yield from self._generated(generator)
                if self._text:
                    return
                self.warnings.append(EMPTY_GENERATION)
            except BackendUnavailable as exc:
                self.warnings.append(f"The language model failed, showing the passages instead: {exc}")
                if self._text:
                    yield self._keep("\n\n---\n\n")
        self._mode, self._model = "extractive", EXTRACTIVE_MODEL
        yield self._keep(extractive_answer(self.question, self.passages, self.language))

    def _generated(self, generator: Generator) -> Iterator[str]:
        """The model's pieces without thinking blocks; nothing is kept until a piece with visible text comes."""
        start = time.perf_counter()
        think = ThinkFilter()
        held = ""
        for piece in generator.stream(self._prompt(self.passages, self.language)):
            text = think.feed(piece)
            if not self._text:
                held += text
                if not held.strip():
                    continue
                text, held = held.lstrip(), ""
                self.timings_ms["llm_first_token"] = (time.perf_counter() - start) * 1000
                self._mode, self._model = "generated", generator.model_id
            yield self._keep(text)
        rest = held + think.flush()
        if rest.strip():
            if not self._text:
                self._mode, self._model = "generated", generator.model_id
            yield self._keep(rest if self._text else rest.strip())

    def _needs_translation(self) -> bool:
        """True when an answer language was chosen and a passage is written in another one."""
        wanted = (self.requested_language or "").split("-")[0].lower()
        return bool(wanted) and any((c.chunk.language or "").split("-")[0].lower() != wanted for c in self.passages)

    def _keep(self, piece: str) -> str:
        """Remember a piece of the text and pass it on."""
        self._text.append(piece)
        return piece

    def answer(self) -> Answer:
        """The finished answer; streams it first if nobody has."""
        if not self._text:
            for _ in self.stream():
                pass
        text = "".join(self._text)
        return finish_answer(text, self.language, self.passages, self._mode, self._model, self.warnings,
                             search_query=self.search_query)
