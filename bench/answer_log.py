"""The answer log's cost on SQLite: milliseconds to keep one answer and to rate it, the throughput of two processes
writing at once as a ratio to one process alone (measured in the same run), and the feedback review's query
over a log of many answers.

Run from the repository root:
    .venv/bin/python bench/answer_log.py                       # 1,000 answers per writer, a log of 10,000
    .venv/bin/python bench/answer_log.py --answers 200 --log 2000
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.answers.answer_log import AnswerLog  # noqa: E402
from core.answers.feedback_review import DEFAULT_LOW_SCORE, review  # noqa: E402
from tests.test_feedback import entry  # noqa: E402

RESULT = REPO / "bench" / "results" / "answer-log.json"
REVIEW_LIMIT = 5000  # as the Documents page reads


def write(url: str, name: str, answers: int) -> dict[str, float]:
    """Keep and rate `answers` answers; per-operation milliseconds (median) and the answers per second."""
    log = AnswerLog(url)
    record_ms, rate_ms = [], []
    start = time.perf_counter()
    for n in range(answers):
        answer_id = f"{name}-{n}"
        began = time.perf_counter()
        log.record(entry(f"question {n}", answer_id=answer_id))
        kept = time.perf_counter()
        log.rate(answer_id, -1 if n % 5 == 0 else 1, "")
        rate_ms.append((time.perf_counter() - kept) * 1000)
        record_ms.append((kept - began) * 1000)
    seconds = time.perf_counter() - start
    log.close()
    return {"record_ms_p50": statistics.median(record_ms), "rate_ms_p50": statistics.median(rate_ms),
            "answers_per_s": answers / seconds}


def two_writers(url: str, answers: int) -> float:
    """Answers per second of two processes writing at once (their total)."""
    started = time.perf_counter()
    writers = [subprocess.Popen([sys.executable, __file__, "--writer", url, name, str(answers)],
                                stdout=subprocess.PIPE, text=True) for name in ("a", "b")]
    for writer in writers:
        writer.communicate()
        if writer.returncode:
            raise SystemExit("a writer process failed")
    return 2 * answers / (time.perf_counter() - started)


def review_query(url: str) -> dict[str, float]:
    """Milliseconds to read the answers needing review (as the Documents page does) and to sort them into rows."""
    log = AnswerLog(url)
    began = time.perf_counter()
    entries = log.needing_review(DEFAULT_LOW_SCORE, REVIEW_LIMIT)
    read = time.perf_counter()
    rows = review(entries)
    done = time.perf_counter()
    log.close()
    return {"read_ms": (read - began) * 1000, "review_ms": (done - read) * 1000, "rows": len(rows)}


def main() -> None:
    """Measure, print and write bench/results/answer-log.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1000, help="answers each writer keeps and rates")
    parser.add_argument("--log", type=int, default=10_000, help="answers in the log the review reads")
    parser.add_argument("--writer", nargs=3, metavar=("URL", "NAME", "ANSWERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        url, name, answers = args.writer
        print(json.dumps(write(url, name, int(answers))))
        return
    with tempfile.TemporaryDirectory() as folder:
        alone = write(f"sqlite:///{folder}/alone.db", "alone", args.answers)
        together = two_writers(f"sqlite:///{folder}/shared.db", args.answers)
        big = f"sqlite:///{folder}/big.db"
        write(big, "log", args.log)
        reviewed = review_query(big)
    result = {"machine": platform.platform(), "python": platform.python_version(), "answers": args.answers,
              "one_writer": alone, "two_writers_answers_per_s": together,
              "two_writers_vs_one": together / alone["answers_per_s"], "log_answers": args.log, "review": reviewed}
    print(f"one writer: keep {alone['record_ms_p50']:.2f} ms, rate {alone['rate_ms_p50']:.2f} ms (p50), "
          f"{alone['answers_per_s']:.0f} answers/s")
    print(f"two processes at once: {together:.0f} answers/s in all, {result['two_writers_vs_one']:.2f}x one writer")
    print(f"review of a {args.log:,}-answer log: read {reviewed['read_ms']:.0f} ms, sort {reviewed['review_ms']:.0f} "
          f"ms, {reviewed['rows']:,} rows")
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
