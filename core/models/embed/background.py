"""The embedder as an ingest uses it: known before it loads, and giving way to questions every few texts."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.models.embed import Embedder


class BackgroundEmbedder:
    """An embedder's model id and size known up front; the model is loaded (or awaited) at the first text, so that a
    first ingest is chunked, and searched by keywords, meanwhile. With `give_way`, documents are embedded `step` at a
    time and `give_way()` is called before each step (it returns once no question runs)."""

    def __init__(self, model_id: str, dim: int, load: Callable[[], Embedder],
                 give_way: Callable[[], None] | None = None, step: int = 4) -> None:
        self.model_id = model_id
        self.dim = dim
        self._load = load
        self._give_way = give_way
        self._step = step

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """The loaded model's document vectors, a step at a time when giving way."""
        if self._give_way is None:
            return self._load().embed_documents(texts)
        parts = [np.zeros((0, self.dim), dtype=np.float32)]
        for start in range(0, len(texts), self._step):
            self._give_way()
            parts.append(self._load().embed_documents(texts[start : start + self._step]))
        return np.concatenate(parts)

    def embed_query(self, text: str) -> np.ndarray:
        """The loaded model's query vector."""
        return self._load().embed_query(text)
