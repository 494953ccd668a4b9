"""Per-language, per-stage retrieval quality: Recall@k, MRR@10 and nDCG@10 over labelled queries.

Each stage is ranked as the search runs it: `dense` (the embedding index, POLYDESK_DENSE_K deep), `lexical`
(BM25, POLYDESK_LEXICAL_K deep), `fused` (their RRF fusion, POLYDESK_RERANK_K deep) and `reranked` (the fused
candidates reordered by the reranker). Relevance is binary. A chunk counts as the section `source#anchor` when
the query lists that section, so a section found by several chunks counts once, at its best rank.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.errors import BadInput
from core.knowledge.search import HybridSearcher, SearchDepth
from core.models.rerank import rerank_budget
from core.quality.qrels import LabelledQuery
from core.types import SEARCH_STAGES

if TYPE_CHECKING:
    from core.pipeline import Pipeline

STAGES = SEARCH_STAGES
DENSE_STAGES = {"dense", "fused", "reranked"}  # the stages that need the embedder
DEFAULT_KS = (1, 5, 10)
ALL = "all"


def recall_at_k(ranking: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant ids found in the first k."""
    return len(set(ranking[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranking: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """1 / rank of the first relevant id within the first k, else 0."""
    return next((1 / rank for rank, item in enumerate(ranking[:k], 1) if item in relevant), 0.0)


def ndcg_at_k(ranking: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """Binary-gain nDCG: sum of 1/log2(rank+1) over relevant ids in the first k, over the ideal sum."""
    gain = sum(1 / math.log2(rank + 1) for rank, item in enumerate(ranking[:k], 1) if item in relevant)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return gain / ideal if ideal else 0.0


def judged_ranking(chunk_ids: Sequence[str], relevant: Collection[str], sections: Mapping[str, str]) -> list[str]:
    """Chunk ids as the query labels them: a chunk of a listed section becomes that section; each id once."""
    labelled = (sections[c] if sections.get(c) in relevant else c for c in chunk_ids)
    return list(dict.fromkeys(labelled))


@dataclass(frozen=True)
class GroupScores:
    """Mean metrics of one group of queries (a language, or a query→passage language pair) at one stage."""

    group: str
    stage: str
    queries: int
    recall: dict[int, float]
    mrr: float
    ndcg: float

    def to_dict(self) -> dict:
        """Flat plain data: group, stage, queries, recall@k..., mrr@10, ndcg@10."""
        return {"group": self.group, "stage": self.stage, "queries": self.queries,
                **{f"recall@{k}": round(v, 4) for k, v in self.recall.items()},
                "mrr@10": round(self.mrr, 4), "ndcg@10": round(self.ndcg, 4)}


@dataclass(frozen=True)
class EvalReport:
    """Scores per group and stage, plus the overall group `all`."""

    collection: str
    stages: tuple[str, ...]
    ks: tuple[int, ...]
    rows: tuple[GroupScores, ...]
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        """Plain data for JSON."""
        return {"collection": self.collection, "stages": list(self.stages), "ks": list(self.ks),
                "rows": [r.to_dict() for r in self.rows], "warnings": list(self.warnings)}


class StageRanker:
    """Ranks one collection's chunks for a question at each wanted stage, through the hybrid searcher itself."""

    def __init__(self, pipeline: Pipeline, collection: str, stages: Sequence[str]) -> None:
        self.stages = tuple(stages)
        self.collection = collection
        self.pipeline = pipeline
        self.sections = {c.id: f"{c.source}#{c.anchor}" for c in pipeline.store.all_chunks(collection)}
        self._searcher: HybridSearcher | None = None

    @property
    def searcher(self) -> HybridSearcher:
        """A hybrid searcher with the reranker only when the reranked stage is wanted."""
        if self._searcher is None:
            settings = self.pipeline.settings
            depth = SearchDepth(settings.dense_k, settings.lexical_k, rerank_budget(settings).k)
            self._searcher = HybridSearcher(
                self.pipeline.store, self.pipeline.embedder if DENSE_STAGES & set(self.stages) else None,
                self.pipeline.reranker if "reranked" in self.stages else None, self.pipeline.languages.detect,
                settings.reranker_instruction, depth)
        return self._searcher

    def rank(self, question: str) -> tuple[dict[str, list[str]], tuple[str, ...]]:
        """Chunk ids best first per stage (empty for a stage that degraded), and the warnings saying why."""
        result = self.searcher.search(question, [self.collection])
        return {stage: [chunk_id for _, chunk_id in result.rankings.get(stage, ())] for stage in self.stages}, \
            result.warnings


def check_stages(stages: Sequence[str]) -> tuple[str, ...]:
    """The stages in pipeline order; BadInput naming the valid ones."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        raise BadInput(f"unknown stage(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(STAGES)}")
    return tuple(s for s in STAGES if s in stages)


def group_of(query: LabelledQuery, by: str) -> str:
    """The query's language, or its `query→passage` language pair with by="pair"."""
    if by == "pair":
        return f"{query.language}→{query.target_language or '?'}"
    return query.language


def evaluate(pipeline: Pipeline, collection: str, queries: Sequence[LabelledQuery],
             stages: Sequence[str] = STAGES, ks: Sequence[int] = DEFAULT_KS, by: str = "language",
             progress: Callable[[int, int], None] | None = None) -> EvalReport:
    """Run every query once per distinct text and average the metrics per group and stage."""
    stages = check_stages(stages)
    ks = tuple(sorted(set(ks)))
    pipeline.store.info(collection)  # an unknown collection fails here, before any model loads
    ranker = StageRanker(pipeline, collection, stages)
    cache: dict[str, dict[str, list[str]]] = {}
    warnings: dict[str, None] = {}
    per_query: list[tuple[str, str, dict[str, float]]] = []
    for done, query in enumerate(queries):
        if query.query not in cache:
            cache[query.query], degraded = ranker.rank(query.query)
            warnings.update(dict.fromkeys(degraded))
        for stage, chunk_ids in cache[query.query].items():
            ranking = judged_ranking(chunk_ids, query.relevant, ranker.sections)
            scores = {f"recall@{k}": recall_at_k(ranking, query.relevant, k) for k in ks}
            scores |= {"mrr": reciprocal_rank(ranking, query.relevant), "ndcg": ndcg_at_k(ranking, query.relevant)}
            per_query.append((group_of(query, by), stage, scores))
        if progress:
            progress(done + 1, len(queries))
    return EvalReport(collection, stages, ks, tuple(_summarise(per_query, stages, ks)), tuple(warnings))


def _summarise(per_query: list[tuple[str, str, dict[str, float]]], stages: Sequence[str],
               ks: Sequence[int]) -> list[GroupScores]:
    """Means per group (sorted, then `all`) and stage (pipeline order)."""
    groups = sorted({group for group, _, _ in per_query})
    rows = []
    for group in [*groups, ALL]:
        for stage in stages:
            scores = [s for g, st, s in per_query if st == stage and group in (g, ALL)]
            if not scores:
                continue
            mean = {name: statistics.fmean(s[name] for s in scores) for name in scores[0]}
            rows.append(GroupScores(group, stage, len(scores), {k: mean[f"recall@{k}"] for k in ks}, mean["mrr"],
                                    mean["ndcg"]))
    return rows


def report_table(report: EvalReport) -> str:
    """The report as a Markdown table."""
    header = ["language", "stage", "queries", *(f"R@{k}" for k in report.ks), "MRR@10", "nDCG@10"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in report.rows:
        cells = [row.group, row.stage, str(row.queries), *(f"{row.recall[k]:.3f}" for k in report.ks),
                 f"{row.mrr:.3f}", f"{row.ndcg:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
