"""The vLLM backends against a real vLLM server (CPU build) serving the tiny checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from core.models.embed.http import OpenAICompatEmbedder
from core.models.embed.local import QwenLocalEmbedder
from core.models.rerank.http import VLLMReranker
from core.models.rerank.local import QwenLocalReranker
from tests.test_embedder_fidelity import DOCUMENTS as EMBED_DOCUMENTS
from tests.test_embedder_fidelity import QUERY as EMBED_QUERY
from tests.test_embedder_fidelity import TASK
from tests.test_reranker_fidelity import CARD_INSTRUCTION, CUSTOM_INSTRUCTION, DOCUMENTS, QUERY

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def local_reranker(reranker_dir):
    """The in-process reranker on the checkpoint vLLM serves, in float32 as vLLM serves it here."""
    return QwenLocalReranker(reranker_dir, "tiny-reranker", CARD_INSTRUCTION, cpu_profile=False)


@pytest.mark.parametrize("instruction", [None, CUSTOM_INSTRUCTION], ids=["card-instruction", "custom-instruction"])
def test_vllm_scores_equal_the_in_process_reranker(vllm_servers, local_reranker, instruction):
    server = vllm_servers["reranker"]
    remote = VLLMReranker(server.url, server.model_name, CARD_INSTRUCTION, timeout=60)
    ranked = remote.rerank(QUERY, DOCUMENTS, instruction=instruction)
    local = local_reranker.scores(QUERY, DOCUMENTS, instruction)
    assert sorted(r.index for r in ranked) == list(range(len(DOCUMENTS)))
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    for r in ranked:
        assert r.score == pytest.approx(local[r.index], abs=1e-5)
    assert len({round(r.score, 6) for r in ranked}) > 1, "constant scores mean a broken server set-up"


def test_vllm_reranker_top_n(vllm_servers, local_reranker):
    server = vllm_servers["reranker"]
    remote = VLLMReranker(f"{server.url}/v1", server.model_name, CARD_INSTRUCTION, timeout=60)
    assert [r.index for r in remote.rerank(QUERY, DOCUMENTS, top_n=2)] == [
        r.index for r in local_reranker.rerank(QUERY, DOCUMENTS, top_n=2)
    ]


@pytest.mark.parametrize("dim", [None, 32], ids=["full-dimension", "matryoshka-32"])
def test_vllm_embeddings_equal_the_in_process_embedder(vllm_servers, embedder_dir, dim):
    server = vllm_servers["embedding"]
    remote = OpenAICompatEmbedder(server.url, server.model_name, TASK, dim, batch_size=2, timeout=60)
    local = QwenLocalEmbedder(embedder_dir, "tiny-embedder", TASK, dim, cpu_profile=False)  # vLLM serves float32
    assert remote.dim == local.dim
    np.testing.assert_allclose(remote.embed_documents(EMBED_DOCUMENTS), local.embed_documents(EMBED_DOCUMENTS),
                               atol=1e-5)
    np.testing.assert_allclose(remote.embed_query(EMBED_QUERY), local.embed_query(EMBED_QUERY), atol=1e-5)
