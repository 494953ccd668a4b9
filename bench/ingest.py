"""Ingest throughput and language tagging on the FastAPI docs corpus: parse, chunk, language, embed, store.

Parse + chunk: every page of ../shared/corpora/fastapi-docs (1,456 Markdown pages in 13 languages; a page's language
is its top folder) through core.knowledge.ingest.parse.parse_file and core.knowledge.chunk.Chunker (512 tokens,
overlap 32: the
settings' defaults) with the Qwen3 tokenizer, one page at a time as the ingester does. Throughput is input bytes /
seconds. The one-off start-up (loading tokenizer.json, and building the Markdown splitters, which this script times
by standing in for MarkdownSplitter.from_huggingface_tokenizer inside core.knowledge.chunk) is reported apart and left
out of the steady-state figures.
Language: the process-wide core.knowledge.language detector for the default language set (models load lazily, as in
ingestion), detect_document over each page's chunk texts; the document language and every chunk's tag are compared
with the page's folder (zh-hant counts as zh: Lingua has one Chinese). The first page of each folder is detected once
before timing; that warm-up (lazy model loading) is reported apart.
Embed: QwenLocalEmbedder on a TINY RANDOM Qwen3 checkpoint (2 layers, hidden 64) over 200 real chunks, the fastest of
3 calls: it measures tokenisation and the sentence-transformers path, NOT Qwen3-Embedding-0.6B. A model this small
runs many tiny torch operations, so its speed swings several-fold when other processes load the CPUs.
Store: rows/s of upserts into a real embedded Chroma (PersistentClient in a temporary folder, a fresh one per
setting) at dimension 1024, random unit vectors (embedding is not timed here), the real chunks' texts and metadata.
The baseline is core/store.py as it is: ChromaStore.write_source with all rows in one call (WRITE_BATCH batches,
its HNSW). Then the ingest path (write_source once per source file, as Ingester does), and raw collection.upsert of
the same payload at other batch sizes and HNSW (ef_construction, max_neighbors) settings; ratios are rows/s against
the baseline. CPU seconds of the process (Chroma's Rust threads included) and rows per CPU-second are reported too:
they vary less than wall-clock time when others share the machine. Random vectors are the hardest case for HNSW
insertion; real embeddings insert somewhat faster.
Stages vs baselines (bench/ingest_ratios.py, in the same run): a written tree in several language folders through the
real Ingester, every stage timed against tokenising each page once and raw Chroma adds of the same rows.
Without the corpus, parse, chunk and language are skipped and the embed and store stages use synthetic chunks.

Run from the repository root:
    .venv/bin/python bench/ingest.py
    .venv/bin/python bench/ingest.py --store-rows 20000 --batch-sizes 1000,5000 --hnsw 200x32,100x16
    .venv/bin/python bench/ingest.py --skip-store --skip-embed --profile 25
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    CACHE,
    REPO,
    RESULTS,
    SENTENCES,
    cached_checkpoint,
    machine_info,
    write_json,
)
from bench.ingest_ratios import measure as measure_ratios  # noqa: E402
from bench.ingest_ratios import show as show_ratios  # noqa: E402
from core.knowledge import chunk as chunk_module  # noqa: E402
from core.knowledge.chunk import Chunker, Piece  # noqa: E402
from core.knowledge.ingest.parse import parse_file  # noqa: E402
from core.knowledge.ingest.run import make_chunk  # noqa: E402
from core.types import Chunk  # noqa: E402
from tests.tiny_qwen3 import build_embedder  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "fastapi-docs"
LINGUA_CODE = {"zh-hant": "zh"}  # Lingua has one Chinese
TARGET = {"parse_chunk_mb_per_s": 2.0, "store_rows_per_s": 1000}
DIM = 1024
CHUNKER_SOURCES = (REPO / "core" / "knowledge" / "ingest" / "parse.py", REPO / "core" / "knowledge" / "chunk.py")


@dataclass(frozen=True)
class Page:
    """One corpus page: its file, its name relative to the corpus, its folder language and size."""

    path: Path
    source: str
    folder: str
    size: int

    @property
    def language(self) -> str:
        """The ISO 639-1 code a detector should give (zh-hant is zh)."""
        return LINGUA_CODE.get(self.folder, self.folder)


@dataclass(frozen=True)
class ChunkedPage:
    """A page after parsing and chunking."""

    page: Page
    title: str
    pieces: list[Piece]


def corpus_pages(corpus: Path) -> list[Page]:
    """Every Markdown page under the corpus's language folders, in a stable order."""
    pages = []
    for path in sorted(corpus.rglob("*.md")):
        relative = path.relative_to(corpus)
        if len(relative.parts) > 1:
            pages.append(Page(path, relative.as_posix(), relative.parts[0], path.stat().st_size))
    return pages


