"""How alike the rankings of one question asked in several languages are: metrics, the per-language run, exports.

A ranking is a sequence of passage ids, best first; the same id in two rankings is the same passage (the
comparison uses `collection:chunk id`). Conventions shared by every metric:
- a metric that has nothing to measure (both lists empty, or an empty reference) returns None, shown as "–";
- `k` larger than a list simply takes the whole list;
- duplicate ids count once, at their first (best) position.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import BadInput
from core.types import Candidate

if TYPE_CHECKING:
    from core.pipeline import Pipeline

Ranking = Sequence[str]
RBO_PERSISTENCE = 0.9  # weight of depth d is p**(d-1): with 0.9 the top 10 carry about 86% of RBO's weight


def _unique(ranking: Ranking) -> list[str]:
    """The ranking with later duplicates removed."""
    return list(dict.fromkeys(ranking))


def top_k_agreement(reference: Ranking, other: Ranking, k: int) -> float | None:
    """1.0 when the reference's best passage is in the other's top k, else 0.0 (top-1: same best passage)."""
    if not reference:
        return None
    return 1.0 if reference[0] in _unique(other)[:k] else 0.0


def overlap_at_k(a: Ranking, b: Ranking, k: int) -> float | None:
    """Shared passages in the two top-k lists over the longer of them: 1.0 for the same set, 0.0 for disjoint."""
    top_a, top_b = set(_unique(a)[:k]), set(_unique(b)[:k])
    longest = max(len(top_a), len(top_b))
    return len(top_a & top_b) / longest if longest else None


def rank_positions(ranking: Ranking, scores: Sequence[float] | None = None) -> dict[str, float]:
    """Position (from 1) of each id; with scores, ids of equal score share the mean of their positions."""
    ids = _unique(ranking)
    if scores is None:
        return {item: float(position) for position, item in enumerate(ids, 1)}
    score_of = dict(zip(ranking, scores, strict=True))
    positions: dict[str, float] = {}
    start = 0
    while start < len(ids):
        end = start
        while end + 1 < len(ids) and score_of[ids[end + 1]] == score_of[ids[start]]:
            end += 1
        for item in ids[start : end + 1]:
            positions[item] = (start + end) / 2 + 1
        start = end + 1
    return positions


def kendall_tau(a: Ranking | Mapping[str, float], b: Ranking | Mapping[str, float]) -> float | None:
    """Kendall's tau-b over the passages both rankings hold (rankings, or positions from `rank_positions`).

    Tied positions count as neither concordant nor discordant (tau-b). None when fewer than two passages are
    shared, or when all shared passages are tied in one ranking: order cannot be compared then.
    """
    positions_a = a if isinstance(a, Mapping) else rank_positions(a)
    positions_b = b if isinstance(b, Mapping) else rank_positions(b)
    common = [item for item in positions_a if item in positions_b]
    concordant = discordant = tied_a = tied_b = 0
    for x, y in combinations(common, 2):
        delta_a = positions_a[x] - positions_a[y]
        delta_b = positions_b[x] - positions_b[y]
        if delta_a == 0 and delta_b == 0:
            continue
        if delta_a == 0:
            tied_a += 1
        elif delta_b == 0:
            tied_b += 1
        elif (delta_a > 0) == (delta_b > 0):
            concordant += 1
        else:
            discordant += 1
    denominator = ((concordant + discordant + tied_a) * (concordant + discordant + tied_b)) ** 0.5
    return (concordant - discordant) / denominator if denominator else None


def rank_biased_overlap(a: Ranking, b: Ranking, p: float = RBO_PERSISTENCE) -> float | None:
    """Extrapolated rank-biased overlap (Webber, Moffat and Zobel 2010, eq. 32) of two rankings of any length.

    1.0 for identical rankings, 0.0 for disjoint ones; agreement near the top weighs more (persistence p in
    (0, 1)). Lists of different lengths: the passages after the shorter list's end are assumed to agree as
    much as the shorter list did. None when both are empty; 0.0 when one is.
    """
    if not 0 < p < 1:
        raise ValueError(f"RBO persistence must be in (0, 1), got {p}")
    short, long = sorted((_unique(a), _unique(b)), key=len)
    s, length = len(short), len(long)
    if not length:
        return None
    if not s:
        return 0.0
    seen_short: set[str] = set()
    seen_long: set[str] = set()
    overlap = 0
    overlaps = [0]  # overlaps[d]: shared passages within the first d of each (the whole short list past its end)
    for d in range(1, length + 1):
        item_long = long[d - 1]
        if d <= s:
            item_short = short[d - 1]
            overlap += (item_short in seen_long) + (item_long in seen_short) + (item_short == item_long)
            seen_short.add(item_short)
        else:
            overlap += item_long in seen_short
        seen_long.add(item_long)
        overlaps.append(overlap)
    x_s, x_l = overlaps[s], overlaps[length]
    total = sum(overlaps[d] / d * p**d for d in range(1, length + 1))
    total += sum(x_s * (d - s) / (s * d) * p**d for d in range(s + 1, length + 1))
    return (1 - p) / p * total + ((x_l - x_s) / length + x_s / s) * p**length


def score_summary(scores: Sequence[float], k: int) -> tuple[float | None, float | None]:
    """Mean and population standard deviation of the first k scores; (None, None) without scores."""
    top = list(scores[:k])
    if not top:
        return None, None
    return statistics.fmean(top), statistics.pstdev(top)


Metric = Callable[[Ranking, Ranking], float | None]


def agreement_matrix(rankings: Mapping[str, Ranking], metric: Metric) -> dict[tuple[str, str], float | None]:
    """The metric for every ordered pair of languages (the diagonal included)."""
    return {(x, y): metric(rankings[x], rankings[y]) for x in rankings for y in rankings}


@dataclass(frozen=True)
class LanguageRun:
    """One language's version of the question and the passages it found, best first."""

    language: str
    question: str
    candidates: tuple[Candidate, ...]
    warnings: tuple[str, ...] = ()

    @property
    def ranking(self) -> list[str]:
        """Passage ids, best first."""
        return [passage_id(c) for c in self.candidates]

    @property
    def scores(self) -> list[float]:
        """Rerank scores, else fused scores where reranking was skipped."""
        return [c.rerank_score if c.rerank_score is not None else c.fused_score for c in self.candidates]


