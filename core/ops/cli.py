"""The `polydesk` command: ingest, search, ask, evaluate, check and administer Polydesk from a terminal."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from core.errors import PolydeskError
from core.ops.answers_cli import add_reply_command, ask_command, search_command
from core.ops.collections_cli import collections_command, ingest_command
from core.ops.quality_cli import compare_command, eval_build_command, eval_command
from core.ops.terminal import preview
from core.settings import load_settings, redact_credentials


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
    ingest.set_defaults(run=ingest_command)

    collections = commands.add_parser("collections", help="list, show or delete collections")
    collections.add_argument("action", choices=["list", "show", "delete"])
    collections.add_argument("name", nargs="?", help="the collection (for show and delete)")
    collections.add_argument("--json", action="store_true", help="print JSON")
    collections.set_defaults(run=collections_command)

    search = commands.add_parser("search", help="hybrid search with reranking")
    search.add_argument("question", type=_question)
    _collections_option(search)
    search.add_argument("--language", action="append", dest="languages", type=_language,
                        help="only passages in this language")
    search.add_argument("--top-n", type=_positive, default=5, help="how many passages to show (default 5)")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(run=search_command)

    ask = commands.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question", type=_question)
    _collections_option(ask)
    ask.add_argument("--language", type=_language, help="answer in this language (ISO 639-1), default the question's")
    ask.add_argument("--conversation", type=Path, help='earlier turns: JSON Lines of {"role", "content"}')
    ask.add_argument("--json", action="store_true", help="print JSON")
    ask.set_defaults(run=ask_command)
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
    evaluate.set_defaults(run=eval_command)

    build = commands.add_parser("eval-build", help="make cross-language qrels from a parallel corpus")
    build.add_argument("corpus", type=Path, help="the corpus folder, holding manifest.jsonl")
    build.add_argument("--out", required=True, type=Path, help="the JSON Lines file to write")
    build.add_argument("--language", action="append", dest="languages", type=_language,
                       help="a language to include (repeat)")
    build.add_argument("--pages", type=int, help="only the first N pages of the manifest, by path")
    build.add_argument("--pairs", choices=["all", "same", "cross"], default="all",
                       help="language pairs: all, same (query and passage in one language) or cross (two)")
    build.set_defaults(run=eval_build_command)

    compare = commands.add_parser("compare", help="one question in several languages: how alike are the rankings?")
    _collections_option(compare)
    compare.add_argument("--queries", required=True, type=Path, help='JSON file: {"en": "question", "de": ...}')
    compare.add_argument("--reference", help="the language the others are compared with (default the first)")
    compare.add_argument("--k", type=_positive, default=10, help="how many passages per language (default 10)")
    compare.add_argument("--json", action="store_true", help="print JSON")
    compare.set_defaults(run=compare_command)

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
        print(f"{rank:>4}  {r.score:8.4f}  {r.index:>3}  {preview(args.docs[r.index])}")
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
        print(f"norm {np.linalg.norm(vector):.4f}  [{head} ...]  {preview(text)}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    """Print the checks; exit 1 when one failed."""
    from core.models.rerank import make_reranker
    from core.ops.doctor import diagnose, render_table

    settings = load_settings()
    diagnosis = diagnose(settings, reranker=lambda: make_reranker(settings))
    print(json.dumps(diagnosis.to_dict(), ensure_ascii=False, indent=2) if args.json else render_table(diagnosis))
    return 0 if diagnosis.ok else 1


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


def _quiet_libraries() -> None:
    """Keep model-loading progress bars and warnings off the terminal."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


if __name__ == "__main__":
    sys.exit(main())
