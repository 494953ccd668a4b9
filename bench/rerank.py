r"""Reranker throughput and fidelity: QwenLocalReranker against the Qwen3-Reranker model-card code.

Both score the same (query, passage) pairs on the same randomly initialised Qwen3 checkpoint in float32 on CPU,
in the same process, after one warm-up call each (2 passages, a different query). Reported: pairs/s of both, the
ratio ours / reference, the largest absolute difference of the P(yes) scores, and the largest difference of the
log-odds log(p / (1 - p)), which stays informative when random weights push P(yes) to ~0 or ~1
(|dP| <= |d log-odds| / 4 at any operating point). The reference follows the model card: prefix ids + body ids
(truncated to max_length - len(prefix) - len(suffix)) + suffix ids, left padding with tokenizer.pad, ALL pairs in
ONE batch, `model(**inputs).logits[:, -1, :]`, log_softmax over [no, yes], exp of the yes column.

Run from the repository root (the 0.6B checkpoint, ~3 GB, is built once into bench/.cache/):
    .venv/bin/python bench/rerank.py                          # 0.6B shape, 20 passages of 80-512 tokens
    .venv/bin/python bench/rerank.py --shape tiny --passages 8
    .venv/bin/python bench/rerank.py --no-reference --passages 12 --batch-sizes 1,2,4,8 \
        --out bench/results/rerank-sweep.json
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    QUERIES,
    RESULTS,
    cached_checkpoint,
    length_stats,
    machine_info,
    spread_lengths,
    texts_of_lengths,
    timed,
    token_lengths,
    write_json,
)
from core.models.rerank.prompt import PREFIX, SUFFIX, body  # noqa: E402
from tests.tiny_qwen3 import build_reranker  # noqa: E402

# The model card passes max_length to tokenizer.pad together with padding=True; transformers warns that it is unused.
warnings.filterwarnings("ignore", message="`max_length` is ignored when `padding`=`True`")
INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
MAX_LENGTH = 8192
TARGET = {"min_ratio": 1.5, "max_abs_diff": 1e-4}


class ModelCardReranker:
    """The Qwen3-Reranker model card's transformers code, unchanged in substance."""

    def __init__(self, folder: Path, max_length: int = MAX_LENGTH) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), padding_side="left")
        self.model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
        self.yes = self.tokenizer.convert_tokens_to_ids("yes")
        self.no = self.tokenizer.convert_tokens_to_ids("no")
        self.prefix_ids = self.tokenizer.encode(PREFIX, add_special_tokens=False)
        self.suffix_ids = self.tokenizer.encode(SUFFIX, add_special_tokens=False)
        self.max_length = max_length

    def inputs(self, pairs: list[str]) -> Any:
        """process_inputs(): body ids truncated, wrapped in prefix and suffix ids, left-padded to the longest."""
        encoded = self.tokenizer(
            pairs, padding=False, truncation="longest_first", return_attention_mask=False,
            max_length=self.max_length - len(self.prefix_ids) - len(self.suffix_ids),
        )
        encoded["input_ids"] = [self.prefix_ids + ids + self.suffix_ids for ids in encoded["input_ids"]]
        return self.tokenizer.pad(encoded, padding=True, return_tensors="pt", max_length=self.max_length)

    def scores(self, query: str, documents: list[str]) -> list[float]:
        """compute_logits() on all pairs in one batch: P(yes) from log_softmax over the [no, yes] logits."""
        with self.torch.no_grad():
            logits = self.model(**self.inputs([body(query, d, INSTRUCTION) for d in documents])).logits[:, -1, :]
            pair = self.torch.stack([logits[:, self.no], logits[:, self.yes]], dim=1)
            return self.torch.nn.functional.log_softmax(pair, dim=1)[:, 1].exp().tolist()


def log_odds(p: float) -> float:
    """log(p / (1 - p)), clamped away from 0 and 1."""
    p = min(max(p, 1e-45), 1 - 1e-16)
    return math.log(p) - math.log1p(-p)


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["tiny", "0.6b"], default="0.6b")
    parser.add_argument("--passages", type=int, default=20)
    parser.add_argument("--min-tokens", type=int, default=80)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per path; the fastest is reported")
    parser.add_argument("--batch-size", type=int, default=4, help="QwenLocalReranker batch size")
    parser.add_argument("--batch-sizes", default="", help="comma-separated: also time ours at these batch sizes")
    parser.add_argument("--no-reference", action="store_true", help="skip the model-card reference")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "rerank.json")
    return parser.parse_args()


