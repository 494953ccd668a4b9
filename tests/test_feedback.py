"""Feedback round-trips through a real SQLite file, validates its input, and survives concurrent writers."""

from __future__ import annotations

import importlib.util
import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.answers.feedback import MAX_COMMENT_CHARS, CitedPassage, FeedbackEntry, FeedbackStore
from core.errors import BackendUnavailable, ConfigError
from core.types import Answer, Candidate, Chunk, Citation

MODELS = {"embedding": "Qwen/Qwen3-Embedding-0.6B", "reranker": "Qwen/Qwen3-Reranker-0.6B", "llm": "Qwen/Qwen3-8B"}
TIMINGS = {"embed": 12.5, "dense": 3.25, "lexical": 1.0, "rerank": 250.75, "generate": 1800.0}



def stored(store: FeedbackStore, entry_id: int) -> FeedbackEntry | None:
    """The stored entry with this id, read back the way the feedback review reads (newest first)."""
    return next((e for e in store.recent(limit=10_000) if e.id == entry_id), None)

def chunk(id: str, source: str, anchor: str, language: str | None) -> Chunk:
    """A stored passage as the ingest run makes it."""
    return Chunk(id=id, text=f"Guide > Tokens\n\nPassage {id}", source=source, title="Guide",
                 heading_path=("Guide", "Tokens"), anchor=anchor, language=language, index=3,
                 content_hash=f"hash-{id}", token_count=42, kind="prose")


def make_answer(text: str = "Send the refresh token to POST /v1/token/refresh [1][2].",
                language: str | None = "en") -> Answer:
    """An answer citing one fully ranked passage and one the dense leg never found."""
    first = Candidate(chunk(id="c-1", source="auth/tokens.md", anchor="refresh", language="ja"), collection="parcelio",
                      dense_score=0.81, dense_rank=1, lexical_score=7.5, lexical_rank=2, fused_score=0.032,
                      fused_rank=1, rerank_score=0.97, rerank_rank=1)
    second = Candidate(chunk(id="c-9", source="api/openapi.yaml", anchor="post-token-refresh", language=None),
                       collection="parcelio-api", lexical_score=3.0, lexical_rank=5, fused_score=0.015,
                       fused_rank=7, rerank_score=0.41, rerank_rank=2)
    return Answer(text=text, language=language, citations=(Citation(1, first), Citation(2, second)),
                  invalid_markers=(4,), mode="generated", model="answer-llm")


def entry(question: str = "How do I refresh a token?", rating: int = 1, **changes: object) -> FeedbackEntry:
    """Feedback on the sample answer."""
    made = FeedbackEntry.from_answer(question, make_answer(), ["parcelio", "parcelio-api"], MODELS, TIMINGS, rating,
                                     comment="Cited the right page.")
    return replace(made, **changes)


@pytest.fixture
def store(tmp_path: Path) -> FeedbackStore:
    """A store on a fresh SQLite file."""
    opened = FeedbackStore(f"sqlite:///{tmp_path / 'feedback.db'}")
    yield opened
    opened.close()


def test_from_answer_keeps_citations_models_and_timings():
    made = entry(rating=-1)
    assert made.id is None and made.rating == -1
    assert made.answer_text == make_answer().text and made.answer_language == "en"
    assert made.collections == ("parcelio", "parcelio-api")
    assert (made.embedding_model, made.reranker_model, made.llm_model) == tuple(MODELS.values())
    assert made.timings_ms == TIMINGS
    assert made.created_at.tzinfo is not None and made.created_at.utcoffset() == timedelta(0)
    assert made.citations == (
        CitedPassage(marker=1, chunk_id="c-1", collection="parcelio", source="auth/tokens.md", anchor="refresh",
                     language="ja", rerank_score=0.97, dense_rank=1, lexical_rank=2, fused_rank=1, rerank_rank=1),
        CitedPassage(marker=2, chunk_id="c-9", collection="parcelio-api", source="api/openapi.yaml",
                     anchor="post-token-refresh", language=None, rerank_score=0.41, dense_rank=None,
                     lexical_rank=5, fused_rank=7, rerank_rank=2),
    )


def test_llm_model_defaults_to_the_answers_model_and_unknown_roles_are_rejected():
    models = {"embedding": "e", "reranker": "r"}
    made = FeedbackEntry.from_answer("q", make_answer(), ["c"], models, {}, 1)
    assert made.llm_model == "answer-llm"
    with pytest.raises(ValueError, match="unknown: \\['rerank'\\].*missing: \\['reranker'\\]"):
        FeedbackEntry.from_answer("q", make_answer(), ["c"], {"embedding": "e", "rerank": "r"}, {}, 1)


