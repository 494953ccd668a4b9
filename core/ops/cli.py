"""The `polydesk` command: ingest, search, ask, evaluate, check and administer Polydesk from a terminal."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import PolydeskError
from core.knowledge.links import SiteLinks
from core.ops.answers_cli import add_reply_command, answer_json, read_conversation
from core.settings import load_settings, redact_credentials
from core.types import SearchResult

if TYPE_CHECKING:
    from core.knowledge.store import ChromaStore


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; a PolydeskError becomes a message on stderr and exit code 1, a refused argument 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    undecodable = next((arg for arg in argv if not _is_utf8(arg)), None)
    if undecodable is not None:
        shown = undecodable.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        print(f"error: the argument {shown!r} is not valid UTF-8: retype it, or set a UTF-8 locale", file=sys.stderr)
        return 2
    args = _parser().parse_args(argv)
    _quiet_libraries()
    try:
        return args.run(args)
    except PolydeskError as exc:
        print(f"error: {redact_credentials(str(exc))}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    """Subcommands and their options."""
    parser = argparse.ArgumentParser(prog="polydesk", description="Polydesk: multilingual support-desk assistant.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    rerank = commands.add_parser("rerank", help="score documents against a query with the configured reranker")
    rerank.add_argument("--query", required=True, help="the question")
    rerank.add_argument("--doc", action="append", required=True, dest="docs", help="a document (repeat)")
    rerank.add_argument("--instruction", help="the task instruction (default: POLYDESK_RERANKER_INSTRUCTION)")
    rerank.add_argument("--json", action="store_true", help="print JSON")
    rerank.set_defaults(run=_rerank)

    embed = commands.add_parser("embed", help="embed texts with the configured embedding model")
    embed.add_argument("texts", nargs="+", metavar="TEXT")
    embed.add_argument("--query", action="store_true", help="embed as queries (with the instruction)")
    embed.add_argument("--json", action="store_true", help="print JSON with the full vectors")
    embed.set_defaults(run=_embed)

    ingest = commands.add_parser("ingest", help="ingest files and folders into a collection")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders (folders recurse)")
    ingest.add_argument("--collection", required=True, help="the collection to create or update")
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.add_argument("--base-url", help="the published site's address: chunks get links to their pages "
                        "(stored with the collection; '' removes it)")
    ingest.add_argument("--default-language-folder", metavar="FOLDER",
                        help="the language folder the site serves without its folder, e.g. en")
    ingest.add_argument("--url-extension", metavar="EXT",
                        help="what pages end in: '' for docs/setup/ (default), .html for docs/setup.html")
    ingest.set_defaults(run=_ingest)

    collections = commands.add_parser("collections", help="list, show or delete collections")
    collections.add_argument("action", choices=["list", "show", "delete"])
    collections.add_argument("name", nargs="?", help="the collection (for show and delete)")
    collections.add_argument("--json", action="store_true", help="print JSON")
    collections.set_defaults(run=_collections)

    search = commands.add_parser("search", help="hybrid search with reranking")
    search.add_argument("question", type=_question)
    _collections_option(search)
    search.add_argument("--language", action="append", dest="languages", type=_language,
                        help="only passages in this language")
    search.add_argument("--top-n", type=_positive, default=5, help="how many passages to show (default 5)")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(run=_search)

    ask = commands.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question", type=_question)
    _collections_option(ask)
    ask.add_argument("--language", type=_language, help="answer in this language (ISO 639-1), default the question's")
    ask.add_argument("--conversation", type=Path, help='earlier turns: JSON Lines of {"role", "content"}')
    ask.add_argument("--json", action="store_true", help="print JSON")
    ask.set_defaults(run=_ask)
    _collections_option(add_reply_command(commands))

    doctor = commands.add_parser("doctor", help="check every configured backend, the store and the reranker")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(run=_doctor)

    evaluate = commands.add_parser("eval", help="Recall@k, MRR@10 and nDCG@10 per language and search stage")
    evaluate.add_argument("--collection", required=True, help="the collection to search")
    evaluate.add_argument("--qrels", required=True, type=Path, help="labelled queries, JSON Lines (see README)")
    evaluate.add_argument("--stage", action="append", dest="stages",
                          help="a stage to measure (repeat; default all: dense, lexical, fused, reranked)")
    evaluate.add_argument("--k", action="append", type=_positive, dest="ks",
                          help="a Recall@k cut-off (repeat; default 1 5 10)")
    evaluate.add_argument("--by", choices=["language", "pair"], default="language",
                          help="group by the query's language, or by query→passage language pair")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.set_defaults(run=_eval)

    build = commands.add_parser("eval-build", help="make cross-language qrels from a parallel corpus")
    build.add_argument("corpus", type=Path, help="the corpus folder, holding manifest.jsonl")
    build.add_argument("--out", required=True, type=Path, help="the JSON Lines file to write")
    build.add_argument("--language", action="append", dest="languages", type=_language,
                       help="a language to include (repeat)")
    build.add_argument("--pages", type=int, help="only the first N pages of the manifest, by path")
    build.add_argument("--pairs", choices=["all", "same", "cross"], default="all",
                       help="language pairs: all, same (query and passage in one language) or cross (two)")
    build.set_defaults(run=_eval_build)

    compare = commands.add_parser("compare", help="one question in several languages: how alike are the rankings?")
    _collections_option(compare)
    compare.add_argument("--queries", required=True, type=Path, help='JSON file: {"en": "question", "de": ...}')
    compare.add_argument("--reference", help="the language the others are compared with (default the first)")
    compare.add_argument("--k", type=_positive, default=10, help="how many passages per language (default 10)")
    compare.add_argument("--json", action="store_true", help="print JSON")
    compare.set_defaults(run=_compare)

    admin = commands.add_parser("admin", help="administrator account")
    admin.add_argument("action", choices=["set-password"], help="create the admin password hash to configure")
    admin.set_defaults(run=_admin)

    from core.ops.api.commands import add_api_commands

    add_api_commands(commands)
    return parser


def _collections_option(parser: argparse.ArgumentParser) -> None:
    """The repeatable --collection option of the commands that search."""
    parser.add_argument("--collection", action="append", required=True, dest="collections",
                        help="a collection to search (repeat for several)")


def _is_utf8(arg: str) -> bool:
    """Whether an argument decoded from the command line without undecodable bytes."""
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _question(value: str) -> str:
    """A question argument that is not blank."""
    if not value.strip():
        raise argparse.ArgumentTypeError("the question is empty: type what you want to know")
    return value


def _positive(value: str) -> int:
    """A whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {number}")
    return number


