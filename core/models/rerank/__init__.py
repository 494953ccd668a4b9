"""Rerankers: score (query, document) pairs with Qwen3-Reranker, in-process or through vLLM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from core.settings import Settings
from core.types import Ranked


class Reranker(Protocol):
    """Scores documents against a query; returns indices into the input, best first."""

    model_id: str

    def rerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None, instruction: str | None = None
    ) -> list[Ranked]: ...


def make_reranker(settings: Settings) -> Reranker:
    """The vLLM reranker when POLYDESK_RERANKER_URL is set, else the in-process Qwen3 reranker."""
    if settings.reranker_url:
        from core.models.rerank.http import VLLMReranker

        return VLLMReranker.from_settings(settings)
    from core.models.rerank.local import QwenLocalReranker

    return QwenLocalReranker.from_settings(settings)


def top_ranked(scores: Sequence[float], top_n: int | None) -> list[Ranked]:
    """Rank scores best first (ties keep input order) and keep the first top_n."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    return [Ranked(index=i, score=float(scores[i])) for i in order[: top_n or None]]
