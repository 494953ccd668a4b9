"""Qwen3-Reranker served by vLLM (`/v1/rerank`), with the canonical prompt built on the client side."""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import BackendUnavailable
from core.models.http_client import JsonClient
from core.models.rerank.prompt import client_side_document, client_side_query
from core.settings import Settings
from core.types import Ranked


class VLLMReranker:
    """Sends prefix+instruction+query and document+suffix; the server (no --chat-template) concatenates them."""

    def __init__(self, url: str, model_id: str, instruction: str, *, timeout: float = 30.0, retries: int = 2,
                 api_key: str | None = None) -> None:
        self.model_id = model_id
        self.instruction = instruction
        self._http = JsonClient(
            url.removesuffix("/v1"), name="The vLLM reranker", timeout=timeout, retries=retries, api_key=api_key
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> VLLMReranker:
        """A client for POLYDESK_RERANKER_URL."""
        key = settings.reranker_api_key.get_secret_value() if settings.reranker_api_key else None
        return cls(
            settings.reranker_url or "", settings.reranker_model, settings.reranker_instruction,
            timeout=settings.http_timeout, retries=settings.http_retries, api_key=key,
        )

    def rerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None, instruction: str | None = None
    ) -> list[Ranked]:
        """Documents ranked best first by the server's relevance score, mapped back by index."""
        if not documents:
            return []
        answer = self._http.post("/v1/rerank", {
            "model": self.model_id,
            "query": client_side_query(query, instruction or self.instruction),
            "documents": [client_side_document(d) for d in documents],
            "top_n": 0,
        })
        ranked = sorted(self._parse(answer, len(documents)), key=lambda r: -r.score)
        return ranked[: top_n or None]

    def _parse(self, answer: object, expected: int) -> list[Ranked]:
        """Check the answer's shape: one result per document, each index once."""
        try:
            results = [Ranked(int(r["index"]), float(r["relevance_score"])) for r in answer["results"]]
        except (TypeError, KeyError, ValueError) as exc:
            raise BackendUnavailable(
                f"The vLLM reranker at {self._http.where} answered in an unexpected format "
                f"({type(exc).__name__}: {exc}); is it a vLLM server started with --runner pooling?"
            ) from exc
        if sorted(r.index for r in results) != list(range(expected)):
            raise BackendUnavailable(
                f"The vLLM reranker at {self._http.where} returned {len(results)} results for {expected} "
                f"documents; expected one score per document."
            )
        return results
