"""The `polydesk` command: quick checks of the configured models from a terminal."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from core.errors import PolydeskError
from core.settings import load_settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; a PolydeskError becomes a message on stderr and exit code 1."""
    args = _parser().parse_args(argv)
    _quiet_libraries()
    try:
        return args.run(args)
    except PolydeskError as exc:
        print(f"error: {exc}", file=sys.stderr)
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
    return parser


def _rerank(args: argparse.Namespace) -> int:
    """Print the documents ranked by the reranker."""
    from core.rerank import make_reranker

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

    from core.embed import make_embedder

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
