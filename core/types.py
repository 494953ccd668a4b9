"""Plain records passed between the layers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ranked:
    """One reranked document: its index in the caller's list and its relevance score (0..1)."""

    index: int
    score: float


@dataclass(frozen=True)
class BackendStatus:
    """What is known about one configured model backend."""

    role: str  # "embedding" or "reranker"
    kind: str  # "in-process" or "HTTP"
    model_id: str
    location: str  # a local folder, the hub cache, or a URL
    ok: bool
    detail: str
    dimension: int | None = None
