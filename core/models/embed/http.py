"""Embeddings from an OpenAI-compatible server such as vLLM (`/v1/embeddings`); the instruction is added here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import BackendUnavailable, MissingDependency
from core.models.embed import query_text, truncate_and_normalise
from core.models.http_client import RetryPolicy, openai_verdict, retry_after_s
from core.settings import Settings, redact_credentials


class OpenAICompatEmbedder:
    """Batches documents, asks for Matryoshka `dimensions` when set, re-normalises what comes back."""

    def __init__(self, url: str, model_id: str, instruction: str, dim: int | None = None, *,
                 batch_size: int = 64, timeout: float = 30.0, retries: int = 2, api_key: str | None = None):
        try:
            import openai
        except ImportError as exc:
            raise MissingDependency("The embedding client needs the openai package: run `make install`.") from exc
        self._openai = openai
        self.url = url.removesuffix("/v1")
        self.where = redact_credentials(self.url)  # the URL as messages show it
        self._client = openai.OpenAI(
            base_url=f"{self.url}/v1", api_key=api_key or "EMPTY", timeout=timeout, max_retries=0
        )
        self.retry = RetryPolicy(retries)
        self.model_id = model_id
        self.instruction = instruction
        self.batch_size = batch_size
        self._dim = dim

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatEmbedder:
        """A client for POLYDESK_EMBEDDING_URL."""
        key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
        return cls(
            settings.embedding_url or "", settings.embedding_model, settings.embedding_instruction,
            settings.embedding_dim, batch_size=settings.embedding_batch_size, timeout=settings.http_timeout,
            retries=settings.http_retries, api_key=key,
        )

    @property
    def dim(self) -> int:
        """The configured dimension, or the server's, learnt from one probe request."""
        if self._dim is None:
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    def _request(self, texts: list[str]) -> np.ndarray:
        """One /v1/embeddings call, with errors turned into BackendUnavailable."""
        extra = {"dimensions": self._dim} if self._dim else {}
        try:
            response = self.retry.call(
                lambda: self._client.embeddings.create(model=self.model_id, input=texts, **extra),
                openai_verdict(self._openai),
            )
            rows = sorted(response.data, key=lambda item: item.index)
            vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        except self._openai.APIConnectionError as exc:
            raise BackendUnavailable(
                f"The embedding server at {self.where} cannot be reached or timed out ({type(exc).__name__}): "
                f"check that it is running and POLYDESK_EMBEDDING_URL is right."
            ) from exc
        except self._openai.APIStatusError as exc:
            wait = retry_after_s(exc.response.headers)
            hint = f" (it asks to retry after {wait:g} s)" if wait is not None else ""
            raise BackendUnavailable(
                f"The embedding server at {self.where} answered HTTP {exc.status_code}{hint}: {str(exc)[:300]}"
            ) from exc
        except (self._openai.APIError, TypeError, ValueError, AttributeError) as exc:
            raise BackendUnavailable(
                f"The embedding server at {self.where} answered in an unexpected format: {str(exc)[:200]}"
            ) from exc
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise BackendUnavailable(
                f"The embedding server at {self.where} returned {len(vectors)} vectors for {len(texts)} texts."
            )
        return truncate_and_normalise(vectors, self._dim)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Documents as they are, in batches."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batches = [self._request(list(texts[i : i + self.batch_size])) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(batches)

    def embed_query(self, text: str) -> np.ndarray:
        """A query with the task instruction in front."""
        return self._request([query_text(text, self.instruction)])[0]
