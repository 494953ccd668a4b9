"""Labelled queries for evaluation (qrels) as JSON Lines: one query per line.

    {"query": "How do I refresh a token?", "language": "en", "relevant": ["auth.md#refresh-tokens"]}

- `query`: the question text; `language`: its ISO 639-1 code (the group it is reported under);
- `relevant`: ids of the passages that answer it: chunk ids, or section ids `source#anchor` (the file as the
  collection records it, e.g. `de/tutorial/body.md`, and the heading's anchor); a section counts once,
  at the rank of its best chunk;
- optional `target_language`: the language of the relevant passages, for cross-language sets.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import BadInput


@dataclass(frozen=True)
class LabelledQuery:
    """One question, its language, and the ids of the passages that answer it."""

    query: str
    language: str
    relevant: frozenset[str]
    target_language: str | None = None

    def to_dict(self) -> dict:
        """The JSON Lines record."""
        record = {"query": self.query, "language": self.language, "relevant": sorted(self.relevant)}
        return record | ({"target_language": self.target_language} if self.target_language else {})


def parse_qrels(text: str, name: str = "the qrels") -> list[LabelledQuery]:
    """Parse JSON Lines; a bad line is a BadInput naming the line and the expected shape."""
    shape = 'each line must be {"query": "...", "language": "en", "relevant": ["source#anchor", ...]}'
    queries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{name}, line {number}, is not JSON ({exc.msg}): {shape}.") from exc
        except RecursionError as exc:
            raise BadInput(f"{name}, line {number}, is nested too deeply to read: {shape}.") from exc
        except ValueError as exc:  # an integer of more digits than Python converts
            raise BadInput(f"{name}, line {number}, holds a number too large to read ({exc}): {shape}.") from exc
        relevant = record.get("relevant") if isinstance(record, dict) else None
        if (not isinstance(record, dict) or not isinstance(record.get("query"), str) or not record["query"].strip()
                or not isinstance(record.get("language"), str)
                or not isinstance(relevant, list) or not relevant or not all(isinstance(r, str) for r in relevant)):
            raise BadInput(f"{name}, line {number}: {shape}, with at least one relevant id.")
        target = record.get("target_language")
        queries.append(LabelledQuery(record["query"], record["language"], frozenset(relevant),
                                     target if isinstance(target, str) else None))
    if not queries:
        raise BadInput(f"{name} holds no queries: {shape}, one per line.")
    return queries


def read_qrels(path: Path) -> list[LabelledQuery]:
    """Read a qrels file; a missing or unreadable file is a BadInput."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BadInput(f"The qrels file {path} does not exist; give the path of a JSON Lines file "
                       "(`polydesk eval-build` makes one from a parallel corpus).") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"The qrels file {path} cannot be read as UTF-8 text: {exc}.") from exc
    return parse_qrels(text, str(path))


def qrels_jsonl(queries: Iterable[LabelledQuery]) -> str:
    """Queries as JSON Lines."""
    return "".join(json.dumps(q.to_dict(), ensure_ascii=False) + "\n" for q in queries)
