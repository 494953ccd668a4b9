"""Polydesk status page: the configured model backends, whether each can be used, ids and dimensions."""

from __future__ import annotations

import streamlit as st

from core.embed import Embedder, make_embedder
from core.errors import PolydeskError
from core.rerank import Reranker, make_reranker
from core.settings import Settings, load_settings
from core.status import backend_statuses

st.set_page_config(page_title="Polydesk", page_icon="🛟", layout="wide")


@st.cache_resource(show_spinner="Loading the embedding model…")
def cached_embedder(settings: Settings) -> Embedder:
    """One embedder per process and configuration."""
    return make_embedder(settings)


@st.cache_resource(show_spinner="Loading the reranker…")
def cached_reranker(settings: Settings) -> Reranker:
    """One reranker per process and configuration."""
    return make_reranker(settings)


st.title("Polydesk")
st.caption("Multilingual answers from your API documentation. This page shows the model backends it uses.")

try:
    settings = load_settings()
except PolydeskError as exc:
    st.error(str(exc))
    st.stop()


def load_and_check(settings: Settings) -> None:
    """Load both models (once per process) and show what each returns for a sample question."""
    question = "How do I refresh an expired token?"
    embedder = cached_embedder(settings)
    st.success(f"Embedding: {embedder.model_id} returns {embedder.embed_query(question).shape[0]} dimensions.")
    reranker = cached_reranker(settings)
    ranked = reranker.rerank(
        question, ["Call POST /v1/token/refresh with your refresh token.", "Pagination uses an opaque cursor."]
    )
    scores = ", ".join(f"#{r.index + 1}: {r.score:.3f}" for r in ranked)
    st.success(f"Reranker: {reranker.model_id} scored two passages: {scores}.")
    st.session_state["loaded_roles"] = {"embedding", "reranker"}


if st.button("Load the models and run a check", type="primary"):
    try:
        load_and_check(settings)
    except PolydeskError as exc:
        st.error(str(exc))

statuses = backend_statuses(settings, frozenset(st.session_state.get("loaded_roles", ())))
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
