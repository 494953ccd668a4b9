"""End-to-end latency of `ask` with tiny random Qwen3 models over the sample collection scaled up.

The sample documentation (data/sample) is chunked and tagged as in ingestion, its base chunks embedded with the
tiny embedding model, then copied with small variations (text and vector) until the store holds N chunks. Then
questions in several languages run through Pipeline.ask (search, rerank, a tiny in-process chat model, citations)
and every stage is timed. "Our overhead" is everything except model forward passes: total minus the embed,
rerank and LLM stages (so: language detection, Chroma's HNSW query, BM25, fusion, chunk reads, prompt and
citation handling). The target is <= 20 ms per question at 10k chunks; 1k chunks is the baseline of the same run.

Run: .venv/bin/python bench/query.py [--sizes 1000,10000] [--questions 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, cached_checkpoint, machine_info, write_json  # noqa: E402
from core.knowledge.ingest.parse import parse_file  # noqa: E402
from core.knowledge.ingest.run import make_chunk  # noqa: E402
from core.pipeline import SAMPLE_FOLDER, Pipeline  # noqa: E402
from core.settings import load_settings  # noqa: E402
from tests.tiny_qwen3 import build_chat_model, build_embedder, build_reranker  # noqa: E402

QUESTIONS = [
    "How long is an access token valid?", "What does ERR_TOKEN_EXPIRED mean?", "How do I page through shipments?",
    "How are webhook signatures verified?", "What should I do after a 429 response?",
    "¿Cómo obtengo una clave de API?", "¿Qué significa el error 409 idempotency_conflict?",
    "アクセストークンの有効期限はどれくらいですか？", "ページネーションの next_cursor の使い方は？",
    "访问令牌多久过期？", "如何处理 429 错误？", "كيف أحصل على مفتاح API؟", "ما معنى الخطأ 401؟",
    "Which scopes does createShipment need?", "How do I cancel a shipment?", "What is the rate limit per minute?",
    "How do I refresh a token with client credentials?", "Where is the Retry-After header?",
    "How many webhook endpoints can I create?", "What does the Idempotency-Key header do?",
]
STAGES = ["language", "embed", "dense", "lexical", "fused", "reranked", "llm_first_token", "llm", "total",
          "overhead"]


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="store sizes in chunks; the first is the baseline")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--max-new-tokens", type=int, default=16, help="tokens the tiny chat model writes")
    parser.add_argument("--out", type=Path, default=RESULTS / "query.json")
    return parser.parse_args()


def base_chunks(pipeline: Pipeline) -> list:
    """The sample documentation's chunks, tagged with their languages as ingestion does."""
    chunks = []
    for path in sorted(p for p in SAMPLE_FOLDER.rglob("*") if p.is_file()):
        source = path.relative_to(SAMPLE_FOLDER).as_posix()
        document = parse_file(path)
        pieces = pipeline.chunker.split(document)
        languages = pipeline.languages.detect_document([p.text for p in pieces])[1]
        chunks += [make_chunk("bench", source, document.title, i, p, lang)
                   for i, (p, lang) in enumerate(zip(pieces, languages, strict=True))]
    return chunks


def fill_store(pipeline: Pipeline, base: list, vectors: np.ndarray, size: int) -> None:
    """Copies of the base chunks, each with a marker word and a slightly moved vector, up to `size` chunks."""
    from dataclasses import replace

    rng = np.random.default_rng(0)
    pipeline.store.open_for_ingest("bench", pipeline.embedder.model_id, pipeline.embedder.dim)
    copy = 0
    while pipeline.store.info("bench").chunks < size:
        room = size - pipeline.store.info("bench").chunks
        chunks = [replace(c, id=f"{copy}-{c.id}", source=f"copy{copy}/{c.source}", text=f"{c.text}\n\nvariant{copy}")
                  for c in base[:room]]
        moved = vectors[: len(chunks)] + rng.normal(0, 0.05, (len(chunks), vectors.shape[1])).astype(np.float32)
        moved /= np.linalg.norm(moved, axis=1, keepdims=True)
        pipeline.store.write_source("bench", chunks, moved, [])
        copy += 1


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 2), "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2)}


def measure(pipeline: Pipeline, questions: list[str]) -> dict[str, dict[str, float]]:
    """Per-stage p50/p95 over the questions, after one warm-up question."""
    pipeline.ask("warm-up question about shipments", ["bench"]).answer()
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for question in questions:
        run = pipeline.ask(question, ["bench"])
        run.answer()
        timings = run.timings_ms
        timings["overhead"] = timings["total"] - sum(timings.get(k, 0.0) for k in ("embed", "reranked", "llm"))
        for stage in STAGES:
            if stage in timings:
                samples[stage].append(timings[stage])
    return {stage: percentiles(values) for stage, values in samples.items() if values}


def main() -> None:
    """Build the tiny models, fill stores of each size, time the questions, print and write the figures."""
    args = parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    embedder_dir, label = cached_checkpoint("embedder", "tiny", build_embedder)
    reranker_dir, _ = cached_checkpoint("reranker", "tiny", build_reranker)
    chat_dir, _ = cached_checkpoint("chat", "tiny", build_chat_model)
    questions = (QUESTIONS * (args.questions // len(QUESTIONS) + 1))[: args.questions]
    random.Random(0).shuffle(questions)
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for size in sizes:
            settings = load_settings(
                embedding_model=str(embedder_dir), reranker_model=str(reranker_dir), llm_model=str(chat_dir),
                chroma_path=Path(scratch) / f"chroma-{size}", database_url=f"sqlite:///{scratch}/fb.db",
                device="cpu", llm_max_tokens=args.max_new_tokens,
            )
            pipeline = Pipeline(settings)
            base = base_chunks(pipeline)
            vectors = pipeline.embedder.embed_documents([c.text for c in base])
            fill_store(pipeline, base, vectors, size)
            results[size] = measure(pipeline, questions)
            print(f"\n{size} chunks ({len(questions)} questions): milliseconds p50 / p95")
            for stage, figures in results[size].items():
                print(f"  {stage:<16} {figures['p50']:>9.1f} {figures['p95']:>9.1f}")
    baseline, largest = results[sizes[0]]["overhead"], results[sizes[-1]]["overhead"]
    ratio = round(largest["p50"] / baseline["p50"], 2)
    print(f"\nour overhead at {sizes[-1]} chunks: p50 {largest['p50']:.1f} ms, p95 {largest['p95']:.1f} ms "
          f"(target <= 20 ms); {ratio}x the {sizes[0]}-chunk baseline")
    write_json(args.out, {
        "benchmark": "query: Pipeline.ask end to end with tiny random Qwen3 models",
        "machine": machine_info(), "tokenizer": label, "questions": len(questions),
        "llm_max_new_tokens": args.max_new_tokens, "stages_ms": {str(k): v for k, v in results.items()},
        "overhead_definition": "total - embed - rerank - llm (model forward passes)",
        "overhead_ratio_largest_vs_baseline_p50": ratio,
        "target": {"overhead_p50_ms_at_10k": 20}, "target_met": largest["p50"] <= 20,
    })


if __name__ == "__main__":
    main()