def _language(value: str) -> str:
    """An ISO 639-1 code (or tag such as pt-BR) that names a known language."""
    from core.knowledge.language import language_name

    code = value.strip()
    if not code or language_name(code) == code:
        raise argparse.ArgumentTypeError(f"{value!r} is not a known ISO 639-1 language code (such as en, de, ja)")
    return code


def _rerank(args: argparse.Namespace) -> int:
    """Print the documents ranked by the reranker."""
    from core.models.rerank import make_reranker

    settings = load_settings()
    reranker = make_reranker(settings)
    instruction = args.instruction or settings.reranker_instruction
    ranked = reranker.rerank(args.query, args.docs, instruction=instruction)
    if args.json:
        results = [{"index": r.index, "score": r.score, "document": args.docs[r.index]} for r in ranked]
        print(json.dumps({"model": reranker.model_id, "instruction": instruction, "query": args.query,
                          "results": results}, ensure_ascii=False, indent=2))
        return 0
    print(f"model: {reranker.model_id}\ninstruction: {instruction}\n")
    print(f"{'rank':>4}  {'score':>8}  {'doc':>3}  text")
    for rank, r in enumerate(ranked, 1):
        print(f"{rank:>4}  {r.score:8.4f}  {r.index:>3}  {_preview(args.docs[r.index])}")
    return 0


def _embed(args: argparse.Namespace) -> int:
    """Print the vectors (or a summary of each) of the given texts."""
    import numpy as np

    from core.models.embed import make_embedder

    embedder = make_embedder(load_settings())
    if args.query:
        vectors = np.stack([embedder.embed_query(text) for text in args.texts])
    else:
        vectors = embedder.embed_documents(args.texts)
    if args.json:
        print(json.dumps({"model": embedder.model_id, "dim": int(vectors.shape[1]), "query": args.query,
                          "embeddings": vectors.round(7).tolist()}, ensure_ascii=False))
        return 0
    print(f"model: {embedder.model_id}  dim: {vectors.shape[1]}  as {'queries' if args.query else 'documents'}")
    for text, vector in zip(args.texts, vectors, strict=True):
        head = " ".join(f"{v:+.4f}" for v in vector[:6])
        print(f"norm {np.linalg.norm(vector):.4f}  [{head} ...]  {_preview(text)}")
    return 0


