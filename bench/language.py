"""How often a short question's language is detected right, per language, against the old rule in the same run.

The set is tests/data/short_questions.jsonl: 60 short support questions per language of the default language set,
written for this project about the fictional Parcelio shipping API. The first half of each language's questions
("dev") was looked at while improving the detector, the second half ("held-out") was not. Reported per language
and part (dev, held-out, all): the share detected right by `LanguageDetector.detect_question` (Lingua's best guess
among the configured languages) and by the old rule, `detect` (unsure, so None, unless Lingua is at least 50%
confident), with the share each left without a language.

Run from the repository root:
    .venv/bin/python bench/language.py
    .venv/bin/python bench/language.py --errors      # also list the dev half's mistakes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.knowledge.language import DEFAULT_LANGUAGES, LanguageDetector  # noqa: E402

DATA = REPO / "tests" / "data" / "short_questions.jsonl"
RESULTS = REPO / "bench" / "results"
PARTS = ("dev", "held-out", "all")


def load_halves(path: Path) -> dict[str, dict[str, list[str]]]:
    """{part: {language: questions}}: each language's first half of questions is "dev", the rest "held-out";
    "all" is both."""
    by_language: dict[str, list[str]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        by_language[record["language"]].append(record["text"])
    halves: dict[str, dict[str, list[str]]] = {part: {} for part in PARTS}
    for lang, texts in by_language.items():
        cut = len(texts) // 2
        halves["dev"][lang], halves["held-out"][lang], halves["all"][lang] = texts[:cut], texts[cut:], texts
    return halves


def score(rule: Callable[[str], str | None], lang: str, texts: list[str]) -> tuple[dict[str, float], list[str]]:
    """Accuracy and no-language share of a rule on one language's questions, and its mistakes."""
    found = [rule(text) for text in texts]
    mistakes = [f"{lang} -> {got}: {text}" for text, got in zip(texts, found, strict=True) if got != lang]
    return {"accuracy": round(sum(got == lang for got in found) / len(texts), 4),
            "none": round(sum(got is None for got in found) / len(texts), 4)}, mistakes


def main() -> None:
    """Score both rules on every part of the set, print the table and write bench/results/language.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--errors", action="store_true", help="list the dev half's mistakes of the best guess")
    args = parser.parse_args()

    parts = load_halves(args.data)
    start = time.perf_counter()
    detector = LanguageDetector(DEFAULT_LANGUAGES, preload=True)
    load_s = time.perf_counter() - start
    rules = {"best_guess": detector.detect_question, "old_over_50pct": detector.detect}
    per_language: dict[str, dict[str, Any]] = {}
    dev_mistakes: list[str] = []
    start = time.perf_counter()
    for lang in DEFAULT_LANGUAGES:
        per_language[lang] = {}
        for part in PARTS:
            texts = parts[part].get(lang)
            if not texts:
                sys.exit(f"{args.data} has no {part} questions in {lang}: give each language an even number, >= 2")
            entry: dict[str, Any] = {"questions": len(texts)}
            for name, rule in rules.items():
                entry[name], mistakes = score(rule, lang, texts)
                if part == "dev" and name == "best_guess":
                    dev_mistakes += mistakes
            per_language[lang][part] = entry
    scored = sum(len(texts) for part in parts.values() for texts in part.values())
    detect_ms = (time.perf_counter() - start) * 1000 / (scored * len(rules))

    print("accuracy (share with no language) per language; best guess = detect_question, old = detect (>50%)")
    print(f"{'lang':<5}" + "".join(f"{part + ' ' + col:>19}" for part in PARTS for col in ("best", "old")))
    for lang, entry in per_language.items():
        print(f"{lang:<5}" + "".join(f"{entry[part][name]['accuracy']:>12.1%} ({entry[part][name]['none']:>3.0%})"
                                     for part in PARTS for name in rules))
    summary: dict[str, dict[str, Any]] = {}
    for part in PARTS:
        summary[part] = {name: {"min_accuracy": min(e[part][name]["accuracy"] for e in per_language.values()),
                                "languages_below_98pct": sorted(lang for lang, e in per_language.items()
                                                                if e[part][name]["accuracy"] < 0.98)}
                         for name in rules}
        new, old = (summary[part][name]["min_accuracy"] for name in rules)
        summary[part]["min_accuracy_ratio_best_guess_to_old"] = round(new / old, 3) if old else None
        for name in rules:
            below = ", ".join(summary[part][name]["languages_below_98pct"]) or "none"
            print(f"{part:>8} {name:<15} lowest {summary[part][name]['min_accuracy']:.1%}; below 98%: {below}")
    print(f"detector built in {load_s:.1f} s (models preloaded); {detect_ms:.2f} ms per question")
    if args.errors:
        print("\n".join(["dev-half mistakes of the best guess:", *(dev_mistakes or ["none"])]))

    record = {
        "benchmark": "language",
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "lingua": version("lingua-language-detector"), "load_average_at_start": os.getloadavg()},
        "data": args.data.name, "languages": list(DEFAULT_LANGUAGES),
        "rules": {"best_guess": "detect_question: Lingua's best guess among the configured languages",
                  "old_over_50pct": "detect: None unless Lingua's best language has a confidence of 0.5 or more"},
        "summary": summary, "per_language": per_language,
        "detector_build_s": round(load_s, 2), "ms_per_question": round(detect_ms, 3),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "language.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS / 'language.json'}")


if __name__ == "__main__":
    main()
