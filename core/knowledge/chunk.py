"""Cut parsed documents into heading-aware chunks measured in tokens of the embedding tokenizer."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from pathlib import Path

from markdown_it import MarkdownIt
from tokenizers import Encoding, Tokenizer

from core.errors import ConfigError, ModelNotAvailable
from core.types import Block, CodeFence, Heading, ParsedDocument

HARD_CAP_TOKENS = 2048
ANCHOR = re.compile(r"\s*\{\s*#([^\s{}]+)\s*\}\s*$")
CONTEXT_SEPARATOR = " > "
BOUNDARY_MARGIN = 4  # tokens that can merge differently where a part is cut out and its context is prepended
# Where a part may end, best first: a blank line, a line break, a sentence end, a space; else between any two tokens
BREAKS = (
    re.compile(r"\n[ \t]*\n\s*"),
    re.compile(r"\n\s*"),
    re.compile(r"(?<=[.!?؟।])[\"'”’)\]]*\s+|(?<=[。！？])[」』”）]*\s*"),
    re.compile(r"\s+"),
)
LINE_BREAKS = BREAKS[1:2]


@dataclass(frozen=True)
class Piece:
    """A chunk before it is tagged and stored: its text with context, where it sits, and what it is."""

    text: str
    heading_path: tuple[str, ...]
    anchor: str
    kind: str
    token_count: int
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Section:
    """The Markdown between one heading and the next, with the path of headings above it."""

    heading_path: tuple[str, ...]
    anchor: str
    body: str
    fences: tuple[CodeFence, ...] = ()  # its fenced code blocks, offsets relative to the body


@dataclass(frozen=True)
class Draft:
    """A candidate chunk: context line, blank line, content; cut into parts when it is over its limit."""

    text: str
    content_start: int  # where the content starts in `text`, after the context
    section: Section  # heading path and anchor (its body and fences are not read again)
    kind: str
    limit: int  # max_tokens, or the hard cap for code blocks and API operations
    extra: tuple[tuple[str, str], ...] = ()
    fences: tuple[CodeFence, ...] = ()  # fenced code in `text` (offsets in it), kept whole where possible
    shrink: int = 0  # tokens taken off the budget after a part came out longer than estimated
    estimated: bool = False  # a part cut out by estimate, counted exactly only when fitted

    def piece(self, token_count: int) -> Piece:
        """The draft as a finished chunk."""
        return Piece(self.text, self.section.heading_path, self.section.anchor, self.kind, token_count, self.extra)


class Chunker:
    """At most `max_tokens` per chunk; a fenced code block stays whole unless it alone exceeds the hard cap.

    Each candidate text is tokenised once (in batches); a section over the budget is cut at token positions read
    from that one encoding (offsets), at the best break within reach: a blank line, a line break, a sentence end,
    a space. Only the parts cut out are counted again, so that every count is exact.
    """

    def __init__(self, tokenizer: Tokenizer, max_tokens: int = 512, overlap: int = 32) -> None:
        if not 16 <= max_tokens <= HARD_CAP_TOKENS:
            raise ConfigError(f"POLYDESK_CHUNK_TOKENS must be between 16 and {HARD_CAP_TOKENS}, got {max_tokens}.")
        if not 0 <= overlap < max_tokens // 2:
            raise ConfigError(f"POLYDESK_CHUNK_OVERLAP must be between 0 and {max_tokens // 2 - 1}, got {overlap}.")
        self.tokenizer = tokenizer
        self.tokenizer.no_truncation()
        self.max_tokens = max_tokens
        self.overlap = overlap
        self._markdown = MarkdownIt("commonmark").disable("inline")  # block structure, for text not parsed yet

    @classmethod
    def from_folder(cls, folder: Path, max_tokens: int = 512, overlap: int = 32) -> Chunker:
        """A chunker using the tokenizer.json of a model folder."""
        path = folder / "tokenizer.json"
        if not path.is_file():
            raise ModelNotAvailable(
                f"{folder} has no tokenizer.json; chunks are measured in tokens of the embedding model's tokenizer. "
                "Point POLYDESK_TOKENIZER at a folder holding the embedding model's tokenizer files."
            )
        return cls(Tokenizer.from_file(str(path)), max_tokens, overlap)

    def count(self, text: str) -> int:
        """Tokens in `text`, without special tokens."""
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def counts(self, texts: list[str]) -> list[int]:
        """Tokens in each text, counted in one batch on all cores."""
        return [len(e.ids) for e in self._encode(texts)]

    def _encode(self, texts: list[str]) -> list[Encoding]:
        """Each text encoded, in one batch."""
        return self.tokenizer.encode_batch(texts, add_special_tokens=False) if texts else []

    def split(self, document: ParsedDocument) -> list[Piece]:
        """All chunks of a document, in reading order."""
        sections: list[tuple[Section, str, tuple[tuple[str, str], ...]]] = []
        for block in document.blocks:
            if not block.text.strip():
                continue
            if block.kind == "prose":
                sections += [(s, "", block.metadata) for s in self.sections(block, document.title)]
            else:
                sections.append((Section(block.heading_path, "", block.text), block.kind, block.metadata))
        contexts = self._contexts([section.heading_path for section, _, _ in sections])
        drafts = [self._draft(s, contexts[s.heading_path], kind, extra) for s, kind, extra in sections]
        return [piece for pieces in self._fit(drafts) for piece in pieces]

    def sections(self, block: Block, title: str) -> list[Section]:
        """Split a block's Markdown at its headings (outside code), keeping the stack of headings as the path."""
        text = block.text
        outline = block.outline if block.outline is not None else self.outline(text)
        fences = [mark for mark in outline if isinstance(mark, CodeFence)]
        fallback = block.heading_path or (title,)
        stack: list[tuple[int, str, str]] = []
        sections: list[Section] = []
        start = 0
        for mark in outline:
            if isinstance(mark, Heading):
                sections.append(_section(fallback, stack, text, start, mark.start, fences))
                heading, anchor = split_anchor(mark.text)
                stack = [entry for entry in stack if entry[0] < mark.level] + [(mark.level, heading, anchor)]
                start = mark.end
        sections.append(_section(fallback, stack, text, start, len(text), fences))
        return [section for section in sections if section.body.strip()]

    def outline(self, markdown: str) -> tuple[Heading | CodeFence, ...]:
        """Headings (in list items and quotes too) and fenced code blocks of Markdown, in reading order."""
        tokens = self._markdown.parse(markdown)
        line_starts = [0] + [match.end() for match in re.finditer("\n", markdown)]

        def at(line: int) -> int:
            return line_starts[line] if line < len(line_starts) else len(markdown)

        marks: list[Heading | CodeFence] = []
        for i, token in enumerate(tokens):
            if token.map and token.type == "heading_open":
                marks.append(Heading(at(token.map[0]), at(token.map[1]), int(token.tag[1]), tokens[i + 1].content))
            elif token.map and token.type == "fence":
                marks.append(CodeFence(at(token.map[0]), at(token.map[1]), token.markup, token.info, token.content))
        return tuple(marks)

    def _contexts(self, paths: list[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
        """The context line of each heading path; only lines longer in bytes than the limit in tokens are counted
        (in one batch), since a token stands for at least one byte."""
        limit = self.max_tokens // 4
        lines = {path: CONTEXT_SEPARATOR.join(path) for path in paths}
        long = [path for path, line in lines.items() if len(line.encode()) > limit]
        for path, n in zip(long, self.counts([lines[path] for path in long]), strict=True):
            lines[path] = lines[path] if n <= limit else self._context(path)
        return lines

    def _context(self, heading_path: tuple[str, ...]) -> str:
        """The heading path as one line: the innermost headings that fit a quarter of a chunk, dropping outer ones."""
        limit = self.max_tokens // 4
        for start in range(len(heading_path)):
            context = CONTEXT_SEPARATOR.join(heading_path[start:])
            if self.count(context) <= limit:
                return context
        ids = self.tokenizer.encode(heading_path[-1] if heading_path else "", add_special_tokens=False).ids
        return self.tokenizer.decode(ids[:limit])

    def _draft(self, section: Section, context: str, kind: str, extra: tuple[tuple[str, str], ...]) -> Draft:
        """A whole section (or API operation, `kind` given) as one draft, its fences placed in the draft's text."""
        content = section.body.strip()
        head = f"{context}\n\n" if context else ""
        shift = len(head) - (len(section.body) - len(section.body.lstrip()))
        fences = tuple(replace(f, start=max(f.start + shift, len(head)), end=min(f.end + shift, len(head + content)))
                       for f in section.fences)
        limit = HARD_CAP_TOKENS if kind else self.max_tokens
        return Draft(head + content, len(head), section, kind or _kind_of(content), limit, extra, fences)

    def _fit(self, drafts: list[Draft]) -> list[list[Piece]]:
        """Each draft as one piece when it fits its limit, else its parts, fitted in turn (one batch per round)."""
        encodings = self._encode([draft.text for draft in drafts])
        cut = {i: self._cut(draft, encoding) for i, (draft, encoding) in enumerate(zip(drafts, encodings, strict=True))
               if len(encoding.ids) > draft.limit}
        fitted = iter(self._fit([part for parts in cut.values() for part in parts]) if cut else [])
        return [[piece for _ in cut[i] for piece in next(fitted)] if i in cut else [draft.piece(len(encoding.ids))]
                for i, (draft, encoding) in enumerate(zip(drafts, encodings, strict=True))]

    def _cut(self, draft: Draft, encoding: Encoding) -> list[Draft]:
        """A draft over its limit cut into parts, measured with its own encoding; big code blocks kept apart."""
        if draft.estimated:  # a part that came out longer than estimated: cut it again with a smaller budget
            draft = replace(draft, shrink=draft.shrink + len(encoding.ids) - draft.limit)
        starts = [start for start, _ in encoding.offsets]
        head = bisect_left(starts, draft.content_start)
        budget = max(draft.limit - head - BOUNDARY_MARGIN - draft.shrink, 1)
        if draft.kind == "api-operation":
            spans = _spans(draft.text, starts, draft.content_start, len(draft.text), budget, 0, ())
            return [_part(draft, span) for span in spans]

        def tokens(fence: CodeFence) -> int:
            return bisect_left(starts, fence.end) - bisect_left(starts, fence.start)

        parts: list[Draft] = []
        position = draft.content_start
        overlap = min(self.overlap, budget // 4)
        for fence in [*(f for f in draft.fences if tokens(f) > budget), None]:
            end = fence.start if fence else len(draft.text)
            parts += [_part(draft, span) for span in _spans(draft.text, starts, position, end, budget, overlap,
                                                            draft.fences)]
            if fence:
                parts += self._fence_parts(draft, fence, tokens(fence), HARD_CAP_TOKENS - head - BOUNDARY_MARGIN)
                position = fence.end
        return parts

    def _fence_parts(self, draft: Draft, fence: CodeFence, tokens: int, budget: int) -> list[Draft]:
        """A code block too long for a chunk: whole up to the hard cap, else its code cut by lines, fenced again."""
        budget -= draft.shrink
        big = replace(draft, limit=HARD_CAP_TOKENS, fences=(fence,))
        if tokens <= budget:
            return [replace(_part(big, _strip(draft.text, fence.start, fence.end) or (fence.start, fence.end)),
                            kind="code")]
        context = draft.text[: draft.content_start]
        opening, closing = f"{fence.markup}{fence.info}\n", f"\n{fence.markup}"
        starts = [start for start, _ in self._encode([fence.code])[0].offsets]
        inner = max(budget - self.count(opening + closing), 1)
        parts = []
        for a, b in _spans(fence.code, starts, 0, len(fence.code), inner, 0, (), LINE_BREAKS):
            text = f"{context}{opening}{fence.code[a:b]}{closing}"
            wrapped = CodeFence(len(context), len(text), fence.markup, fence.info, fence.code[a:b])
            parts.append(replace(big, text=text, kind="code", fences=(wrapped,), estimated=True))
        return parts


def _part(draft: Draft, span: tuple[int, int]) -> Draft:
    """The text at `span` of a draft as a draft of its own, under the same context, with its fences moved."""
    a, b = span
    shift = draft.content_start - a
    fences = tuple(replace(f, start=f.start + shift, end=min(f.end, b) + shift) for f in draft.fences
                   if a <= f.start < b)
    content = draft.text[a:b]
    kind = draft.kind if draft.kind == "api-operation" else _kind_of(content)
    return replace(draft, text=draft.text[: draft.content_start] + content, fences=fences, kind=kind,
                   estimated=True)


def _section(fallback: tuple[str, ...], stack: list[tuple[int, str, str]], text: str, start: int, end: int,
             fences: list[CodeFence]) -> Section:
    """The text start..end under the current heading stack, with the fences inside it."""
    inside = tuple(replace(f, start=f.start - start, end=f.end - start) for f in fences
                   if start <= f.start and f.end <= end)
    path, anchor = (tuple(heading for _, heading, _ in stack), stack[-1][2]) if stack else (fallback, "")
    return Section(path, anchor, text[start:end], inside)


def _spans(text: str, starts: list[int], a: int, b: int, budget: int, overlap: int,
           keep: tuple[CodeFence, ...], breaks: tuple[re.Pattern[str], ...] = BREAKS) -> list[tuple[int, int]]:
    """text[a:b] as spans of at most `budget` tokens (tokens start at `starts`), each ending at the best break
    within reach (never inside a span of `keep` unless nothing else is), the next one starting up to `overlap`
    tokens earlier at a break; spans are stripped of surrounding whitespace and never empty."""
    levels = [[p for m in pattern.finditer(text, a, b) if a < (p := m.end()) < b and not _inside(p, keep)]
              for pattern in breaks]
    spans: list[tuple[int, int]] = []
    start = done = a
    while done < b:
        first = bisect_left(starts, start)
        if first + budget >= len(starts) or starts[first + budget] >= b:
            end = b
        else:
            reach = starts[first + budget]
            end = _best(levels, done, reach)
            if end is None and start < done:  # the overlap leaves no break within reach: start after the last span
                start = done
                continue
            if end is None:
                later = bisect_right(starts, done)
                end = reach if reach > done else (starts[later] if later < len(starts) else b)
        stripped = _strip(text, start, end)
        if stripped:
            spans.append(stripped)
        done, start = end, _overlap_start(levels, starts, start, end, overlap) if end < b else end
    return spans


def _best(levels: list[list[int]], done: int, reach: int) -> int | None:
    """The farthest break after `done` and at most `reach`, of the best level that has one."""
    for level in levels:
        index = bisect_right(level, reach) - 1
        if index >= 0 and level[index] > done:
            return level[index]
    return None


def _overlap_start(levels: list[list[int]], starts: list[int], start: int, end: int, overlap: int) -> int:
    """The earliest break within `overlap` tokens before `end` (and after `start`), else `end`."""
    if not overlap:
        return end
    floor = starts[max(bisect_left(starts, end) - overlap, 0)]
    found = [level[i] for level in levels if (i := bisect_left(level, max(floor, start + 1))) < len(level)]
    return min([p for p in found if p < end], default=end)


def _inside(position: int, fences: tuple[CodeFence, ...]) -> bool:
    """Whether a position falls strictly inside one of the fences."""
    return any(f.start < position < f.end for f in fences)


def _strip(text: str, a: int, b: int) -> tuple[int, int] | None:
    """The span without whitespace at either end; None when nothing is left."""
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return (a, b) if a < b else None


def split_anchor(heading: str) -> tuple[str, str]:
    """Heading text without a trailing `{ #anchor }`, and the anchor (explicit, else a slug of the text)."""
    match = ANCHOR.search(heading)
    if match:
        return heading[: match.start()].strip(), match.group(1)
    return heading.strip(), slugify(heading)


def slugify(text: str) -> str:
    """A URL fragment for a heading: lower case letters and digits of any script, joined by hyphens."""
    return "-".join(re.findall(r"\w+", text.casefold()))


def _kind_of(part: str) -> str:
    """`code` when the chunk is a fenced block and nothing else, else `prose`."""
    stripped = part.strip()
    return "code" if stripped.startswith(("```", "~~~")) and stripped.endswith(("```", "~~~")) else "prose"
