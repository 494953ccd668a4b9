"""Several agents at once: latency, errors and throughput of Pipeline.ask under concurrent load.

Tiny random Qwen3 models answer questions over the sample documentation (POLYDESK_LLM=off: extractive answers,
so the figures are retrieval, embedding and reranking). Three runs, each against one agent alone measured in the
same run:
- in-process models: 20 agents x 10 questions from 20 threads sharing one Pipeline;
- HTTP backends: the same against a loopback server of this script that speaks vLLM's /v1/rerank and
  /v1/embeddings wire formats, backed by the same tiny models in-process (vLLM's CPU build would take minutes
  to start; tests/test_vllm_backends.py checks the clients against real vLLM);
- while an admin re-ingests a 1,000-chunk collection: agents search it and every result is checked to show each
  document in one version only (old or new chunks, never both); once as the app runs (the re-ingest's embedding
  gives way to questions) and once with it not giving way, so that its commits land while agents search.

Run: .venv/bin/python bench/load.py [--agents 20] [--questions 10]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, cached_checkpoint, machine_info, write_json  # noqa: E402
from bench.query import QUESTIONS  # noqa: E402
from core.models.batching import MergingQueue  # noqa: E402
from core.models.embed.local import QwenLocalEmbedder  # noqa: E402
from core.models.foreground import PATIENCE_S  # noqa: E402
from core.models.rerank import rerank_budget  # noqa: E402
from core.pipeline import SAMPLE_FOLDER, Pipeline  # noqa: E402
from core.settings import Settings, load_settings  # noqa: E402
from tests.tiny_qwen3 import build_embedder, build_reranker  # noqa: E402

VERSION = re.compile(r"revision (v\d)")


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--questions", type=int, default=10, help="questions per agent")
    parser.add_argument("--files", type=int, default=20, help="files of the collection the admin re-ingests")
    parser.add_argument("--sections", type=int, default=50, help="sections (chunks) per file")
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json")
    return parser.parse_args()


def summary(latencies: list[float], errors: list[str], seconds: float) -> dict:
    """p50, p95 (nearest rank) and max latency in ms, error count and questions per second."""
    ordered = sorted(latencies) or [0.0]
    return {"questions": len(latencies) + len(errors), "errors": len(errors), "error_examples": errors[:3],
            "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[math.ceil(0.95 * len(ordered)) - 1], 1),
            "max_ms": round(ordered[-1], 1), "seconds": round(seconds, 2),
            "questions_per_s": round((len(latencies) + len(errors)) / seconds, 2)}


def run_agents(agents: int, questions: int, ask: Callable[[str], None]) -> dict:
    """`agents` threads asking `questions` questions each, all at once; their latencies, errors and throughput."""
    latencies: list[float] = []
    errors: list[str] = []
    barrier = threading.Barrier(agents)

    def agent(number: int) -> None:
        barrier.wait()
        for i in range(questions):
            question = QUESTIONS[(number * questions + i) % len(QUESTIONS)]
            start = time.perf_counter()
            try:
                ask(question)
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
            else:
                latencies.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    with ThreadPoolExecutor(agents) as pool:
        list(pool.map(agent, range(agents)))
    return summary(latencies, errors, time.perf_counter() - start)


def load_run(pipeline: Pipeline, agents: int, questions: int) -> dict:
    """One agent alone, then all agents at once, on the same pipeline; throughput ratio of the two."""
    def ask(question: str) -> None:
        pipeline.ask(question, ["parcelio"]).answer()

    for question in QUESTIONS[:3]:
        ask(question)  # warm-up: models loaded, lexical index built
    alone = run_agents(1, questions, ask)
    together = run_agents(agents, questions, ask)
    ratio = round(together["questions_per_s"] / alone["questions_per_s"], 2)
    return {"alone": alone, "concurrent": together, "throughput_ratio": ratio}


class LoopbackModels:
    """The tiny models behind vLLM's rerank and embeddings routes: P(yes) at the last token, last-token pooling."""

    def __init__(self, reranker_dir: Path, embedder_dir: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(str(reranker_dir), padding_side="left")
        self._model = AutoModelForCausalLM.from_pretrained(str(reranker_dir)).eval()
        self._yes_no = [self._tokenizer.convert_tokens_to_ids(t) for t in ("no", "yes")]
        self._scores: MergingQueue[str, float] = MergingQueue(self._score)
        self.embedder = QwenLocalEmbedder(embedder_dir, "loopback", "")

    def _score(self, _key: Hashable, texts: list[str]) -> list[float]:
        """P(yes) of each whole text (query prompt + document prompt, as vLLM concatenates them)."""
        scores: list[float] = []
        for start in range(0, len(texts), 8):
            batch = self._tokenizer(texts[start : start + 8], padding=True, return_tensors="pt")
            with self._torch.no_grad():
                logits = self._model(**batch, logits_to_keep=1).logits[:, -1, self._yes_no]
            scores += self._torch.softmax(logits.float(), dim=-1)[:, 1].tolist()
        return scores

    def rerank(self, request: dict) -> dict:
        """A /v1/rerank answer."""
        scores = self._scores.submit(None, [request["query"] + d for d in request["documents"]])
        return {"results": [{"index": i, "relevance_score": s} for i, s in enumerate(scores)]}

    def embeddings(self, request: dict) -> dict:
        """A /v1/embeddings answer."""
        vectors = self.embedder.embed_documents(request["input"])
        return {"object": "list", "model": request["model"], "usage": {"prompt_tokens": 0, "total_tokens": 0},
                "data": [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]}


@contextmanager
def loopback_server(models: LoopbackModels) -> Iterator[str]:
    """A keep-alive HTTP/1.1 server for /v1/rerank and /v1/embeddings on loopback; yields its URL."""
    routes = {"/v1/rerank": models.rerank, "/v1/embeddings": models.embeddings}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body = json.dumps(routes[self.path](request)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_collection(folder: Path, files: int, sections: int, revision: str) -> None:
    """`files` Markdown files of `sections` short sections each, every section marked with the revision."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        body = [f"# Guide {f}"] + [
            f"## Topic {f}.{s}\n\n{QUESTIONS[(f + s) % len(QUESTIONS)]} See section {s} of guide {f} "
            f"(revision {revision})." for s in range(sections)]
        (folder / f"guide-{f:03d}.md").write_text("\n\n".join(body) + "\n")


def ingest_run(pipeline: Pipeline, scratch: Path, args: argparse.Namespace, giving_way: bool) -> dict:
    """Agents search the collection while an admin keeps re-ingesting every file of it, alternating two texts; the
    re-ingest's embedding gives way to questions or not."""
    pipeline.foreground.patience = PATIENCE_S if giving_way else 0.0
    write_collection(scratch / "v1", args.files, args.sections, "v1")
    first = pipeline.ingest([scratch / "v1"], "admin")
    chunks = pipeline.store.info("admin").chunks
    write_collection(scratch / "v2", args.files, args.sections, "v2")
    seen = {"v1-only": 0, "v2-only": 0, "both-across-documents": 0, "mixed-within-a-document": 0, "empty": 0}
    lock = threading.Lock()

    def ask(question: str) -> None:
        result = pipeline.search(question, ["admin"], top_n=rerank_budget(pipeline.settings).k)
        versions: dict[str, set[str]] = {}
        for candidate in result.candidates:
            versions.setdefault(candidate.chunk.source, set()).update(VERSION.findall(candidate.chunk.text))
        every = set().union(*versions.values()) if versions else set()
        with lock:
            if any(len(found) > 1 for found in versions.values()):
                seen["mixed-within-a-document"] += 1
            elif every:
                seen["both-across-documents" if len(every) > 1 else f"{min(every)}-only"] += 1
            else:
                seen["empty"] += 1

    ask(QUESTIONS[0])
    alone = run_agents(1, args.questions, ask)
    for key in seen:
        seen[key] = 0
    agents_done = threading.Event()
    ingests: list[dict] = []

    def admin() -> None:
        while not agents_done.is_set():  # the new text, then the old one again, for as long as agents ask
            start = time.perf_counter()
            report = pipeline.ingest([scratch / ("v2" if len(ingests) % 2 == 0 else "v1")], "admin")
            ingests.append({"seconds": round(time.perf_counter() - start, 2), "updated": report.totals()["updated"],
                            "failed": len(report.failed)})

    with ThreadPoolExecutor(1) as pool:
        admin_done = pool.submit(admin)
        try:
            together = run_agents(args.agents, args.questions, ask)
        finally:
            agents_done.set()
        admin_done.result()
    return {"collection_chunks": chunks, "first_ingest_failed": len(first.failed), "admin_ingests": ingests,
            "alone": alone, "concurrent": together,
            "throughput_ratio": round(together["questions_per_s"] / alone["questions_per_s"], 2),
            "search_results": seen}


def settings_for(scratch: Path, embedder_dir: Path, reranker_dir: Path, **overrides: object) -> Settings:
    """Tiny models, no LLM, a store in the scratch folder."""
    return load_settings(embedding_model=str(embedder_dir), reranker_model=str(reranker_dir), llm="off",
                         chroma_path=scratch / "chroma", database_url=f"sqlite:///{scratch}/fb.db", device="cpu",
                         **overrides)


def show(title: str, run: dict) -> None:
    """Print one run's figures."""
    print(f"\n{title}")
    for label in ("alone", "concurrent"):
        f = run[label]
        print(f"  {label:<10} {f['questions']:>4} questions  p50 {f['p50_ms']:>7.1f} ms  p95 {f['p95_ms']:>7.1f} ms  "
              f"max {f['max_ms']:>7.1f} ms  errors {f['errors']}  {f['questions_per_s']:.2f} q/s")
    print(f"  throughput, concurrent / alone: {run['throughput_ratio']}x")


def main() -> None:
    """Build the tiny models, run the three load runs, print and write the figures."""
    import torch

    args = parse_args()
    embedder_dir, label = cached_checkpoint("embedder", "tiny", build_embedder)
    reranker_dir, _ = cached_checkpoint("reranker", "tiny", build_reranker)
    record: dict = {"benchmark": "load: concurrent agents on one Pipeline, tiny random Qwen3 models, LLM off",
                    "machine": machine_info(), "tokenizer": label, "agents": args.agents,
                    "questions_per_agent": args.questions}
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        pipeline = Pipeline(settings_for(scratch, embedder_dir, reranker_dir))
        report = pipeline.ingest([SAMPLE_FOLDER], "parcelio")
        assert not report.failed, report.failed
        record["in_process"] = load_run(pipeline, args.agents, args.questions)
        show("in-process models", record["in_process"])
        with loopback_server(LoopbackModels(reranker_dir, embedder_dir)) as url:
            remote = Pipeline(settings_for(scratch, embedder_dir, reranker_dir, embedding_url=url, reranker_url=url))
            record["http"] = load_run(remote, args.agents, args.questions)
        record["http"]["server"] = "loopback server of bench/load.py speaking vLLM's wire formats"
        show("HTTP backends (loopback vLLM-format server)", record["http"])
        for run, giving_way, how in (("during_ingest", True, "giving way to questions"),
                                     ("during_ingest_not_giving_way", False, "not giving way")):
            record[run] = ingest_run(pipeline, scratch, args, giving_way)
            show(f"in-process, while an admin re-ingests {record[run]['collection_chunks']} chunks ({how})",
                 record[run])
            ingests = [step["seconds"] for step in record[run]["admin_ingests"]]
            print(f"  admin re-ingests meanwhile: {len(ingests)}, {min(ingests)}-{max(ingests)} s each")
            print(f"  search results: {record[run]['search_results']}")
    record["torch_threads"] = torch.get_num_threads()
    runs = ("in_process", "http", "during_ingest", "during_ingest_not_giving_way")
    errors = sum(record[run]["concurrent"]["errors"] + record[run]["alone"]["errors"] for run in runs)
    record["errors_total"] = errors
    record["mixed_documents"] = sum(record[run]["search_results"]["mixed-within-a-document"] for run in runs[2:])
    write_json(args.out, record)
    if errors or record["mixed_documents"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
