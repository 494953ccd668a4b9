"""How the command line shows text: one-line previews."""

from __future__ import annotations


def preview(text: str, width: int = 60) -> str:
    """One line of at most `width` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
