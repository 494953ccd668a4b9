r"""One question on a CPU with in-process models, LLM off: the CPU profile off (float32, 30 whole passages, each
pair's whole prompt run: the code before the CPU profile) against on (bfloat16 where the CPU has it, the CPU rerank
budget, the question's shared prompt prefix run once), in the same run; between them the profile on with whole
prompts, and the profile on at other reranker batch sizes.

A question costs the query embedding plus reranking the fused candidates; retrieval itself takes milliseconds, so
this times `embed_query` and `rerank` on the in-process Qwen3 classes with random weights of the chosen shape and
the real tokenizer when present. The candidates are 30 multilingual passages of 300-512 tokens (as the chunker cuts
them); the profile reranks as many as its budget says, each cut to its token cap. One warm-up call per setting.

Run from the repository root (the 0.6B checkpoints, ~3 GB, are built once into bench/.cache/):
    .venv/bin/python bench/cpu.py                       # Qwen3-0.6B shape (minutes per setting on 2 cores)
    .venv/bin/python bench/cpu.py --shape small --repeats 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    QUERIES,
    RESULTS,
    SHAPES,
    cached_checkpoint,
    machine_info,
    spread_lengths,
    texts_of_lengths,
    timed,
    write_json,
)
from core.models.device import cpu_has_native_bf16  # noqa: E402
from core.models.embed.local import QwenLocalEmbedder  # noqa: E402
from core.models.rerank import rerank_budget  # noqa: E402
from core.models.rerank.local import QwenLocalReranker  # noqa: E402
from core.settings import load_settings  # noqa: E402
from tests.tiny_qwen3 import build_embedder, build_reranker  # noqa: E402

INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
CANDIDATES = 30


def one_setting(profile: bool, reuse_prefix: bool, batch_size: int, embedder_dir: Path, reranker_dir: Path,
                passages: list[str], repeats: int) -> dict[str, Any]:
    """Seconds for one question (query embedding + reranking) with the CPU profile on or off."""
    budget = rerank_budget(load_settings(device="cpu", cpu_profile=profile))
    embedder = QwenLocalEmbedder(embedder_dir, "bench-embedder", INSTRUCTION, device="cpu", cpu_profile=profile)
    reranker = QwenLocalReranker(reranker_dir, "bench-reranker", INSTRUCTION, device="cpu", cpu_profile=profile,
                                 max_passage_tokens=budget.max_passage_tokens, batch_size=batch_size,
                                 reuse_prefix=reuse_prefix)
    candidates = passages[: budget.k]

    def question() -> list:
        embedder.embed_query(QUERIES[0])
        return reranker.rerank(QUERIES[0], candidates)

    embedder.embed_query(QUERIES[1])
    reranker.rerank(QUERIES[1], candidates[:2])
    wall, cpu, _ = timed(question, repeats)
    dtype = str(next(reranker._model.model.parameters()).dtype).removeprefix("torch.")
    prompts = "prefix once" if reuse_prefix else "whole prompts"
    print(f"profile {'on ' if profile else 'off'}: {wall:.2f} s per question, {cpu:.2f} CPU s ({budget.k} candidates, "
          f"cap {budget.max_passage_tokens or 'none'} tokens, {dtype}, {prompts}, batch {batch_size})", flush=True)
    return {"profile": "on" if profile else "off", "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
            "rerank_k": budget.k, "max_passage_tokens": budget.max_passage_tokens, "dtype": dtype,
            "reuse_prefix": reuse_prefix, "batch_size": batch_size}


def main() -> None:
    """Build or reuse the checkpoints, time both settings, print the ratio, write the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="0.6b")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--batch-sizes", type=lambda text: [int(b) for b in text.split(",")], default=[10],
                        help="further reranker batch sizes to time with the profile on (comma-separated)")
    args = parser.parse_args()
    batch = load_settings().reranker_batch_size
    embedder_dir, label = cached_checkpoint("embedder", args.shape, build_embedder)
    reranker_dir, _ = cached_checkpoint("reranker", args.shape, build_reranker)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(reranker_dir))
    passages = texts_of_lengths(tokenizer, spread_lengths(CANDIDATES, 300, 512, seed=7), seed=7)
    off = one_setting(False, False, batch, embedder_dir, reranker_dir, passages, args.repeats)
    whole = one_setting(True, False, batch, embedder_dir, reranker_dir, passages, args.repeats)
    on = one_setting(True, True, batch, embedder_dir, reranker_dir, passages, args.repeats)
    batches = [one_setting(True, True, size, embedder_dir, reranker_dir, passages, args.repeats)
               for size in args.batch_sizes if size != batch]
    ratio, cpu_ratio = off["seconds"] / on["seconds"], off["cpu_seconds"] / on["cpu_seconds"]
    prefix_ratio = whole["seconds"] / on["seconds"]
    print(f"CPU profile on is {ratio:.1f}x faster per question, {cpu_ratio:.1f}x in CPU seconds ({args.shape} "
          f"shape, {label} tokenizer, native bf16: {cpu_has_native_bf16()}); running the prefix once: "
          f"{prefix_ratio:.2f}x")
    write_json(args.out or RESULTS / f"cpu-{args.shape}.json", {
        "bench": "cpu", "shape": args.shape, "tokenizer": label, "native_bf16": cpu_has_native_bf16(),
        "candidates": CANDIDATES, "passage_tokens": [300, 512], "repeats": args.repeats,
        "off": off, "on_whole_prompts": whole, "on": on, "on_other_batch_sizes": batches,
        "speedup": round(ratio, 2), "cpu_speedup": round(cpu_ratio, 2), "prefix_speedup": round(prefix_ratio, 2),
        "prefix_cpu_speedup": round(whole["cpu_seconds"] / on["cpu_seconds"], 2), "machine": machine_info(),
    })


if __name__ == "__main__":
    main()
