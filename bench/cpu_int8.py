r"""int8 for the in-process reranker on a CPU: speed against the CPU profile's bfloat16, and rankings against float32.

Variants (the decoder's linear layers quantized, the yes/no head left as it is):
  bf16            the CPU profile today (bfloat16 where the CPU has it)
  torchao-bf16    torchao Int8DynamicActivationInt8WeightConfig on the bfloat16 model
  torchao-fp32    the same on the float32 model
  torch-dynamic   torch.ao.quantization.quantize_dynamic (qint8, fbgemm) on the float32 model; deprecated in torch
Speed: one reranker batch (4 passages of 300-330 tokens cut to the CPU cap of 256, and a query) through each variant
on random weights of the chosen shape, after a warm-up; wall and process CPU seconds (CPU seconds vary less when
others share the machine). Rankings: a tiny random reranker whose float32 scores are not saturated (as in
tests/test_rerank_budget.py), 3 mixed-language queries x 8 passages: top-3 overlap, Kendall's tau and the largest
score difference of each variant against float32.

Run from the repository root (needs torchao):
    .venv/bin/python bench/cpu_int8.py                # Qwen3-Reranker-0.6B shape, about a minute per variant
    .venv/bin/python bench/cpu_int8.py --shape small
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    QUERIES,
    RESULTS,
    SHAPES,
    cached_checkpoint,
    machine_info,
    texts_of_lengths,
    timed,
    write_json,
)
from core.models.rerank import CPU_MAX_PASSAGE_TOKENS  # noqa: E402
from core.models.rerank.local import QwenLocalReranker  # noqa: E402
from tests.test_rerank_budget import PASSAGES, kendall_tau, unsaturated  # noqa: E402
from tests.test_rerank_budget import QUERIES as MIXED_QUERIES  # noqa: E402
from tests.tiny_qwen3 import build_reranker, load_tokenizer, real_tokenizer_dir  # noqa: E402


def torchao_int8(body: torch.nn.Module) -> None:
    """torchao's dynamic int8 activations and int8 weights on every linear layer."""
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    quantize_(body, Int8DynamicActivationInt8WeightConfig())


def torch_dynamic_int8(body: torch.nn.Module) -> None:
    """torch.ao's eager dynamic quantization of every linear layer to qint8."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(body, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


# name: (CPU profile on, i.e. bfloat16 where native; quantization of the decoder or None)
VARIANTS: dict[str, tuple[bool, Callable[[torch.nn.Module], None] | None]] = {
    "bf16": (True, None), "torchao-bf16": (True, torchao_int8), "torchao-fp32": (False, torchao_int8),
    "torch-dynamic": (False, torch_dynamic_int8),
}


def load(folder: Path, variant: str, cap: int | None = None) -> QwenLocalReranker:
    """The in-process reranker in one variant."""
    profile, quantize = VARIANTS[variant]
    reranker = QwenLocalReranker(folder, variant, "find it", cpu_profile=profile, max_passage_tokens=cap)
    if quantize is not None:
        quantize(reranker._model.model.model)
    return reranker


def speed(folder: Path, repeats: int) -> dict[str, dict[str, float]]:
    """Seconds of one batch of capped passages per variant."""
    results = {}
    for variant in VARIANTS:
        reranker = load(folder, variant, CPU_MAX_PASSAGE_TOKENS)
        passages = texts_of_lengths(reranker._model.tokenizer, [300, 310, 320, 330], seed=3)
        reranker.scores(QUERIES[1], passages[:1])
        wall, cpu, _ = timed(lambda r=reranker, p=passages: r.scores(QUERIES[0], p), repeats)
        results[variant] = {"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2)}
        print(f"{variant:<14} {wall:6.1f} s wall, {cpu:6.1f} s CPU for 4 passages", flush=True)
    return results


def agreement(folder: Path) -> dict[str, dict[str, float]]:
    """Top-3 overlap (least over the queries), Kendall's tau (least) and largest score gap of each variant
    against float32."""
    exact = {q: QwenLocalReranker(folder, "fp32", "find it", cpu_profile=False).scores(q, PASSAGES)
             for q in MIXED_QUERIES}
    results = {}
    for variant in VARIANTS:
        reranker = load(folder, variant)
        top3, taus, gaps = [], [], []
        for query in MIXED_QUERIES:
            fast = reranker.scores(query, PASSAGES)
            best = {i for i in sorted(range(len(PASSAGES)), key=lambda i: -exact[query][i])[:3]}
            top3.append(len(best & {i for i in sorted(range(len(PASSAGES)), key=lambda i: -fast[i])[:3]}))
            taus.append(kendall_tau(exact[query], fast))
            gaps.append(max(abs(e - f) for e, f in zip(exact[query], fast, strict=True)))
        results[variant] = {"top3_overlap_min": min(top3), "kendall_tau_min": round(min(taus), 3),
                            "max_score_difference": round(max(gaps), 4)}
        print(f"{variant:<14} top-3 overlap >= {min(top3)}/3, Kendall's tau >= {min(taus):.2f}, "
              f"largest score difference {max(gaps):.4f}", flush=True)
    return results


def unsaturated_tiny_reranker(root: Path) -> tuple[Path, int]:
    """The first tiny random reranker (by seed) whose float32 scores on the mixed inputs are not saturated."""
    tokenizer = load_tokenizer(real_tokenizer_dir())
    for seed in range(10):
        folder = build_reranker(root / f"seed-{seed}", tokenizer, seed=seed)
        reranker = QwenLocalReranker(folder, "tiny", "find it", cpu_profile=False)
        if all(unsaturated(reranker.scores(query, PASSAGES)) for query in MIXED_QUERIES):
            return folder, seed
    raise SystemExit("no seed in 0-9 gives a tiny reranker with unsaturated scores")


def main() -> None:
    """Time the variants on the chosen shape, compare rankings on a tiny model, write the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="0.6b")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    try:
        import torchao
    except ImportError:
        raise SystemExit("bench/cpu_int8.py needs torchao (not a Polydesk dependency): pip install torchao") from None

    folder, label = cached_checkpoint("reranker", args.shape, build_reranker)
    timings = speed(folder, args.repeats)
    with tempfile.TemporaryDirectory() as root:
        tiny, seed = unsaturated_tiny_reranker(Path(root))
        rankings = agreement(tiny)
    base = timings["bf16"]
    record: dict[str, Any] = {
        "bench": "cpu_int8", "shape": args.shape, "tokenizer": label, "torchao": torchao.__version__,
        "speed": timings, "rankings_vs_float32": rankings, "tiny_seed": seed, "machine": machine_info(),
        "cpu_speedup_vs_bf16": {v: round(base["cpu_seconds"] / t["cpu_seconds"], 2) for v, t in timings.items()},
        "wall_speedup_vs_bf16": {v: round(base["seconds"] / t["seconds"], 2) for v, t in timings.items()},
    }
    print("speed-up against bf16 (CPU seconds):", record["cpu_speedup_vs_bf16"])
    write_json(args.out or RESULTS / f"cpu-int8-{args.shape}.json", record)


if __name__ == "__main__":
    main()
