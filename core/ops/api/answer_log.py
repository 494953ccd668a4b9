"""Every answer the API gives, kept with the key that asked, so that feedback can rate it (once, changeably)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime

from sqlalchemy import JSON, Column, DateTime, MetaData, SmallInteger, String, Table, Text, insert, select, update

from core.answers.feedback import MAX_COMMENT_CHARS, CitedPassage, FeedbackEntry, _open_engine, _parse_url
from core.types import Answer

metadata = MetaData()
api_answers = Table(
    "api_answers", metadata,
    Column("answer_id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("key_name", String(100), nullable=False),
    Column("kind", String(16), nullable=False),  # "answer" | "reply" | "chat"
    Column("question", Text, nullable=False),
    Column("answer_text", Text, nullable=False),
    Column("answer_language", String(64), nullable=True),
    Column("mode", String(16), nullable=False),
    Column("collections", JSON, nullable=False),
    Column("citations", JSON, nullable=False),
    Column("models", JSON, nullable=False),
    Column("timings_ms", JSON, nullable=False),
    Column("rating", SmallInteger, nullable=True),
    Column("comment", Text, nullable=False, default=""),
)


class AnswerLog:
    """API answers in the POLYDESK_DATABASE_URL database, table api_answers."""

    def __init__(self, url: str) -> None:
        parsed = _parse_url(url)
        self._engine = _open_engine(parsed, parsed.render_as_string(hide_password=True))
        metadata.create_all(self._engine)

    def record(self, key_name: str, kind: str, question: str, answer: Answer, collections: Sequence[str],
               models: Mapping[str, str], timings_ms: Mapping[str, float]) -> str:
        """Keep one answer and return its new answer_id."""
        answer_id = uuid.uuid4().hex
        citations = [asdict(CitedPassage.from_citation(c)) for c in answer.citations]
        with self._engine.begin() as connection:
            connection.execute(insert(api_answers).values(
                answer_id=answer_id, created_at=datetime.now(UTC), key_name=key_name, kind=kind, question=question,
                answer_text=answer.text, answer_language=answer.language, mode=answer.mode,
                collections=list(collections), citations=citations, models=dict(models),
                timings_ms={k: round(float(v), 2) for k, v in timings_ms.items()}, comment=""))
        return answer_id

    def rate(self, answer_id: str, rating: int, comment: str = "") -> bool:
        """Set (or replace) the rating and comment of an answer; False when there is no such answer."""
        if rating not in (1, -1):
            raise ValueError(f"rating must be 1 or -1, got {rating!r}")
        if len(comment) > MAX_COMMENT_CHARS:
            raise ValueError(f"A comment can have at most {MAX_COMMENT_CHARS} characters.")
        with self._engine.begin() as connection:
            result = connection.execute(update(api_answers).where(api_answers.c.answer_id == answer_id)
                                        .values(rating=rating, comment=comment))
        return result.rowcount == 1

    def get(self, answer_id: str) -> dict | None:
        """One logged answer as plain data, or None."""
        with self._engine.connect() as connection:
            row = connection.execute(select(api_answers).where(api_answers.c.answer_id == answer_id)).first()
        return None if row is None else row._asdict()

    def feedback_entry(self, answer_id: str) -> FeedbackEntry | None:
        """A rated answer as the feedback review keeps it (the Ask page's ratings table), or None if unrated."""
        row = self.get(answer_id)
        if row is None or row["rating"] is None:
            return None
        citations = tuple(CitedPassage(**c) for c in row["citations"])
        scores = [c.rerank_score for c in citations if c.rerank_score is not None]
        models = row["models"]
        return FeedbackEntry(
            question=row["question"], answer_text=row["answer_text"], answer_language=row["answer_language"],
            citations=citations, collections=tuple(row["collections"]), embedding_model=models.get("embedding", ""),
            reranker_model=models.get("reranker", ""), llm_model=models.get("llm", row["mode"]),
            timings_ms=row["timings_ms"], rating=row["rating"], comment=row["comment"],
            answer_id=f"api-{answer_id}", best_rerank_score=max(scores) if scores else None)

    def close(self) -> None:
        """Release the engine's connections."""
        self._engine.dispose()
