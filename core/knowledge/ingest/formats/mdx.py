"""MDX (and Docusaurus-style Markdown): ESM statements and comments dropped, components reduced to their text."""

from __future__ import annotations

import re
import textwrap

MAX_DEDENT_DEPTH = 16  # deeper components are left as they are indented
READABLE_PROPS = ("title", "label", "description")
COMMENT = re.compile(r"\{/\*.*?\*/\}", re.S)
STATEMENT = re.compile(r"^(?:import|export)\s")
ESM = re.compile(  # what a Markdown page's statement must look like to be taken for ESM: import x from "y"
    r"(?:import\s+(?:[\w*{}\s,]+\s+from\s+)?[\"'][^\"'\n]+[\"'];?|export\s+(?:default|const|let|function|\{).*)\s*"
)
MAX_STATEMENT_CHARS = 4000
PROP_VALUE = r"(?:\"[^\"]*\"|'[^']*'|\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\})"
OPEN_TAG = re.compile(r"<([A-Z][\w.]*)((?:\s+[\w:.-]+(?:\s*=\s*" + PROP_VALUE + r")?)*)\s*/?>|<>", re.S)
ANY_TAG = re.compile(r"</?(?:[A-Z]|>)")
CLOSE_TAG = re.compile(r"</(?:[A-Z][\w.]*)?\s*>")
OPEN_LINE = re.compile(r"^\s*<[A-Z][\w.]*(?:\s[^<>]*)?(?<!/)>\s*$")
CLOSE_LINE = re.compile(r"^\s*</[A-Z][\w.]*\s*>\s*$")
CALLOUT = re.compile(
    r"<(Note|Tip|Info|Warning|Caution|Danger|Important|Check|Callout|Aside|Admonition)\b((?:\s+[\w:.-]+(?:\s*=\s*"
    + PROP_VALUE + r")?)*)\s*>\s*",
    re.S,
)
PROP = re.compile(r"([\w:.-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|\{\s*[\"'`]([^\"'`{}]*)[\"'`]\s*\})")


def resolve(text: str, *, strict: bool = False) -> str:
    """The body as Markdown: components keep their text children and title/label/description props.

    `strict` (for .md files) drops only statements that read as ESM, so that prose starting "import ..." stays.
    """
    if "{/*" in text:
        text = COMMENT.sub("", text)
    if "import" in text or "export" in text:
        text = _drop_statements(text.split("\n"), strict)
    if not ANY_TAG.search(text):
        return text
    text = "\n".join(_dedent_children(text.split("\n")))
    text = CALLOUT.sub(_callout_label, text)
    text = OPEN_TAG.sub(_open_tag_text, text)
    return CLOSE_TAG.sub("", text)


def _props(raw: str) -> dict[str, str]:
    """A tag's string-valued props."""
    return {m.group(1): next(g for g in m.groups()[1:] if g is not None) for m in PROP.finditer(raw)}


def _callout_label(match: re.Match[str]) -> str:
    """Mintlify `<Tip>`, Nextra `<Callout type="warning">`, Starlight `<Aside type="tip" title="...">` as a label."""
    props = _props(match.group(2) or "")
    kind = props.get("type", "") if match.group(1) in ("Callout", "Aside", "Admonition") else match.group(1)
    label = (kind or "note").capitalize()
    title = " ".join(props.get("title", "").split())
    return f"\n\n{label}: {title}\n\n" if title else f"\n\n{label}: "


def _open_tag_text(match: re.Match[str]) -> str:
    """A component's human-readable string props, as a paragraph when the tag starts its line; else nothing."""
    values = _props(match.group(2) or "")
    text = ": ".join(" ".join(values[key].split()) for key in READABLE_PROPS if values.get(key, "").strip())
    line_start = match.string.rfind("\n", 0, match.start()) + 1
    if text and not match.string[line_start : match.start()].strip():
        return f"\n\n{text}\n\n"
    return f" {text} " if text else ""


def _dedent_children(lines: list[str]) -> list[str]:
    """Children indented inside a component's opening and closing lines dedented, so they are not read as code."""
    out: list[str] = []
    starts: list[int] = []  # where the children of each open component start in `out`
    for line in lines:
        if CLOSE_LINE.match(line) and starts:
            start = starts.pop()
            if len(starts) < MAX_DEDENT_DEPTH:
                out[start:] = textwrap.dedent("\n".join(out[start:])).split("\n")
        out.append(line)
        if OPEN_LINE.match(line):
            starts.append(len(out))
    return out


def _drop_statements(lines: list[str], strict: bool) -> str:
    """Top-level import/export statements (that follow a blank line), brackets balanced, never past a blank line."""
    kept: list[str] = []
    i = 0
    while i < len(lines):
        if STATEMENT.match(lines[i]) and (not kept or not kept[-1].strip()):
            end = _statement_end(lines, i)
            statement = " ".join(lines[i:end])
            if not strict or (len(statement) <= MAX_STATEMENT_CHARS and ESM.fullmatch(statement)):
                i = end
                continue
        kept.append(lines[i])
        i += 1
    return "\n".join(kept)


def _statement_end(lines: list[str], start: int) -> int:
    """Index after the statement that starts at `start`: brackets balanced, never past a blank line."""
    depth = 0
    i = start
    while i < len(lines) and lines[i].strip():
        depth += sum(lines[i].count(c) for c in "({[") - sum(lines[i].count(c) for c in ")}]")
        i += 1
        if depth <= 0:
            break
    return i
