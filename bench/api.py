"""The HTTP API under load: 50 concurrent clients x 4 questions, LLM off, tiny random Qwen3 models.

The sample documentation is ingested with the tiny models; the API runs under uvicorn on loopback in this process
(a thread), with a key and a rate limit high enough not to refuse. First each question runs in-process through
Pipeline.ask and right after through POST /api/v1/answers, in pairs, so that a busy machine slows both alike; the
API's own overhead per question (HTTP, JSON, auth, rate limit, the answer log) is the median of the pairs'
differences. Then all clients ask at once (errors, p50/p95 of the request latency, throughput). Clients and server
share one process and its GIL, so the concurrent figures are a pessimistic bound.

Run: .venv/bin/python bench/api.py [--clients 50] [--questions 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, cached_checkpoint, machine_info, write_json  # noqa: E402
from core.ops.api.app import create_app  # noqa: E402
from core.ops.api.keys import KeyStore  # noqa: E402
from core.pipeline import SAMPLE_FOLDER, Pipeline  # noqa: E402
from core.settings import load_settings  # noqa: E402
from tests.api_support import serve_app  # noqa: E402
from tests.tiny_qwen3 import build_embedder, build_reranker  # noqa: E402

QUESTIONS = [
    "How long is an access token valid?", "¿Cómo obtengo una clave de API?", "アクセストークンの有効期限は？",
    "如何处理 429 错误？", "كيف أحصل على مفتاح API؟", "How are webhook signatures verified?",
    "¿Qué significa el error 409?", "What should I do after a 429 response?",
]


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--questions", type=int, default=4, help="questions per client")
    parser.add_argument("--out", type=Path, default=RESULTS / "api.json")
    return parser.parse_args()


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 1),
            "p95": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1), "n": len(ordered)}


def paired(pipeline: Pipeline, url: str, key: str, questions: list[str]) -> tuple[list[float], list[float]]:
    """Milliseconds per question in-process (Pipeline.ask + answer), then over the API, one after the other."""
    direct, api = [], []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600) as client:
        for question in questions:
            start = time.perf_counter()
            pipeline.ask(question, ["parcelio"]).answer()
            middle = time.perf_counter()
            client.post("/api/v1/answers", json={"question": question, "collections": ["parcelio"]}).raise_for_status()
            direct.append((middle - start) * 1000)
            api.append((time.perf_counter() - middle) * 1000)
    return direct, api


async def one_client(client: httpx.AsyncClient, questions: list[str], times: list[float], errors: list[str]) -> None:
    """Ask each question in turn, recording latency or the error."""
    for question in questions:
        start = time.perf_counter()
        try:
            response = await client.post("/api/v1/answers", json={"question": question, "collections": ["parcelio"]})
            if response.status_code != 200:
                errors.append(f"{response.status_code}: {response.text[:200]}")
                continue
        except httpx.HTTPError as exc:
            errors.append(repr(exc))
            continue
        times.append((time.perf_counter() - start) * 1000)


async def clients(url: str, key: str, plans: list[list[str]]) -> tuple[list[float], list[str], float]:
    """Run every client's plan at once; returns latencies, errors and the wall seconds."""
    times: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=len(plans))
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600,
                                 limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(one_client(client, plan, times, errors) for plan in plans))
        return times, errors, time.perf_counter() - start


def main() -> None:
    """Ingest, serve, measure, print and write bench/results/api.json."""
    args = parse_args()
    embedder_dir, label = cached_checkpoint("embedder", "tiny", build_embedder)
    reranker_dir, _ = cached_checkpoint("reranker", "tiny", build_reranker)
    plans = [[QUESTIONS[(c + q) % len(QUESTIONS)] for q in range(args.questions)] for c in range(args.clients)]
    with tempfile.TemporaryDirectory() as scratch:
        settings = load_settings(embedding_model=str(embedder_dir), reranker_model=str(reranker_dir), llm="off",
                                 chroma_path=Path(scratch) / "chroma", database_url=f"sqlite:///{scratch}/db.sqlite",
                                 device="cpu", api_rate_per_minute=100_000)
        pipeline = Pipeline(settings)
        pipeline.ingest([SAMPLE_FOLDER], "parcelio")
        key = KeyStore(settings.database_url).create("bench", "ask")
        with serve_app(create_app(pipeline)) as url:
            paired(pipeline, url, key, QUESTIONS)  # warm up models, indexes and connections
            direct, sequential = paired(pipeline, url, key, QUESTIONS * 3)
            times, errors, wall = asyncio.run(clients(url, key, plans))
    total = args.clients * args.questions
    overhead = statistics.median(a - d for a, d in zip(sequential, direct, strict=True))
    record = {
        "benchmark": f"api: {args.clients} concurrent clients x {args.questions} questions, LLM off, tiny models",
        "machine": machine_info(), "tokenizer": label, "requests": total, "errors": len(errors),
        "error_samples": errors[:5],
        "in_process_ask_ms": percentiles(direct), "api_one_at_a_time_ms": percentiles(sequential),
        "api_overhead_per_question_ms": round(overhead, 1),
        "concurrent_latency_ms": percentiles(times) if times else None,
        "concurrent_wall_s": round(wall, 2), "throughput_per_s": round(total / wall, 1),
    }
    print(f"errors: {record['errors']} of {total} concurrent requests")
    print(f"in-process ask p50 {record['in_process_ask_ms']['p50']} ms; API one at a time p50 "
          f"{record['api_one_at_a_time_ms']['p50']} ms; API overhead per question {overhead:.1f} ms")
    if times:
        print(f"concurrent: p50 {record['concurrent_latency_ms']['p50']} ms, p95 "
              f"{record['concurrent_latency_ms']['p95']} ms, {record['throughput_per_s']} questions/s")
    write_json(args.out, record)


if __name__ == "__main__":
    main()
