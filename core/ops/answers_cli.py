"""The answer side of the `polydesk` command: answers as JSON, conversation files, and `polydesk reply`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.answers.conversation import read_turns
from core.answers.ticket import MAX_TICKET_CHARS
from core.errors import BadInput
from core.ops.terminal import preview
from core.settings import load_settings
from core.types import Answer, Candidate, SearchResult, Turn


def passage_json(candidate: Candidate) -> dict:
    """One passage as plain data: where it is, its language, score, link and text."""
    chunk = candidate.chunk
    return {"collection": candidate.collection, "source": chunk.source, "anchor": chunk.anchor,
            "section": list(chunk.heading_path), "language": chunk.language, "rerank_score": candidate.rerank_score,
            "url": chunk.url or None, "text": chunk.text}


def answer_json(answer: Answer, timings_ms: dict[str, float]) -> dict:
    """An answer as plain data: text, search query, citations, every passage sent, warnings and timings."""
    return {"answer": answer.text, "language": answer.language, "search_query": answer.search_query,
            "mode": answer.mode, "model": answer.model,
            "citations": [{"marker": c.marker, **passage_json(c.candidate)} for c in answer.citations],
            "passages": [passage_json(p) for p in answer.passages],
            "invalid_markers": list(answer.invalid_markers), "warnings": list(answer.warnings),
            "timings_ms": {k: round(v, 2) for k, v in timings_ms.items()}}


def read_conversation(path: Path | None) -> tuple[Turn, ...]:
    """The turns of a JSON Lines conversation file (none without a file); BadInput when it cannot be read."""
    if path is None:
        return ()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"Cannot read the conversation file {path}: {exc}. Give a UTF-8 JSON Lines file.") from exc
    return read_turns(lines, str(path))


def read_ticket(source: str) -> str:
    """The customer's message from a file, or from standard input for `-`."""
    if source == "-":
        return sys.stdin.read(MAX_TICKET_CHARS + 1)
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"Cannot read the message file {source}: {exc}. Give a UTF-8 text file, or - for stdin."
                       ) from exc


def add_reply_command(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """`polydesk reply FILE|-`: a reply drafted for a customer's message."""
    reply = commands.add_parser("reply", help="draft a reply to a customer's message (a ticket)")
    reply.add_argument("message", help="a text file holding the customer's message, or - to read standard input")
    reply.add_argument("--language", help="write the reply in this language (ISO 639-1), default the message's")
    reply.add_argument("--json", action="store_true", help="print JSON")
    reply.set_defaults(run=reply_command)
    return reply


def reply_command(args: argparse.Namespace) -> int:
    """Print the drafted reply with its questions, links and warnings."""
    from core.pipeline import Pipeline

    reply = Pipeline(load_settings()).reply(read_ticket(args.message), args.collections, args.language)
    draft = reply.draft
    if args.json:
        print(json.dumps({"language": reply.language, "questions": list(reply.questions),
                          "warnings": list(reply.warnings), "draft": answer_json(draft, {})},
                         ensure_ascii=False, indent=2))
        return 0
    for warning in (*reply.warnings, *draft.warnings):
        print(f"warning: {warning}", file=sys.stderr)
    print("questions: " + " | ".join(reply.questions))
    print(f"\n{draft.text}\n")
    for citation in draft.citations:
        chunk = citation.candidate.chunk
        print(f"[{citation.marker}] {chunk.url or chunk.source + '#' + chunk.anchor}")
    return 0


def search_command(args: argparse.Namespace) -> int:
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
        print(f"    {preview(c.chunk.text, 160)}" + (f"\n    {c.chunk.url}" if c.chunk.url else ""))
    print("\nms: " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings_ms.items()))
    return 0


def ask_command(args: argparse.Namespace) -> int:
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


def search_json(result: SearchResult) -> dict:
    """A search result as plain data."""
    from dataclasses import asdict

    return {"query": result.query, "query_language": result.query_language, "warnings": list(result.warnings),
            "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
            "candidates": [{**asdict(c), "chunk": {**asdict(c.chunk), "extra": dict(c.chunk.extra)}}
                           for c in result.candidates]}