@pytest.mark.parametrize("question", ["トークンを更新するにはどうすればよいですか？", "كيف أقوم بتحديث رمز الوصول؟"])
def test_record_and_read_back_every_field(tmp_path, store, question):
    answer = make_answer(text=f"{question} → POST /v1/token/refresh [1][2]", language="ja")
    original = FeedbackEntry.from_answer(question, answer, ["parcelio", "parcelio-api"], MODELS, TIMINGS, -1,
                                         comment="مرجع خاطئ — 間違った参照")
    new_id = store.record(original)
    assert isinstance(new_id, int)
    expected = replace(original, id=new_id)
    assert stored(store, new_id) == expected
    assert store.recent() == [expected]
    reopened = FeedbackStore(f"sqlite:///{tmp_path / 'feedback.db'}")  # from the file, not from memory
    try:
        assert stored(reopened, new_id) == expected
    finally:
        reopened.close()


def test_stored_as_utc_with_citations_as_json(tmp_path, store):
    tokyo = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=9)))
    new_id = store.record(entry(created_at=tokyo))
    got = stored(store, new_id)
    assert got.created_at == tokyo and got.created_at.tzinfo == UTC and got.created_at.hour == 0
    with sqlite3.connect(tmp_path / "feedback.db") as raw:
        query = "SELECT created_at, json_extract(citations, '$[1].anchor') FROM feedback"
        created, anchor = raw.execute(query).fetchone()
    assert created.startswith("2025-03-01 00:30:15") and anchor == "post-token-refresh"


def test_get_unknown_id_is_none(store):
    assert stored(store, 12345) is None


def test_recent_is_newest_first_and_limited(store):
    base = datetime(2025, 1, 1, tzinfo=UTC)
    offsets = [3, 0, 5, 1, 4, 2]
    ids = {offset: store.record(entry(question=f"q{offset}", created_at=base + timedelta(minutes=offset)))
           for offset in offsets}
    same_time = [store.record(entry(question=f"tie{i}", created_at=base + timedelta(minutes=10))) for i in range(2)]
    got = store.recent()
    assert [e.id for e in got] == same_time[::-1] + [ids[o] for o in sorted(offsets, reverse=True)]
    assert [e.question for e in store.recent(limit=3)] == ["tie1", "tie0", "q5"]
    with pytest.raises(ValueError, match="at least 1"):
        store.recent(limit=0)


@pytest.mark.parametrize("rating", [0, 2, -2, True, 1.0, "+1", None])
def test_bad_rating_is_rejected(store, rating):
    with pytest.raises(ValueError, match=r"rating must be \+1 \(thumbs up\) or -1 \(thumbs down\)"):
        FeedbackEntry.from_answer("q", make_answer(), ["c"], MODELS, TIMINGS, rating)
    assert store.recent() == []


def test_long_comment_is_rejected_with_its_length():
    assert len(entry(comment="x" * MAX_COMMENT_CHARS).comment) == MAX_COMMENT_CHARS
    with pytest.raises(ValueError, match=f"at most {MAX_COMMENT_CHARS} characters, this one has 2001: shorten it"):
        FeedbackEntry.from_answer("q", make_answer(), ["c"], MODELS, TIMINGS, 1, comment="é" * 2001)


def test_naive_timestamps_and_non_finite_timings_are_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        entry(created_at=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="not finite: rerank"):
        FeedbackEntry.from_answer("q", make_answer(), ["c"], MODELS, {"embed": 1.0, "rerank": float("nan")}, 1)


def test_concurrent_writes_from_eight_threads(store):
    threads_n, per_thread = 8, 25
    start = threading.Barrier(threads_n)
    ids: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            start.wait(timeout=30)
            ids[worker] = [store.record(entry(question=f"t{worker}-{n}", rating=1 if n % 2 else -1))
                           for n in range(per_thread)]
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    all_ids = [i for worker_ids in ids.values() for i in worker_ids]
    assert len(all_ids) == threads_n * per_thread == len(set(all_ids))
    newest = store.recent(limit=1000)
    assert len(newest) == threads_n * per_thread
    assert {e.question for e in newest} == {f"t{w}-{n}" for w in range(threads_n) for n in range(per_thread)}
    for worker, worker_ids in ids.items():
        assert [stored(store, i).question for i in worker_ids] == [f"t{worker}-{n}" for n in range(per_thread)]


def test_two_stores_share_one_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = FeedbackStore(url), FeedbackStore(url)
    try:
        a = first.record(entry(question="from first"))
        b = second.record(entry(question="from second"))
        assert a != b
        assert stored(first, b).question == "from second" and stored(second, a).question == "from first"
    finally:
        first.close()
        second.close()


def test_default_url_creates_the_data_folder(tmp_path):
    assert not (tmp_path / "data").exists()  # the autouse fixture made tmp_path the working directory
    store = FeedbackStore("sqlite:///data/polydesk.db")
    try:
        assert (tmp_path / "data" / "polydesk.db").is_file()
        assert stored(store, store.record(entry())).question == "How do I refresh a token?"
    finally:
        store.close()


