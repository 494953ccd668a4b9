"""Embedder throughput and fidelity: QwenLocalEmbedder against hand-written padded batches in input order.

Both embed the same chunks (random token lengths over [50, 512], in random order) with the same randomly
initialised Qwen3-Embedding-style checkpoint, float32 on CPU, in the same process, after one warm-up call each
on other chunks. Ours is sentence-transformers (sorts by length before batching); the baseline is the plain
recipe: tokenizer with left padding (it appends <|endoftext|>), AutoModel, last hidden state at the last
position, L2 normalisation, batches of 32 in input order. Reported: chunks/s of both, the ratio ours / plain,
and the largest absolute difference of the vectors.

Run from the repository root (checkpoints are built once into bench/.cache/):
    .venv/bin/python bench/embed.py                        # small shape (4 layers, hidden 384), 256 chunks
    .venv/bin/python bench/embed.py --shape medium         # 8 layers, hidden 512
    .venv/bin/python bench/embed.py --shape 0.6b --chunks 32
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    RESULTS,
    SHAPES,
    cached_checkpoint,
    length_stats,
    machine_info,
    spread_lengths,
    texts_of_lengths,
    timed,
    token_lengths,
    write_json,
)
from tests.tiny_qwen3 import build_embedder  # noqa: E402


class PlainEmbedder:
    """Hand-written last-token pooling: padded batches in input order, no sorting."""

    def __init__(self, folder: Path, batch_size: int = 32) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), padding_side="left")
        self.model = AutoModel.from_pretrained(str(folder), dtype=torch.float32).eval()
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one per text, in input order."""
        rows = []
        with self.torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                       max_length=8192, return_tensors="pt")
                last = self.model(**batch).last_hidden_state[:, -1]
                rows.append(self.torch.nn.functional.normalize(last, p=2, dim=1))
        return self.torch.cat(rows).numpy()


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--min-tokens", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=16, help="QwenLocalEmbedder batch size (its default)")
    parser.add_argument("--plain-batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per path; the fastest is reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "embed.json")
    return parser.parse_args()


def main() -> None:
    """Build or reuse the checkpoint, time both paths on the same chunks, print a table and write JSON."""
    args = parse_args()
    from core.models.embed.local import QwenLocalEmbedder

    folder, tokenizer_label = cached_checkpoint("embedder", args.shape, build_embedder)
    ours = QwenLocalEmbedder(folder, "bench/random-qwen3-embedding", "unused", device="cpu",
                             batch_size=args.batch_size)
    plain = PlainEmbedder(folder, args.plain_batch_size)
    lengths = spread_lengths(args.chunks + 4, args.min_tokens, args.max_tokens, args.seed)
    texts = texts_of_lengths(plain.tokenizer, lengths, args.seed)
    chunks, warmup = texts[:args.chunks], texts[args.chunks:]
    n = len(chunks)
    record: dict[str, Any] = {
        "benchmark": "embed: QwenLocalEmbedder vs plain padded batches in input order",
        "machine": machine_info(), "shape": args.shape, "shape_detail": vars(SHAPES[args.shape]),
        "dtype": "float32", "device": "cpu", "tokenizer": tokenizer_label, "chunks": n, "repeats": args.repeats,
        "seed": args.seed, "chunk_tokens": length_stats(token_lengths(plain.tokenizer, chunks)),
        "warmup": "one call per path on 4 other chunks, before timing",
    }
    print(f"shape {args.shape}, {n} chunks, chunk tokens {record['chunk_tokens']}, "
          f"torch threads {record['machine']['torch_threads']}, tokenizer {tokenizer_label}, "
          f"load average {record['machine']['load_average_at_start'][0]:.2f}", flush=True)

    ours.embed_documents(warmup)
    ours_s, ours_cpu, ours_vectors = timed(lambda: ours.embed_documents(chunks), args.repeats)
    print(f"ours  (length-sorted, batch {args.batch_size:2d}): {ours_s:7.2f} s  {n / ours_s:7.2f} chunks/s  "
          f"(CPU {ours_cpu:.1f} s)", flush=True)
    plain.embed(warmup)
    plain_s, plain_cpu, plain_vectors = timed(lambda: plain.embed(chunks), args.repeats)
    print(f"plain (input order,   batch {args.plain_batch_size:2d}): {plain_s:7.2f} s  {n / plain_s:7.2f} chunks/s  "
          f"(CPU {plain_cpu:.1f} s)", flush=True)
    diff = float(np.abs(ours_vectors - plain_vectors).max())
    print(f"ratio ours/plain (chunks/s): {plain_s / ours_s:.2f}x   max |vector diff|: {diff:.2e}   "
          f"dims {ours_vectors.shape[1]}")
    record.update(
        ours={"batch_size": args.batch_size, "batching": "sentence-transformers, sorted by length",
              "seconds": round(ours_s, 3), "cpu_seconds": round(ours_cpu, 3), "chunks_per_s": round(n / ours_s, 3)},
        plain={"batch_size": args.plain_batch_size, "batching": "padded batches in input order",
               "seconds": round(plain_s, 3), "cpu_seconds": round(plain_cpu, 3), "chunks_per_s": round(n / plain_s, 3)},
        ratio=round(plain_s / ours_s, 3), max_abs_vector_diff=diff, dims=int(ours_vectors.shape[1]),
    )
    record["machine"]["load_average_at_end"] = os.getloadavg()
    write_json(args.out, record)


if __name__ == "__main__":
    main()
