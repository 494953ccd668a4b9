"""The collection side of the `polydesk` command: `polydesk ingest` and `polydesk collections`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from core.knowledge.links import SiteLinks
from core.settings import load_settings

if TYPE_CHECKING:
    from core.knowledge.store import ChromaStore


def ingest_command(args: argparse.Namespace) -> int:
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


def collections_command(args: argparse.Namespace) -> int:
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
