"""Every answer given (Ask page and API), with its passages, models and timings, and its one changeable rating."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    Index,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    false,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Row

from core.answers.answer_log_upgrade import drop_old_tables, old_answers
from core.answers.answer_record import MAX_ID_CHARS, LoggedAnswer, LoggedPassage, check_rating
from core.answers.database import URL_SETTING, Database
from core.errors import ConfigError

metadata = MetaData()
answers_table = Table(
    "answers",
    metadata,
    Column("answer_id", String(MAX_ID_CHARS), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("origin", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("question", Text, nullable=False),
    Column("answer_text", Text, nullable=False),
    Column("language", String(64), nullable=True),
    Column("mode", String(16), nullable=False),
    Column("model", Text, nullable=False),
    Column("collections", JSON, nullable=False),
    Column("passages", JSON, nullable=False),
    Column("models", JSON, nullable=False),
    Column("timings_ms", JSON, nullable=False),
    Column("search_query", Text, nullable=False),
    Column("warnings", JSON, nullable=False),
    Column("answered", Boolean, nullable=False),
    Column("best_rerank_score", Float, nullable=True),
    Column("rating", SmallInteger, nullable=True),
    Column("comment", Text, nullable=False),
    CheckConstraint("rating IS NULL OR rating IN (-1, 1)", name="ck_answers_rating"),
    Index("ix_answers_created_at", "created_at"),
)


class AnswerLog:
    """The answers in the POLYDESK_DATABASE_URL database (table "answers"); safe across threads and processes."""

    def __init__(self, url: str) -> None:
        self._database = Database(url)
        self.location = self._database.location
        try:
            with self._database.writing() as connection:  # one transaction: a failed upgrade changes nothing
                metadata.create_all(connection)
                for entry in old_answers(connection):
                    _insert(connection, entry)
                drop_old_tables(connection)
        except ValueError as exc:
            raise ConfigError(f"The database {self.location} ({URL_SETTING}) holds an answer kept by an older "
                              f"version that cannot be read: {exc}. Nothing was changed: correct or delete that "
                              f"row of its feedback or api_answers table, then start again.") from exc

    def record(self, entry: LoggedAnswer) -> str:
        """Keep an answer and return its answer_id; an answer kept already (same id) is left as it is."""
        with self._database.writing() as connection:
            _insert(connection, entry)
        return entry.answer_id

    def rate(self, answer_id: str, rating: int, comment: str = "") -> bool:
        """Set or change the one rating (and comment) of an answer; False when no answer has this id."""
        check_rating(rating, comment)
        with self._database.writing() as connection:
            result = connection.execute(update(answers_table).where(answers_table.c.answer_id == answer_id)
                                        .values(rating=rating, comment=comment))
        return result.rowcount == 1

    def get(self, answer_id: str) -> LoggedAnswer | None:
        """One answer, or None."""
        with self._database.reading() as connection:
            row = connection.execute(select(answers_table).where(answers_table.c.answer_id == answer_id)).first()
        return None if row is None else _entry(row)

    def recent(self, limit: int = 50) -> list[LoggedAnswer]:
        """The newest answers first."""
        return self._newest(None, limit)

    def needing_review(self, low_score: float, limit: int) -> list[LoggedAnswer]:
        """The newest answers rated down, not answered from the documents, or whose best passage scored below
        low_score."""
        table = answers_table.c
        return self._newest(or_(table.rating == -1, table.answered == false(), table.best_rerank_score < low_score),
                            limit)

    def _newest(self, where: Any, limit: int) -> list[LoggedAnswer]:
        """Answers matching `where` (None: all), newest first, at most `limit`."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        query = select(answers_table).order_by(answers_table.c.created_at.desc(), answers_table.c.answer_id)
        if where is not None:
            query = query.where(where)
        with self._database.reading() as connection:
            return [_entry(row) for row in connection.execute(query.limit(limit))]

    def close(self) -> None:
        """Close the pooled connections; the log opens new ones if used again."""
        self._database.close()


def _insert(connection: Connection, entry: LoggedAnswer) -> None:
    """Insert an answer within the caller's write transaction, unless its answer_id is kept already."""
    same = answers_table.c.answer_id == entry.answer_id
    if connection.execute(select(answers_table.c.answer_id).where(same)).first() is None:
        connection.execute(insert(answers_table).values(**_values(entry)))


def _values(entry: LoggedAnswer) -> dict[str, Any]:
    """An answer as the row's column values."""
    values = asdict(entry)
    for name in ("collections", "passages", "warnings"):
        values[name] = list(values[name])
    return values


def _entry(row: Row[Any]) -> LoggedAnswer:
    """A stored row as an answer; SQLite returns naive datetimes, which were written in UTC."""
    values = row._asdict()
    created_at: datetime = values["created_at"]
    values["created_at"] = created_at.replace(tzinfo=UTC) if created_at.tzinfo is None else created_at
    values["passages"] = tuple(LoggedPassage(**p) for p in values["passages"])
    return LoggedAnswer(**values)
