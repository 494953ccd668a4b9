"""MDX pages: ESM statements and comments dropped, JSX components reduced to their readable text."""

from __future__ import annotations

import re

READABLE_PROPS = ("title", "label", "description")
COMMENT = re.compile(r"\{/\*.*?\*/\}", re.S)
STATEMENT = re.compile(r"^(?:import|export)\s")
PROP_VALUE = r"(?:\"[^\"]*\"|'[^']*'|\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\})"
OPEN_TAG = re.compile(r"<([A-Z][\w.]*)((?:\s+[\w:.-]+(?:\s*=\s*" + PROP_VALUE + r")?)*)\s*/?>|<>", re.S)
CLOSE_TAG = re.compile(r"</(?:[A-Z][\w.]*)?\s*>")
PROP = re.compile(r"([\w:.-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|\{\s*[\"'`]([^\"'`{}]*)[\"'`]\s*\})")


def resolve(text: str) -> str:
    """The MDX body as Markdown: components keep their text children and their title/label/description props."""
    text = COMMENT.sub("", text)
    text = _drop_statements(text.split("\n"))
    text = OPEN_TAG.sub(_open_tag_text, text)
    return CLOSE_TAG.sub("", text)


def _open_tag_text(match: re.Match[str]) -> str:
    """A component's human-readable string props, as a paragraph when the tag starts its line; else nothing."""
    values = {m.group(1): next(g for g in m.groups()[1:] if g is not None) for m in PROP.finditer(match.group(2) or "")}
    text = ": ".join(" ".join(values[key].split()) for key in READABLE_PROPS if values.get(key, "").strip())
    line_start = match.string.rfind("\n", 0, match.start()) + 1
    if text and not match.string[line_start : match.start()].strip():
        return f"\n\n{text}\n\n"
    return f" {text} " if text else ""


def _drop_statements(lines: list[str]) -> str:
    """Top-level import/export statements (that follow a blank line), brackets balanced, never past a blank line."""
    kept: list[str] = []
    i = 0
    while i < len(lines):
        if STATEMENT.match(lines[i]) and (not kept or not kept[-1].strip()):
            depth = 0
            while i < len(lines) and lines[i].strip():
                depth += sum(lines[i].count(c) for c in "({[") - sum(lines[i].count(c) for c in ")}]")
                i += 1
                if depth <= 0:
                    break
            continue
        kept.append(lines[i])
        i += 1
    return "\n".join(kept)
