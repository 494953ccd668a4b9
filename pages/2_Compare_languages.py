"""Compare languages: one question in several languages, the ranked passages side by side, how alike they are."""

from __future__ import annotations

import json
from html import escape

import altair as alt
import streamlit as st

from core.answers.safe_markdown import safe_markdown
from core.answers.translate import translate
from core.errors import PolydeskError
from core.knowledge.language import language_name
from core.quality.compare import (
    LanguageRun,
    agreement_matrix,
    comparison_csv,
    comparison_json,
    language_stats,
    passage_id,
    rank_biased_overlap,
    run_languages,
)
from pages._shared import COMPARE_QUESTION, COMPARE_RUNS, start

LANGUAGES = ["en", "es", "de", "fr", "pt", "ja", "zh", "ko", "ar", "hi", "ru", "it", "nl", "tr", "uk"]
PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d",
           "#bab0ac", "#1f77b4", "#8c564b"]


def passage_colours(runs: list[LanguageRun]) -> dict[str, str]:
    """One colour per passage, in order of first appearance; passages past the palette share grey."""
    ids = dict.fromkeys(pid for run in runs for pid in run.ranking)
    return {pid: PALETTE[i] if i < len(PALETTE) else "#d0d0d0" for i, pid in enumerate(ids)}


def show_rankings(runs: list[LanguageRun], colours: dict[str, str]) -> None:
    """The ranked passages of every language side by side, each passage in its colour."""
    for column, run in zip(st.columns(len(runs)), runs, strict=True):
        with column:
            st.markdown(f"**{run.language}** · {safe_markdown(run.question)}")
            for warning in run.warnings:
                st.warning(warning)
            if not run.candidates:
                st.caption("No passages found.")
            for rank, (candidate, score) in enumerate(zip(run.candidates, run.scores, strict=True), 1):
                chunk = candidate.chunk
                colour = colours[passage_id(candidate)]
                st.markdown(
                    f"<div style='border-left: 6px solid {colour}; padding-left: 6px; margin-bottom: 6px'>"
                    f"#{rank} · {score:.3f} · [{escape(chunk.language or '?')}]<br><small>{escape(chunk.location)}"
                    "</small></div>", unsafe_allow_html=True)


def bump_chart(runs: list[LanguageRun], colours: dict[str, str]) -> alt.Chart:
    """Rank of every passage in every language, one line per passage."""
    rows = [{"language": run.language, "rank": rank, "passage": pid, "where": c.chunk.location}
            for run in runs for rank, (pid, c) in enumerate(zip(run.ranking, run.candidates, strict=True), 1)]
    scale = alt.Scale(domain=list(colours), range=list(colours.values()))
    return alt.Chart(alt.Data(values=rows)).mark_line(point=True).encode(
        x=alt.X("language:N", sort=[run.language for run in runs]), y=alt.Y("rank:Q", scale=alt.Scale(reverse=True)),
        color=alt.Color("passage:N", scale=scale, legend=None), tooltip=["language:N", "rank:Q", "where:N"],
    )


def agreement_heatmap(runs: list[LanguageRun], k: int) -> alt.Chart:
    """Rank-biased overlap of the top k for every pair of languages."""
    matrix = agreement_matrix({run.language: run.ranking[:k] for run in runs}, rank_biased_overlap)
    rows = [{"a": a, "b": b, "RBO": value} for (a, b), value in matrix.items()]
    order = [run.language for run in runs]
    return alt.Chart(alt.Data(values=rows)).mark_rect().encode(
        x=alt.X("a:N", sort=order, title=None), y=alt.Y("b:N", sort=order, title=None),
        color=alt.Color("RBO:Q", scale=alt.Scale(domain=[0, 1])), tooltip=["a:N", "b:N", "RBO:Q"],
    )


st.title("Compare languages")
st.caption("Does the assistant find the same passages whatever language the customer writes in?")

_, pipeline, _ = start()
try:
    collections = [info.name for info in pipeline.store.collections()]
except PolydeskError as exc:
    st.error(str(exc))
    st.stop()
if not collections:
    st.info("No collections yet: ingest documentation on the Documents page or with `polydesk ingest`.")
    st.stop()

chosen = st.multiselect("Collections", collections, default=collections[:1])
languages = st.multiselect("Languages", LANGUAGES, default=["en", "es", "ja"])
source = st.selectbox("Translate from", languages or ["en"], help="The version the LLM translates into the others")
if st.button("Translate with the LLM", disabled=not languages):
    text = st.session_state.get(COMPARE_QUESTION.format(source), "").strip()
    if not text:
        st.warning(f"Type the question in {language_name(source) or source} first.")
    else:
        try:
            generator = pipeline.generator
            if generator is None:
                st.warning("The LLM is off (POLYDESK_LLM=off): type each language's version yourself.")
            else:
                for language in languages:
                    if language != source:
                        st.session_state[COMPARE_QUESTION.format(language)] = translate(generator, text, language)
        except PolydeskError as exc:
            st.warning(f"Translation failed, type the versions yourself: {exc}")

for language in languages:
    st.text_input(f"Question in {language_name(language) or language} ({language})",
                  key=COMPARE_QUESTION.format(language))

questions = {lang: st.session_state.get(COMPARE_QUESTION.format(lang), "").strip() for lang in languages}
questions = {lang: text for lang, text in questions.items() if text}
k = st.slider("Passages per language (k)", 3, 20, 10)
if st.button("Compare", type="primary", disabled=not (questions and chosen)):
    try:
        with st.spinner("Searching and reranking in every language…"):
            st.session_state[COMPARE_RUNS] = run_languages(pipeline, questions, chosen, k)
    except PolydeskError as exc:
        st.error(str(exc))

runs: list[LanguageRun] = st.session_state.get(COMPARE_RUNS, [])
if runs:
    reference = st.selectbox("Reference language", [run.language for run in runs])
    stats = language_stats(runs, reference, k)
    colours = passage_colours(runs)
    st.subheader("Ranked passages")
    show_rankings(runs, colours)
    st.subheader(f"Against {reference}")
    st.dataframe([{"language": s.language, "question": s.question, "top-1": s.top1_agreement,
                   "top-3": s.top3_agreement, f"overlap@{k}": s.overlap_at_k, "Kendall's tau": s.kendall_tau,
                   "RBO": s.rbo, "mean score": s.mean_score, "std score": s.std_score} for s in stats],
                 hide_index=True, width="stretch")
    left, right = st.columns(2)
    left.altair_chart(bump_chart(runs, colours), width="stretch")
    right.altair_chart(agreement_heatmap(runs, k), width="stretch")
    st.download_button("Download CSV", comparison_csv(runs), "comparison.csv", "text/csv")
    st.download_button("Download JSON", json.dumps(comparison_json(runs, stats, reference, k), ensure_ascii=False,
                                                   indent=2), "comparison.json", "application/json")
