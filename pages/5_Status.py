"""Polydesk status page: `polydesk doctor`'s checks of the backends, the store and its collections."""

from __future__ import annotations

import streamlit as st

from core.errors import PolydeskError
from core.ops.doctor import diagnose
from core.pipeline import Pipeline
from pages._shared import ingest_sample, report_sample, start

STATE_ICONS = {"ok": "✅", "warn": "⚠️", "fail": "❌"}


def load_and_check(pipeline: Pipeline) -> None:
    """Load both models (once per process) and show what each returns for a sample question."""
    question = "How do I refresh an expired token?"
    embedder = pipeline.embedder
    st.success(f"Embedding: {embedder.model_id} returns {embedder.embed_query(question).shape[0]} dimensions.")
    reranker = pipeline.reranker
    ranked = reranker.rerank(
        question, ["Call POST /v1/token/refresh with your refresh token.", "Pagination uses an opaque cursor."]
    )
    scores = ", ".join(f"#{r.index + 1}: {r.score:.3f}" for r in ranked)
    st.success(f"Reranker: {reranker.model_id} scored two passages: {scores}.")


st.title("Status")
st.caption("Multilingual answers from your API documentation. This page checks what it uses, like "
           "`polydesk doctor`.")

settings, pipeline, begun = start(sample=False)

if st.button("Load the models and run a check", type="primary"):
    try:
        load_and_check(pipeline)
    except PolydeskError as exc:
        st.error(str(exc))

collections_error: PolydeskError | None = None
try:
    ingest_sample(begun)
    if done := report_sample(begun.sample_report):
        st.info(done)
    collections = pipeline.store.collections()
except PolydeskError as exc:
    collections, collections_error = [], exc

# The reranker probe is free for a server or a loaded model; an in-process model is loaded by the button above.
probe = bool(settings.reranker_url) or "reranker" in pipeline.loaded_models()
diagnosis = diagnose(settings, loaded=pipeline.loaded_models(), store=lambda: pipeline.store,
                     reranker=(lambda: pipeline.reranker) if probe else None)
st.subheader("Checks")
st.dataframe(
    [{"check": c.name, "state": STATE_ICONS[c.state], "model": c.model, "where": c.where, "dimension": c.dimension,
      "detail": c.detail} for c in diagnosis.checks],
    hide_index=True,
    width="stretch",
)
if not probe:
    st.caption("The reranker probe (a relevant and an irrelevant passage must score differently) runs once the "
               "in-process reranker is loaded: use the button above.")
for check in diagnosis.checks:
    if check.state != "ok":
        st.warning(f"**{check.name}**: {check.detail}")

st.subheader("Collections")
if collections_error is not None:
    st.warning(f"The collections cannot be shown: {collections_error}")
else:
    st.dataframe(
        [{"collection": c.name, "chunks": c.chunks, "embedding model": c.embedding_model,
          "dimension": c.embedding_dim, "description": c.description} for c in collections],
        hide_index=True,
        width="stretch",
    )
