"""The admins' feedback review: which rated answers need attention, by language and collection, and the CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from core.answers.feedback import FeedbackStore
from core.answers.feedback_review import LOW_SCORE, NOT_ANSWERED, RATED_DOWN, counts, review, review_csv
from tests.test_feedback import entry


@pytest.fixture
def stored(tmp_path):
    """Four rated answers in a real SQLite file: fine, rated down (es), uncited (ar), low-scored (de)."""
    store = FeedbackStore(f"sqlite:///{tmp_path / 'feedback.db'}")
    store.record(entry(question="How do I refresh a token?", answer_id="fine"))
    store.record(entry(question="¿Cuánto dura un token?", rating=-1, answer_id="down", answer_language="es",
                       comment="No dice la duración."))
    store.record(entry(question="كيف أحذف خطافًا؟", answer_id="uncited", answer_language="ar", citations=(),
                       best_rerank_score=0.8, collections=("webhooks",)))
    store.record(entry(question="Wie lösche ich ein Konto?", answer_id="low", answer_language="de",
                       best_rerank_score=0.05))
    yield store.recent()
    store.close()


def test_each_reason_is_found_and_fine_answers_are_left_out(stored):
    rows = {row.entry.answer_id: row.reasons for row in review(stored)}
    assert rows == {"down": (RATED_DOWN,), "uncited": (NOT_ANSWERED,), "low": (LOW_SCORE,)}
    assert [r.entry.answer_id for r in review(stored, low_score=0.01)] == ["uncited", "down"]


def test_filters_by_reason_language_and_collection(stored):
    assert [r.entry.answer_id for r in review(stored, reasons=[RATED_DOWN])] == ["down"]
    assert [r.entry.answer_id for r in review(stored, languages=["ar", "de"])] == ["low", "uncited"]
    assert [r.entry.answer_id for r in review(stored, collections=["webhooks"])] == ["uncited"]
    with pytest.raises(ValueError, match="Unknown review reasons"):
        review(stored, reasons=["slow"])


def test_counts_by_language_and_collection(stored):
    table = counts(review(stored))
    assert {"language": "ar", "collection": "webhooks", "answers": 1} in table
    assert {"language": "es", "collection": "parcelio-api", "answers": 1} in table
    assert len(table) == 5


def test_csv_keeps_the_question_answer_passages_and_comment(stored):
    rows = list(csv.DictReader(io.StringIO(review_csv(review(stored, reasons=[RATED_DOWN])))))
    assert len(rows) == 1
    row = rows[0]
    assert row["question"] == "¿Cuánto dura un token?" and row["comment"] == "No dice la duración."
    assert row["passages"].startswith("[1] auth/tokens.md#refresh (parcelio, 0.970)")
    assert row["language"] == "es" and row["rating"] == "👎"


def test_an_unscored_answer_is_not_low(stored):
    unscored = replace(stored[0], best_rerank_score=None, rating=1)
    assert review([unscored]) == []
