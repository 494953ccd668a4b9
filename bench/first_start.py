r"""First start with an empty store: seconds until the first question is answered, and until the sample is ingested.

Each setting runs in a fresh Python process (imports, model loading and all) with an empty embedded Chroma, the
in-process embedder and reranker with random weights of the chosen shape and the real Qwen3 tokenizer when present,
the LLM off (extractive answers), and the settings' defaults otherwise (the CPU profile included). The process does
what the Ask page's start does, then asks one question as soon as the page would let it:
- blocking (the baseline, the start-up before the background ingest): the sample ingested file after file, then the
  models loaded in the background and waited for, then the question;
- background (today): the sample ingest and the model loading started in background threads; the question is asked
  once the sample's chunks are searchable by keywords (its answer says "Lexical search only"), while the embeddings
  are still computed; a second question after the ingest has ended is answered hybrid.
With --first-answer-only, only the background start, until its first answer, twice: as it is (the sample's embedding
waits while the question runs) and with the embedding not giving way to the question (the start before that).
Times are seconds from the process's start (as the parent launched it) to each event; the ratio is the baseline's
seconds to the first answer over today's.

Run from the repository root:
    .venv/bin/python bench/first_start.py                # tiny random models (seconds)
    .venv/bin/python bench/first_start.py --shape 0.6b   # Qwen3-0.6B shape (~3 GB built once into bench/.cache/)
    .venv/bin/python bench/first_start.py --shape 0.6b --first-answer-only   # without the full ingests
"""

from __future__ import annotations

import time

STARTED = time.time()  # before the heavy imports: they are part of starting the app

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUESTION = "How long is an access token valid?"
LEXICAL_ONLY = "Lexical search only"
MODES = ("blocking", "background")
NOT_GIVING_WAY = "background-not-giving-way"  # the background start with an ingest that never waits for questions
TARGET_S = 15.0


def child(mode: str, since: float, first_only: bool = False) -> dict[str, Any]:
    """One start in this process: the events' seconds since `since` (the parent's launch time), and the answers;
    first_only: stop after the first answer (the embeddings still being computed are abandoned)."""
    from core.ops.startup import startup
    from core.pipeline import SAMPLE_COLLECTION, SAMPLE_FOLDER
    from core.settings import load_settings

    events: dict[str, float] = {"imported": time.time() - since}
    if mode == NOT_GIVING_WAY:
        from core.models.foreground import Foreground

        Foreground.give_way = lambda self, timeout=0.0: None
        mode = "background"
    settings = load_settings()
    begun = startup(settings)
    pipeline = begun.pipeline
    if mode == "blocking":
        report = pipeline.ingest([SAMPLE_FOLDER], SAMPLE_COLLECTION)
        events["ingest_done"] = time.time() - since
        begun.load_in_background()
    else:
        begun.ingest_sample_in_background()  # in the order the Ask page starts them
        begun.load_in_background()
        begun.wait_searchable()
        events["searchable"] = time.time() - since
    first_run = pipeline.ask(QUESTION, [SAMPLE_COLLECTION])
    first = first_run.answer()
    events["first_answer"] = time.time() - since
    if first_only:
        return {"events_s": {key: round(value, 2) for key, value in events.items()},
                "first_answer_lexical_only": any(w.startswith(LEXICAL_ONLY) for w in first.warnings),
                "first_answer_passages": len(first.passages),
                "first_answer_ms": {k: round(v) for k, v in first_run.timings_ms.items()},
                "rerank_k": pipeline.searcher.depth.rerank_k, "cpu_profile": settings.cpu_profile}
    if mode == "background":
        begun.wait_sample()
        events["ingest_done"] = time.time() - since
        report = begun.sample_report
    begun.wait()
    events["models_loaded"] = time.time() - since
    second_run = pipeline.ask(QUESTION, [SAMPLE_COLLECTION])
    second = second_run.answer()
    return {
        "events_s": {key: round(value, 2) for key, value in events.items()},
        "first_answer_lexical_only": any(w.startswith(LEXICAL_ONLY) for w in first.warnings),
        "second_answer_lexical_only": any(w.startswith(LEXICAL_ONLY) for w in second.warnings),
        "first_answer_passages": len(first.passages),
        "first_answer_ms": {k: round(v) for k, v in first_run.timings_ms.items()},
        "second_answer_ms": {k: round(v) for k, v in second_run.timings_ms.items()},
        "files": len(report.files), "chunks": report.totals()["added"],
        "ingest_seconds_by_stage": {k: round(v, 2) for k, v in report.seconds.items()},
        "rerank_k": pipeline.searcher.depth.rerank_k, "cpu_profile": settings.cpu_profile,
    }


