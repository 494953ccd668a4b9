"""The quality side of the `polydesk` command: `polydesk eval`, `eval-build` and `compare`."""

from __future__ import annotations

import argparse
import json
import sys

from core.ops.terminal import preview
from core.settings import load_settings


def eval_command(args: argparse.Namespace) -> int:
    """Print the per-language, per-stage metrics of a collection on labelled queries."""
    from core.pipeline import Pipeline
    from core.quality.evaluate import DEFAULT_KS, STAGES, evaluate, report_table
    from core.quality.qrels import read_qrels

    queries = read_qrels(args.qrels)

    def show(done: int, total: int) -> None:
        if done % 200 == 0 or done == total:
            print(f"[{done}/{total}] queries", file=sys.stderr)

    report = evaluate(Pipeline(load_settings()), args.collection, queries, args.stages or STAGES,
                      args.ks or DEFAULT_KS, args.by, show)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report_table(report))
    return 0


def eval_build_command(args: argparse.Namespace) -> int:
    """Write cross-language qrels built from a parallel corpus."""
    from core.quality.parallel_qrels import parallel_qrels
    from core.quality.qrels import qrels_jsonl

    queries = parallel_qrels(args.corpus, args.languages, args.pages, args.pairs)
    args.out.write_text(qrels_jsonl(queries), encoding="utf-8")
    print(f"Wrote {len(queries)} queries ({len({q.language for q in queries})} languages) to {args.out}.")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    """Search each language's version of a question and compare the rankings with the reference language."""
    from core.pipeline import Pipeline
    from core.quality.compare import comparison_json, language_stats, read_questions, run_languages

    questions = read_questions(args.queries)
    reference = args.reference or next(iter(questions))
    pipeline = Pipeline(load_settings())
    for name in args.collections:
        pipeline.store.info(name)  # an unknown collection fails before any model loads
    runs = run_languages(pipeline, questions, args.collections, args.k)
    stats = language_stats(runs, reference, args.k)
    if args.json:
        print(json.dumps(comparison_json(runs, stats, reference, args.k), ensure_ascii=False, indent=2))
        return 0
    for run in runs:
        for warning in run.warnings:
            print(f"warning [{run.language}]: {warning}", file=sys.stderr)
    print(f"reference: {reference}, k = {args.k}\n")
    print(f"{'lang':<8} {'top-1':>5} {'top-3':>5} {'overlap':>7} {'tau':>6} {'RBO':>5} {'mean':>6} {'std':>6}"
          "  question")
    for s in stats:
        cells = [_number(v, width) for v, width in ((s.top1_agreement, 5), (s.top3_agreement, 5),
                                                     (s.overlap_at_k, 7), (s.kendall_tau, 6), (s.rbo, 5),
                                                     (s.mean_score, 6), (s.std_score, 6))]
        print(f"{s.language:<8} {' '.join(cells)}  {preview(s.question)}")
    for run in runs:
        print(f"\n[{run.language}] {run.question}")
        for rank, (candidate, score) in enumerate(zip(run.candidates, run.scores, strict=True), 1):
            chunk = candidate.chunk
            print(f"  #{rank:<3} {score:.3f}  [{chunk.language or '?'}]  {chunk.source}#{chunk.anchor}")
    return 0


def _number(value: float | None, width: int) -> str:
    """A statistic right-aligned with two decimals, or a dash where it is undefined."""
    return f"{value:>{width}.2f}" if value is not None else f"{'–':>{width}}"
