"""Markdown and MDX pages: front matter read, site conventions turned into plain Markdown, code kept verbatim."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from core.errors import BadFile
from core.knowledge.chunk import split_anchor
from core.knowledge.ingest.formats import conventions, mdx
from core.knowledge.ingest.formats.text import scalar
from core.knowledge.ingest.openapi import load_yaml
from core.types import Block, CodeFence, Heading, ParsedDocument

INLINE = MarkdownIt("commonmark")
BLOCKS = MarkdownIt("commonmark").disable("inline")  # block structure only: much faster
PLACEHOLDER = "\x00{}\x00"
RESTORE = re.compile(r"\x00(\d+)\x00")
INLINE_CODE = re.compile(r"(?<!`)(`+)[^`\n]+?\1")
URL_KEYS = ("permalink", "url", "slug")
ATX = re.compile(r"^#{1,6}(?:[ \t]+|$)|(?:[ \t]+#+)?[ \t]*$")  # an ATX heading's markers around its text
HEADING_LINE = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)", re.M)
LINE_PREFIX = re.compile(r"(?:[ \t]*(?:>|[-+*]|\d{1,9}[.)])?)*[ \t]*")  # list and quote markers before a block


def parse_markdown(text: str, path: Path, *, is_mdx: bool) -> ParsedDocument:
    """Front matter title/description/permalink, and the body with comments, shortcodes and components resolved."""
    meta, body = split_front_matter(text, path.name)
    body, h1, outline = clean_markdown(body, is_mdx=is_mdx)
    url_hint = next((scalar(meta.get(key)) for key in URL_KEYS if scalar(meta.get(key))), "")
    title = scalar(meta.get("title"))
    description = scalar(meta.get("description"))
    if not body.strip():
        if not meta:
            raise BadFile(f"{path.name} has no content: upload the page with its text.")
        return ParsedDocument(title or path.stem, description, (), url_hint)
    if title and not h1:  # the front matter title heads the page, so its sections sit under it
        head = "\n\n".join(part for part in (f"# {title}", description) if part) + "\n\n"
        title_line = Heading(0, len(f"# {title}\n"), 1, ATX.sub("", f"# {title}"))
        if outline is not None:
            outline = (title_line, *(replace(mark, start=mark.start + len(head), end=mark.end + len(head))
                                     for mark in outline))
        body = head + body
    block = Block(text=body, kind="prose", outline=outline)
    return ParsedDocument(title or h1 or path.stem, description, (block,), url_hint)


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


def clean_markdown(body: str, *, is_mdx: bool) -> tuple[str, str, tuple[Heading | CodeFence, ...] | None]:
    """The body as plain Markdown, its first H1, and where its headings and fenced code blocks now are (None:
    the chunker must find them in the text).

    Parsed once: code and headings are masked while conventions are resolved, and found again where restored.
    """
    body = conventions.unindent_mkdocs(body)
    tokens = BLOCKS.parse(body)
    h1 = _first_h1(tokens)
    code_types = ("fence",) if is_mdx else ("fence", "code_block")  # MDX has no indented code
    masked, saved = _mask(body, tokens, code_types, is_mdx)
    masked = mdx.resolve(conventions.resolve(masked), strict=not is_mdx)
    masked = "\n".join(line.rstrip(" \t") for line in masked.split("\n"))
    masked = re.sub(r"\n{3,}", "\n\n", masked).strip("\n").rstrip()
    text, outline = _restore(masked, saved)
    if is_mdx and len(HEADING_LINE.findall(text)) != sum(isinstance(mark, Heading) for mark in outline):
        outline = None  # headings inside components (an HTML block to the first parse) come out only now
    return text, conventions.resolve(h1).strip(), outline


def _mask(body: str, tokens: list[Token], code_types: tuple[str, ...],
          is_mdx: bool) -> tuple[str, list[tuple[str, Heading | CodeFence | None]]]:
    """The body with code blocks, headings and inline code spans replaced by numbered placeholders, and the
    originals (headings already resolved), each with the outline mark it becomes once restored."""
    lines = body.split("\n")
    saved: list[tuple[str, Heading | CodeFence | None]] = []

    def keep(text: str, mark: Heading | CodeFence | None = None) -> str:
        saved.append((text, mark))
        return PLACEHOLDER.format(len(saved) - 1)

    masks = {token.map[0]: (token.map[1], token) for token in tokens
             if token.map and (token.type in code_types or token.type == "heading_open")}
    out: list[str] = []
    i = 0
    while i < len(lines):
        if i not in masks:
            out.append(lines[i])
            i += 1
            continue
        last, token = masks[i]
        last = min(last, len(lines))
        if token.type == "heading_open":
            out += _masked_heading(lines[i:last], token, keep, is_mdx)
            i = last
            continue
        code = lines[i:last]
        while code and not code[-1].strip():  # trailing blank lines of an indented block are not code
            code.pop()
        indent = re.match(r"[ \t]*", code[0]).group(0) if code else ""
        fence = CodeFence(0, 0, token.markup, token.info, token.content) if token.type == "fence" else None
        out.append(indent + keep("\n".join(line.removeprefix(indent) for line in code), fence))
        out += [""] * (last - i - len(code))
        i = last
    return INLINE_CODE.sub(lambda m: keep(m.group(0)), "\n".join(out)), saved


def _masked_heading(lines: list[str], token: Token, keep: Callable[[str, Heading], str], is_mdx: bool) -> list[str]:
    """A heading's lines as one placeholder line (after any list or quote markers), and blank lines for the rest."""
    atx = token.markup.startswith("#")
    prefixes = [line[: line.index("#")] if atx and number == 0 else re.match(r"[ \t>]*", line).group(0)
                for number, line in enumerate(lines)]
    source = _clean_inline("\n".join(line[len(p) :] for line, p in zip(lines, prefixes, strict=True)), is_mdx)
    source = "\n".join(line.strip() for line in source.split("\n"))
    text = ATX.sub("", source) if atx else source.rpartition("\n")[0]
    mark = Heading(0, 0, int(token.tag[1]), text.strip())
    return [prefixes[0] + keep(source, mark), *(p.rstrip() for p in prefixes[1:])]


