"""The answer log: every answer and its one changeable rating in a real SQLite file, older databases read in on
open, concurrent writers (threads and processes) losing nothing, and clear errors for bad URLs and input."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.answers.answer_log import AnswerLog
from core.answers.answer_record import ASK_PAGE, MAX_COMMENT_CHARS, LoggedAnswer, LoggedPassage
from core.answers.finish import finish_answer
from core.answers.run import NO_PASSAGES
from core.errors import BackendUnavailable, ConfigError
from core.types import Answer, Candidate, Chunk

MODELS = {"embedding": "Qwen/Qwen3-Embedding-0.6B", "reranker": "Qwen/Qwen3-Reranker-0.6B", "llm": "Qwen/Qwen3-8B"}
TIMINGS = {"embed": 12.5, "dense": 3.25, "lexical": 1.0, "rerank": 250.75, "generate": 1800.0}
ROOT = Path(__file__).resolve().parents[1]


def chunk(id: str, source: str, anchor: str, language: str | None, url: str = "") -> Chunk:
    """A stored passage as the ingest run makes it."""
    return Chunk(id=id, text=f"Guide > Tokens\n\nPassage {id}", source=source, title="Guide",
                 heading_path=("Guide", "Tokens"), anchor=anchor, language=language, index=3,
                 content_hash=f"hash-{id}", token_count=42, kind="prose", url=url)


def candidates() -> tuple[Candidate, ...]:
    """Three passages sent to the LLM: fully ranked, missed by the dense leg, and one ranked low."""
    return (
        Candidate(chunk("c-1", "auth/tokens.md", "refresh", "ja", "https://docs.parcelio.test/auth/tokens#refresh"),
                  collection="parcelio", dense_score=0.81, dense_rank=1, lexical_score=7.5, lexical_rank=2,
                  fused_score=0.032, fused_rank=1, rerank_score=0.97, rerank_rank=1),
        Candidate(chunk("c-9", "api/openapi.yaml", "post-token-refresh", None), collection="parcelio-api",
                  lexical_score=3.0, lexical_rank=5, fused_score=0.015, fused_rank=7, rerank_score=0.41,
                  rerank_rank=2),
        Candidate(chunk("c-4", "webhooks.md", "retries", "en"), collection="parcelio", dense_score=0.2, dense_rank=9,
                  fused_score=0.01, fused_rank=9, rerank_score=0.02, rerank_rank=3),
    )


def make_answer(text: str = "Send the refresh token to POST /v1/token/refresh [1][2].",
                language: str | None = "en") -> Answer:
    """A generated answer citing the first two of three passages, made by the real answer finishing."""
    return finish_answer(text, language, candidates(), "generated", "answer-llm", search_query="refresh token")


def entry(question: str = "How do I refresh a token?", answer: Answer | None = None, **changes: object) -> LoggedAnswer:
    """The sample answer as the Ask page logs it, with changes."""
    made = LoggedAnswer.from_answer("answer-1", ASK_PAGE, "answer", question, answer or make_answer(),
                                    ["parcelio", "parcelio-api"], MODELS, TIMINGS)
    return replace(made, **changes)


@pytest.fixture
def log(tmp_path: Path) -> AnswerLog:
    """A log on a fresh SQLite file."""
    opened = AnswerLog(f"sqlite:///{tmp_path / 'polydesk.db'}")
    yield opened
    opened.close()


def test_from_answer_keeps_sent_and_cited_passages_models_and_timings():
    made = entry()
    assert made.rating is None and made.comment == "" and made.answered
    assert (made.origin, made.kind, made.mode, made.model) == (ASK_PAGE, "answer", "generated", "answer-llm")
    assert made.collections == ("parcelio", "parcelio-api") and made.models == MODELS and made.timings_ms == TIMINGS
    assert made.search_query == "refresh token" and made.best_rerank_score == 0.97
    assert made.created_at.utcoffset() == timedelta(0)
    assert [(p.marker, p.cited, p.rerank_score) for p in made.passages] == [(1, True, 0.97), (2, True, 0.41),
                                                                            (3, False, 0.02)]
    assert made.passages[0] == LoggedPassage(
        marker=1, cited=True, chunk_id="c-1", collection="parcelio", source="auth/tokens.md", anchor="refresh",
        location="auth/tokens.md › Tokens", url="https://docs.parcelio.test/auth/tokens#refresh", language="ja",
        rerank_score=0.97, rerank_rank=1, fused_rank=1, dense_rank=1, lexical_rank=2)


def test_what_counts_as_not_answered_from_the_documents():
    uncited = entry(answer=make_answer("The documentation provided does not answer the question."))
    assert not uncited.answered and any("cites no passage" in w for w in uncited.warnings)
    nothing_found = entry(answer=finish_answer(NO_PASSAGES, "en", (), "extractive", "extractive"))
    assert not nothing_found.answered and nothing_found.best_rerank_score is None
    quoted = entry(answer=finish_answer("> Passage c-1", "en", candidates(), "extractive", "extractive"))
    assert quoted.answered and all(p.cited for p in quoted.passages)


@pytest.mark.parametrize("question", ["トークンを更新するにはどうすればよいですか？", "كيف أقوم بتحديث رمز الوصول؟"])
def test_record_and_read_back_every_field(tmp_path, log, question):
    original = entry(question, make_answer(f"{question} → POST /v1/token/refresh [1]", "ja"))
    assert log.record(original) == "answer-1"
    assert log.get("answer-1") == original
    assert log.recent() == [original]
    reopened = AnswerLog(f"sqlite:///{tmp_path / 'polydesk.db'}")  # from the file, not from memory
    try:
        assert reopened.get("answer-1") == original
    finally:
        reopened.close()


def test_stored_as_utc_with_passages_as_json(tmp_path, log):
    tokyo = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=9)))
    log.record(entry(created_at=tokyo))
    got = log.get("answer-1")
    assert got.created_at == tokyo and got.created_at.tzinfo == UTC and got.created_at.hour == 0
    with sqlite3.connect(tmp_path / "polydesk.db") as raw:
        query = "SELECT created_at, json_extract(passages, '$[1].anchor'), json_extract(passages, '$[2].cited') " \
                "FROM answers"
        created, anchor, cited = raw.execute(query).fetchone()
    assert created.startswith("2025-03-01 00:30:15") and anchor == "post-token-refresh" and cited == 0


def test_recording_the_same_answer_again_keeps_the_first(log):
    log.record(entry(question="first"))
    log.record(entry(question="second"))
    assert [e.question for e in log.recent()] == ["first"]
    assert log.get("nope") is None


def test_recent_is_newest_first_and_limited(log):
    base = datetime(2025, 1, 1, tzinfo=UTC)
    for offset in [3, 0, 5, 1, 4, 2]:
        log.record(entry(question=f"q{offset}", answer_id=f"a{offset}", created_at=base + timedelta(minutes=offset)))
    assert [e.question for e in log.recent()] == ["q5", "q4", "q3", "q2", "q1", "q0"]
    assert [e.question for e in log.recent(limit=2)] == ["q5", "q4"]
    with pytest.raises(ValueError, match="at least 1"):
        log.recent(limit=0)


def test_a_rating_changed_twice_leaves_one_rating(tmp_path, log):
    log.record(entry())
    assert log.rate("answer-1", 1)
    assert log.rate("answer-1", -1, "Falta el plazo de caducidad.")
    assert log.rate("answer-1", 1, "Después de todo, correcto.")
    got = log.recent()
    assert [(e.rating, e.comment) for e in got] == [(1, "Después de todo, correcto.")]
    with sqlite3.connect(tmp_path / "polydesk.db") as raw:
        assert raw.execute("SELECT count(*) FROM answers").fetchone() == (1,)
    assert not log.rate("not-logged", 1), "an answer the log never kept cannot be rated"


@pytest.mark.parametrize("rating", [0, 2, -2, True, 1.0, "+1", None])
def test_bad_rating_is_rejected(log, rating):
    log.record(entry())
    with pytest.raises(ValueError, match=r"rating must be \+1 \(thumbs up\) or -1 \(thumbs down\)"):
        log.rate("answer-1", rating)
    assert log.get("answer-1").rating is None


def test_long_comment_bad_kind_naive_time_and_non_finite_timings_are_rejected(log):
    log.record(entry())
    assert log.rate("answer-1", -1, "x" * MAX_COMMENT_CHARS)
    with pytest.raises(ValueError, match=f"at most {MAX_COMMENT_CHARS} characters, this one has 2001: shorten it"):
        log.rate("answer-1", -1, "é" * 2001)
    with pytest.raises(ValueError, match="kind must be one of answer, reply, chat"):
        entry(kind="email")
    with pytest.raises(ValueError, match="timezone-aware"):
        entry(created_at=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="not finite: rerank"):
        entry(timings_ms={"embed": 1.0, "rerank": float("nan")})


def test_review_reads_unrated_answers_not_answered_or_scored_low(log):
    log.record(entry(answer_id="fine"))
    log.record(entry(answer_id="down"))
    log.rate("down", -1, "wrong")
    log.record(entry(answer_id="unanswered", answer=make_answer("The documents do not say.")))
    log.record(entry(answer_id="low", best_rerank_score=0.05))
    assert sorted(e.answer_id for e in log.needing_review(0.3, 100)) == ["down", "low", "unanswered"]
    assert sorted(e.answer_id for e in log.needing_review(0.01, 100)) == ["down", "unanswered"]


def test_concurrent_writes_and_ratings_from_eight_threads(log):
    threads_n, per_thread = 8, 25
    start = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            start.wait(timeout=30)
            for n in range(per_thread):
                log.record(entry(question=f"t{worker}-{n}", answer_id=f"t{worker}-{n}"))
                assert log.rate(f"t{worker}-{n}", 1 if n % 2 else -1)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    got = {e.answer_id: e.rating for e in log.recent(limit=1000)}
    assert got == {f"t{w}-{n}": 1 if n % 2 else -1 for w in range(threads_n) for n in range(per_thread)}


WRITER = """
import sys, time
from pathlib import Path
from core.answers.answer_log import AnswerLog
from tests.test_feedback import entry
url, name, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
log = AnswerLog(url)
while not go.exists():
    time.sleep(0.01)
