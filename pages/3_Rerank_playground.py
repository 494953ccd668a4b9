"""Rerank playground: a query, pasted passages, and the scores each reranker backend gives them."""

from __future__ import annotations

import streamlit as st

from core.models.rerank import Reranker, make_reranker
from core.pipeline import shared_pipeline
from core.quality.playground import BACKENDS, BackendRanking, backend_settings, rank_with, split_passages
from core.settings import Settings, redact_credentials
from pages._shared import PLAYGROUND_RESULTS, start

EXAMPLE_PASSAGES = ("Send the refresh token to POST /v1/token/refresh to get a new access token.\n"
                    "Pagination uses an opaque cursor returned in next_cursor.\n"
                    "A 429 answer means too many requests: wait for the Retry-After seconds.")


@st.cache_resource(show_spinner="Loading the reranker…")
def reranker_for(settings: Settings) -> Reranker:
    """One reranker per configuration and process."""
    return make_reranker(settings)


def show(ranking: BackendRanking, passages: list[str]) -> None:
    """One backend's ranked passages with their scores, or a warning saying why it failed."""
    st.markdown(f"**{ranking.backend}** {f'· `{ranking.model_id}`' if ranking.model_id else ''}")
    if ranking.error:
        st.warning(f"{ranking.backend} reranker failed: {ranking.error}")
        return
    st.dataframe([{"rank": rank, "score": round(score, 4), "passage": passages[index]}
                  for rank, (index, score) in enumerate(ranking.ranked, 1)], hide_index=True, width="stretch")


st.title("Rerank playground")
st.caption("The quick check after deploying a reranker: paste passages, see how each backend ranks them.")

settings, _, _ = start(sample=False)

query = st.text_input("Query", "How do I get a new access token?")
passages_text = st.text_area("Passages: one per line, or separated by blank lines", EXAMPLE_PASSAGES, height=180)
instruction = st.text_area("Instruction", settings.reranker_instruction, height=70)
choice = st.radio("Backend", [*BACKENDS, "both side by side"], horizontal=True)
server = redact_credentials(settings.reranker_url or "") or "none configured (POLYDESK_RERANKER_URL)"
st.caption(f"vLLM server: {server}")

passages = split_passages(passages_text)
if st.button("Rerank", type="primary", disabled=not (query.strip() and passages)):
    backends = BACKENDS if choice == "both side by side" else (choice,)
    results = []
    for backend in backends:
        def load(backend: str = backend) -> Reranker:
            wanted = backend_settings(backend, settings)
            return shared_pipeline(settings).reranker if wanted == settings else reranker_for(wanted)

        with st.spinner(f"Scoring with the {backend} reranker…"):
            results.append(rank_with(backend, load, query.strip(), passages, instruction.strip() or
                                     settings.reranker_instruction))
    st.session_state[PLAYGROUND_RESULTS] = (results, passages)

if PLAYGROUND_RESULTS in st.session_state:
    results, ranked_passages = st.session_state[PLAYGROUND_RESULTS]
    for column, ranking in zip(st.columns(len(results)), results, strict=True):
        with column:
            show(ranking, ranked_passages)