def run_setting(mode: str, embedder: Path, reranker: Path, first_only: bool = False) -> dict[str, Any]:
    """Launch a fresh process for one setting with an empty store; its record."""
    with tempfile.TemporaryDirectory(prefix="first-start-") as store:
        env = {**os.environ, "POLYDESK_CHROMA_PATH": str(Path(store) / "chroma"), "POLYDESK_LLM": "off",
               "POLYDESK_EMBEDDING_MODEL": str(embedder), "POLYDESK_RERANKER_MODEL": str(reranker),
               "POLYDESK_DEVICE": "cpu", "TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error"}
        launched = time.time()
        command = [sys.executable, __file__, "--child", mode, "--since", repr(launched)]
        done = subprocess.run(command + (["--first-answer-only"] if first_only else []), env=env,
                              capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {mode} start failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Both settings in the same run, printed and written as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="tiny", help="tiny (default), small, medium or 0.6b")
    parser.add_argument("--first-answer-only", action="store_true",
                        help="only the background start, until its first answer, with and without the embedding "
                             "giving way (for shapes whose full ingest takes many minutes)")
    parser.add_argument("--child", choices=(*MODES, NOT_GIVING_WAY), help=argparse.SUPPRESS)
    parser.add_argument("--since", type=float, default=STARTED, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.since, args.first_answer_only)), flush=True)
        if args.first_answer_only:
            os._exit(0)  # the embeddings still being computed in a background thread are abandoned, not awaited
        return

    from bench.common import RESULTS, cached_checkpoint, machine_info, write_json
    from tests.tiny_qwen3 import build_embedder, build_reranker

    embedder, label = cached_checkpoint("embedder", args.shape, build_embedder)
    reranker, _ = cached_checkpoint("reranker", args.shape, build_reranker)
    if args.first_answer_only:
        runs = {mode: run_setting(mode, embedder, reranker, first_only=True) for mode in (NOT_GIVING_WAY, "background")}
        for mode, run in runs.items():
            seconds, ms = run["events_s"], run["first_answer_ms"]
            print(f"{mode} start, {args.shape} shape: searchable after {seconds['searchable']:.1f} s, first answer "
                  f"after {seconds['first_answer']:.1f} s (waited {ms['load'] / 1000:.1f} s for models, reranked in "
                  f"{ms['reranked'] / 1000:.1f} s; target <= {TARGET_S:.0f} s to usable)")
        ratio = round(runs[NOT_GIVING_WAY]["events_s"]["first_answer"] / runs["background"]["events_s"]["first_answer"],
                      2)
        print(f"first answer with the embedding giving way: {ratio}x sooner")
        write_json(RESULTS / f"first_start-{args.shape}-first-answer.json", {
            "shape": args.shape, "tokenizer": label, "question": QUESTION, "target_first_answer_s": TARGET_S,
            "run": runs["background"], "run_not_giving_way": runs[NOT_GIVING_WAY],
            "first_answer_ratio_giving_way": ratio, "machine": machine_info()})
        return
    runs = {}
    for mode in MODES:
        print(f"{mode}: starting a fresh process with an empty store ...", flush=True)
        runs[mode] = run_setting(mode, embedder, reranker)
        print(f"  {json.dumps(runs[mode]['events_s'])}", flush=True)
    before, now = runs["blocking"]["events_s"], runs["background"]["events_s"]
    ratios = {"first_answer_speedup": round(before["first_answer"] / now["first_answer"], 2),
              "ingest_done_ratio": round(now["ingest_done"] / before["ingest_done"], 2)}
    record = {
        "shape": args.shape, "tokenizer": label, "question": QUESTION, "target_first_answer_s": TARGET_S,
        "first_answer_within_target": now["first_answer"] <= TARGET_S, "ratios": ratios, "runs": runs,
        "machine": machine_info(),
    }
    print(f"first answer: {before['first_answer']:.1f} s blocking -> {now['first_answer']:.1f} s background "
          f"({ratios['first_answer_speedup']}x; target <= {TARGET_S:.0f} s); sample ingested: "
          f"{before['ingest_done']:.1f} s -> {now['ingest_done']:.1f} s")
    name = "first_start.json" if args.shape == "tiny" else f"first_start-{args.shape}.json"
    write_json(RESULTS / name, record)


if __name__ == "__main__":
    main()