def tokenizer_folder() -> tuple[Path, str]:
    """A folder with the embedding tokenizer.json (a cached tiny Qwen3 embedding checkpoint), and its label."""
    return cached_checkpoint("embedder", "tiny", build_embedder)


class SplitterBuilds:
    """Stands in for MarkdownSplitter inside core.knowledge.chunk and times each splitter build (one-off start-up)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.seconds = 0.0
        self.count = 0

    def from_huggingface_tokenizer(self, *args: Any, **kwargs: Any) -> Any:
        """Build the real splitter, adding the time it took."""
        start = time.perf_counter()
        try:
            return self.real.from_huggingface_tokenizer(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.count += 1


@contextmanager
def timed_splitter_builds() -> Iterator[SplitterBuilds]:
    """Time splitter builds in core.knowledge.chunk for the duration of the block."""
    real = getattr(chunk_module, "MarkdownSplitter", None)
    builds = SplitterBuilds(real)
    if real is None:  # the chunker no longer builds splitters this way: nothing to time apart
        yield builds
        return
    chunk_module.MarkdownSplitter = builds
    try:
        yield builds
    finally:
        chunk_module.MarkdownSplitter = real


def chunk_pages(pages: list[Page], chunker: Chunker) -> tuple[list[ChunkedPage], list[dict[str, Any]], SplitterBuilds]:
    """Parse and chunk each page; per page: bytes, parse seconds, chunk seconds less splitter builds, builds."""
    done, timings = [], []
    with timed_splitter_builds() as builds:
        for page in pages:
            start = time.perf_counter()
            document = parse_file(page.path)
            parsed = time.perf_counter()
            built_before = builds.seconds
            pieces = chunker.split(document)
            chunked = time.perf_counter()
            build = builds.seconds - built_before
            done.append(ChunkedPage(page, document.title, pieces))
            timings.append({"folder": page.folder, "bytes": page.size, "parse_s": parsed - start,
                            "chunk_s": chunked - parsed - build, "build_s": build, "chunks": len(pieces)})
    return done, timings, builds


# --- the chunk cache shared with bench/search.py ---------------------------------------------------------------


def chunk_cache_path(pages: list[Page], tokenizer_label: str, max_tokens: int, overlap: int) -> Path:
    """Where the chunks of these pages, with this chunker and tokenizer, are cached."""
    digest = hashlib.sha256(f"{tokenizer_label}\0{max_tokens}\0{overlap}\0".encode())
    for source in CHUNKER_SOURCES:
        digest.update(source.read_bytes())
    for page in pages:
        digest.update(page.source.encode() + b"\0" + page.path.read_bytes())
    return CACHE / f"fastapi-chunks-{digest.hexdigest()[:16]}.json"


def save_chunks(path: Path, chunked: list[ChunkedPage]) -> None:
    """Cache chunk texts and where they come from, for bench/search.py."""
    records = [
        {"source": c.page.source, "folder": c.page.folder, "language": c.page.language, "title": c.title,
         "text": p.text, "heading_path": list(p.heading_path), "anchor": p.anchor, "kind": p.kind,
         "token_count": p.token_count}
        for c in chunked for p in c.pieces
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob("fastapi-chunks-*.json"):  # other pages, chunker versions or settings
        stale.unlink()
    path.write_text(json.dumps(records, ensure_ascii=False))


def corpus_chunks(corpus: Path = CORPUS, max_tokens: int = 512, overlap: int = 32) -> list[dict[str, Any]] | None:
    """The corpus's chunks as records (from the cache, else chunked now and cached); None without the corpus."""
    pages = corpus_pages(corpus) if corpus.is_dir() else []
    if not pages:
        return None
    folder, label = tokenizer_folder()
    path = chunk_cache_path(pages, label, max_tokens, overlap)
    if not path.is_file():
        print(f"chunking {len(pages)} pages of {corpus} (once; cached in {path.name}) ...", flush=True)
        start = time.perf_counter()
        chunked, _, _ = chunk_pages(pages, Chunker.from_folder(folder, max_tokens, overlap))
        save_chunks(path, chunked)
        print(f"  chunked in {time.perf_counter() - start:.0f} s", flush=True)
    return json.loads(path.read_text())


