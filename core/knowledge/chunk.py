"""Cut parsed documents into heading-aware chunks measured in tokens of the embedding tokenizer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token
from semantic_text_splitter import MarkdownSplitter
from tokenizers import Tokenizer

from core.errors import ConfigError, ModelNotAvailable
from core.types import Block, ParsedDocument

HARD_CAP_TOKENS = 2048
ANCHOR = re.compile(r"\s*\{\s*#([^\s{}]+)\s*\}\s*$")
CONTEXT_SEPARATOR = " > "
CAPACITY_STEP = 32  # splitter capacities are rounded down to this, so that few splitters are built
BOUNDARY_MARGIN = 4
UNCOUNTED = -1  # tokens that can merge differently where context and content meet


@dataclass(frozen=True)
class Piece:
    """A chunk before it is tagged and stored: its text with context, where it sits, and what it is."""

    text: str
    heading_path: tuple[str, ...]
    anchor: str
    kind: str
    token_count: int
    extra: tuple[tuple[str, str], ...] = ()
    section: Section | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Section:
    """The Markdown between one heading and the next, with the path of headings above it."""

    heading_path: tuple[str, ...]
    anchor: str
    body: str
    fences: tuple[Token, ...] = ()  # its fenced code blocks, line maps relative to the body


class Chunker:
    """At most `max_tokens` per chunk; a fenced code block stays whole unless it alone exceeds the hard cap."""

    def __init__(self, tokenizer: Tokenizer, max_tokens: int = 512, overlap: int = 32) -> None:
        if not 16 <= max_tokens <= HARD_CAP_TOKENS:
            raise ConfigError(f"POLYDESK_CHUNK_TOKENS must be between 16 and {HARD_CAP_TOKENS}, got {max_tokens}.")
        if not 0 <= overlap < max_tokens // 2:
            raise ConfigError(f"POLYDESK_CHUNK_OVERLAP must be between 0 and {max_tokens // 2 - 1}, got {overlap}.")
        self.tokenizer = tokenizer
        self.tokenizer.no_truncation()
        self.max_tokens = max_tokens
        self.overlap = overlap
        # Headings and fences are all the sections need: inline markup and list nesting (the costliest rule)
        # are not parsed, so a heading written inside a list item is text of that item.
        self._markdown = MarkdownIt("commonmark").disable(["inline", "list"])
        self._splitters: dict[tuple[int, int], MarkdownSplitter] = {}

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

    def split(self, document: ParsedDocument) -> list[Piece]:
        """All chunks of a document, in reading order; tokens are counted in batches (the tokenizer dominates)."""
        drafts: list[Piece] = []
        for block in document.blocks:
            if block.kind == "prose":
                sections = self.sections(block.text, document.title, block.heading_path)
                drafts += [self._whole(section, block.metadata) for section in sections]
            else:
                drafts += self._split_whole_block(block)
        fitted = [
            piece
            for draft in self._count(drafts)
            for piece in (self._split_section(draft.section, draft.extra) if self._too_long(draft) else [draft])
        ]
        return self._count(fitted)

    def _too_long(self, draft: Piece) -> bool:
        """A whole section over the budget (API operations are already cut at the hard cap)."""
        return draft.section is not None and draft.token_count > self.max_tokens

    def _count(self, pieces: list[Piece]) -> list[Piece]:
        """The pieces with every missing token count filled in, counted in one batch."""
        missing = [p.text for p in pieces if p.token_count == UNCOUNTED]
        counts = iter(self.counts(missing))
        return [replace(p, token_count=next(counts)) if p.token_count == UNCOUNTED else p for p in pieces]

    def counts(self, texts: list[str]) -> list[int]:
        """Tokens in each text, counted in one batch on all cores."""
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)] if texts else []

    def _whole(self, section: Section, extra: tuple[tuple[str, str], ...] = ()) -> Piece:
        """A section as one uncounted piece, carrying its block's metadata (such as a PDF page number)."""
        context = self._context(section.heading_path)
        draft = self._piece(context, section.body.strip(), section, _kind_of(section.body), extra)
        return replace(draft, section=section)

    def sections(self, markdown: str, title: str, base_path: tuple[str, ...] = ()) -> list[Section]:
        """Split Markdown at its headings (outside code), keeping the stack of headings as the path."""
        lines = markdown.splitlines(keepends=True)
        tokens = self._markdown.parse(markdown)
        fences = [token for token in tokens if token.type == "fence" and token.map]
        stack: list[tuple[int, str, str]] = []
        sections: list[Section] = []
        start = 0
        for i, opening in enumerate(tokens):
            if opening.type != "heading_open" or not opening.map:
                continue
            first, last = opening.map
            sections.append(self._section(base_path or (title,), stack, lines, start, first, fences))
            text, anchor = split_anchor(tokens[i + 1].content)
            level = int(opening.tag[1])
            stack = [entry for entry in stack if entry[0] < level] + [(level, text, anchor)]
            start = last
        sections.append(self._section(base_path or (title,), stack, lines, start, len(lines), fences))
        return [section for section in sections if section.body.strip()]

    @staticmethod
    def _section(fallback: tuple[str, ...], stack: list[tuple[int, str, str]], lines: list[str], start: int,
                 end: int, fences: list[Token]) -> Section:
        """The lines start..end under the current heading stack, with the fences among them."""
        inside = []
        for fence in fences:
            first, last = fence.map or (0, 0)
            if start <= first and last <= end:
                moved = Token(fence.type, fence.tag, fence.nesting, map=[first - start, last - start],
                              info=fence.info, markup=fence.markup, content=fence.content)
                inside.append(moved)
        path, anchor = (tuple(text for _, text, _ in stack), stack[-1][2]) if stack else (fallback, "")
        return Section(path, anchor, "".join(lines[start:end]), tuple(inside))

    def _split_section(self, section: Section, extra: tuple[tuple[str, str], ...] = ()) -> list[Piece]:
        """Prose through the Markdown splitter; code fences too long for a chunk kept whole up to the hard cap."""
        context = self._context(section.heading_path)
        budget = self.max_tokens - self.count(f"{context}\n\n") - BOUNDARY_MARGIN
        pieces = []
        for text, fence in self._segments(section, budget):
            if fence is None:
                parts = [(part, _kind_of(part)) for part in self._splitter(budget, self.overlap).chunks(text)]
            else:
                parts = [(part, "code") for part in self._split_fence(text, fence, self._hard_budget(context))]
            pieces += [self._piece(context, part, section, kind, extra) for part, kind in parts]
        return pieces

    def _segments(self, section: Section, budget: int) -> list[tuple[str, Token | None]]:
        """The body cut around fenced code blocks longer than `budget` tokens: (text, the fence or None)."""
        lines = section.body.splitlines(keepends=True)
        big = [fence for fence in section.fences if self.count(fence.content) > budget]
        segments: list[tuple[str, Token | None]] = []
        start = 0
        for fence in big:
            first, last = fence.map
            segments += [("".join(lines[start:first]), None), ("".join(lines[first:last]), fence)]
            start = last
        segments.append(("".join(lines[start:]), None))
        return [(text, fence) for text, fence in segments if text.strip()]

    def _split_fence(self, text: str, fence: Token, budget: int) -> list[str]:
        """A code block whole when it fits the hard cap, else its code cut by lines, each part fenced again."""
        if self.count(text) <= budget:
            return [text.strip()]
        opening, closing = f"{fence.markup}{fence.info}\n", f"\n{fence.markup}"
        inner = budget - self.count(opening + closing)
        return [f"{opening}{part}{closing}" for part in self._splitter(inner, 0).chunks(fence.content)]

    def _split_whole_block(self, block: Block) -> list[Piece]:
        """An API operation: one chunk, split only past the hard cap."""
        context = self._context(block.heading_path)
        section = Section(block.heading_path, "", block.text)
        parts = self._splitter(self._hard_budget(context), 0).chunks(block.text)
        return [self._piece(context, part, section, block.kind, block.metadata) for part in parts]

    def _context(self, heading_path: tuple[str, ...]) -> str:
        """The heading path as one line: the innermost headings that fit a quarter of a chunk, dropping outer ones."""
        limit = self.max_tokens // 4
        for start in range(len(heading_path)):
            context = CONTEXT_SEPARATOR.join(heading_path[start:])
            if self.count(context) <= limit:
                return context
        ids = self.tokenizer.encode(heading_path[-1] if heading_path else "", add_special_tokens=False).ids
        return self.tokenizer.decode(ids[:limit])

    def _hard_budget(self, context: str) -> int:
        """Tokens left for content under the hard cap once the context is prepended."""
        return HARD_CAP_TOKENS - self.count(f"{context}\n\n") - BOUNDARY_MARGIN

    def _piece(self, context: str, part: str, section: Section, kind: str,
               extra: tuple[tuple[str, str], ...] = ()) -> Piece:
        """A piece whose text starts with its heading path; its tokens are counted later, in a batch."""
        text = f"{context}\n\n{part}" if context else part
        return Piece(text, section.heading_path, section.anchor, kind, UNCOUNTED, extra)

    def _splitter(self, capacity: int, overlap: int) -> MarkdownSplitter:
        """A Markdown splitter of about that capacity (rounded down, since each one takes ~0.5 s to build)."""
        capacity = max(capacity - capacity % CAPACITY_STEP, CAPACITY_STEP) if capacity > CAPACITY_STEP else capacity
        key = (capacity, overlap)
        if key not in self._splitters:
            self._splitters[key] = MarkdownSplitter.from_huggingface_tokenizer(
                self.tokenizer, capacity, min(overlap, capacity // 4)
            )
        return self._splitters[key]


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

