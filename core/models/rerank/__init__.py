"""Rerankers: score (query, document) pairs with Qwen3-Reranker, in-process or through vLLM."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core.settings import Settings
from core.types import Ranked


class Reranker(Protocol):
    """Scores documents against a query; returns indices into the input, best first."""

    model_id: str

    def rerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None, instruction: str | None = None
    ) -> list[Ranked]: ...


GENERAL_RERANK_K = 30
CPU_RERANK_K = 10
CPU_MAX_PASSAGE_TOKENS = 256


@dataclass(frozen=True)
class RerankBudget:
    """How many fused candidates are reranked, and the tokens of each passage the reranker sees (None: all)."""

    k: int
    max_passage_tokens: int | None


def rerank_budget(settings: Settings) -> RerankBudget:
    """POLYDESK_RERANK_K and POLYDESK_RERANK_MAX_PASSAGE_TOKENS, defaulting to a CPU's budget when the CPU
    profile is on and the in-process reranker runs on a CPU, else to the general one."""
    on_cpu = settings.cpu_profile and not settings.reranker_url and _device(settings) == "cpu"
    return RerankBudget(
        settings.rerank_k or (CPU_RERANK_K if on_cpu else GENERAL_RERANK_K),
        settings.rerank_max_passage_tokens or (CPU_MAX_PASSAGE_TOKENS if on_cpu else None),
    )


def _device(settings: Settings) -> str:
    """The device the in-process models run on."""
    from core.models.device import resolve_device

    return resolve_device(settings.device)


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