# --- shared helpers ---------------------------------------------------------------------------------------------


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """Random unit vectors (float32)."""
    vectors = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def synthetic_rows(n: int, seed: int, chunk_sentences: int = 6) -> list[tuple[str, str, Piece, str]]:
    """(source, title, piece, language) rows of shuffled multilingual sentences, ~10 chunks per source."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        text = " ".join(rng.choice(SENTENCES) for _ in range(chunk_sentences))
        heading = ("Synthetic guide", f"Section {i // 3}")
        rows.append((f"synthetic/page-{i // 10:05d}.md", "Synthetic guide",
                     Piece(text, heading, f"section-{i // 3}", "prose", len(text) // 4), "en"))
    return rows


def store_rows(chunked: list[ChunkedPage] | None, languages: dict[str, list[str | None]], n: int,
               seed: int) -> list[Chunk]:
    """n chunks with real texts and metadata (cycled, with renamed sources, past the corpus size), else synthetic."""
    base = [(c.page.source, c.title, p, lang) for c in chunked or []
            for p, lang in zip(c.pieces, languages.get(c.page.source) or [c.page.language] * len(c.pieces),
                               strict=True)] or synthetic_rows(min(n, 20_000), seed)
    rows, positions = [], Counter()
    for i in range(n):
        source, title, piece, lang = base[i % len(base)]
        if i >= len(base):
            source = f"{source}#{i // len(base)}"
        rows.append(make_chunk("bench", source, title, positions[source], piece, lang))
        positions[source] += 1
    return rows


def fastest(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The fastest wall-clock seconds of `repeats` calls of `fn`, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    values = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(values, 50)), 3), "p95_ms": round(float(np.percentile(values, 95)), 3)}


@contextmanager
def chroma_folder() -> Iterator[Path]:
    """A temporary folder for an embedded Chroma, emptied and removed afterwards."""
    from chromadb.api.client import SharedSystemClient

    folder = Path(tempfile.mkdtemp(prefix="polydesk-bench-chroma-"))
    try:
        yield folder
    finally:
        SharedSystemClient.clear_system_cache()  # let go of the files before they are removed
        shutil.rmtree(folder, ignore_errors=True)


def chroma_client(folder: Path) -> Any:
    """An embedded PersistentClient as ChromaStore.from_settings makes it."""
    import chromadb

    return chromadb.PersistentClient(path=str(folder), settings=chromadb.Settings(anonymized_telemetry=False))


def parse_hnsw(text: str) -> list[tuple[int, int]]:
    """'200x32,100x16' -> [(ef_construction, max_neighbors), ...]."""
    return [(int(a), int(b)) for a, b in (item.split("x") for item in text.split(",") if item)]


def int_list(text: str) -> list[int]:
    """'500,5000' -> [500, 5000]."""
    return [int(item) for item in text.split(",") if item]


# --- the stages -----------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--pages", type=int, default=0, help="only this many pages, evenly spread (0: all)")
    parser.add_argument("--chunk-tokens", type=int, default=512)
    parser.add_argument("--chunk-overlap", type=int, default=32)
    parser.add_argument("--store-rows", type=int, default=10_000)
    parser.add_argument("--per-file-rows", type=int, default=2000,
                        help="rows of the write_source-per-file comparison (one call per source file is slow)")
    parser.add_argument("--batch-sizes", default="500,5000", help="raw upsert batch sizes tried with core's HNSW")
    parser.add_argument("--hnsw", default="100x32,200x16,100x16,64x16",
                        help="ef_construction x max_neighbors settings tried at WRITE_BATCH")
    parser.add_argument("--embed-chunks", type=int, default=200)
    parser.add_argument("--embed-shape", choices=["tiny", "medium"], default="tiny")
    parser.add_argument("--embed-repeats", type=int, default=3, help="timed embedding calls; the fastest is reported")
    parser.add_argument("--skip-language", action="store_true")
    parser.add_argument("--skip-embed", action="store_true")
    parser.add_argument("--skip-store", action="store_true")
    parser.add_argument("--ratio-pages", type=int, default=400,
                        help="pages of the stages-vs-baselines run (bench/ingest_ratios.py); 0 skips it")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile parse + chunk on every 8th page and print the top N functions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "ingest.json")
    return parser.parse_args()


def main() -> None:
    """Run the stages in ingestion order, print tables and write JSON."""
    args = parse_args()
    record: dict[str, Any] = {
        "benchmark": "ingest: parse + chunk MB/s, language agreement, embed (tiny model), Chroma upsert rows/s",
        "machine": machine_info(), "target": TARGET, "seed": args.seed, "skipped": {},
    }
    print(f"load average {record['machine']['load_average_at_start'][0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    pages = corpus_pages(args.corpus) if args.corpus.is_dir() else []
    if args.pages and pages:
        pages = pages[:: max(len(pages) // args.pages, 1)][: args.pages]
    chunked: list[ChunkedPage] | None = None
    languages: dict[str, list[str | None]] = {}
    if not pages:
        reason = f"corpus not found at {args.corpus}"
        print(f"SKIPPED parse, chunk and language: {reason}; embed and store use synthetic chunks")
        record["skipped"].update(parse_chunk=reason, language=reason)
    else:
        chunked, record["parse_chunk"], record["corpus"] = parse_and_chunk(pages, args)
        if args.skip_language:
            record["skipped"]["language"] = "--skip-language"
        else:
            record["language"], languages = language_agreement(chunked)
    if args.skip_embed:
        record["skipped"]["embed"] = "--skip-embed"
    else:
        record["embed"] = embed_stage(chunked, args)
    if args.skip_store:
        record["skipped"]["store"] = "--skip-store"
    else:
        record["store"] = store_stage(store_rows(chunked, languages, args.store_rows, args.seed), args)
    if args.ratio_pages:
        print("\n== stages vs baselines: parse + chunk vs tokenising once, store vs raw Chroma adds", flush=True)
        record["ratios"] = measure_ratios(args.ratio_pages, args.seed, args.skip_language)
        show_ratios(record["ratios"])
    if args.profile and pages:
        profile(pages[::8], args)
    record["machine"]["load_average_at_end"] = os.getloadavg()
    if not record["skipped"]:
        del record["skipped"]
    write_json(args.out, record)


def parse_and_chunk(pages: list[Page], args: argparse.Namespace) -> tuple[list[ChunkedPage], dict, dict]:
    """Time parsing and chunking of every page; print totals and a per-language table; cache the chunks."""
    folder, label = tokenizer_folder()
    start = time.perf_counter()
    chunker = Chunker.from_folder(folder, args.chunk_tokens, args.chunk_overlap)
    load_s = time.perf_counter() - start
    print(f"\n== parse + chunk: {len(pages)} pages, {sum(p.size for p in pages) / 1e6:.2f} MB, "
          f"{len(set(p.folder for p in pages))} languages, {label} Qwen3 tokenizer, "
          f"{args.chunk_tokens} tokens / overlap {args.chunk_overlap}", flush=True)
    chunked, timings, builds = chunk_pages(pages, chunker)
    total_bytes = sum(t["bytes"] for t in timings)
    parse_s = sum(t["parse_s"] for t in timings)
    chunk_s = sum(t["chunk_s"] for t in timings)
    n_chunks = sum(t["chunks"] for t in timings)
    tokens = [p.token_count for c in chunked for p in c.pieces]
    steady = total_bytes / 1e6 / (parse_s + chunk_s)
    result: dict[str, Any] = {
        "pages": len(pages), "bytes": total_bytes, "chunks": n_chunks, "tokenizer": label,
        "chunk_tokens": args.chunk_tokens, "chunk_overlap": args.chunk_overlap,
        "chunk_token_count": {"mean": round(statistics.mean(tokens), 1), "median": statistics.median(tokens),
                              "max": max(tokens)},
        "parse_s": round(parse_s, 3), "chunk_s": round(chunk_s, 3),
        "parse_mb_per_s": round(total_bytes / 1e6 / parse_s, 3),
        "chunk_mb_per_s": round(total_bytes / 1e6 / chunk_s, 3), "parse_chunk_mb_per_s": round(steady, 3),
        "startup": {"tokenizer_load_s": round(load_s, 3), "splitter_builds": builds.count,
                    "splitter_build_s": round(builds.seconds, 3),
                    "splitters": [list(k) for k in getattr(chunker, "_splitters", {})]},
        "target_mb_per_s": TARGET["parse_chunk_mb_per_s"], "target_met": steady >= TARGET["parse_chunk_mb_per_s"],
        "per_language": {},
    }
    print(f"{'lang':8s} {'pages':>5s} {'MB':>6s} {'chunks':>6s} {'parse MB/s':>10s} {'chunk MB/s':>10s} "
          f"{'both MB/s':>9s}")
    for lang in sorted({t["folder"] for t in timings}):
        rows = [t for t in timings if t["folder"] == lang]
        mb = sum(t["bytes"] for t in rows) / 1e6
        p, c = sum(t["parse_s"] for t in rows), sum(t["chunk_s"] for t in rows)
        row = {"pages": len(rows), "mb": round(mb, 3), "chunks": sum(t["chunks"] for t in rows),
               "parse_mb_per_s": round(mb / p, 3), "chunk_mb_per_s": round(mb / c, 3),
               "parse_chunk_mb_per_s": round(mb / (p + c), 3)}
        result["per_language"][lang] = row
        print(f"{lang:8s} {len(rows):5d} {mb:6.2f} {row['chunks']:6d} {mb / p:10.2f} {mb / c:10.2f} "
              f"{mb / (p + c):9.2f}")
    print(f"{'all':8s} {len(pages):5d} {total_bytes / 1e6:6.2f} {n_chunks:6d} {result['parse_mb_per_s']:10.2f} "
          f"{result['chunk_mb_per_s']:10.2f} {steady:9.2f}")
    print(f"steady state: parse {parse_s:.1f} s + chunk {chunk_s:.1f} s; start-up left out: tokenizer load "
          f"{load_s:.2f} s, {builds.count} splitter builds {builds.seconds:.2f} s")
    print(f"target parse + chunk >= {TARGET['parse_chunk_mb_per_s']} MB/s: "
          f"{'MET' if result['target_met'] else 'NOT MET'} ({steady:.2f} MB/s, "
          f"{steady / TARGET['parse_chunk_mb_per_s']:.2f}x the target)", flush=True)
    cache = chunk_cache_path(pages, label, args.chunk_tokens, args.chunk_overlap)
    save_chunks(cache, chunked)
    corpus = {"path": os.path.relpath(args.corpus, REPO), "pages": len(pages), "bytes": total_bytes,
              "languages": sorted({p.folder for p in pages}), "chunk_cache": str(cache.relative_to(REPO))}
    return chunked, result, corpus


def language_agreement(chunked: list[ChunkedPage]) -> tuple[dict[str, Any], dict[str, list[str | None]]]:
    """detect_document per page as ingestion does; agreement of document and chunk tags with the folder language."""
    from core.knowledge.language import DEFAULT_LANGUAGES, language_detector

    detector = language_detector(DEFAULT_LANGUAGES)
    print(f"\n== language: {len(DEFAULT_LANGUAGES)} languages (default set), detect_document per page", flush=True)
    firsts = {c.page.folder: c for c in reversed(chunked) if c.pieces}
    start = time.perf_counter()
    for c in firsts.values():
        detector.detect_document([p.text for p in c.pieces])
    warmup_s = time.perf_counter() - start
    per_page, tags = [], {}
    start = time.perf_counter()
    for c in chunked:
        document, chunk_tags = detector.detect_document([p.text for p in c.pieces])
        tags[c.page.source] = chunk_tags
        per_page.append((c, document, chunk_tags))
    seconds = time.perf_counter() - start
    n_chunks = sum(len(c.pieces) for c in chunked)
    table: dict[str, Any] = {}
    print(f"{'lang':8s} {'pages':>5s} {'doc agree':>9s} {'chunks':>6s} {'chunk agree':>11s}  wrong tags (chunks)")
    for folder in sorted({c.page.folder for c in chunked}):
        rows = [(c, d, t) for c, d, t in per_page if c.page.folder == folder]
        expected = rows[0][0].page.language
        doc_ok = sum(d == expected for _, d, _ in rows)
        chunk_tags = [tag for _, _, t in rows for tag in t]
        chunk_ok = sum(tag == expected for tag in chunk_tags)
        wrong = Counter(str(tag) for tag in chunk_tags if tag != expected)
        table[folder] = {
            "expected": expected, "pages": len(rows), "document_agree": doc_ok,
            "document_agreement": round(doc_ok / len(rows), 4), "chunks": len(chunk_tags),
            "chunk_agree": chunk_ok, "chunk_agreement": round(chunk_ok / max(len(chunk_tags), 1), 4),
            "wrong_chunk_tags": dict(wrong.most_common()),
            "wrong_documents": [{"source": c.page.source, "detected": d} for c, d, _ in rows if d != expected][:10],
        }
        shown = ", ".join(f"{k} {v}" for k, v in wrong.most_common(4))
        print(f"{folder:8s} {len(rows):5d} {doc_ok / len(rows):9.1%} {len(chunk_tags):6d} "
              f"{chunk_ok / max(len(chunk_tags), 1):11.1%}  {shown}")
    pages_ok = sum(t["document_agree"] for t in table.values())
    chunks_ok = sum(t["chunk_agree"] for t in table.values())
    print(f"{'all':8s} {len(per_page):5d} {pages_ok / len(per_page):9.1%} {n_chunks:6d} {chunks_ok / n_chunks:11.1%}")
    print(f"{seconds:.1f} s for {n_chunks} chunks ({n_chunks / seconds:.0f} chunks/s, "
          f"{sum(c.page.size for c in chunked) / 1e6 / seconds:.2f} MB/s); warm-up (lazy model loading, first page "
          f"of each folder) {warmup_s:.1f} s left out", flush=True)
    result = {"languages": list(DEFAULT_LANGUAGES), "zh-hant_counts_as": "zh", "seconds": round(seconds, 3),
              "chunks_per_s": round(n_chunks / seconds, 1), "warmup_s": round(warmup_s, 3),
              "document_agreement": round(pages_ok / len(per_page), 4),
              "chunk_agreement": round(chunks_ok / n_chunks, 4), "per_language": table}
    return result, tags


def embed_stage(chunked: list[ChunkedPage] | None, args: argparse.Namespace) -> dict[str, Any]:
    """chunks/s of QwenLocalEmbedder on a tiny random checkpoint over real chunks (synthetic without the corpus)."""
    from core.models.embed.local import QwenLocalEmbedder

    texts = [p.text for c in chunked or [] for p in c.pieces] or [r[2].text for r in synthetic_rows(1000, args.seed)]
    step = max(len(texts) // (args.embed_chunks + 4), 1)
    picked = texts[::step][: args.embed_chunks + 4]
    chunks, warmup = picked[: args.embed_chunks], picked[args.embed_chunks:]
    folder, label = cached_checkpoint("embedder", args.embed_shape, build_embedder)
    embedder = QwenLocalEmbedder(folder, f"bench/random-qwen3-embedding-{args.embed_shape}", "unused", device="cpu")
    tokenizer = embedder._model.tokenizer
    tokens = sum(len(ids) for ids in tokenizer(chunks, add_special_tokens=False)["input_ids"])
    embedder.embed_documents(warmup)
    load_before = os.getloadavg()
    seconds, vectors = fastest(lambda: embedder.embed_documents(chunks), args.embed_repeats)
    print(f"\n== embed: {len(chunks)} {'real' if chunked else 'synthetic'} chunks ({tokens} tokens) with a "
          f"{args.embed_shape.upper()} RANDOM Qwen3 checkpoint (not the real 0.6B), batch {embedder.batch_size}, "
          f"best of {args.embed_repeats}: {seconds:.2f} s, {len(chunks) / seconds:.1f} chunks/s, "
          f"{tokens / seconds:.0f} tokens/s, dim {vectors.shape[1]} (load average {load_before[0]:.2f})", flush=True)
    return {"model": f"{args.embed_shape} random Qwen3 checkpoint (NOT Qwen3-Embedding-0.6B)", "tokenizer": label,
            "chunks": len(chunks), "tokens": tokens, "batch_size": embedder.batch_size, "repeats": args.embed_repeats,
            "seconds": round(seconds, 3), "chunks_per_s": round(len(chunks) / seconds, 2),
            "tokens_per_s": round(tokens / seconds, 1), "dim": int(vectors.shape[1]),
            "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "warmup": f"one call on {len(warmup)} other chunks before timing; the fastest of the timed calls"}


def store_stage(chunks: list[Chunk], args: argparse.Namespace) -> dict[str, Any]:
    """Upsert rows/s into a fresh embedded Chroma per setting; ratios against core/store.py as it is."""
    from core.knowledge import store as store_module

    hnsw, write_batch = store_module.HNSW, store_module.WRITE_BATCH
    vectors = unit_vectors(len(chunks), DIM, args.seed)
    sources = len({c.source for c in chunks})
    print(f"\n== store: {len(chunks)} rows ({sources} sources, {len(chunks) / sources:.1f} chunks per source), "
          f"dim {DIM}, random unit vectors; core WRITE_BATCH {write_batch}, HNSW {hnsw}", flush=True)
    print(f"{'setting':62s} {'rows':>6s} {'seconds':>8s} {'rows/s':>8s} {'ratio':>6s} {'CPU s':>6s} "
          f"{'rows/CPU-s':>10s} {'ratio':>6s}")
    core_call = (f"write_source, one call (WRITE_BATCH {write_batch})", {"batch_size": write_batch, **hnsw},
                 lambda store, _, rows, vecs: store.write_source("bench", rows, vecs, []))
    # The ingest path writes each file on its own (~10 chunks a call): compared on fewer rows, it is slow.
    few = min(args.per_file_rows, len(chunks))
    ingest_path = store_runs(chunks[:few], vectors[:few], [
        core_call,
        ("write_source per source file (as Ingester does)", {"batch_size": "per file", **hnsw},
         lambda store, _, rows, vecs: write_per_source(store, rows, vecs)),
    ])
    runs: list[tuple[str, dict[str, Any], Callable[..., None]]] = [core_call]
    for size in int_list(args.batch_sizes):
        runs.append((f"upsert batch {size}", {"batch_size": size, **hnsw},
                     lambda _, collection, rows, vecs, size=size: upsert(collection, rows, vecs, size)))
    for ef, m in parse_hnsw(args.hnsw):
        runs.append((f"upsert batch {write_batch}, ef_construction {ef}, max_neighbors {m}",
                     {"batch_size": write_batch, **hnsw, "ef_construction": ef, "max_neighbors": m},
                     lambda _, collection, rows, vecs: upsert(collection, rows, vecs, write_batch)))
    bulk = store_runs(chunks, vectors, runs)
    best = max(bulk, key=lambda r: r["rows_per_s"])
    met = bulk[0]["rows_per_s"] >= TARGET["store_rows_per_s"]
    print(f"target >= {TARGET['store_rows_per_s']} rows/s with core's settings: {'MET' if met else 'NOT MET'} "
          f"({bulk[0]['rows_per_s']:.0f} rows/s in bulk, {ingest_path[1]['rows_per_s']:.0f} rows/s written per "
          f"file); fastest: {best['setting']} ({best['rows_per_s']:.0f} rows/s, {best['ratio_vs_baseline']:.2f}x). "
          "Lower ef_construction / max_neighbors cost recall: see bench/search.py --recall-builds", flush=True)
    return {"rows": len(chunks), "sources": sources, "dim": DIM, "vectors": "random unit vectors",
            "payload": "ids, chunk texts, to_metadata(chunk), embeddings (as ChromaStore.write_source)",
            "core": {"WRITE_BATCH": write_batch, "HNSW": hnsw}, "baseline": bulk[0]["setting"],
            "ingest_path": ingest_path, "bulk": bulk, "target_rows_per_s": TARGET["store_rows_per_s"],
            "target_met_with_core_settings": met, "fastest": best["setting"]}


def store_runs(chunks: list[Chunk], vectors: np.ndarray,
               runs: list[tuple[str, dict[str, Any], Callable[..., None]]]) -> list[dict[str, Any]]:
    """Time each write into a fresh store; the first run is the baseline of the ratios."""
    rows: list[dict[str, Any]] = []
    for name, setting, write in runs:
        seconds, cpu = timed_write(setting, write, chunks, vectors)
        rate, cpu_rate = len(chunks) / seconds, len(chunks) / cpu
        ratio = rate / rows[0]["rows_per_s"] if rows else 1.0
        cpu_ratio = cpu_rate / rows[0]["rows_per_cpu_s"] if rows else 1.0
        rows.append({"setting": name, **setting, "rows": len(chunks), "seconds": round(seconds, 3),
                     "rows_per_s": round(rate, 1), "ratio_vs_baseline": round(ratio, 3), "cpu_s": round(cpu, 3),
                     "rows_per_cpu_s": round(cpu_rate, 1), "cpu_ratio_vs_baseline": round(cpu_ratio, 3)})
        print(f"{name:62s} {len(chunks):6d} {seconds:8.1f} {rate:8.0f} {ratio:6.2f}x {cpu:6.1f} {cpu_rate:10.0f} "
              f"{cpu_ratio:6.2f}x", flush=True)
    return rows


def timed_write(setting: dict[str, Any], write: Callable[..., None], chunks: list[Chunk],
                vectors: np.ndarray) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads of this process) to write into a fresh store with this HNSW."""
    from core.knowledge.store import PREFIX, ChromaStore

    hnsw = {k: setting[k] for k in ("space", "ef_construction", "max_neighbors", "ef_search")}
    with chroma_folder() as folder:
        client = chroma_client(folder)
        collection = client.create_collection(
            PREFIX + "bench", configuration={"hnsw": hnsw}, embedding_function=None,
            metadata={"embedding_model": "bench/random", "embedding_dim": DIM, "description": "",
                      "rerank_instruction": "", "revision": "0"},
        )
        store = ChromaStore(client, str(folder))
        start, cpu_start = time.perf_counter(), time.process_time()
        write(store, collection, chunks, vectors)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        stored = collection.count()
    if stored != len(chunks):
        raise RuntimeError(f"{stored} rows stored, {len(chunks)} written: the figure would be wrong")
    return seconds, cpu


