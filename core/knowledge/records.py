"""How chunks and collections are recorded in Chroma: metadata in and out, names, embedder checks."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from core.errors import EmbeddingMismatch, UnknownCollection
from core.types import Chunk

NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")
CHUNK_FIELDS = ("source", "title", "heading_path", "anchor", "language", "chunk_index", "content_hash",
                "token_count", "kind", "url", "written", "retired")
LINK_FIELDS = ("base_url", "url_default_language", "url_extension")


@dataclass(frozen=True)
class CollectionInfo:
    """A documentation collection as recorded in Chroma."""

    name: str
    chunks: int
    embedding_model: str
    embedding_dim: int
    description: str = ""
    rerank_instruction: str = ""
    revision: str = ""
    base_url: str = ""  # links: the published site's address, its default language folder and URL extension
    url_default_language: str = ""
    url_extension: str = ""


@dataclass(frozen=True)
class StoredState:
    """The chunks one source file has in a collection now: id -> content hash, and id -> chunk index."""

    hashes: dict[str, str]
    positions: dict[str, int]


def check_embedder(info: CollectionInfo, model_id: str, dim: int) -> None:
    """Refuse to mix vectors of different models or sizes in one collection."""
    if (info.embedding_model, info.embedding_dim) != (model_id, dim):
        raise EmbeddingMismatch(
            f"Collection {info.name!r} was embedded with {info.embedding_model} at {info.embedding_dim} dimensions, "
            f"but the configured embedder is {model_id} at {dim}. Either set POLYDESK_EMBEDDING_MODEL / "
            f"POLYDESK_EMBEDDING_DIM back to the collection's, or re-embed it: "
            f"`polydesk collections delete {info.name}` and ingest its files again."
        )


def to_metadata(chunk: Chunk) -> dict[str, str | int]:
    """A chunk's fields as Chroma metadata (flat scalars only)."""
    metadata: dict[str, str | int] = {
        "source": chunk.source, "title": chunk.title, "heading_path": json.dumps(list(chunk.heading_path)),
        "anchor": chunk.anchor, "language": chunk.language or "", "chunk_index": chunk.index,
        "content_hash": chunk.content_hash, "token_count": chunk.token_count, "kind": chunk.kind,
    } | ({"url": chunk.url} if chunk.url else {})
    return metadata | dict(chunk.extra)


def from_record(chunk_id: str, text: str, metadata: dict[str, Any]) -> Chunk:
    """A chunk rebuilt from what Chroma returns."""
    extra = tuple(sorted((k, str(v)) for k, v in metadata.items() if k not in CHUNK_FIELDS))
    return Chunk(
        id=chunk_id, text=text, source=str(metadata["source"]), title=str(metadata["title"]),
        heading_path=tuple(json.loads(metadata["heading_path"])), anchor=str(metadata["anchor"]),
        language=str(metadata["language"]) or None, index=int(metadata["chunk_index"]),
        content_hash=str(metadata["content_hash"]), token_count=int(metadata["token_count"]),
        kind=str(metadata["kind"]), extra=extra, url=str(metadata.get("url") or ""),
    )


def check_collection_name(name: str) -> None:
    """Collection names: letters, digits, '-' and '_', starting and ending with a letter or digit."""
    if not NAME.match(name):
        raise UnknownCollection(
            f"{name!r} is not a valid collection name: use 1-63 letters, digits, '-' or '_', "
            "starting and ending with a letter or digit (e.g. parcelio-docs)."
        )