@dataclass(frozen=True)
class LanguageStats:
    """One language's ranking compared with the reference language's."""

    language: str
    question: str
    top1_agreement: float | None
    top3_agreement: float | None
    overlap_at_k: float | None
    kendall_tau: float | None
    rbo: float | None
    mean_score: float | None
    std_score: float | None


def passage_id(candidate: Candidate) -> str:
    """The id that follows one passage across languages: its collection and chunk id."""
    return f"{candidate.collection}:{candidate.chunk.id}"


def parse_questions(text: str, name: str = "the questions") -> dict[str, str]:
    """A JSON object mapping language codes to the question's versions; BadInput saying what is wrong."""
    shape = '{"en": "How do I refresh a token?", "de": "Wie erneuere ich ein Token?"}'
    try:
        questions = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{name} is not JSON ({exc.msg}, line {exc.lineno}); write an object like {shape}.") from exc
    if not isinstance(questions, dict) or not all(isinstance(v, str) for v in questions.values()):
        raise BadInput(f"{name} must map language codes to questions, like {shape}.")
    questions = {code.strip(): text.strip() for code, text in questions.items() if code.strip() and text.strip()}
    if not questions:
        raise BadInput(f"{name} holds no question; write at least one, like {shape}.")
    return questions


def read_questions(path: Path) -> dict[str, str]:
    """The questions file of `polydesk compare`."""
    try:
        return parse_questions(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError as exc:
        raise BadInput(f"The questions file {path} does not exist; write a JSON object mapping language codes "
                       "to the question, e.g. {\"en\": \"...\", \"de\": \"...\"}.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"The questions file {path} cannot be read as UTF-8 text: {exc}.") from exc


def run_languages(pipeline: Pipeline, questions: Mapping[str, str], collections: Sequence[str],
                  top_n: int = 10) -> list[LanguageRun]:
    """The same hybrid search and rerank for each language's version of the question."""
    runs = []
    for language, question in questions.items():
        result = pipeline.search(question, collections, top_n=top_n)
        runs.append(LanguageRun(language, question, result.candidates, result.warnings))
    return runs


def language_stats(runs: Sequence[LanguageRun], reference: str, k: int = 10,
                   p: float = RBO_PERSISTENCE) -> list[LanguageStats]:
    """Every language against the reference language (which scores 1.0 against itself)."""
    by_language = {run.language: run for run in runs}
    if reference not in by_language:
        raise BadInput(f"The reference language {reference!r} is not among the question's languages "
                       f"{', '.join(by_language)}: choose one of them.")
    base = by_language[reference]
    stats = []
    for run in runs:
        scores_base = rank_positions(base.ranking, base.scores)
        scores_run = rank_positions(run.ranking, run.scores)
        mean, std = score_summary(run.scores, k)
        stats.append(LanguageStats(
            run.language, run.question, top_k_agreement(base.ranking, run.ranking, 1),
            top_k_agreement(base.ranking, run.ranking, 3), overlap_at_k(base.ranking, run.ranking, k),
            kendall_tau(scores_base, scores_run), rank_biased_overlap(base.ranking[:k], run.ranking[:k], p),
            mean, std,
        ))
    return stats


def comparison_json(runs: Sequence[LanguageRun], stats: Sequence[LanguageStats], reference: str, k: int) -> dict:
    """A comparison as plain data: the settings, each language's ranked passages, and the statistics."""
    return {
        "reference": reference, "k": k,
        "languages": [{
            "language": run.language, "question": run.question, "warnings": list(run.warnings),
            "results": [{"rank": rank, "passage": passage_id(c), "collection": c.collection, "source": c.chunk.source,
                         "anchor": c.chunk.anchor, "passage_language": c.chunk.language, "score": score,
                         "text": c.chunk.text} for rank, (c, score) in enumerate(zip(run.candidates, run.scores,
                                                                                      strict=True), 1)],
        } for run in runs],
        "statistics": [vars(s) for s in stats],
    }


CSV_FIELDS = ("language", "question", "rank", "passage", "source", "anchor", "passage_language", "score")


def comparison_csv(runs: Sequence[LanguageRun]) -> str:
    """One CSV row per language and ranked passage."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for run in runs:
        for rank, (c, score) in enumerate(zip(run.candidates, run.scores, strict=True), 1):
            writer.writerow([run.language, run.question, rank, passage_id(c), c.chunk.source, c.chunk.anchor,
                             c.chunk.language or "", f"{score:.6f}"])
    return out.getvalue()

