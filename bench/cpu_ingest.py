r"""Embedding the sample documentation on a CPU with an in-process embedder: the CPU profile off (float32, 16 texts
a batch padded to the longest) against on (bfloat16 where the CPU has it, batches of similar token lengths), in the
same run.

The sample (data/sample) is parsed and chunked by a Pipeline's chunker (the embedding tokenizer, the default chunk
settings), and each file's chunks are embedded in one call, as the Ingester does for a new collection. To keep it
short, a fixed random set of files holding at least --chunks chunks is timed, and the time for every chunk of the
sample is extrapolated by the timed files' share of the sample's tokens (the output says so). Embedding is the cost of
a first-start ingest on a CPU; parsing, chunking, language tags and the store take seconds (bench/ingest.py). Padded
tokens (what the model computes) are counted for both settings: sentence-transformers sorts a call's texts by
characters and pads each batch to its longest. One warm-up call per setting.

Run from the repository root (the 0.6B checkpoint, ~1.2 GB, is built once into bench/.cache/):
    .venv/bin/python bench/cpu_ingest.py                       # Qwen3-Embedding-0.6B shape (minutes per setting)
    .venv/bin/python bench/cpu_ingest.py --shape small --chunks 48
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, SHAPES, cached_checkpoint, length_stats, machine_info, timed, write_json  # noqa: E402
from core.knowledge.ingest.parse import parse_file  # noqa: E402
from core.knowledge.ingest.sources import plan_sources  # noqa: E402
from core.models.batching import token_batches  # noqa: E402
from core.models.device import cpu_has_native_bf16  # noqa: E402
from core.pipeline import SAMPLE_FOLDER, Pipeline  # noqa: E402
from core.settings import load_settings  # noqa: E402
from tests.tiny_qwen3 import build_embedder  # noqa: E402

SEED = 7


def sample_chunks(pipeline: Pipeline) -> dict[str, list[str]]:
    """Every file of the sample and its chunks' texts, chunked as the Ingester chunks them."""
    return {planned.source: [piece.text for piece in pipeline.chunker.split(parse_file(planned.path))]
            for planned in plan_sources([SAMPLE_FOLDER]).files}


def timed_files(files: dict[str, list[str]], at_least: int) -> list[str]:
    """A fixed random choice of files (by SEED) holding at least `at_least` chunks together."""
    order = sorted(files)
    random.Random(SEED).shuffle(order)
    chosen: list[str] = []
    while order and sum(len(files[name]) for name in chosen) < at_least:
        chosen.append(order.pop(0))
    return chosen


def padded_tokens(texts: list[str], lengths: list[int], batch_size: int, max_batch_tokens: int | None) -> int:
    """Tokens with padding that one embed call computes: sentence-transformers' batches (sorted by characters,
    `batch_size` a batch) or, with `max_batch_tokens`, the embedder's token-length batches."""
    if max_batch_tokens is None:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        groups = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    else:
        groups = token_batches(lengths, max_batch_tokens, batch_size)
    return sum(len(group) * max(lengths[i] for i in group) for group in groups)


def one_setting(profile: bool, folder: Path, files: dict[str, list[str]], chosen: list[str],
                repeats: int) -> dict[str, Any]:
    """Seconds to embed the chosen files' chunks, a call per file, with the CPU profile on or off."""
    pipeline = Pipeline(load_settings(device="cpu", cpu_profile=profile, embedding_model=str(folder)))
    embedder = pipeline.embedder
    tokenizer = embedder._model.tokenizer
    embedder.embed_documents(files[chosen[0]][:1])
    wall, cpu, _ = timed(lambda: [embedder.embed_documents(files[name]) for name in chosen], repeats)
    padded = 0
    for name in chosen:
        lengths = [len(ids) for ids in tokenizer(files[name])["input_ids"]]
        padded += padded_tokens(files[name], lengths, embedder.batch_size, embedder.max_batch_tokens)
    dtype = str(next(embedder._model.parameters()).dtype).removeprefix("torch.")
    return {"profile": "on" if profile else "off", "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
            "dtype": dtype, "batch_size": embedder.batch_size, "max_batch_tokens": embedder.max_batch_tokens,
            "padded_tokens": padded}


def main() -> None:
    """Build or reuse the checkpoint, chunk the sample, time both settings, print the ratio, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="0.6b")
    parser.add_argument("--chunks", type=int, default=24, help="time files holding at least this many chunks")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    folder, label = cached_checkpoint("embedder", args.shape, build_embedder)
    pipeline = Pipeline(load_settings(device="cpu", embedding_model=str(folder)))
    files = sample_chunks(pipeline)
    chosen = timed_files(files, args.chunks)
    tokenizer = pipeline.chunker.tokenizer
    count = {name: sum(len(e.ids) for e in tokenizer.encode_batch(texts)) for name, texts in files.items()}
    share = sum(count[name] for name in chosen) / sum(count.values())
    total_chunks = sum(len(texts) for texts in files.values())
    timed_chunks = sum(len(files[name]) for name in chosen)
    print(f"sample: {len(files)} files, {total_chunks} chunks, {sum(count.values())} tokens; timing "
          f"{len(chosen)} files ({timed_chunks} chunks, {share:.0%} of the tokens): {', '.join(chosen)}", flush=True)
    results = []
    for profile in (False, True):
        result = one_setting(profile, folder, files, chosen, args.repeats)
        result["sample_seconds_extrapolated"] = round(result["seconds"] / share, 1)
        results.append(result)
        print(f"profile {result['profile']:<3}: {result['seconds']:.1f} s for {timed_chunks} chunks "
              f"({result['dtype']}, {result['padded_tokens']} tokens with padding); whole sample extrapolated by "
              f"tokens: {result['sample_seconds_extrapolated']:.0f} s", flush=True)
    off, on = results
    ratio, cpu_ratio = off["seconds"] / on["seconds"], off["cpu_seconds"] / on["cpu_seconds"]
    print(f"CPU profile on embeds {ratio:.1f}x faster, {cpu_ratio:.1f}x in CPU seconds ({args.shape} shape, "
          f"{label} tokenizer, native bf16: {cpu_has_native_bf16()})")
    write_json(args.out or RESULTS / f"cpu-ingest-{args.shape}.json", {
        "bench": "cpu_ingest", "shape": args.shape, "tokenizer": label, "native_bf16": cpu_has_native_bf16(),
        "sample_files": len(files), "sample_chunks": total_chunks, "sample_tokens": length_stats(
            [len(e.ids) for texts in files.values() for e in tokenizer.encode_batch(texts)]),
        "timed_files": chosen, "timed_chunks": timed_chunks, "timed_token_share": round(share, 4),
        "extrapolation": "whole-sample seconds = timed seconds / timed files' share of the sample's tokens",
        "repeats": args.repeats, "off": off, "on": on, "speedup": round(ratio, 2),
        "cpu_speedup": round(cpu_ratio, 2), "machine": machine_info(),
    })


if __name__ == "__main__":
    main()
