"""Thumbs up/down feedback on answers, one rating per answer, kept in any SQLAlchemy database (SQLite by default)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
    make_url,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, Row
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError

from core.errors import BackendUnavailable, ConfigError
from core.types import Answer, Citation

MAX_COMMENT_CHARS = 2000
RATINGS = (1, -1)
MODEL_ROLES = ("embedding", "reranker", "llm")
URL_SETTING = "POLYDESK_DATABASE_URL"
URL_EXAMPLES = "sqlite:///data/polydesk.db or postgresql+psycopg://user:password@host:5432/polydesk"
CONNECT_TIMEOUT_S = 10

metadata = MetaData()
feedback_table = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("rating", SmallInteger, nullable=False),
    Column("question", Text, nullable=False),
    Column("answer_text", Text, nullable=False),
    Column("answer_language", String(64), nullable=True),
    Column("collections", JSON, nullable=False),
    Column("citations", JSON, nullable=False),
    Column("embedding_model", Text, nullable=False),
    Column("reranker_model", Text, nullable=False),
    Column("llm_model", Text, nullable=False),
    Column("timings_ms", JSON, nullable=False),
    Column("comment", Text, nullable=False),
    Column("answer_id", String(64), nullable=True),  # added later: rows of older databases have none
    Column("best_rerank_score", Float, nullable=True),  # the best score of the passages sent to the LLM
    CheckConstraint("rating IN (-1, 1)", name="ck_feedback_rating"),
    Index("ix_feedback_created_at", "created_at"),
)
answer_id_index = Index("ux_feedback_answer_id", feedback_table.c.answer_id, unique=True)
ADDED_COLUMNS = {"answer_id": "VARCHAR(64)", "best_rerank_score": "FLOAT"}  # added to older databases on open


@dataclass(frozen=True)
class CitedPassage:
    """What feedback keeps of one citation: its marker, the chunk it points to, and its scores and ranks."""

    marker: int
    chunk_id: str
    collection: str
    source: str
    anchor: str
    language: str | None
    rerank_score: float | None
    dense_rank: int | None
    lexical_rank: int | None
    fused_rank: int
    rerank_rank: int | None

    @classmethod
    def from_citation(cls, citation: Citation) -> CitedPassage:
        """Keep the identifying fields and the ranking evidence of a citation, not the passage text."""
        candidate = citation.candidate
        return cls(
            marker=citation.marker,
            chunk_id=candidate.chunk.id,
            collection=candidate.collection,
            source=candidate.chunk.source,
            anchor=candidate.chunk.anchor,
            language=candidate.chunk.language,
            rerank_score=candidate.rerank_score,
            dense_rank=candidate.dense_rank,
            lexical_rank=candidate.lexical_rank,
            fused_rank=candidate.fused_rank,
            rerank_rank=candidate.rerank_rank,
        )


@dataclass(frozen=True)
class FeedbackEntry:
    """One rating of one answer, with what is needed to reproduce and diagnose it; id is None until stored."""

    question: str
    answer_text: str
    answer_language: str | None
    citations: tuple[CitedPassage, ...]
    collections: tuple[str, ...]
    embedding_model: str
    reranker_model: str
    llm_model: str
    timings_ms: dict[str, float]
    rating: int
    comment: str = ""
    answer_id: str | None = None  # a second rating of the same answer replaces the first
    best_rerank_score: float | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: int | None = None

    def __post_init__(self) -> None:
        """Reject bad ratings and over-long comments; normalise sequences, timings and the timestamp."""
        if type(self.rating) is not int or self.rating not in RATINGS:
            raise ValueError(f"rating must be +1 (thumbs up) or -1 (thumbs down), got {self.rating!r}")
        if len(self.comment) > MAX_COMMENT_CHARS:
            raise ValueError(f"A feedback comment can have at most {MAX_COMMENT_CHARS} characters, this one has "
                             f"{len(self.comment)}: shorten it.")
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware, e.g. datetime.now(UTC)")
        timings = {str(stage): float(ms) for stage, ms in self.timings_ms.items()}
        bad = [stage for stage, ms in timings.items() if not math.isfinite(ms)]
        if bad:
            raise ValueError(f"timings_ms must be finite numbers; not finite: {', '.join(bad)}")
        object.__setattr__(self, "timings_ms", timings)
        object.__setattr__(self, "citations", tuple(self.citations))
        object.__setattr__(self, "collections", tuple(self.collections))
        object.__setattr__(self, "created_at", self.created_at.astimezone(UTC))

    @classmethod
    def from_answer(cls, question: str, answer: Answer, collections: Sequence[str], models: Mapping[str, str],
                    timings_ms: Mapping[str, float], rating: int, comment: str = "",
                    answer_id: str | None = None) -> FeedbackEntry:
        """Feedback on a finished answer; models maps "embedding", "reranker" and optionally "llm" to model ids."""
        unknown = sorted(set(models) - set(MODEL_ROLES))
        missing = [role for role in ("embedding", "reranker") if role not in models]
        if unknown or missing:
            raise ValueError(f"models must map {', '.join(MODEL_ROLES)} to model ids (llm defaults to the "
                             f"answer's model); unknown: {unknown or 'none'}, missing: {missing or 'none'}")
        return cls(
            question=question,
            answer_text=answer.text,
            answer_language=answer.language,
            citations=tuple(CitedPassage.from_citation(c) for c in answer.citations),
            collections=tuple(collections),
            embedding_model=models["embedding"],
            reranker_model=models["reranker"],
            llm_model=models.get("llm", answer.model),
            timings_ms=dict(timings_ms),
            rating=rating,
            comment=comment,
            answer_id=answer_id,
            best_rerank_score=best_rerank_score(answer),
        )


def best_rerank_score(answer: Answer) -> float | None:
    """The best rerank score among the passages sent to the LLM (or cited, for older answers), None if unscored."""
    candidates = [*answer.passages, *(c.candidate for c in answer.citations)]
    scores = [c.rerank_score for c in candidates if c.rerank_score is not None]
    return max(scores) if scores else None


class FeedbackStore:
    """Feedback in one database: one engine per store, a connection per call, safe across threads and processes."""

    def __init__(self, url: str) -> None:
        parsed = _parse_url(url)
        self.location = parsed.render_as_string(hide_password=True)
        self._engine = _open_engine(parsed, self.location)
        with self._database_errors():
            metadata.create_all(self._engine)
            self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Bring a database made by an older version up to date: new nullable columns, the answer id index."""
        with self._engine.begin() as connection:
            present = {column["name"] for column in inspect(connection).get_columns("feedback")}
            for name, sql_type in ADDED_COLUMNS.items():
                if name not in present:
                    connection.execute(text(f"ALTER TABLE feedback ADD COLUMN {name} {sql_type}"))
            answer_id_index.create(connection, checkfirst=True)

    def record(self, entry: FeedbackEntry) -> int:
        """Store one entry and return its id; a rating of an answer already rated replaces the earlier one."""
        values = asdict(entry)
        values.pop("id")
        with self._database_errors():
            try:
                return self._write(values)
            except IntegrityError:  # another writer rated the same answer at the same moment: replace theirs
                if entry.answer_id is None:
                    raise
                return self._write(values)

    def _write(self, values: dict[str, Any]) -> int:
        """Update the row of this answer id, or insert a new one; returns the row's id."""
        with self._engine.begin() as connection:
            if values["answer_id"] is not None:
                same = feedback_table.c.answer_id == values["answer_id"]
                found = connection.execute(select(feedback_table.c.id).where(same)).scalar_one_or_none()
                if found is not None:
                    connection.execute(update(feedback_table).where(same).values(**values))
                    return int(found)
            result = connection.execute(insert(feedback_table).values(**values))
            return int(result.inserted_primary_key[0])

    def recent(self, limit: int = 50) -> list[FeedbackEntry]:
        """The newest entries first (by timestamp, then id)."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        query = (select(feedback_table)
                 .order_by(feedback_table.c.created_at.desc(), feedback_table.c.id.desc())
                 .limit(limit))
        with self._database_errors(), self._engine.connect() as connection:
            return [_entry(row) for row in connection.execute(query)]

    def close(self) -> None:
        """Close the pooled connections; the store opens new ones if used again."""
        self._engine.dispose()

    @contextmanager
    def _database_errors(self) -> Iterator[None]:
        """Turn driver errors (server down, file unreadable, bad credentials) into BackendUnavailable."""
        try:
            yield
        except DBAPIError as exc:
            raise BackendUnavailable(
                f"The feedback database {self.location} ({URL_SETTING}) cannot be used: {exc.orig}. Check that "
                f"the server is running and the credentials are right, or that the SQLite file and its folder "
                f"are writable; or set {URL_SETTING} to another database, e.g. {URL_EXAMPLES}.") from exc


def _parse_url(url: str) -> URL:
    """A SQLAlchemy URL, or ConfigError naming the setting with an example."""
    try:
        return make_url(url)
    except ArgumentError:
        shown = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
        raise ConfigError(f"{URL_SETTING}={shown!r} is not a database URL: use e.g. {URL_EXAMPLES}.") from None


def _open_engine(url: URL, location: str) -> Engine:
    """An engine for the URL; SQLite gets its folder created, servers a connect timeout and pre-ping."""
    backend = url.get_backend_name()
    options: dict[str, Any] = {}
    if backend == "sqlite":
        _prepare_sqlite_folder(url, location)
    else:
        options["pool_pre_ping"] = True  # a long-running app outlives server restarts
    if backend == "postgresql":
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    try:
        return create_engine(url, **options)
    except NoSuchModuleError:
        raise ConfigError(f"{URL_SETTING}={location!r}: SQLAlchemy has no database dialect or driver "
                          f"{url.drivername!r}. Fix the scheme, e.g. {URL_EXAMPLES}.") from None
    except ImportError as exc:
        raise ConfigError(f"{URL_SETTING}={location!r} needs the database driver module {exc.name or str(exc)!r}, "
                          f"which is not installed: pip install the package that provides it (for PostgreSQL "
                          f"'psycopg[binary]' with postgresql+psycopg://...), or name an installed driver in the "
                          f"URL.") from None


def _prepare_sqlite_folder(url: URL, location: str) -> None:
    """Create the folder of a SQLite file; an in-memory database is refused (each thread would get its own)."""
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        raise ConfigError(f"{URL_SETTING}={location!r} is an in-memory SQLite database: it is lost on restart "
                          f"and not shared between the app's threads. Use a file, e.g. sqlite:///data/polydesk.db.")
    if database.startswith("file:"):  # SQLite URI filenames: left to SQLite
        return
    folder = Path(database).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{URL_SETTING}={location!r}: cannot create the folder {folder} ({exc.strerror}). "
                          f"Point it at a writable place, e.g. sqlite:///data/polydesk.db.") from exc


def _entry(row: Row[Any]) -> FeedbackEntry:
    """A stored row as an entry; SQLite returns naive datetimes, which were written in UTC."""
    values = row._asdict()
    created_at: datetime = values["created_at"]
    values["created_at"] = created_at.replace(tzinfo=UTC) if created_at.tzinfo is None else created_at
    values["citations"] = tuple(CitedPassage(**c) for c in values["citations"])
    values["collections"] = tuple(values["collections"])
    return FeedbackEntry(**values)
