"""The rerank playground: pasted passages scored by one or more reranker backends."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import ConfigError, PolydeskError
from core.models.rerank import Reranker
from core.settings import Settings, load_settings

BACKENDS = ("in-process", "vLLM")
_BLANK_LINE = re.compile(r"\n\s*\n")


def split_passages(text: str) -> list[str]:
    """Passages separated by blank lines when there are any, else one per line; empty ones dropped."""
    text = text.replace("\r\n", "\n").strip()
    parts = _BLANK_LINE.split(text) if _BLANK_LINE.search(text) else text.split("\n")
    return [part.strip() for part in parts if part.strip()]


@dataclass(frozen=True)
class BackendRanking:
    """One backend's ranking of the passages (index, score) best first, or why it failed."""

    backend: str
    model_id: str
    ranked: tuple[tuple[int, float], ...] = ()
    error: str = ""


def backend_settings(backend: str, settings: Settings) -> Settings:
    """The configured settings with the reranker forced to one backend; vLLM only at the configured server."""
    if backend == "in-process":
        return load_settings(reranker_url=None)
    if not settings.reranker_url:
        raise ConfigError("No vLLM reranker is configured: set POLYDESK_RERANKER_URL to the server started with "
                          "`deploy/serve.sh reranker` and restart Polydesk.")
    return settings


def rank_with(backend: str, get_reranker: Callable[[], Reranker], query: str, passages: Sequence[str],
              instruction: str) -> BackendRanking:
    """Score the passages with one backend; a failure becomes the ranking's error, never an exception."""
    try:
        reranker = get_reranker()
        ranked = reranker.rerank(query, passages, instruction=instruction)
    except PolydeskError as exc:
        return BackendRanking(backend, "", error=str(exc))
    return BackendRanking(backend, reranker.model_id, tuple((r.index, r.score) for r in ranked))
