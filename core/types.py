"""Plain records passed between the layers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Ranked:
    """One reranked document: its index in the caller's list and its relevance score (0..1)."""

    index: int
    score: float


@dataclass(frozen=True)
class BackendStatus:
    """What is known about one configured model backend."""

    role: str  # "embedding" or "reranker"
    kind: str  # "in-process" or "HTTP"
    model_id: str
    location: str  # a local folder, the hub cache, or a URL
    ok: bool
    detail: str
    dimension: int | None = None


@dataclass(frozen=True)
class Heading:
    """A heading the parser found in a block's text: its lines (character offsets), level and text."""

    start: int
    end: int
    level: int
    text: str


@dataclass(frozen=True)
class CodeFence:
    """A fenced code block the parser found in a block's text: its lines (character offsets), fence and code."""

    start: int
    end: int
    markup: str
    info: str
    code: str


@dataclass(frozen=True)
class Block:
    """A piece of a parsed document: Markdown prose to be chunked, or one API operation kept whole."""

    text: str
    kind: str = "prose"  # "prose" | "api-operation"
    heading_path: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()  # e.g. (("operation_id", "listUsers"), ("tags", "users"))
    # Headings and fences in reading order, when the parser already found them (the chunker parses otherwise)
    outline: tuple[Heading | CodeFence, ...] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ParsedDocument:
    """What a parser extracts from one file: its title, description and content blocks."""

    title: str
    description: str
    blocks: tuple[Block, ...]
    url_hint: str = ""  # the page's own address as written: front matter permalink/url/slug, or HTML canonical link


@dataclass(frozen=True)
class Chunk:
    """One stored passage with everything needed to cite it."""

    id: str
    text: str  # what is embedded and shown: the heading path as context, then the passage
    source: str  # the file, relative to the folder that was ingested
    title: str
    heading_path: tuple[str, ...]
    anchor: str
    language: str | None
    index: int  # position in its document
    content_hash: str
    token_count: int
    kind: str  # "prose" | "code" | "api-operation"
    extra: tuple[tuple[str, str], ...] = ()  # operation_id, tags, method, path for API operations
    url: str = ""  # the published page and section, when the collection has a base URL

    @property
    def location(self) -> str:
        """Where the passage is, for people: its file and section, e.g. `auth.md › Refreshing tokens`."""
        section = " › ".join(self.heading_path[1:]) or self.title
        return f"{self.source} › {section}" if section else self.source


@dataclass(frozen=True)
class Candidate:
    """A retrieved chunk with its score and rank (from 1) at every stage it reached; None where it did not."""

    chunk: Chunk
    collection: str
    dense_score: float | None = None
    dense_rank: int | None = None
    lexical_score: float | None = None
    lexical_rank: int | None = None
    fused_score: float = 0.0
    fused_rank: int = 0
    rerank_score: float | None = None
    rerank_rank: int | None = None


@dataclass(frozen=True)
class SearchResult:
    """Candidates best first, milliseconds per stage, warnings about degraded stages, and each retrieval stage's
    ranking of (collection, chunk id) best first, keyed by SEARCH_STAGES (a skipped stage is absent)."""

    query: str
    query_language: str | None
    candidates: tuple[Candidate, ...]
    timings_ms: dict[str, float]
    warnings: tuple[str, ...] = ()
    rankings: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


SEARCH_STAGES = ("dense", "lexical", "fused", "reranked")  # retrieval stages, in pipeline order


@dataclass(frozen=True)
class Citation:
    """A [n] marker of an answer and the passage it points to."""

    marker: int
    candidate: Candidate


@dataclass(frozen=True)
class Answer:
    """A finished answer: its text, the passages it cites, markers that point nowhere, and how it was made."""

    text: str
    language: str | None
    citations: tuple[Citation, ...]
    invalid_markers: tuple[int, ...]
    mode: str  # "generated" | "extractive"
    model: str
    warnings: tuple[str, ...] = ()
    search_query: str = ""  # the query that was searched: the question, or a follow-up made standalone
    passages: tuple[Candidate, ...] = ()  # the passages sent to the LLM (or quoted), cited or not


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation: role "user" or "assistant", and its text."""

    role: str
    content: str


@dataclass(frozen=True)
class TicketReply:
    """A reply drafted for a customer's message: its language, the questions found in it, and the draft."""

    language: str | None
    questions: tuple[str, ...]
    draft: Answer
    warnings: tuple[str, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)  # per stage, as an answer's
