"""Cross-language qrels from a parallel corpus whose translated pages share their section anchors.

The corpus folder holds `manifest.jsonl`, one page per line: {"path": ..., "langs": {"de": {"file":
"de/tutorial/body.md", ...}, ...}}, and the Markdown files, whose headings end with an explicit anchor
(`## Das Modell importieren { #import-pydantics-basemodel }`) identical in every language. For every section
with text under its heading and every pair of languages (X, Y), the heading in X is the query and the section
in Y (`de/tutorial/body.md#import-pydantics-basemodel`) is the relevant passage. Ingest the corpus folder
itself, so the collection's sources are the manifest's file paths.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import BadInput
from core.knowledge.chunk import split_anchor
from core.quality.qrels import LabelledQuery

MANIFEST = "manifest.jsonl"
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$")
_EXPLICIT_ANCHOR = re.compile(r"\{\s*#[^}\s]+\s*\}$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Section:
    """A heading with an explicit anchor and text under it."""

    anchor: str
    heading: str


def sections(markdown: str) -> list[Section]:
    """Headings outside code fences that carry an explicit anchor and have text before the next heading."""
    found: list[Section] = []
    pending: Section | None = None
    in_fence = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            text = heading.group(2)
            pending = None
            if _EXPLICIT_ANCHOR.search(text):
                title, anchor = split_anchor(text)
                pending = Section(anchor, title) if title else None
        elif pending and line.strip():
            found.append(pending)
            pending = None
    return found


PAIRS = ("all", "same", "cross")


def parallel_qrels(corpus: Path, languages: Sequence[str] | None = None, pages: int | None = None,
                   pairs: str = "all") -> list[LabelledQuery]:
    """Queries for the first `pages` pages (by path) of the manifest: every section, every language pair
    (`all`), only pairs of one language (`same`: heading and section in X) or only of two (`cross`)."""
    manifest = corpus / MANIFEST
    try:
        entries = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    except FileNotFoundError as exc:
        raise BadInput(f"{manifest} does not exist: give the folder of a parallel corpus that has a {MANIFEST}.") \
            from exc
    except json.JSONDecodeError as exc:
        raise BadInput(f"{manifest} is not JSON Lines ({exc.msg}, line {exc.lineno}).") from exc
    entries.sort(key=lambda entry: entry["path"])
    queries = []
    for entry in entries[:pages]:
        files = {code: info["file"] for code, info in entry["langs"].items() if not languages or code in languages}
        by_language = {code: {s.anchor: s for s in sections((corpus / file).read_text(encoding="utf-8"))}
                       for code, file in files.items()}
        for x, x_sections in by_language.items():
            for y, y_sections in by_language.items():
                if (pairs == "same" and x != y) or (pairs == "cross" and x == y):
                    continue
                for anchor, section in x_sections.items():
                    if anchor in y_sections:
                        queries.append(LabelledQuery(section.heading, x, frozenset({f"{files[y]}#{anchor}"}), y))
    if not queries:
        raise BadInput(f"No sections with explicit anchors were found in {corpus} for languages "
                       f"{', '.join(languages or []) or '(all)'}; check the language codes against {MANIFEST}.")
    return queries
