"""The admins' review of the answer log: answers rated down, not answered from the documents, or scored low."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.answers.answer_record import LoggedAnswer, LoggedPassage

RATED_DOWN = "rated down"
NOT_ANSWERED = "not answered from the documents"
LOW_SCORE = "low rerank score"
REASONS = (RATED_DOWN, NOT_ANSWERED, LOW_SCORE)
DEFAULT_LOW_SCORE = 0.3
NO_LANGUAGE = "unknown"
COLUMNS = ("when", "reasons", "rating", "origin", "kind", "language", "collections", "question", "answer",
           "passages", "best rerank score", "comment")
RATING_MARKS = {1: "👍", -1: "👎", None: ""}


@dataclass(frozen=True)
class ReviewRow:
    """One logged answer that needs an admin's eye, and why."""

    entry: LoggedAnswer
    reasons: tuple[str, ...]

    @property
    def language(self) -> str:
        """The question's (and answer's) language code, or "unknown"."""
        return self.entry.language or NO_LANGUAGE

    def to_dict(self) -> dict[str, object]:
        """The row as the page's table and the CSV show it."""
        entry = self.entry
        score = entry.best_rerank_score
        return dict(zip(COLUMNS, (entry.created_at.strftime("%Y-%m-%d %H:%M"), ", ".join(self.reasons),
                                  RATING_MARKS[entry.rating], entry.origin, entry.kind, self.language,
                                  ", ".join(entry.collections), entry.question, entry.answer_text,
                                  "; ".join(passage_line(p) for p in entry.passages),
                                  None if score is None else round(score, 4), entry.comment), strict=True))


def passage_line(passage: LoggedPassage) -> str:
    """`[n] source#anchor (collection, score)`, whether it was cited, and its link."""
    score = "" if passage.rerank_score is None else f", {passage.rerank_score:.3f}"
    return (f"[{passage.marker}] {passage.source}#{passage.anchor} ({passage.collection}{score})"
            + ("" if passage.cited else " not cited") + (f" {passage.url}" if passage.url else ""))


def reasons_for(entry: LoggedAnswer, low_score: float = DEFAULT_LOW_SCORE) -> tuple[str, ...]:
    """Why an answer needs review: rated down, not answered from the documents, or its best passage scored low."""
    found = []
    if entry.rating == -1:
        found.append(RATED_DOWN)
    if not entry.answered:
        found.append(NOT_ANSWERED)
    if entry.best_rerank_score is not None and entry.best_rerank_score < low_score:
        found.append(LOW_SCORE)
    return tuple(found)


def review(entries: Iterable[LoggedAnswer], low_score: float = DEFAULT_LOW_SCORE,
           reasons: Sequence[str] = REASONS, languages: Sequence[str] = (),
           collections: Sequence[str] = ()) -> list[ReviewRow]:
    """The answers with at least one of the wanted reasons, in the chosen languages and collections (empty: all)."""
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
