"""Finished answers: generated text with its citations checked, or the extractive answer with its warnings."""

from __future__ import annotations

from collections.abc import Sequence

from core.answers.citations import invalid_marker_warning, parse_citations
from core.models.chat.thinking import visible_text
from core.types import Answer, Candidate, Citation

EXTRACTIVE_MODEL = "extractive"
CITES_NONE = ("The answer cites no passage: check it against the passages listed below before sending it; the "
              "documentation may not cover this question.")


def finish_answer(text: str, question_language: str | None, candidates: Sequence[Candidate], mode: str,
                  model: str, warnings: Sequence[str] = (), *, search_query: str = "") -> Answer:
    """An Answer: for "generated", citations parsed from the text, unknown markers and an answer citing no
    passage flagged in warnings; for "extractive", every passage shown counts as cited. `passages` are all
    the candidates given, cited or not."""
    notes = list(warnings)
    passages = tuple(candidates)
    if mode == "extractive":
        citations = tuple(Citation(marker=i, candidate=c) for i, c in enumerate(candidates, start=1))
        return Answer(text.strip(), question_language, citations, (), mode, model, tuple(notes), search_query,
                      passages)
    text = visible_text([text])
    citations, invalid = parse_citations(text, candidates)
    warning = invalid_marker_warning(invalid, len(candidates))
    if warning:
        notes.append(warning)
    if not text:
        notes.append("The language model returned an empty answer.")
    elif candidates and not citations:
        notes.append(CITES_NONE)
    return Answer(text, question_language, citations, invalid, mode, model, tuple(notes), search_query, passages)