for n in range(60):
    log.record(entry(question=f"{name}-{n}", answer_id=f"{name}-{n}"))
    assert log.rate(f"{name}-{n}", -1, name)
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    url, go = f"sqlite:///{tmp_path / 'shared.db'}", tmp_path / "go"
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, url, name, str(go)], env=environment,
                                stderr=subprocess.PIPE, text=True) for name in ("ask-page", "api")]
    go.touch()
    for writer in writers:
        _, stderr = writer.communicate(timeout=300)
        assert writer.returncode == 0, stderr
    log = AnswerLog(url)
    try:
        got = {e.answer_id: e.comment for e in log.recent(limit=1000)}
    finally:
        log.close()
    assert got == {f"{name}-{n}": name for name in ("ask-page", "api") for n in range(60)}


def test_default_url_creates_the_data_folder(tmp_path):
    assert not (tmp_path / "data").exists()  # the autouse fixture made tmp_path the working directory
    log = AnswerLog("sqlite:///data/polydesk.db")
    try:
        assert (tmp_path / "data" / "polydesk.db").is_file()
        assert log.get(log.record(entry())).question == "How do I refresh a token?"
    finally:
        log.close()


@pytest.mark.parametrize(("url", "fragment"), [
    ("not a database url", "is not a database URL"),
    ("nosuchdb://host/db", "no database dialect or driver 'nosuchdb'"),
    ("postgresql+nosuchdriver://host/db", "no database dialect or driver 'postgresql+nosuchdriver'"),
    ("sqlite://", "in-memory SQLite database"),
    ("sqlite:///:memory:", "in-memory SQLite database"),
])
def test_bad_urls_name_the_setting_and_a_fix(url, fragment):
    with pytest.raises(ConfigError, match="POLYDESK_DATABASE_URL") as caught:
        AnswerLog(url)
    assert fragment in str(caught.value)
    assert "sqlite:///data/polydesk.db" in str(caught.value)


