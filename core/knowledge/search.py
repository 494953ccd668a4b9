"""Hybrid retrieval: dense and lexical top-k per collection, fused by RRF, then reranked."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.errors import BackendUnavailable
from core.knowledge.fusion import reciprocal_rank_fusion
from core.knowledge.lexical import LexicalIndex
from core.knowledge.lexical_files import LexicalIndexes
from core.knowledge.pending import PendingCollection, PendingCollections
from core.knowledge.store import ChromaStore, CollectionInfo, check_embedder
from core.models.embed import Embedder
from core.models.rerank import Reranker
from core.timing import timed
from core.types import Candidate, SearchResult

LanguageDetector = Callable[[str], str | None]
OnStage = Callable[[str], None]  # told what runs now, e.g. "Reranking 10 passages…", before it runs


def quiet(_label: str) -> None:
    """An OnStage that tells nobody."""


@dataclass(frozen=True)
class SearchDepth:
    """How many candidates each stage passes on."""

    dense_k: int = 50
    lexical_k: int = 50
    rerank_k: int = 30


class HybridSearcher:
    """Searches collections of one store; keeps one lexical index per collection, rebuilt when it changes.
    Without an embedder the search is lexical only; without a reranker it ends at the fused order. A collection
    in `pending` (its first ingest still embedding) is searched lexically over its chunks in memory."""

    def __init__(self, store: ChromaStore, embedder: Embedder | None, reranker: Reranker | None,
                 detect_language: LanguageDetector, default_instruction: str,
                 depth: SearchDepth = SearchDepth(), lexical_folder: Path | None = None,
                 pending: PendingCollections | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.reranker = reranker
        self.detect_language = detect_language
        self.default_instruction = default_instruction
        self.depth = depth
        self.lexical = LexicalIndexes(store, lexical_folder)
        self.pending = pending or PendingCollections()

    def search(self, question: str, collections: Sequence[str], languages: Sequence[str] | None = None,
               top_n: int | None = None, query_language: str | None = None,
               on_stage: OnStage = quiet) -> SearchResult:
        """Candidates for a question across collections, reranked best first (top_n of them if given); the
        question's language is detected unless the caller knows it (`query_language`). `on_stage` is told
        "Searching…", then "Reranking n passages…"."""
        start = time.perf_counter()
        on_stage("Searching…")
        timings: dict[str, float] = {}
        infos = {name: self.store.info(name) for name in collections}
        pending = {name: p for name in collections if (p := self.pending.get(name)) is not None}
        warnings = [p.warning(name) for name, p in pending.items()]
        with timed(timings, "language"):
            query_language = query_language or self.detect_language(question)
        stored = {name: info for name, info in infos.items() if name not in pending}
        query_vector = self._query_vector(question, stored, timings, warnings) if self.embedder and stored else None
        rankings, dense, lexical = [], {}, {}
        for name in collections:
            if query_vector is not None and name in stored:
                with timed(timings, "dense"):
                    hits = self.store.dense_search(name, query_vector, self.depth.dense_k, languages)
                dense.update({(name, i): (s, r) for r, (i, s) in enumerate(hits, 1)})
                rankings.append([(name, i) for i, _ in hits])
            with timed(timings, "lexical"):
                index = pending[name].index if name in pending else self.lexical.get(name, infos[name].revision)
                hits = self._lexical_hits(index, question, query_language, languages)
            lexical.update({(name, i): (s, r) for r, (i, s) in enumerate(hits, 1)})
            rankings.append([(name, i) for i, _ in hits])
        with timed(timings, "fused"):
            fused = reciprocal_rank_fusion(rankings)[: self.depth.rerank_k]
            candidates = self._candidates(fused, dense, lexical, pending)
        if candidates and self.reranker is not None:
            on_stage(f"Reranking {len(candidates)} passage{'s' if len(candidates) > 1 else ''}…")
        with timed(timings, "reranked"):
            candidates = self._rerank(question, candidates, {n: i.rerank_instruction for n, i in infos.items()},
                                      warnings)
        timings["total"] = (time.perf_counter() - start) * 1000
        stages = {"dense": _by_rank(dense, collections), "lexical": _by_rank(lexical, collections),
                  "fused": tuple(key for key, _ in fused)}
        if query_vector is None:
            del stages["dense"]
        if any(c.rerank_rank is not None for c in candidates):
            stages["reranked"] = tuple((c.collection, c.chunk.id) for c in candidates)
        return SearchResult(question, query_language, tuple(candidates[: top_n or None]), timings, tuple(warnings),
                            stages)

    def _query_vector(self, question: str, infos: dict[str, CollectionInfo], timings: dict[str, float],
                      warnings: list[str]) -> np.ndarray | None:
        """The question's embedding, or None with a warning when the embedder is unavailable."""
        try:
            with timed(timings, "embed"):
                for info in infos.values():
                    check_embedder(info, self.embedder.model_id, self.embedder.dim)
                return self.embedder.embed_query(question)
        except BackendUnavailable as exc:
            warnings.append(f"Dense retrieval skipped, lexical results only: {exc}")
            return None

    def _lexical_hits(self, index: LexicalIndex, question: str, language: str | None,
                      languages: Sequence[str] | None) -> list[tuple[str, float]]:
        """BM25 hits from a collection's lexical index, filtered to the wanted languages."""
        k = self.depth.lexical_k
        hits = index.search(question, k * 4 if languages else k, language)
        if languages:
            hits = [(i, s) for i, s in hits if index.language_of.get(i) in languages][:k]
        return hits

    def _candidates(self, fused: list, dense: dict, lexical: dict,
                    pending: dict[str, PendingCollection]) -> list[Candidate]:
        """Fused hits as candidates carrying their dense and lexical scores and ranks (a pending collection's
        chunks come from memory)."""
        by_collection: dict[str, list[str]] = {}
        for (name, chunk_id), _ in fused:
            by_collection.setdefault(name, []).append(chunk_id)
        chunks = {(name, c.id): c for name, ids in by_collection.items()
                  for c in ([pending[name].chunks[i] for i in ids] if name in pending
                            else self.store.chunks(name, ids))}
        candidates = []
        for rank, (key, score) in enumerate(fused, 1):
            if key not in chunks:
                continue  # deleted between the search and this read
            dense_score, dense_rank = dense.get(key, (None, None))
            lexical_score, lexical_rank = lexical.get(key, (None, None))
            candidates.append(Candidate(chunks[key], key[0], dense_score, dense_rank, lexical_score, lexical_rank,
                                        score, rank))
        return candidates

    def _rerank(self, question: str, candidates: list[Candidate], instructions: dict[str, str],
                warnings: list[str]) -> list[Candidate]:
        """Rerank with each collection's instruction; on failure keep the fused order and say so."""
        if not candidates or self.reranker is None:
            return candidates
        scored: list[Candidate] = []
        try:
            for name in dict.fromkeys(c.collection for c in candidates):
                group = [c for c in candidates if c.collection == name]
                ranked = self.reranker.rerank(question, [c.chunk.text for c in group],
                                              instruction=instructions.get(name) or self.default_instruction)
                scored += [replace(group[r.index], rerank_score=r.score) for r in ranked]
        except BackendUnavailable as exc:
            warnings.append(f"Reranking skipped, results in fused order: {exc}")
            return candidates
        scored.sort(key=lambda c: -(c.rerank_score or 0.0))
        return [replace(c, rerank_rank=rank) for rank, c in enumerate(scored, 1)]


def _by_rank(hits: dict[tuple[str, str], tuple[float, int]], collections: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """One stage's hits best first: by rank within their collection, then in the order the collections were given."""
    order = {name: i for i, name in enumerate(collections)}
    return tuple(sorted(hits, key=lambda key: (hits[key][1], order[key[0]])))
