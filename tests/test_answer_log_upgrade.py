"""Databases written by older versions (tables feedback and api_answers, made here with plain SQL) are read into the
answer log on open, once, in one transaction, and their answers show in the feedback review."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from core.answers.answer_log import AnswerLog
from core.answers.feedback_review import LOW_SCORE, NOT_ANSWERED, RATED_DOWN, review
from core.errors import ConfigError

OLDEST_FEEDBACK = ("CREATE TABLE feedback (id INTEGER PRIMARY KEY, created_at DATETIME NOT NULL, rating SMALLINT "
                   "NOT NULL CHECK (rating IN (-1, 1)), question TEXT NOT NULL, answer_text TEXT NOT NULL, "
                   "answer_language VARCHAR(64), collections JSON NOT NULL, citations JSON NOT NULL, "
                   "embedding_model TEXT NOT NULL, reranker_model TEXT NOT NULL, llm_model TEXT NOT NULL, "
                   "timings_ms JSON NOT NULL, comment TEXT NOT NULL)")
API_ANSWERS = ("CREATE TABLE api_answers (answer_id VARCHAR(32) PRIMARY KEY, created_at DATETIME NOT NULL, "
               "key_name VARCHAR(100) NOT NULL, kind VARCHAR(16) NOT NULL, question TEXT NOT NULL, answer_text TEXT "
               "NOT NULL, answer_language VARCHAR(64), mode VARCHAR(16) NOT NULL, collections JSON NOT NULL, "
               "citations JSON NOT NULL, models JSON NOT NULL, timings_ms JSON NOT NULL, rating SMALLINT, "
               "comment TEXT NOT NULL)")
FEEDBACK_ROW = ("INSERT INTO feedback (created_at, rating, question, answer_text, answer_language, collections, "
                "citations, embedding_model, reranker_model, llm_model, timings_ms, comment{extra}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'emb', 'rer', 'Qwen/Qwen3-8B', '{{\"total\": 812.5}}', ?{marks})")
API_ROW = ("INSERT INTO api_answers VALUES (?, ?, 'zendesk', ?, ?, ?, 'es', ?, '[\"parcelio\"]', ?, "
           "'{\"embedding\": \"emb\", \"reranker\": \"rer\", \"llm\": \"off\"}', '{\"total\": 40.0}', ?, ?)")


def citation(marker: int, score: float | None) -> dict:
    """A citation record as the old tables kept it."""
    return {"marker": marker, "chunk_id": f"c-{marker}", "collection": "parcelio", "source": "auth.md",
            "anchor": "refresh", "language": "es", "rerank_score": score, "dense_rank": 1, "lexical_rank": None,
            "fused_rank": marker, "rerank_rank": marker}


def feedback_row(raw: sqlite3.Connection, when: str, rating: int, question: str, citations: list[dict],
                 comment: str = "", answer_id: str | None = None, best: float | None = None) -> None:
    """One row of the old feedback table; answer_id and best_rerank_score only where the schema has them."""
    newer = answer_id is not None
    sql = FEEDBACK_ROW.format(extra=", answer_id, best_rerank_score" if newer else "", marks=", ?, ?" if newer else "")
    values = [when, rating, question, f"answer to {question}", "es", '["parcelio"]', json.dumps(citations), comment]
    raw.execute(sql, values + ([answer_id, best] if newer else []))


def newer_database(path: Path) -> None:
    """The schema just before the answer log: feedback with answer ids, api_answers, and API ratings copied."""
    with sqlite3.connect(path) as raw:
        raw.execute(OLDEST_FEEDBACK)
        raw.execute("ALTER TABLE feedback ADD COLUMN answer_id VARCHAR(64)")
        raw.execute("ALTER TABLE feedback ADD COLUMN best_rerank_score FLOAT")
        raw.execute("CREATE UNIQUE INDEX ux_feedback_answer_id ON feedback (answer_id)")
        raw.execute(API_ANSWERS)
        feedback_row(raw, "2025-01-01 10:00:00", -1, "¿Cuánto dura un token?", [citation(1, 0.9)],
                     "Falta la duración.", answer_id="5f0c", best=0.95)
        raw.execute(API_ROW, ("ab12", "2025-01-02 10:00:00", "answer", "¿Qué es un webhook?", "No lo sé.",
                              "generated", "[]", None, ""))
        raw.execute(API_ROW, ("cd34", "2025-01-03 10:00:00", "chat", "¿Cómo rastreo un envío?", "Con GET [1].",
                              "generated", json.dumps([citation(1, 0.8)]), -1, "incompleto"))
        feedback_row(raw, "2025-01-03 10:00:01", -1, "¿Cómo rastreo un envío?", [citation(1, 0.8)], "incompleto",
                     answer_id="api-cd34", best=0.8)


def table_names(path: Path) -> set[str]:
    """The tables of a SQLite file."""
    with sqlite3.connect(path) as raw:
        return {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_the_oldest_feedback_rows_are_kept_with_their_rating_and_passages(tmp_path):
    path = tmp_path / "oldest.db"
    with sqlite3.connect(path) as raw:
        raw.execute(OLDEST_FEEDBACK)
        feedback_row(raw, "2025-01-01 00:00:00", 1, "alt", [citation(1, 0.12), citation(2, None)])
    log = AnswerLog(f"sqlite:///{path}")
    try:
        [kept] = log.recent()
    finally:
        log.close()
    assert (kept.answer_id, kept.origin, kept.kind, kept.rating, kept.question) == ("feedback-1", "ask page",
                                                                                    "answer", 1, "alt")
    assert [(p.marker, p.cited, p.rerank_score) for p in kept.passages] == [(1, True, 0.12), (2, True, None)]
    assert kept.best_rerank_score == 0.12 and kept.answered and kept.timings_ms == {"total": 812.5}
    assert kept.models == {"embedding": "emb", "reranker": "rer", "llm": "Qwen/Qwen3-8B"}
    assert table_names(path) == {"answers"}


def test_ratings_and_api_answers_show_in_the_review_once_after_the_upgrade(tmp_path):
    path = tmp_path / "newer.db"
    newer_database(path)
    url = f"sqlite:///{path}"
    log = AnswerLog(url)
    try:
        kept = {e.answer_id: e for e in log.recent()}
        rows = {row.entry.answer_id: row.reasons for row in review(log.needing_review(0.3, 100))}
    finally:
        log.close()
    assert sorted(kept) == ["5f0c", "ab12", "cd34"], "the API rating copied into feedback is not read twice"
    assert (kept["cd34"].origin, kept["cd34"].kind, kept["cd34"].comment) == ("zendesk", "chat", "incompleto")
    assert kept["5f0c"].best_rerank_score == 0.95, "the best score of the passages sent, as the old row kept it"
    assert kept["ab12"].rating is None and not kept["ab12"].answered
    assert rows == {"5f0c": (RATED_DOWN,), "ab12": (NOT_ANSWERED,), "cd34": (RATED_DOWN,)}
    assert LOW_SCORE not in {r for reasons in rows.values() for r in reasons}
    assert table_names(path) == {"answers"}
    again = AnswerLog(url)  # opening an upgraded database again changes nothing
    try:
        assert {e.answer_id: e for e in again.recent()} == kept
    finally:
        again.close()


def test_an_upgrade_that_fails_changes_nothing(tmp_path):
    path = tmp_path / "bad.db"
    newer_database(path)
    with sqlite3.connect(path) as raw:
        raw.execute(API_ROW, ("ef56", "2025-01-04 10:00:00", "e-mail", "q", "a", "generated", "[]", None, ""))
    with pytest.raises(ConfigError, match="kind must be one of answer, reply, chat.*Nothing was changed"):
        AnswerLog(f"sqlite:///{path}")
    assert table_names(path) == {"feedback", "api_answers"}, "the new table and the copies were rolled back"
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT count(*) FROM feedback").fetchone() == (2,)
        assert raw.execute("SELECT count(*) FROM api_answers").fetchone() == (3,)
