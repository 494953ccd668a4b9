"""How the Ask page shows one answer, kept in the answer log: text, warnings, passages, copy, timings, rating."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import uuid4

import streamlit as st

from core.answers.answer_record import ASK_PAGE, LoggedAnswer
from core.answers.translate import needs_translation, translate
from core.errors import PolydeskError
from core.knowledge.language import language_name
from core.knowledge.links import link_markdown
from core.pipeline import Pipeline
from core.types import Answer, Candidate
from pages._shared import ASK_LOGGED, ASK_RATINGS, ASK_TRANSLATIONS, show_text

STAGES = [("load", "model loading"), ("language", "language detection"), ("embed", "embed"), ("dense", "dense"),
          ("lexical", "lexical"), ("fused", "fused"), ("reranked", "reranked"), ("llm_first_token", "LLM first token"),
          ("total", "total")]
LONG_CHARS = 600  # longer text is shown shortened, in full on request
LONG_LINES = 8
SHORT_CHARS = 300


@dataclass(frozen=True)
class AskTurn:
    """One question (or customer message) and its finished answer."""

    question: str
    collections: tuple[str, ...]
    answer: Answer
    timings_ms: dict[str, float]
    kind: str = "answer"  # "answer" | "reply" (a customer message's draft)
    answer_id: str = field(default_factory=lambda: uuid4().hex)


def timing_line(timings: dict[str, float]) -> str:
    """Milliseconds per stage, in pipeline order, model loading and language detection included."""
    return " · ".join(f"{label} {timings[key]:.0f} ms" for key, label in STAGES if key in timings)


def show_long(text: str, language: str | None, key: str) -> None:
    """Text in its direction with its line breaks; long text shortened, the whole of it in an expander."""
    hard_breaks = text.strip().replace("\n", "  \n")
    if len(text) <= LONG_CHARS and text.count("\n") < LONG_LINES:
        show_text(hard_breaks, language, key)
        return
    show_text(text[:SHORT_CHARS].strip().replace("\n", "  \n") + " …", language, f"{key}-short")
    with st.expander(f"The whole text ({len(text):,} characters)"):
        show_text(hard_breaks, language, f"{key}-long")


def passages_of(turn: AskTurn) -> list[tuple[int, Candidate]]:
    """The passages sent to the LLM with their markers, cited or not."""
    return list(enumerate(turn.answer.passages, start=1))


def show_passage(pipeline: Pipeline, turn: AskTurn, marker: int, candidate: Candidate, quoted: bool) -> None:
    """A passage: source, language and ranks, its text unless the answer quotes it, a translation on demand."""
    chunk, answer = candidate.chunk, turn.answer
    cited = any(c.marker == marker for c in answer.citations)
    reranked = candidate.rerank_score is not None
    rerank = f"rerank #{candidate.rerank_rank} ({candidate.rerank_score:.3f})" if reranked else "not reranked"
    with st.expander(f"[{marker}] {chunk.location}" + ("" if cited or quoted else " · not cited")):
        st.caption(f"{language_name(chunk.language)} · {candidate.collection} · "
                   f"rank before reranking #{candidate.fused_rank} → {rerank}")
        if not quoted:
            show_text(chunk.text, chunk.language, f"passage-{turn.answer_id}-{marker}")
        if chunk.url:
            st.markdown("Page: " + link_markdown(chunk.location, chunk.url))
            st.code(chunk.url, language=None)  # the code block's copy button copies the link
        if needs_translation(candidate, answer.language):
            offer_translation(pipeline, turn, marker, candidate)


def offer_translation(pipeline: Pipeline, turn: AskTurn, marker: int, candidate: Candidate) -> None:
    """A button translating the passage into the answer's language, or why there is none."""
    language = turn.answer.language or ""
    if pipeline.settings.llm == "off":
        st.caption("Translation needs a language model: set POLYDESK_LLM and POLYDESK_LLM_URL.")
        return
    key = (turn.answer_id, marker)
    translations = st.session_state.setdefault(ASK_TRANSLATIONS, {})
    if key not in translations and st.button(f"Translate into {language_name(language)}",
                                             key=f"translate-{turn.answer_id}-{marker}"):
        try:
            generator = pipeline.generator
            if generator is None:
                raise PolydeskError("no language model is configured (POLYDESK_LLM)")
            translations[key] = translate(generator, candidate.chunk.text, language)
        except PolydeskError as exc:
            st.warning(f"Translation is not available: {exc}")
    if key in translations:
        st.info(translations[key])


def show_answer(pipeline: Pipeline, turn: AskTurn) -> None:
    """A finished answer with its warnings, passages, copy button, timings and rating; kept in the answer log."""
    keep(pipeline, turn)
    answer = turn.answer
    extractive = answer.mode == "extractive"
    show_text(answer.text, answer.language, f"answer-{turn.answer_id}")
    for warning in answer.warnings:
        st.warning(warning)
    for marker, candidate in passages_of(turn):
        show_passage(pipeline, turn, marker, candidate, quoted=extractive)
    with st.popover("📋 Copy the answer"):
        st.code(answer.text, language=None, wrap_lines=True)
    st.caption(timing_line(turn.timings_ms))
    rate(pipeline, turn)


def keep(pipeline: Pipeline, turn: AskTurn) -> None:
    """Put the answer in the answer log the first time it is shown; a failure is shown and retried next time."""
    logged = st.session_state.setdefault(ASK_LOGGED, set())
    if turn.answer_id in logged:
        return
    try:
        pipeline.answer_log.record(LoggedAnswer.from_answer(
            turn.answer_id, ASK_PAGE, turn.kind, turn.question, turn.answer, turn.collections, pipeline.model_ids(),
            turn.timings_ms))
    except (PolydeskError, ValueError) as exc:
        st.warning(f"This answer was not kept in the answer log, so it cannot be rated yet: {exc}")
        return
    logged.add(turn.answer_id)


def rate(pipeline: Pipeline, turn: AskTurn) -> None:
    """One rating per answer, changeable; a down-rating can carry a comment for the admins."""
    ratings = st.session_state.setdefault(ASK_RATINGS, {})
    up, down, _ = st.columns([1, 1, 6])
    if up.button("👍", key=f"up-{turn.answer_id}", help="Helpful"):
        save_rating(pipeline, turn, 1, "")
    if down.button("👎", key=f"down-{turn.answer_id}", help="Not helpful"):
        save_rating(pipeline, turn, -1, "")
    rating = ratings.get(turn.answer_id)
    if rating is None:
        return
    st.caption(f"You rated this answer {'👍' if rating > 0 else '👎'}; you can change it.")
    if rating < 0:
        comment = st.text_input("What was wrong? (optional, read by the admins)", key=f"comment-{turn.answer_id}")
        if st.button("Send comment", key=f"send-{turn.answer_id}") and comment.strip():
            save_rating(pipeline, turn, -1, comment.strip())
            st.success("Thank you, comment saved.")


def save_rating(pipeline: Pipeline, turn: AskTurn, rating: int, comment: str) -> None:
    """Set the answer's one rating in the answer log, replacing an earlier one."""
    try:
        if not pipeline.answer_log.rate(turn.answer_id, rating, comment):
            raise ValueError("the answer is not in the answer log")
    except (PolydeskError, ValueError) as exc:
        st.error(f"Feedback was not saved: {exc}")
        return
    st.session_state.setdefault(ASK_RATINGS, {})[turn.answer_id] = rating
