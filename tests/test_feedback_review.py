"""The admins' feedback review of the answer log: which answers need attention, by language and collection, and
the CSV; answers nobody rated are reviewed too."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from core.answers.answer_log import AnswerLog
from core.answers.feedback_review import LOW_SCORE, NOT_ANSWERED, RATED_DOWN, counts, review, review_csv
from tests.test_feedback import entry, make_answer


@pytest.fixture
def stored(tmp_path):
    """Four answers in a real SQLite file: fine, rated down (es), unrated and not answered (ar), low-scored (de)."""
    log = AnswerLog(f"sqlite:///{tmp_path / 'polydesk.db'}")
    log.record(entry("How do I refresh a token?", answer_id="fine"))
    log.record(entry("¿Cuánto dura un token?", answer_id="down", language="es"))
    log.rate("down", -1, "No dice la duración.")
    log.record(entry("كيف أحذف خطافًا؟", make_answer("لا تذكر الوثائق ذلك.", "ar"), answer_id="uncited",
                     collections=("webhooks",), origin="zendesk", kind="chat"))
    log.record(entry("Wie lösche ich ein Konto?", answer_id="low", language="de", best_rerank_score=0.05))
    yield log.recent()
    log.close()


def test_each_reason_is_found_and_fine_answers_are_left_out(stored):
    rows = {row.entry.answer_id: row.reasons for row in review(stored)}
    assert rows == {"down": (RATED_DOWN,), "uncited": (NOT_ANSWERED,), "low": (LOW_SCORE,)}
    assert {r.entry.answer_id for r in review(stored, low_score=0.01)} == {"uncited", "down"}


def test_an_unrated_answer_that_could_not_be_answered_is_reviewed(stored):
    [row] = review(stored, reasons=[NOT_ANSWERED])
    assert row.entry.rating is None and row.entry.origin == "zendesk" and row.language == "ar"
    assert row.to_dict()["rating"] == "" and row.to_dict()["kind"] == "chat"


def test_filters_by_reason_language_and_collection(stored):
    assert [r.entry.answer_id for r in review(stored, reasons=[RATED_DOWN])] == ["down"]
    assert {r.entry.answer_id for r in review(stored, languages=["ar", "de"])} == {"low", "uncited"}
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
    first, _, third = row["passages"].split("; ")
    assert first == "[1] auth/tokens.md#refresh (parcelio, 0.970) https://docs.parcelio.test/auth/tokens#refresh"
    assert third == "[3] webhooks.md#retries (parcelio, 0.020) not cited"
    assert row["language"] == "es" and row["rating"] == "👎" and row["origin"] == "ask page"


def test_an_unscored_answer_is_not_low(stored):
    unscored = replace(stored[0], best_rerank_score=None, rating=1, answered=True)
    assert review([unscored]) == []