def _ingest(args: argparse.Namespace) -> int:
    """Ingest and print the report; exit 1 when a file failed."""
    from core.knowledge.ingest.run import Progress
    from core.pipeline import Pipeline

    def show(progress: Progress) -> None:
        if progress.stage == "parse" and not args.json:
            print(f"[{progress.done + 1}/{progress.total}] {progress.source}", file=sys.stderr)

    pipeline = Pipeline(load_settings())
    report = pipeline.ingest(args.paths, args.collection, show, _links(args, pipeline.store))
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(f"{'status':<10} {'added':>5} {'upd':>5} {'rem':>5} {'same':>5}  lang  file")
        for f in report.files:
            counts = f"{f.added:>5} {f.updated:>5} {f.removed:>5} {f.unchanged:>5}"
            reason = f"  — {f.reason}" if f.reason else ""
            print(f"{f.status:<10} {counts}  {f.language or '-':<4}  {f.source}{reason}")
        totals = report.totals()
        skipped = sum(1 for f in report.files if f.status == "skipped")
        print(f"\n{len(report.files)} files, {len(report.failed)} failed, {skipped} skipped; chunks: "
              f"{totals['added']} added, "
              f"{totals['updated']} updated, {totals['removed']} removed, {totals['unchanged']} unchanged")
        print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in report.seconds.items()))
    return 1 if report.failed else 0


def _links(args: argparse.Namespace, store: ChromaStore) -> SiteLinks | None:
    """New link settings from the ingest options, merged with the stored ones; None when none was given."""
    given = (args.base_url, args.default_language_folder, args.url_extension)
    if all(value is None for value in given):
        return None
    stored = store.info(args.collection) if args.collection in {i.name for i in store.collections()} else None
    kept = (stored.base_url, stored.url_default_language, stored.url_extension) if stored else ("", "", "")
    return SiteLinks(*(new if new is not None else old for new, old in zip(given, kept, strict=True)))


def _collections(args: argparse.Namespace) -> int:
    """List, show or delete collections."""
    from dataclasses import asdict

    from core.knowledge.store import ChromaStore

    store = ChromaStore.from_settings(load_settings())
    if args.action == "list":
        infos = store.collections()
        if args.json:
            print(json.dumps([asdict(i) for i in infos], indent=2))
        for info in infos if not args.json else []:
            print(f"{info.name:<30} {info.chunks:>7} chunks  {info.embedding_model} ({info.embedding_dim})")
        if not infos and not args.json:
            print("No collections yet: `polydesk ingest PATH --collection NAME` creates one.")
        return 0
    if not args.name:
        print(f"error: `polydesk collections {args.action}` needs a collection name", file=sys.stderr)
        return 2
    if args.action == "delete":
        store.delete_collection(args.name)
        print(f"Deleted collection {args.name}.")
        return 0
    info, sources = store.info(args.name), store.sources(args.name)
    if args.json:
        print(json.dumps({**asdict(info), "sources": sources}, ensure_ascii=False, indent=2))
        return 0
    print(f"{info.name}: {info.chunks} chunks from {len(sources)} files, {info.embedding_model} ({info.embedding_dim})")
    if info.description:
        print(info.description)
    if info.base_url:
        print(f"links: {info.base_url} (default language folder: {info.url_default_language or 'none'}, "
              f"extension: {info.url_extension or 'none, pages end in /'})")
    for source, count in sources.items():
        print(f"{count:>6}  {source}")
    return 0


def _search(args: argparse.Namespace) -> int:
    """Print the best passages with their scores at every stage."""
    from core.pipeline import Pipeline

    result = Pipeline(load_settings()).search(args.question, args.collections, args.languages, args.top_n)
    if args.json:
        print(json.dumps(search_json(result), ensure_ascii=False, indent=2))
        return 0
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"question language: {result.query_language or 'unknown'}")
    for c in result.candidates:
        rerank = f"{c.rerank_score:.3f}" if c.rerank_score is not None else "-"
        ranks = f"fused #{c.fused_rank}  dense #{c.dense_rank or '-'}  lexical #{c.lexical_rank or '-'}"
        print(f"\n#{c.rerank_rank or c.fused_rank}  rerank {rerank}  {ranks}  [{c.chunk.language or '?'}]  "
              f"{c.chunk.source}#{c.chunk.anchor}")
        print(f"    {_preview(c.chunk.text, 160)}" + (f"\n    {c.chunk.url}" if c.chunk.url else ""))
    print("\nms: " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings_ms.items()))
    return 0


