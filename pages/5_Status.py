"""Polydesk status page: the configured backends, whether each can be used, and the collections in the store."""

from __future__ import annotations

import streamlit as st

from core.errors import PolydeskError
from core.pipeline import SAMPLE_COLLECTION, Pipeline, sample_ingest, shared_pipeline
from core.settings import load_settings
from core.status import backend_statuses

st.set_page_config(page_title="Polydesk status", page_icon="🛟", layout="wide")


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
st.caption("Multilingual answers from your API documentation. This page shows the backends it uses.")

try:
    settings = load_settings()
except PolydeskError as exc:
    st.error(str(exc))
    st.stop()
pipeline = shared_pipeline(settings)

if st.button("Load the models and run a check", type="primary"):
    try:
        load_and_check(pipeline)
    except PolydeskError as exc:
        st.error(str(exc))

statuses = backend_statuses(settings, pipeline.loaded_models())
st.subheader("Model backends")
st.dataframe(
    [
        {"role": s.role, "backend": s.kind, "model": s.model_id, "where": s.location, "ok": "✅" if s.ok else "❌",
         "dimension": s.dimension, "detail": s.detail}
        for s in statuses
    ],
    hide_index=True,
    width="stretch",
)
for status in statuses:
    if not status.ok:
        st.warning(f"**{status.role}**: {status.detail}")

st.subheader("Collections")
try:
    with st.spinner("First start: ingesting the sample documentation…"):
        report = sample_ingest(settings)
    if report is not None:
        st.info(f"Ingested the sample documentation into `{SAMPLE_COLLECTION}`: {len(report.files)} files, "
                f"{report.totals()['added']} chunks.")
    collections = pipeline.store.collections()
except PolydeskError as exc:
    st.warning(f"The collections cannot be shown: {exc}")
else:
    st.dataframe(
        [{"collection": c.name, "chunks": c.chunks, "embedding model": c.embedding_model,
          "dimension": c.embedding_dim, "description": c.description} for c in collections],
        hide_index=True,
        width="stretch",
    )
