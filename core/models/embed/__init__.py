"""Embedders: Qwen3-Embedding vectors for documents and queries, in-process or from an OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from core.settings import Settings


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors of size `dim`."""

    model_id: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def make_embedder(settings: Settings) -> Embedder:
    """The OpenAI-compatible embedder when POLYDESK_EMBEDDING_URL is set, else the in-process Qwen3 embedder."""
    if settings.embedding_url:
        from core.models.embed.http import OpenAICompatEmbedder

        return OpenAICompatEmbedder.from_settings(settings)
    from core.models.embed.local import QwenLocalEmbedder

    return QwenLocalEmbedder.from_settings(settings)


def query_text(query: str, task: str) -> str:
    """The Qwen3-Embedding query format: the task instruction, then the query (no space after `Query:`)."""
    return f"Instruct: {task}\nQuery:{query}"


def truncate_and_normalise(vectors: np.ndarray, dim: int | None) -> np.ndarray:
    """Keep the first `dim` values (Matryoshka) and rescale every row to unit length."""
    kept = np.asarray(vectors, dtype=np.float32)[:, : dim or None]
    norms = np.linalg.norm(kept, axis=1, keepdims=True)
    return kept / np.maximum(norms, 1e-12)
