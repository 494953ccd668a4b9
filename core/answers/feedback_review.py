"""The admins' review of feedback: answers rated down, not answered from the documents, or with a low best score."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.answers.feedback import FeedbackEntry

RATED_DOWN = "rated down"
NOT_ANSWERED = "not answered from the documents"
LOW_SCORE = "low rerank score"
REASONS = (RATED_DOWN, NOT_ANSWERED, LOW_SCORE)
DEFAULT_LOW_SCORE = 0.3
NO_LANGUAGE = "unknown"
COLUMNS = ("when", "reasons", "rating", "language", "collections", "question", "answer", "passages",
           "best rerank score", "comment")


@dataclass(frozen=True)
class ReviewRow:
    """One rated answer that needs an admin's eye, and why."""

    entry: FeedbackEntry
    reasons: tuple[str, ...]

    @property
    def language(self) -> str:
        """The question's (and answer's) language code, or "unknown"."""
        return self.entry.answer_language or NO_LANGUAGE

    def to_dict(self) -> dict[str, object]:
        """The row as the page's table and the CSV show it."""
        entry = self.entry
        passages = "; ".join(f"[{c.marker}] {c.source}#{c.anchor} ({c.collection}"
                             f"{'' if c.rerank_score is None else f', {c.rerank_score:.3f}'})" for c in entry.citations)
        score = entry.best_rerank_score
        return dict(zip(COLUMNS, (entry.created_at.strftime("%Y-%m-%d %H:%M"), ", ".join(self.reasons),
                                  "👎" if entry.rating < 0 else "👍", self.language, ", ".join(entry.collections),
                                  entry.question, entry.answer_text, passages,
                                  None if score is None else round(score, 4), entry.comment), strict=True))


def reasons_for(entry: FeedbackEntry, low_score: float = DEFAULT_LOW_SCORE) -> tuple[str, ...]:
    """Why an entry needs review: rated down, no passage cited, or its best passage scored below low_score."""
    found = []
    if entry.rating < 0:
        found.append(RATED_DOWN)
    if not entry.citations:
        found.append(NOT_ANSWERED)
    if entry.best_rerank_score is not None and entry.best_rerank_score < low_score:
        found.append(LOW_SCORE)
    return tuple(found)


def review(entries: Iterable[FeedbackEntry], low_score: float = DEFAULT_LOW_SCORE,
           reasons: Sequence[str] = REASONS, languages: Sequence[str] = (),
           collections: Sequence[str] = ()) -> list[ReviewRow]:
    """The entries with at least one of the wanted reasons, in the chosen languages and collections (empty: all)."""
    unknown = sorted(set(reasons) - set(REASONS))
    if unknown:
        raise ValueError(f"Unknown review reasons {unknown}: choose among {', '.join(REASONS)}.")
    rows = []
    for entry in entries:
        row = ReviewRow(entry, tuple(r for r in reasons_for(entry, low_score) if r in reasons))
        if not row.reasons or (languages and row.language not in languages):
            continue
        if collections and not set(entry.collections) & set(collections):
            continue
        rows.append(row)
    return rows


def counts(rows: Iterable[ReviewRow]) -> list[dict[str, object]]:
    """How many answers need review per language and collection, most first: where documentation is missing."""
    tally = Counter((row.language, collection) for row in rows for collection in row.entry.collections)
    return [{"language": language, "collection": collection, "answers": n}
            for (language, collection), n in sorted(tally.items(), key=lambda item: (-item[1], item[0]))]


def review_csv(rows: Iterable[ReviewRow]) -> str:
    """The rows as CSV with a header line, for a spreadsheet."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(row.to_dict() for row in rows)
    return out.getvalue()