def _clean_inline(text: str, is_mdx: bool) -> str:
    """A heading's Markdown with conventions resolved, its code spans untouched."""
    spans: list[str] = []

    def keep(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return PLACEHOLDER.format(len(spans) - 1)

    resolved = mdx.resolve(conventions.resolve(INLINE_CODE.sub(keep, text)), strict=not is_mdx)
    return RESTORE.sub(lambda m: spans[int(m.group(1))], resolved)


def _restore(masked: str, saved: list[tuple[str, Heading | CodeFence | None]]) -> tuple[str, tuple[Heading | CodeFence,
                                                                                                      ...]]:
    """The masked text with every placeholder restored, and the headings and fences where they now start their line.

    A code block that starts its line is indented as far as its placeholder now is.
    """
    out: list[str] = []
    placed: list[tuple[Heading | CodeFence, int, int]] = []  # mark, where its line starts, where its text ends
    size = last = 0
    for match in RESTORE.finditer(masked):
        out.append(masked[last : match.start()])
        size += match.start() - last
        text, mark = saved[int(match.group(1))]
        line_start = masked.rfind("\n", 0, match.start()) + 1
        indent = masked[line_start : match.start()]
        if "\n" in text and not indent.strip(" \t"):
            text = "\n".join(indent + line if line and number else line for number, line in enumerate(text.split("\n")))
        if mark is not None and LINE_PREFIX.fullmatch(indent):
            placed.append((mark, size - len(indent), size + len(text)))
        out.append(text)
        size += len(text)
        last = match.end()
    out.append(masked[last:])
    restored = "".join(out)
    outline = []
    for mark, start, text_end in placed:
        line_end = restored.find("\n", text_end)
        outline.append(replace(mark, start=start, end=len(restored) if line_end < 0 else line_end + 1))
    return restored, tuple(outline)


def _first_h1(tokens: list[Any]) -> str:
    """Plain text of the first level-1 heading, without a trailing `{ #anchor }`; '' when there is none."""
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h1":
            children = INLINE.parseInline(tokens[index + 1].content)[0].children or []
            text = "".join(child.content for child in children if child.type in ("text", "code_inline"))
            return split_anchor(text)[0]
    return ""
