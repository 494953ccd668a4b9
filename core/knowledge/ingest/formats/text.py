"""Plain text files, and the small helpers every parser shares: one prose block, a title line, a metadata value."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from core.types import Block, ParsedDocument

MAX_TITLE_CHARS = 120


def parse_text(text: str, path: Path) -> ParsedDocument:
    """One prose block; the title is the first non-empty line when it is short."""
    body = text.strip("\n").rstrip()
    return prose_document(short_line(body) or path.stem, "", body)


def prose_document(title: str, description: str, markdown: str, url_hint: str = "") -> ParsedDocument:
    """A document made of one prose block."""
    return ParsedDocument(title, description, (Block(text=markdown, kind="prose"),), url_hint)


def short_line(text: str) -> str:
    """The first non-empty line that is not an underline (=== / ---), if short enough for a title; else ''."""
    for line in text.splitlines():
        line = line.strip()
        if line and not re.fullmatch(r"(.)\1*", line):
            return line if len(line) <= MAX_TITLE_CHARS else ""
    return ""


def scalar(value: Any) -> str:
    """A metadata value as one line of text ('' unless it is a string or a number)."""
    return " ".join(str(value).split()) if isinstance(value, str | int | float) else ""
