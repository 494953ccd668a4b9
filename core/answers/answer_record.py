"""What the answer log keeps of one answer and its passages, and the rules a rating follows."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.types import Answer, Candidate

ASK_PAGE = "ask page"  # the origin of the Ask page's answers; API answers carry their key's name
KINDS = ("answer", "reply", "chat")
RATINGS = (1, -1)
MAX_COMMENT_CHARS = 2000
MAX_ID_CHARS = 64


@dataclass(frozen=True)
class LoggedPassage:
    """One passage sent to the LLM (or quoted): where it is, its link, whether the answer cites it, its ranks."""

    marker: int
    cited: bool
    chunk_id: str
    collection: str
    source: str
    anchor: str
    location: str
    url: str
    language: str | None
    rerank_score: float | None
    rerank_rank: int | None
    fused_rank: int
    dense_rank: int | None
    lexical_rank: int | None

    @classmethod
    def from_candidate(cls, marker: int, candidate: Candidate, cited: bool) -> LoggedPassage:
        """Keep the identifying fields, the link and the ranking evidence of a passage, not its text."""
        chunk = candidate.chunk
        return cls(marker=marker, cited=cited, chunk_id=chunk.id, collection=candidate.collection,
                   source=chunk.source, anchor=chunk.anchor, location=chunk.location, url=chunk.url,
                   language=chunk.language, rerank_score=candidate.rerank_score, rerank_rank=candidate.rerank_rank,
                   fused_rank=candidate.fused_rank, dense_rank=candidate.dense_rank,
                   lexical_rank=candidate.lexical_rank)


@dataclass(frozen=True)
class LoggedAnswer:
    """One answer as given: who asked (origin) and how (kind), what was answered from what, and its rating."""

    answer_id: str
    origin: str
    kind: str
    question: str
    answer_text: str
    language: str | None
    mode: str  # "generated" | "extractive" | "" for answers kept before the log recorded it
    model: str
    collections: tuple[str, ...]
    passages: tuple[LoggedPassage, ...]
    models: dict[str, str]
    timings_ms: dict[str, float]
    search_query: str = ""
    warnings: tuple[str, ...] = ()
    answered: bool = True  # answered from the documents: at least one passage cited
    best_rerank_score: float | None = None  # the best rerank score of the passages sent
    rating: int | None = None
    comment: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        """Reject what the log cannot keep; normalise sequences, timings and the timestamp to UTC."""
        if not 0 < len(self.answer_id) <= MAX_ID_CHARS:
            raise ValueError(f"answer_id must have 1 to {MAX_ID_CHARS} characters, got {self.answer_id!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        check_rating(self.rating, self.comment, unrated=True)
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware, e.g. datetime.now(UTC)")
        timings = {str(stage): float(ms) for stage, ms in self.timings_ms.items()}
        bad = [stage for stage, ms in timings.items() if not math.isfinite(ms)]
        if bad:
            raise ValueError(f"timings_ms must be finite numbers; not finite: {', '.join(bad)}")
        object.__setattr__(self, "timings_ms", timings)
        object.__setattr__(self, "models", dict(self.models))
        for name in ("collections", "passages", "warnings"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "created_at", self.created_at.astimezone(UTC))

    @classmethod
    def from_answer(cls, answer_id: str, origin: str, kind: str, question: str, answer: Answer,
                    collections: Sequence[str], models: Mapping[str, str],
                    timings_ms: Mapping[str, float]) -> LoggedAnswer:
        """A finished answer as the log keeps it; models maps roles ("embedding", "reranker", "llm") to model ids."""
        cited = {c.marker for c in answer.citations}
        passages = tuple(LoggedPassage.from_candidate(marker, candidate, marker in cited)
                         for marker, candidate in enumerate(answer.passages, start=1))
        return cls(answer_id=answer_id, origin=origin, kind=kind, question=question, answer_text=answer.text,
                   language=answer.language, mode=answer.mode, model=answer.model, collections=tuple(collections),
                   passages=passages, models=dict(models), timings_ms=dict(timings_ms),
                   search_query=answer.search_query, warnings=answer.warnings,
                   answered=answered_from_documents(answer), best_rerank_score=best_rerank_score(passages))


def answered_from_documents(answer: Answer) -> bool:
    """Whether the answer rests on a passage: it cites one (an extractive answer cites each passage it quotes; one
    with no passage found, or a generated one citing none, as the prompt asks when the documents lack the answer,
    cites nothing)."""
    return bool(answer.citations)


def best_rerank_score(passages: Sequence[LoggedPassage]) -> float | None:
    """The best rerank score among the passages, None if none was reranked."""
    scores = [p.rerank_score for p in passages if p.rerank_score is not None]
    return max(scores) if scores else None


def check_rating(rating: int | None, comment: str, unrated: bool = False) -> None:
    """ValueError for a rating other than +1/-1 (None too, unless unrated is allowed) or an over-long comment."""
    if not (unrated and rating is None) and (type(rating) is not int or rating not in RATINGS):
        raise ValueError(f"rating must be +1 (thumbs up) or -1 (thumbs down), got {rating!r}")
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValueError(f"A comment can have at most {MAX_COMMENT_CHARS} characters, this one has "
                         f"{len(comment)}: shorten it.")


