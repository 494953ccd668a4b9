"""Markdown and MDX pages: front matter read, site conventions turned into plain Markdown, code kept verbatim."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

from core.errors import BadFile
from core.knowledge.chunk import split_anchor
from core.knowledge.ingest.formats import conventions, mdx
from core.knowledge.ingest.formats.text import scalar
from core.knowledge.ingest.openapi import load_yaml
from core.types import Block, ParsedDocument

INLINE = MarkdownIt("commonmark")
BLOCKS = MarkdownIt("commonmark").disable("inline")  # block structure only: much faster
PLACEHOLDER = "\x00{}\x00"
RESTORE = re.compile(r"\x00(\d+)\x00")
INLINE_CODE = re.compile(r"(?<!`)(`+)[^`\n]+?\1")
URL_KEYS = ("permalink", "url", "slug")


def parse_markdown(text: str, path: Path, *, is_mdx: bool) -> ParsedDocument:
    """Front matter title/description/permalink, and the body with comments, shortcodes and components resolved."""
    meta, body = split_front_matter(text, path.name)
    body, h1 = clean_markdown(body, is_mdx=is_mdx)
    url_hint = next((scalar(meta.get(key)) for key in URL_KEYS if scalar(meta.get(key))), "")
    title = scalar(meta.get("title"))
    description = scalar(meta.get("description"))
    if not body.strip():
        if not meta:
            raise BadFile(f"{path.name} has no content: upload the page with its text.")
        return ParsedDocument(title or path.stem, description, (), url_hint)
    if title and not h1:  # the front matter title heads the page, so its sections sit under it
        body = "\n\n".join(part for part in (f"# {title}", description, body) if part)
    return ParsedDocument(title or h1 or path.stem, description, (Block(text=body, kind="prose"),), url_hint)


def split_front_matter(text: str, name: str) -> tuple[dict[str, Any], str]:
    """YAML front matter between `---` lines (or Hugo's TOML between `+++` lines) at the very top, and the rest."""
    lines = text.split("\n")
    fence = lines[0].rstrip()
    if fence not in ("---", "+++"):
        return {}, text
    closing = ("---", "...") if fence == "---" else ("+++",)
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in closing), None)
    if end is None:
        return {}, text
    source = "\n".join(lines[1:end])
    meta = _toml(source, name) if fence == "+++" else _yaml(source, name)
    if not isinstance(meta, dict):
        return {}, text
    return meta, "\n".join(lines[end + 1 :])


def _yaml(source: str, name: str) -> Any:
    """YAML front matter, or BadFile naming the line that is wrong."""
    try:
        return load_yaml(source, f"{name}: the front matter")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise BadFile(
            f"{name}: the front matter (the block between the --- lines at the top) is not valid YAML{where}: "
            f"{getattr(exc, 'problem', None) or exc}. Fix it or remove the block, then upload the file again."
        ) from exc


def _toml(source: str, name: str) -> Any:
    """TOML front matter (Hugo), or BadFile saying what is wrong."""
    try:
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise BadFile(
            f"{name}: the front matter (the block between the +++ lines at the top) is not valid TOML: {exc}. "
            "Fix it or remove the block, then upload the file again."
        ) from exc


def clean_markdown(body: str, *, is_mdx: bool) -> tuple[str, str]:
    """The body as plain Markdown (parsed once; code masked while conventions are resolved), and its first H1."""
    body = conventions.unindent_mkdocs(body)
    tokens = BLOCKS.parse(body)
    h1 = _first_h1(tokens)
    code_types = ("fence",) if is_mdx else ("fence", "code_block")  # MDX has no indented code
    masked, saved = _mask(body, [t.map for t in tokens if t.type in code_types and t.map])
    masked = mdx.resolve(conventions.resolve(masked), strict=not is_mdx)
    masked = "\n".join(line.rstrip(" \t") for line in masked.split("\n"))
    masked = re.sub(r"\n{3,}", "\n\n", masked).strip("\n").rstrip()
    return RESTORE.sub(lambda m: _restore(m, saved), masked), conventions.resolve(h1).strip()


def _mask(body: str, code_maps: list[list[int]]) -> tuple[str, list[str]]:
    """The body with every code block and inline code span replaced by a numbered placeholder, and the originals."""
    lines = body.split("\n")
    saved: list[str] = []

    def keep(text: str) -> str:
        saved.append(text)
        return PLACEHOLDER.format(len(saved) - 1)

    starts = {first: last for first, last in code_maps}
    out: list[str] = []
    i = 0
    while i < len(lines):
        if i in starts:
            last = min(starts[i], len(lines))
            code = lines[i:last]
            while code and not code[-1].strip():  # trailing blank lines of an indented block are not code
                code.pop()
            indent = re.match(r"[ \t]*", code[0]).group(0) if code else ""
            out.append(indent + keep("\n".join(line.removeprefix(indent) for line in code)))
            out += [""] * (last - i - len(code))
            i = last
            continue
        out.append(lines[i])
        i += 1
    return INLINE_CODE.sub(lambda m: keep(m.group(0)), "\n".join(out)), saved


def _restore(match: re.Match[str], saved: list[str]) -> str:
    """A placeholder's original text; a code block that starts its line is indented as far as its placeholder now is."""
    text = saved[int(match.group(1))]
    line_start = match.string.rfind("\n", 0, match.start()) + 1
    indent = match.string[line_start : match.start()]
    if "\n" not in text or indent.strip(" \t"):
        return text
    return "\n".join(indent + line if line and number else line for number, line in enumerate(text.split("\n")))


def _first_h1(tokens: list[Any]) -> str:
    """Plain text of the first level-1 heading, without a trailing `{ #anchor }`; '' when there is none."""
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h1":
            children = INLINE.parseInline(tokens[index + 1].content)[0].children or []
            text = "".join(child.content for child in children if child.type in ("text", "code_inline"))
            return split_anchor(text)[0]
    return ""