def test_missing_driver_says_what_to_install_and_hides_the_password():
    if importlib.util.find_spec("psycopg2") is not None:
        pytest.skip("psycopg2 is installed here, so the default PostgreSQL driver is not missing")
    with pytest.raises(ConfigError, match="POLYDESK_DATABASE_URL") as caught:
        AnswerLog("postgresql+psycopg2://agent:s3cret@db.internal/polydesk")
    message = str(caught.value)
    assert "'psycopg2'" in message and "pip install" in message and "s3cret" not in message


def test_sqlite_file_that_cannot_be_opened_is_backend_unavailable(tmp_path):
    (tmp_path / "taken.db").mkdir()  # a folder where the database file should be
    with pytest.raises(BackendUnavailable, match="POLYDESK_DATABASE_URL") as caught:
        AnswerLog(f"sqlite:///{tmp_path / 'taken.db'}")
    assert "unable to open database file" in str(caught.value)


def test_unwritable_parent_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot create the folder"):
        AnswerLog(f"sqlite:///{tmp_path / 'file' / 'sub' / 'polydesk.db'}")


def test_database_rejects_bad_ratings_written_around_the_dataclass(tmp_path, log):
    log.record(entry())
    with sqlite3.connect(tmp_path / "polydesk.db") as raw, pytest.raises(sqlite3.IntegrityError, match="rating"):
        raw.execute("UPDATE answers SET rating = 5")
