"""Lexical index build time, memory and query latency on synthetic multilingual chunks.

Chunks are windows of ~300 tokens cut at random offsets from the FastAPI documentation corpus (13 languages,
prose with code, URLs and identifiers, as in real API docs); each is tokenised with its own language. Queries
are 6 consecutive words (2 for Chinese and Japanese, whose "words" are long unspaced runs) taken from a random
chunk, searched with k=50 in that chunk's language. Reported per size: LexicalIndex build seconds (tokenising
included), peak RSS of the process after the build, and query latency p50/p95/mean in milliseconds.

A restart is then measured in a fresh process: the index is saved as the searcher saves it per collection
revision, and the new process maps it and answers its first query. Reported: the seconds to the first result and
the memory the index adds to that process, with their ratios to the build in the same run.

Run from the repository root:
    .venv/bin/python bench/lexical.py                          # 10k and 100k chunks
    .venv/bin/python bench/lexical.py --sizes 2000 --queries 100
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.knowledge.lexical import LexicalIndex, lexical_tokens  # noqa: E402
from core.knowledge.lexical_files import load_index, save_index  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpora" / "fastapi-docs"
RESULTS = REPO / "bench" / "results"
UNSPACED = {"zh", "ja"}


def load_corpus(folder: Path) -> dict[str, list[list[str]]]:
    """Whitespace-split words of every page, per language (zh-hant counted as zh)."""
    if not (folder / "manifest.jsonl").is_file():
        sys.exit(f"corpus not found at {folder}: pass --corpus with the fastapi-docs folder")
    pages: dict[str, list[list[str]]] = {}
    for line in (folder / "manifest.jsonl").read_text().splitlines():
        for lang, entry in json.loads(line)["langs"].items():
            words = (folder / entry["file"]).read_text().split()
            pages.setdefault("zh" if lang == "zh-hant" else lang, []).append(words)
    return pages


def window(rng: random.Random, pages: list[list[str]], length: int) -> str:
    """`length` consecutive words from a random page at a random offset."""
    words = rng.choice([p for p in pages if len(p) > length] or pages)
    start = rng.randrange(max(1, len(words) - length))
    return " ".join(words[start:start + length])


def synthetic_chunks(pages: dict[str, list[list[str]]], n: int, seed: int) -> tuple[list[str], list[str]]:
    """n chunk texts of ~300 tokens and their languages, languages drawn evenly."""
    rng = random.Random(seed)
    languages = [rng.choice(sorted(pages)) for _ in range(n)]
    texts = [window(rng, pages[lang], 60 if lang in UNSPACED else 250) for lang in languages]
    return texts, languages


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, by linear interpolation."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rss_mb() -> float:
    """Resident memory of this process now, in MiB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def restart(folder: Path, query: str, language: str | None) -> dict[str, float]:
    """In a fresh process: map the saved index, answer one query; seconds and the memory the index added."""
    before = rss_mb()
    start = time.perf_counter()
    found = load_index(folder).search(query, 50, language)
    seconds = time.perf_counter() - start
    return {"restart_first_search_s": round(seconds, 3), "restart_index_rss_mb": round(rss_mb() - before, 1),
            "restart_hits": len(found)}


def measure_restart(index: LexicalIndex, query: str, language: str | None) -> dict[str, float]:
    """Save the index, then time the first search of a new process that loads it."""
    with tempfile.TemporaryDirectory() as folder:
        save_index(index, Path(folder))
        command = [sys.executable, __file__, "--restart-from", folder, "--query", query, "--language", language or ""]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(pages: dict[str, list[list[str]]], size: int, queries: int, seed: int) -> dict[str, Any]:
    """Build an index of `size` chunks and time `queries` searches on it."""
    texts, languages = synthetic_chunks(pages, size, seed)
    sample = range(0, size, max(1, size // 1000))
    mean_tokens = statistics.mean(len(lexical_tokens(texts[i], languages[i])) for i in sample)
    start = time.perf_counter()
    index = LexicalIndex([f"c{i}" for i in range(size)], texts, languages)
    build_s = time.perf_counter() - start
    rss = peak_rss_mb()
    rng = random.Random(seed + 1)
    latencies, hits = [], []
    for _ in range(queries):
        i = rng.randrange(size)
        words = texts[i].split()
        length = 2 if languages[i] in UNSPACED else 6
        at = rng.randrange(max(1, len(words) - length))
        query = " ".join(words[at:at + length])
        start = time.perf_counter()
        found = index.search(query, 50, languages[i])
        latencies.append((time.perf_counter() - start) * 1000)
        hits.append(len(found))
    record = {
        "chunks": size, "mean_tokens_per_chunk": round(mean_tokens, 1), "build_s": round(build_s, 2),
        "build_ms_per_chunk": round(build_s / size * 1000, 3), "peak_rss_mb_after_build": round(rss),
        "queries": queries, "query_ms_p50": round(percentile(latencies, 0.5), 2),
        "query_ms_p95": round(percentile(latencies, 0.95), 2), "query_ms_mean": round(statistics.mean(latencies), 2),
        "mean_hits": round(statistics.mean(hits), 1),
    }
    before = rss_mb()
    record |= measure_restart(index, query, languages[i])
    record["build_to_restart_ratio"] = round(build_s / max(record["restart_first_search_s"], 1e-3), 1)
    record["rss_mb_now_with_built_index"] = round(before)
    print(json.dumps(record), flush=True)
    return record


def main() -> None:
    """Measure each size in turn and write the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated chunk counts")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--out", type=Path, default=RESULTS / "lexical.json")
    parser.add_argument("--restart-from", type=Path, help=argparse.SUPPRESS)  # the restarted process
    parser.add_argument("--query", help=argparse.SUPPRESS)
    parser.add_argument("--language", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.restart_from:
        print(json.dumps(restart(args.restart_from, args.query, args.language or None)))
        return
    pages = load_corpus(args.corpus)
    machine = {
        "platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        **{name: version(name) for name in ("bm25s", "PyStemmer", "regex", "numpy")},
    }
    runs = [measure(pages, int(size), args.queries, args.seed) for size in args.sizes.split(",")]
    record = {"benchmark": "lexical", "machine": machine, "corpus": str(args.corpus.name), "k": 50, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