def test_nested_parent_folders_are_created(tmp_path):
    path = tmp_path / "a" / "b" / "c" / "feedback.db"
    FeedbackStore(f"sqlite:///{path}").close()
    assert path.is_file()


@pytest.mark.parametrize(("url", "fragment"), [
    ("not a database url", "is not a database URL"),
    ("nosuchdb://host/db", "no database dialect or driver 'nosuchdb'"),
    ("postgresql+nosuchdriver://host/db", "no database dialect or driver 'postgresql+nosuchdriver'"),
    ("sqlite://", "in-memory SQLite database"),
    ("sqlite:///:memory:", "in-memory SQLite database"),
])
def test_bad_urls_name_the_setting_and_a_fix(url, fragment):
    with pytest.raises(ConfigError, match="POLYDESK_DATABASE_URL") as caught:
        FeedbackStore(url)
    assert fragment in str(caught.value)
    assert "sqlite:///data/polydesk.db" in str(caught.value)


def test_missing_driver_says_what_to_install_and_hides_the_password():
    if importlib.util.find_spec("psycopg2") is not None:
        pytest.skip("psycopg2 is installed here, so the default PostgreSQL driver is not missing")
    with pytest.raises(ConfigError, match="POLYDESK_DATABASE_URL") as caught:
        FeedbackStore("postgresql+psycopg2://agent:s3cret@db.internal/polydesk")
    message = str(caught.value)
    assert "'psycopg2'" in message and "pip install" in message and "s3cret" not in message


def test_sqlite_file_that_cannot_be_opened_is_backend_unavailable(tmp_path):
    (tmp_path / "taken.db").mkdir()  # a folder where the database file should be
    with pytest.raises(BackendUnavailable, match="POLYDESK_DATABASE_URL") as caught:
        FeedbackStore(f"sqlite:///{tmp_path / 'taken.db'}")
    assert "unable to open database file" in str(caught.value)


def test_unwritable_parent_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot create the folder"):
        FeedbackStore(f"sqlite:///{tmp_path / 'file' / 'sub' / 'feedback.db'}")


def test_database_rejects_bad_ratings_written_around_the_dataclass(tmp_path, store):
    with sqlite3.connect(tmp_path / "feedback.db") as raw, pytest.raises(sqlite3.IntegrityError, match="rating"):
        raw.execute("INSERT INTO feedback (created_at, rating, question, answer_text, collections, citations, "
                    "embedding_model, reranker_model, llm_model, timings_ms, comment) "
                    "VALUES ('2025-01-01 00:00:00', 5, 'q', 'a', '[]', '[]', 'e', 'r', 'l', '{}', '')")


def test_a_second_rating_of_the_same_answer_replaces_the_first(store):
    first = store.record(entry(rating=1, answer_id="answer-1", comment=""))
    other = store.record(entry(rating=1, answer_id="answer-2"))
    again = store.record(entry(rating=-1, answer_id="answer-1", comment="Falta el plazo de caducidad."))
    assert again == first != other
    got = {e.answer_id: e for e in store.recent()}
    assert len(got) == 2 and got["answer-1"].rating == -1
    assert got["answer-1"].comment == "Falta el plazo de caducidad." and got["answer-1"].best_rerank_score == 0.97


def test_a_database_of_the_older_schema_is_upgraded_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE feedback (id INTEGER PRIMARY KEY, created_at DATETIME NOT NULL, rating SMALLINT "
                    "NOT NULL, question TEXT NOT NULL, answer_text TEXT NOT NULL, answer_language VARCHAR(64), "
                    "collections JSON NOT NULL, citations JSON NOT NULL, embedding_model TEXT NOT NULL, "
                    "reranker_model TEXT NOT NULL, llm_model TEXT NOT NULL, timings_ms JSON NOT NULL, "
                    "comment TEXT NOT NULL)")
        raw.execute("INSERT INTO feedback (created_at, rating, question, answer_text, collections, citations, "
                    "embedding_model, reranker_model, llm_model, timings_ms, comment) "
                    "VALUES ('2025-01-01 00:00:00', 1, 'alt', 'a', '[]', '[]', 'e', 'r', 'l', '{}', '')")
    upgraded = FeedbackStore(f"sqlite:///{path}")
    try:
        upgraded.record(entry(answer_id="a-1"))
        upgraded.record(entry(rating=-1, answer_id="a-1"))
        assert sorted((e.question, e.answer_id, e.rating) for e in upgraded.recent()) == [
            ("How do I refresh a token?", "a-1", -1), ("alt", None, 1)]
    finally:
        upgraded.close()
    FeedbackStore(f"sqlite:///{path}").close()  # opening an upgraded database again changes nothing
