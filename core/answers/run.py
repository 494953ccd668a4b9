"""One question answered: hybrid search, then the LLM's streamed answer with citations, degrading visibly."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from core.answers.extractive import extractive_answer
from core.answers.finish import EXTRACTIVE_MODEL, finish_answer
from core.answers.prompt import build_messages
from core.errors import BackendUnavailable, PolydeskError
from core.models.chat import Generator
from core.types import Answer, Candidate, SearchResult

NO_PASSAGES = "No passage of the selected collections matches this question."


class AnswerRun:
    """Streams the answer text once (`stream`), then gives the finished Answer (`answer`) and all timings."""

    def __init__(self, question: str, search: SearchResult, language: str | None,
                 generator: Callable[[], Generator | None], top_n: int = 3) -> None:
        self.question = question
        self.search = search
        self.language = language or search.query_language
        self.passages: tuple[Candidate, ...] = search.candidates[:top_n]
        self.timings_ms = dict(search.timings_ms)
        self.warnings = list(search.warnings)
        self._generator = generator
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
        if generator is not None:
            start = time.perf_counter()
            try:
                for piece in generator.stream(build_messages(self.question, self.passages, self.language)):
                    if not self._text:
                        self.timings_ms["llm_first_token"] = (time.perf_counter() - start) * 1000
                        self._mode, self._model = "generated", generator.model_id
                    yield self._keep(piece)
                return
            except BackendUnavailable as exc:
                self.warnings.append(f"The language model failed, showing the passages instead: {exc}")
                if self._text:
                    yield self._keep("\n\n---\n\n")
        self._mode, self._model = "extractive", EXTRACTIVE_MODEL
        yield self._keep(extractive_answer(self.question, self.passages, self.language))

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
        return finish_answer(text, self.language, self.passages, self._mode, self._model, self.warnings)

