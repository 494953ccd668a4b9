"""The Ask page: support agents ask in any language and get answers with cited passages."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.answers.feedback import FeedbackEntry
from core.answers.run import AnswerRun
from core.answers.safe_markdown import safe_markdown
from core.answers.translate import needs_translation, translate
from core.errors import PolydeskError
from core.knowledge.language import language_name
from core.knowledge.links import link_markdown
from core.ops.doctor import Diagnosis, diagnose
from core.pipeline import Pipeline, sample_ingest, shared_pipeline
from core.settings import Settings, load_settings
from core.types import Answer, Candidate

HISTORY = "ask_history"  # list[Turn] of this browser session
TRANSLATIONS = "ask_translations"  # {(turn, marker): translated text}
AUTO = "auto"
STAGES = [("embed", "embed"), ("dense", "dense"), ("lexical", "lexical"), ("fused", "fused"),
          ("reranked", "reranked"), ("llm_first_token", "LLM first token"), ("total", "total")]

st.set_page_config(page_title="Polydesk", page_icon="🛟", layout="wide")


@dataclass(frozen=True)
class Turn:
    """One question and its finished answer."""

    question: str
    collections: tuple[str, ...]
    answer: Answer
    timings_ms: dict[str, float]


def timing_line(timings: dict[str, float]) -> str:
    """Milliseconds per stage, in pipeline order."""
    return " · ".join(f"{label} {timings[key]:.0f} ms" for key, label in STAGES if key in timings)


def show_passage(pipeline: Pipeline, index: int, marker: int, candidate: Candidate, language: str | None) -> None:
    """A cited passage: its text, source, language and ranks, with a translation on demand."""
    chunk = candidate.chunk
    reranked = candidate.rerank_score is not None
    rerank = f"rerank #{candidate.rerank_rank} ({candidate.rerank_score:.3f})" if reranked else "not reranked"
    with st.expander(f"[{marker}] {chunk.location}"):
        st.caption(f"{language_name(chunk.language)} · {candidate.collection} · "
                   f"rank before reranking #{candidate.fused_rank} → {rerank}")
        st.markdown(safe_markdown(chunk.text))
        if chunk.url:
            st.markdown("Page: " + link_markdown(chunk.location, chunk.url))
            st.code(chunk.url, language=None)  # its copy button puts the link on the clipboard
        if needs_translation(candidate, language):
            key = (index, marker)
            translations = st.session_state.setdefault(TRANSLATIONS, {})
            label = f"Translate into {language_name(language)}"
            if key not in translations and st.button(label, key=f"translate-{index}-{marker}"):
                try:
                    translations[key] = translate(pipeline.generator, chunk.text, language)
                except (PolydeskError, AttributeError) as exc:
                    st.warning(f"Translation is not available: {exc}")
            if key in translations:
                st.info(safe_markdown(translations[key]))


def show_turn(pipeline: Pipeline, index: int, turn: Turn) -> None:
    """A finished answer with its warnings, sources, timings and a feedback form."""
    answer = turn.answer
    if answer.mode == "extractive":
        st.caption("No generated answer: the most relevant passages, with their best sentences in bold.")
    st.markdown(safe_markdown(answer.text))
    for warning in answer.warnings:
        st.warning(warning)
    for citation in answer.citations:
        show_passage(pipeline, index, citation.marker, citation.candidate, answer.language)
    st.caption(timing_line(turn.timings_ms))
    with st.form(key=f"feedback-{index}", clear_on_submit=True, border=False):
        rating = st.radio("Was this answer helpful?", ["👍", "👎"], horizontal=True, index=None, key=f"rating-{index}")
        comment = st.text_input("Comment (optional)", key=f"comment-{index}")
        if st.form_submit_button("Send feedback"):
            save_feedback(pipeline, turn, rating, comment)


def save_feedback(pipeline: Pipeline, turn: Turn, rating: str | None, comment: str) -> None:
    """Store the rating with the question, answer, citations, model ids and timings."""
    if rating is None:
        st.warning("Choose 👍 or 👎 first.")
        return
    try:
        entry = FeedbackEntry.from_answer(turn.question, turn.answer, turn.collections, pipeline.model_ids(),
                                          turn.timings_ms, 1 if rating == "👍" else -1, comment)
        pipeline.feedback.record(entry)
    except (PolydeskError, ValueError) as exc:
        st.error(f"Feedback was not saved: {exc}")
    else:
        st.success("Thank you, feedback saved.")


def sidebar(pipeline: Pipeline) -> tuple[list[str], str | None]:
    """Collections and answer language selectors, and the backends' status."""
    with st.sidebar:
        names = [c.name for c in pipeline.store.collections()]
        chosen = st.multiselect("Collections", names, default=names)
        codes = [AUTO, *pipeline.answer_languages]
        language = st.selectbox("Answer language", codes,
                                format_func=lambda c: "The question's language" if c == AUTO else language_name(c))
        st.divider()
        show_checks(pipeline)
    return chosen, None if language == AUTO else language


@st.cache_data(ttl=30, show_spinner=False)
def checked(settings: Settings, loaded: frozenset[str], probe: bool) -> Diagnosis:
    """The doctor's checks of this configuration, at most every 30 s."""
    pipeline = shared_pipeline(settings)
    return diagnose(settings, loaded=loaded, store=lambda: pipeline.store,
                    reranker=(lambda: pipeline.reranker) if probe else None)


def show_checks(pipeline: Pipeline) -> None:
    """The backends' status as `polydesk doctor` sees it; the reranker probe loads an in-process model on request."""
    settings, loaded = pipeline.settings, pipeline.loaded_models()
    probe = bool(settings.reranker_url) or "reranker" in loaded or st.button("Check the reranker")
    for check in checked(settings, loaded, probe).checks:
        if check.state != "ok" or not check.name.startswith("collection "):
            icon = {"ok": "🟢", "warn": "🟠", "fail": "🔴"}[check.state]
            st.caption(f"{icon} **{check.name}** {check.model} — {check.detail}")


def ask(pipeline: Pipeline, question: str, collections: list[str], language: str | None) -> None:
    """Answer a new question, streaming it, and keep it in the history."""
    with st.chat_message("user"):
        st.markdown(safe_markdown(question))
    with st.chat_message("assistant"):
        with st.spinner("Searching…"):
            run: AnswerRun = pipeline.ask(question, collections, language)
        shown, text = st.empty(), ""
        for piece in run.stream():  # re-rendered whole, so that a half-streamed image never loads
            text += piece
            shown.markdown(safe_markdown(text))
        answer = run.answer()
    st.session_state[HISTORY].append(Turn(question, tuple(collections), answer, run.timings_ms))
    st.rerun()


try:
    settings = load_settings()
    pipeline = shared_pipeline(settings)
    with st.spinner("First start: ingesting the sample documentation…"):
        sample_ingest(settings)
    collections, language = sidebar(pipeline)
except PolydeskError as exc:
    st.error(f"Polydesk cannot start: {exc}")
    st.stop()

st.title("Ask")
history: list[Turn] = st.session_state.setdefault(HISTORY, [])
if not collections:
    st.info("Choose at least one collection in the sidebar (an admin adds them on the Documents page).")
for index, turn in enumerate(history):
    with st.chat_message("user"):
        st.markdown(safe_markdown(turn.question))
    with st.chat_message("assistant"):
        show_turn(pipeline, index, turn)

question = st.chat_input("Ask about the documentation, in any language")
if question and collections:
    try:
        ask(pipeline, question, collections, language)
    except PolydeskError as exc:
        st.error(str(exc))
