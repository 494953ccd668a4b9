"""Answers kept by older versions (tables "feedback": Ask page ratings; "api_answers": API answers), read anew."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, MetaData, Table, inspect, select

from core.answers.answer_record import ASK_PAGE, LoggedAnswer, LoggedPassage, best_rerank_score

OLD_TABLES = ("api_answers", "feedback")
API_COPY = "api-"  # the answer_id prefix under which the API copied its rated answers into "feedback"
OLD_API_ORIGIN = "api"  # a copied API rating whose api_answers row is gone: the key's name was not kept


def old_answers(connection: Connection) -> Iterator[LoggedAnswer]:
    """Every answer of the old tables present, once: an API rating copied into "feedback" is read from api_answers."""
    tables = _old_tables(connection)
    api_ids: set[str] = set()
    if "api_answers" in tables:
        for row in _rows(connection, tables["api_answers"]):
            api_ids.add(row["answer_id"])
            yield _from_api_answer(row)
    if "feedback" in tables:
        for row in _rows(connection, tables["feedback"]):
            kept_id = row.get("answer_id")
            if kept_id and kept_id.startswith(API_COPY) and kept_id.removeprefix(API_COPY) in api_ids:
                continue
            yield _from_feedback(row)


def drop_old_tables(connection: Connection) -> None:
    """Drop the old tables once their answers are in the log (in the same transaction), so opening again is a no-op."""
    for table in _old_tables(connection).values():
        table.drop(connection)


def _old_tables(connection: Connection) -> dict[str, Table]:
    """The old tables this database has, as they are (columns were added over time)."""
    present = set(inspect(connection).get_table_names())
    metadata = MetaData()
    return {name: Table(name, metadata, autoload_with=connection) for name in OLD_TABLES if name in present}


def _rows(connection: Connection, table: Table) -> list[dict[str, Any]]:
    """A table's rows as dicts, oldest first."""
    return [dict(row._mapping) for row in connection.execute(select(table).order_by(table.c.created_at))]


def _from_api_answer(row: Mapping[str, Any]) -> LoggedAnswer:
    """An answer of the API's own table: its key, kind, mode, models and rating were kept."""
    passages = _cited_passages(row["citations"])
    models = _json(row["models"])
    return LoggedAnswer(
        answer_id=row["answer_id"], origin=row["key_name"], kind=row["kind"], question=row["question"],
        answer_text=row["answer_text"], language=row["answer_language"], mode=row["mode"],
        model=models.get("llm", row["mode"]), collections=tuple(_json(row["collections"])), passages=passages,
        models=models, timings_ms=_json(row["timings_ms"]), answered=bool(passages),
        best_rerank_score=best_rerank_score(passages), rating=row["rating"], comment=row["comment"] or "",
        created_at=_utc(row["created_at"]))


def _from_feedback(row: Mapping[str, Any]) -> LoggedAnswer:
    """A rated answer of the old feedback table: cited passages only, no mode; the oldest rows have no answer_id."""
    passages = _cited_passages(row["citations"])
    kept_id = row.get("answer_id") or f"feedback-{row['id']}"
    best = row.get("best_rerank_score")
    return LoggedAnswer(
        answer_id=kept_id, origin=OLD_API_ORIGIN if kept_id.startswith(API_COPY) else ASK_PAGE, kind="answer",
        question=row["question"], answer_text=row["answer_text"], language=row["answer_language"], mode="",
        model=row["llm_model"], collections=tuple(_json(row["collections"])), passages=passages,
        models={"embedding": row["embedding_model"], "reranker": row["reranker_model"], "llm": row["llm_model"]},
        timings_ms=_json(row["timings_ms"]), answered=bool(passages),
        best_rerank_score=best_rerank_score(passages) if best is None else best, rating=row["rating"],
        comment=row["comment"] or "", created_at=_utc(row["created_at"]))


def _cited_passages(citations: Any) -> tuple[LoggedPassage, ...]:
    """The old citation records (marker, chunk, scores and ranks; no link) as cited passages."""
    return tuple(LoggedPassage(
        marker=c["marker"], cited=True, chunk_id=c["chunk_id"], collection=c["collection"], source=c["source"],
        anchor=c["anchor"], location=c["source"], url="", language=c.get("language"),
        rerank_score=c.get("rerank_score"), rerank_rank=c.get("rerank_rank"), fused_rank=c.get("fused_rank", 0),
        dense_rank=c.get("dense_rank"), lexical_rank=c.get("lexical_rank")) for c in _json(citations))


def _json(value: Any) -> Any:
    """A JSON column's value: decoded already, or text where the reflected column type is not JSON."""
    return json.loads(value) if isinstance(value, str) else value


def _utc(value: datetime | str) -> datetime:
    """A stored timestamp in UTC; SQLite gives naive datetimes (written in UTC), or text where reflected so."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