def main() -> None:
    """Build or reuse the checkpoint, time both paths on the same pairs, print a table and write JSON."""
    args = parse_args()
    from core.models.rerank.local import QwenLocalReranker

    folder, tokenizer_label = cached_checkpoint("reranker", args.shape, build_reranker)
    ours = QwenLocalReranker(folder, "bench/random-qwen3", INSTRUCTION, device="cpu", max_length=MAX_LENGTH,
                             batch_size=args.batch_size)
    reference = None if args.no_reference else ModelCardReranker(folder)
    tokenizer = ours._model.tokenizer
    passages = texts_of_lengths(tokenizer, spread_lengths(args.passages, args.min_tokens, args.max_tokens, args.seed),
                                args.seed)
    query, warmup_query = QUERIES
    n = len(passages)
    record: dict[str, Any] = {
        "benchmark": "rerank: QwenLocalReranker vs Qwen3-Reranker model-card code",
        "machine": machine_info(), "shape": args.shape, "dtype": "float32", "device": "cpu",
        "tokenizer": tokenizer_label, "passages": n, "repeats": args.repeats, "seed": args.seed,
        "passage_tokens": length_stats(token_lengths(tokenizer, passages)),
        "prompt_tokens": length_stats(token_lengths(tokenizer, [PREFIX + body(query, p, INSTRUCTION) + SUFFIX
                                                                for p in passages])),
        "warmup": "one call per path on 2 passages with a different query, before timing",
    }
    print(f"shape {args.shape}, {n} passages, passage tokens {record['passage_tokens']}, "
          f"torch threads {record['machine']['torch_threads']}, tokenizer {tokenizer_label}, "
          f"load average {record['machine']['load_average_at_start'][0]:.2f}", flush=True)

    ours.scores(warmup_query, passages[:2])
    ours_s, ours_cpu, ours_scores = timed(lambda: ours.scores(query, passages), args.repeats)
    print(f"ours      batch {args.batch_size:2d}: {ours_s:7.2f} s  {n / ours_s:6.3f} pairs/s  (CPU {ours_cpu:.1f} s)",
          flush=True)
    record["ours"] = {"batch_size": args.batch_size, "seconds": round(ours_s, 3), "cpu_seconds": round(ours_cpu, 3),
                      "pairs_per_s": round(n / ours_s, 4)}
    if reference is not None:
        reference.scores(warmup_query, passages[:2])
        ref_s, ref_cpu, ref_scores = timed(lambda: reference.scores(query, passages), args.repeats)
        print(f"reference one batch: {ref_s:7.2f} s  {n / ref_s:6.3f} pairs/s  (CPU {ref_cpu:.1f} s)", flush=True)
        record["reference"] = {"batching": "all pairs in one batch, as the model card does", "seconds": round(ref_s, 3),
                               "cpu_seconds": round(ref_cpu, 3), "pairs_per_s": round(n / ref_s, 4)}
        record.update(compare(ours_s, ref_s, ours_scores, ref_scores))
    if args.batch_sizes:
        record["batch_size_sweep"] = sweep(ours, query, passages, [int(b) for b in args.batch_sizes.split(",")],
                                           args.repeats, ours_scores)
    record["machine"]["load_average_at_end"] = os.getloadavg()
    write_json(args.out, record)


def compare(ours_s: float, ref_s: float, ours_scores: list[float], ref_scores: list[float]) -> dict[str, Any]:
    """Ratio, score differences and the target verdict; prints a summary line."""
    ratio = ref_s / ours_s
    diff = max(abs(a - b) for a, b in zip(ours_scores, ref_scores, strict=True))
    logit_diff = max(abs(log_odds(a) - log_odds(b)) for a, b in zip(ours_scores, ref_scores, strict=True))
    met = ratio >= TARGET["min_ratio"] and diff <= TARGET["max_abs_diff"]
    saturated = all(p < 1e-3 or p > 1 - 1e-3 for p in ref_scores)
    print(f"ratio ours/reference (pairs/s): {ratio:.2f}x   max |P(yes) diff|: {diff:.2e}   "
          f"max |log-odds diff|: {logit_diff:.2e}   reference P(yes) range [{min(ref_scores):.2e}, "
          f"{max(ref_scores):.2e}]{'  (saturated)' if saturated else ''}")
    print(f"target ratio >= {TARGET['min_ratio']} and diff <= {TARGET['max_abs_diff']}: {'MET' if met else 'NOT MET'}")
    return {
        "ratio": round(ratio, 3), "max_abs_score_diff": diff, "max_abs_log_odds_diff": logit_diff,
        "reference_score_range": [min(ref_scores), max(ref_scores)], "scores_saturated": saturated,
        "target": TARGET, "target_met": met, "scores": {"ours": ours_scores, "reference": ref_scores},
    }


def sweep(ours: Any, query: str, passages: list[str], sizes: list[int], repeats: int,
          baseline: list[float]) -> list[dict[str, float]]:
    """Time QwenLocalReranker at each batch size on the same pairs; log-odds compared with the main run."""
    rows = []
    for size in sizes:
        ours.batch_size = size
        seconds, cpu, scores = timed(lambda: ours.scores(query, passages), repeats)
        diff = max(abs(log_odds(a) - log_odds(b)) for a, b in zip(scores, baseline, strict=True))
        rows.append({"batch_size": size, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
                     "pairs_per_s": round(len(passages) / seconds, 4), "max_abs_log_odds_diff_vs_main_run": diff})
        print(f"ours      batch {size:2d}: {seconds:7.2f} s  {len(passages) / seconds:6.3f} pairs/s  (CPU {cpu:.1f} s, "
              f"max log-odds diff vs main run {diff:.1e})", flush=True)
    return rows


if __name__ == "__main__":
    main()