def write_per_source(store: Any, chunks: list[Chunk], vectors: np.ndarray) -> None:
    """ChromaStore.write_source once per source file, as Ingester does."""
    start = 0
    while start < len(chunks):
        end = start
        while end < len(chunks) and chunks[end].source == chunks[start].source:
            end += 1
        store.write_source("bench", chunks[start:end], vectors[start:end], [])
        start = end


def upsert(collection: Any, chunks: list[Chunk], vectors: np.ndarray, batch: int) -> None:
    """The upserts of ChromaStore.write_source, at another batch size."""
    from core.knowledge.store import to_metadata

    for start in range(0, len(chunks), batch):
        part = chunks[start : start + batch]
        collection.upsert(ids=[c.id for c in part], documents=[c.text for c in part],
                          embeddings=vectors[start : start + batch], metadatas=[to_metadata(c) for c in part])


def profile(pages: list[Page], args: argparse.Namespace) -> None:
    """cProfile of parse + chunk over some pages (with a warm chunker), top functions by cumulative time."""
    folder, _ = tokenizer_folder()
    chunker = Chunker.from_folder(folder, args.chunk_tokens, args.chunk_overlap)
    chunk_pages(pages[:20], chunker)
    profiler = cProfile.Profile()
    profiler.enable()
    chunk_pages(pages, chunker)
    profiler.disable()
    print(f"\n== profile: parse + chunk of {len(pages)} pages (warm chunker)")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