def _ask(args: argparse.Namespace) -> int:
    """Stream the answer, then its sources and timings."""
    from core.pipeline import Pipeline

    conversation = read_conversation(args.conversation)
    run = Pipeline(load_settings()).ask(args.question, args.collections, args.language, conversation)
    if args.json:
        answer = run.answer()
        print(json.dumps({"question": args.question, **answer_json(answer, run.timings_ms)},
                         ensure_ascii=False, indent=2))
        return 0
    for piece in run.stream():
        print(piece, end="", flush=True)
    answer = run.answer()
    print("\n")
    for warning in answer.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for citation in answer.citations:
        chunk = citation.candidate.chunk
        print(f"[{citation.marker}] {chunk.source}#{chunk.anchor}  ({chunk.language or '?'})  "
              f"{' > '.join(chunk.heading_path)}" + (f"\n    {chunk.url}" if chunk.url else ""))
    print("\nms: " + ", ".join(f"{k} {v:.1f}" for k, v in run.timings_ms.items()))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    """Print the checks; exit 1 when one failed."""
    from core.models.rerank import make_reranker
    from core.ops.doctor import diagnose, render_table

    settings = load_settings()
    diagnosis = diagnose(settings, reranker=lambda: make_reranker(settings))
    print(json.dumps(diagnosis.to_dict(), ensure_ascii=False, indent=2) if args.json else render_table(diagnosis))
    return 0 if diagnosis.ok else 1


def _eval(args: argparse.Namespace) -> int:
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


def _eval_build(args: argparse.Namespace) -> int:
    """Write cross-language qrels built from a parallel corpus."""
    from core.quality.parallel_qrels import parallel_qrels
    from core.quality.qrels import qrels_jsonl

    queries = parallel_qrels(args.corpus, args.languages, args.pages, args.pairs)
    args.out.write_text(qrels_jsonl(queries), encoding="utf-8")
    print(f"Wrote {len(queries)} queries ({len({q.language for q in queries})} languages) to {args.out}.")
    return 0


def _compare(args: argparse.Namespace) -> int:
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
        print(f"{s.language:<8} {' '.join(cells)}  {_preview(s.question)}")
    for run in runs:
        print(f"\n[{run.language}] {run.question}")
        for rank, (candidate, score) in enumerate(zip(run.candidates, run.scores, strict=True), 1):
            chunk = candidate.chunk
            print(f"  #{rank:<3} {score:.3f}  [{chunk.language or '?'}]  {chunk.source}#{chunk.anchor}")
    return 0


def _number(value: float | None, width: int) -> str:
    """A statistic right-aligned with two decimals, or a dash where it is undefined."""
    return f"{value:>{width}.2f}" if value is not None else f"{'–':>{width}}"


def _admin(args: argparse.Namespace) -> int:
    """Ask for a new admin password twice and print its hash with how to configure it."""
    from core.admin.auth import hash_password, set_password_instructions

    password = _read_secret("New admin password: ")
    if _read_secret("Repeat it: ") != password:
        print("error: the two passwords differ; nothing was changed", file=sys.stderr)
        return 1
    print(set_password_instructions(hash_password(password), load_settings().admin_user))
    return 0


def _read_secret(prompt: str) -> str:
    """A line typed without echo on a terminal, or read from piped standard input."""
    import getpass

    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    print(prompt, file=sys.stderr)
    return sys.stdin.readline().rstrip("\n")


def search_json(result: SearchResult) -> dict:
    """A search result as plain data."""
    from dataclasses import asdict

    return {"query": result.query, "query_language": result.query_language, "warnings": list(result.warnings),
            "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
            "candidates": [{**asdict(c), "chunk": {**asdict(c.chunk), "extra": dict(c.chunk.extra)}}
                           for c in result.candidates]}


def _preview(text: str, width: int = 60) -> str:
    """One line of at most `width` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _quiet_libraries() -> None:
    """Keep model-loading progress bars and warnings off the terminal."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


if __name__ == "__main__":
    sys.exit(main())
