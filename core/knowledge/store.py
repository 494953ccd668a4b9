"""Chroma as the single source of truth for chunks: one Chroma collection per documentation collection.

Writes are atomic to readers through generations. Each chunk records the generation that wrote it (`written`) and
the one that replaced it (`retired`); the collection records the last committed generation. A source's new chunks
and the retirement of its old ones are written under the next generation, then one metadata write commits it.
Readers see only chunks written by and not retired at the committed generation, and read again when a commit
happened while they read, so a document changes from its old chunks to its new ones in one step. A write marks
the collection `writing` until it has finished, so the next write knows when there is a crashed one to undo.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

import httpx
import numpy as np

from core.errors import BackendUnavailable, EmbeddingMismatch, UnknownCollection
from core.settings import Settings, redact_credentials
from core.types import Chunk

PREFIX = "polydesk-"
NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")
# Measured by bench/search.py and bench/ingest.py: recall@20 0.995 on real text, 1.75x the upsert speed of 200/32.
HNSW = {"space": "cosine", "ef_construction": 100, "max_neighbors": 16, "ef_search": 128}
WRITE_BATCH = 2000
CHUNK_FIELDS = ("source", "title", "heading_path", "anchor", "language", "chunk_index", "content_hash",
                "token_count", "kind", "written", "retired")
NEVER = 2**62  # `retired` of a chunk that no generation has replaced
READ_ATTEMPTS = 5
T = TypeVar("T")


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


@dataclass(frozen=True)
class StoredState:
    """The chunks one source file has in a collection now: id -> content hash, and id -> chunk index."""

    hashes: dict[str, str]
    positions: dict[str, int]


class ChromaStore:
    """Embedded PersistentClient by default, HttpClient when POLYDESK_CHROMA_URL is set."""

    def __init__(self, client: Any, location: str) -> None:
        self._client = client
        self.location = location
        self._write_lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings) -> ChromaStore:
        """Open the configured store; a Chroma server that cannot be reached is a clear error."""
        import chromadb

        chroma_settings = chromadb.Settings(anonymized_telemetry=False)
        if settings.chroma_url:
            url, shown = urlparse(settings.chroma_url), redact_credentials(settings.chroma_url)
            with _server_errors(shown):
                client = chromadb.HttpClient(
                    host=url.hostname or "localhost", port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https", settings=chroma_settings,
                )
            return cls(client, shown)
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return cls(chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings),
                   str(settings.chroma_path))

    def collections(self) -> list[CollectionInfo]:
        """Every Polydesk collection, by name."""
        with _server_errors(self.location):
            found = [c for c in self._client.list_collections() if c.name.startswith(PREFIX)]
            return sorted((self._info(c) for c in found), key=lambda info: info.name)

    def info(self, name: str) -> CollectionInfo:
        """One collection's record."""
        return self._info(self._open(name))

    def open_for_ingest(self, name: str, model_id: str, dim: int, description: str = "") -> CollectionInfo:
        """Create the collection for this embedder, or check that an existing one was embedded the same way."""
        check_collection_name(name)
        with _server_errors(self.location):
            collection = self._client.get_or_create_collection(
                PREFIX + name, configuration={"hnsw": HNSW}, embedding_function=None,
                metadata={"embedding_model": model_id, "embedding_dim": dim, "description": description,
                          "rerank_instruction": "", "revision": uuid.uuid4().hex, "generation": 0},
            )
        info = self._info(collection)
        check_embedder(info, model_id, dim)
        return info

    def delete_collection(self, name: str) -> None:
        """Remove a collection and all its chunks."""
        self._open(name)
        with _server_errors(self.location):
            self._client.delete_collection(PREFIX + name)

    def update_settings(self, name: str, *, description: str | None = None,
                        rerank_instruction: str | None = None) -> CollectionInfo:
        """Change a collection's description or rerank instruction."""
        changes = {k: v for k, v in (("description", description), ("rerank_instruction", rerank_instruction))
                   if v is not None}
        return self._modify(name, **changes)

    def source_state(self, name: str, source: str) -> StoredState:
        """The ids, content hashes and positions of one source file's chunks."""
        found = self._read(name, lambda collection, generation: collection.get(
            where=_both({"source": source}, _visible(generation)), include=["metadatas"]))
        metadatas = found["metadatas"] or []
        return StoredState(
            {i: str(m["content_hash"]) for i, m in zip(found["ids"], metadatas, strict=True)},
            {i: int(m["chunk_index"]) for i, m in zip(found["ids"], metadatas, strict=True)},
        )

    def embeddings_by_hash(self, name: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of these chunks, keyed by content hash, to reuse when text only moved."""
        if not ids:
            return {}
        with _server_errors(self.location):
            found = self._open(name).get(ids=list(ids), include=["metadatas", "embeddings"])
        return {str(m["content_hash"]): np.asarray(e, dtype=np.float32)
                for m, e in zip(found["metadatas"], found["embeddings"], strict=True)}

    def write_source(self, name: str, chunks: Sequence[Chunk], embeddings: np.ndarray,
                     stale_ids: Sequence[str]) -> None:
        """Add a source's new chunks and retire its stale ones in one commit; re-running after a crash converges."""
        with self._write_lock:
            collection = self._open(name)
            with _server_errors(self.location):
                following = _prepare(collection) + 1
            self._modify(name, writing=following)
            with _server_errors(self.location):
                for start in range(0, len(chunks), WRITE_BATCH):
                    batch = chunks[start : start + WRITE_BATCH]
                    collection.upsert(
                        ids=[c.id for c in batch], documents=[c.text for c in batch],
                        embeddings=embeddings[start : start + WRITE_BATCH],
                        metadatas=[to_metadata(c) | {"written": following, "retired": NEVER} for c in batch],
                    )
                _set_retired(collection, list(stale_ids), following)
            self._modify(name, revision=uuid.uuid4().hex, generation=following)
            with _server_errors(self.location):
                _delete(collection, list(stale_ids))
            self._modify(name, writing=0)

    def delete_source(self, name: str, source: str) -> int:
        """Remove one document's chunks; returns how many there were."""
        stale = list(self.source_state(name, source).hashes)
        if stale:
            self.write_source(name, [], np.zeros((0, 1), dtype=np.float32), stale)
        return len(stale)

    def sources(self, name: str) -> dict[str, int]:
        """Each source file of a collection with its number of chunks."""
        return self.count_by(name, "source")["source"]

    def count_by(self, name: str, *fields: str) -> dict[str, dict[str, int]]:
        """For each metadata field, its values' chunk counts (sorted by value; a missing value counts as "")."""
        counts: dict[str, Counter[str]] = {field: Counter() for field in fields}
        for metadata in self._all(name, ["metadatas"])["metadatas"]:
            for field in fields:
                counts[field][str(metadata.get(field) or "")] += 1
        return {field: dict(sorted(counter.items())) for field, counter in counts.items()}

    def all_chunks(self, name: str) -> list[Chunk]:
        """Every chunk of a collection (for the lexical index and for browsing)."""
        found = self._all(name, ["documents", "metadatas"])
        return [from_record(i, d, m) for i, d, m in zip(found["ids"], found["documents"], found["metadatas"],
                                                         strict=True)]

    def chunks(self, name: str, ids: Sequence[str]) -> list[Chunk]:
        """These chunks, in the order asked; ids that no longer exist are skipped."""
        if not ids:
            return []
        found = self._read(name, lambda collection, generation: collection.get(
            ids=list(ids), where=_visible(generation), include=["documents", "metadatas"]))
        by_id = {i: from_record(i, d, m) for i, d, m in zip(found["ids"], found["documents"], found["metadatas"],
                                                             strict=True)}
        return [by_id[i] for i in ids if i in by_id]

    def dense_search(self, name: str, query: np.ndarray, k: int,
                     languages: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """The k nearest committed chunks as (id, cosine similarity), best first, optionally only in some languages.

        Visibility is checked on the k results, not as a where clause: Chroma pre-filters every row for a where
        clause, which makes a query 40x slower (1.7 ms -> 68 ms at 20k chunks). While a write is in flight a
        query can therefore return a few fewer than k chunks, never an uncommitted one."""
        wanted = {"language": {"$in": list(languages)}} if languages else None

        def nearest(collection: Any, generation: int | None) -> list[tuple[str, float]]:
            found = collection.query(query_embeddings=[query], n_results=k, where=wanted,
                                     include=["distances", "metadatas"])
            return [(i, 1.0 - float(d)) for i, d, m in zip(found["ids"][0], found["distances"][0],
                                                           found["metadatas"][0], strict=True)
                    if _is_visible(m, generation)]

        return self._read(name, nearest)

    def _all(self, name: str, include: list[str]) -> dict[str, Any]:
        """Every visible chunk of a collection: the ids at once, then their fields in pages by id."""
        def read(collection: Any, generation: int | None) -> dict[str, list]:
            ids = collection.get(where=_visible(generation), include=[])["ids"]
            merged: dict[str, list] = {"ids": [], **{field: [] for field in include}}
            for start in range(0, len(ids), WRITE_BATCH):
                page = collection.get(ids=ids[start : start + WRITE_BATCH], include=include)
                for field in merged:
                    merged[field].extend(page[field])
            return merged

        return self._read(name, read)

    def _read(self, name: str, read: Callable[[Any, int | None], T]) -> T:
        """`read(collection, committed generation)`, again when a write was committed meanwhile."""
        collection = self._open(name)
        for _ in range(READ_ATTEMPTS):
            generation = _generation(collection)
            with _server_errors(self.location):
                result = read(collection, generation)
            collection = self._open(name)
            if _generation(collection) == generation:
                break
        return result

    def _open(self, name: str) -> Any:
        """The Chroma collection behind a Polydesk collection name."""
        from chromadb.errors import NotFoundError

        check_collection_name(name)
        with _server_errors(self.location):
            try:
                return self._client.get_collection(PREFIX + name, embedding_function=None)
            except NotFoundError:
                pass
        known = ", ".join(info.name for info in self.collections()) or "none yet"
        raise UnknownCollection(
            f"There is no collection named {name!r} (existing: {known}). "
            f"Create it with `polydesk ingest PATH --collection {name}`."
        )

    def _modify(self, name: str, **changes: Any) -> CollectionInfo:
        """Merge changes into a collection's metadata (one writer at a time, so no commit is undone)."""
        with self._write_lock:
            collection = self._open(name)
            with _server_errors(self.location):
                collection.modify(metadata={**(collection.metadata or {}), **changes})
        return self._info(collection)

    def _info(self, collection: Any) -> CollectionInfo:
        """The record of a Chroma collection."""
        meta = collection.metadata or {}
        with _server_errors(self.location):
            if meta.get("writing"):
                count = len(collection.get(where=_visible(_generation(collection)), include=[])["ids"])
            else:
                count = collection.count()
        return CollectionInfo(
            collection.name.removeprefix(PREFIX), count, str(meta.get("embedding_model", "")),
            int(meta.get("embedding_dim", 0)), str(meta.get("description", "")),
            str(meta.get("rerank_instruction", "")), str(meta.get("revision", "")),
        )


def check_embedder(info: CollectionInfo, model_id: str, dim: int) -> None:
    """Refuse to mix vectors of different models or sizes in one collection."""
    if (info.embedding_model, info.embedding_dim) != (model_id, dim):
        raise EmbeddingMismatch(
            f"Collection {info.name!r} was embedded with {info.embedding_model} at {info.embedding_dim} dimensions, "
            f"but the configured embedder is {model_id} at {dim}. Either set POLYDESK_EMBEDDING_MODEL / "
            f"POLYDESK_EMBEDDING_DIM back to the collection's, or re-embed it: "
            f"`polydesk collections delete {info.name}` and ingest its files again."
        )


def _generation(collection: Any) -> int | None:
    """The last committed generation, or None for a collection written before generations existed."""
    value = (collection.metadata or {}).get("generation")
    return None if value is None else int(value)


def _visible(generation: int | None) -> dict | None:
    """The where clause of the chunks visible at a generation (None: every chunk)."""
    if generation is None:
        return None
    return {"$and": [{"written": {"$lte": generation}}, {"retired": {"$gt": generation}}]}


def _is_visible(metadata: dict[str, Any] | None, generation: int | None) -> bool:
    """Whether a chunk is part of the committed state at a generation (None: every chunk is)."""
    if generation is None or metadata is None:
        return generation is None
    return int(metadata.get("written", 0)) <= generation < int(metadata.get("retired", NEVER))


def _both(first: dict | None, second: dict | None) -> dict | None:
    """Two where clauses joined with $and, either of them possibly absent."""
    if first is None or second is None:
        return first or second
    return {"$and": [first, second]}


def _prepare(collection: Any) -> int:
    """The committed generation, after undoing what a crashed write left and stamping chunks from before generations.

    A write marks the collection `writing` until its stale chunks are deleted, so the scans that undo a crashed
    write (each reads every row's metadata) run only after a crash, not before every write."""
    generation = _generation(collection)
    if generation is None:
        found = collection.get(include=["metadatas"])
        for start in range(0, len(found["ids"]), WRITE_BATCH):
            collection.update(ids=found["ids"][start : start + WRITE_BATCH], metadatas=[
                {**m, "written": 0, "retired": NEVER} for m in found["metadatas"][start : start + WRITE_BATCH]])
        collection.modify(metadata={**(collection.metadata or {}), "generation": 0})
        return 0
    if not (collection.metadata or {}).get("writing"):
        return generation
    _delete(collection, collection.get(where={"written": {"$gt": generation}}, include=[])["ids"])
    _delete(collection, collection.get(where={"retired": {"$lte": generation}}, include=[])["ids"])
    undone = collection.get(where={"$and": [{"retired": {"$gt": generation}}, {"retired": {"$lt": NEVER}}]},
                            include=[])["ids"]
    _set_retired(collection, undone, NEVER)
    return generation


def _set_retired(collection: Any, ids: list[str], generation: int) -> None:
    """Mark chunks as replaced by a generation (NEVER: not replaced)."""
    for start in range(0, len(ids), WRITE_BATCH):
        found = collection.get(ids=ids[start : start + WRITE_BATCH], include=["metadatas"])
        if found["ids"]:
            collection.update(ids=found["ids"], metadatas=[{**m, "retired": generation} for m in found["metadatas"]])


def _delete(collection: Any, ids: list[str]) -> None:
    """Delete chunks by id, in batches."""
    for start in range(0, len(ids), WRITE_BATCH):
        collection.delete(ids=ids[start : start + WRITE_BATCH])


def to_metadata(chunk: Chunk) -> dict[str, str | int]:
    """A chunk's fields as Chroma metadata (flat scalars only)."""
    metadata: dict[str, str | int] = {
        "source": chunk.source, "title": chunk.title, "heading_path": json.dumps(list(chunk.heading_path)),
        "anchor": chunk.anchor, "language": chunk.language or "", "chunk_index": chunk.index,
        "content_hash": chunk.content_hash, "token_count": chunk.token_count, "kind": chunk.kind,
    }
    return metadata | dict(chunk.extra)


def from_record(chunk_id: str, text: str, metadata: dict[str, Any]) -> Chunk:
    """A chunk rebuilt from what Chroma returns."""
    extra = tuple(sorted((k, str(v)) for k, v in metadata.items() if k not in CHUNK_FIELDS))
    return Chunk(
        id=chunk_id, text=text, source=str(metadata["source"]), title=str(metadata["title"]),
        heading_path=tuple(json.loads(metadata["heading_path"])), anchor=str(metadata["anchor"]),
        language=str(metadata["language"]) or None, index=int(metadata["chunk_index"]),
        content_hash=str(metadata["content_hash"]), token_count=int(metadata["token_count"]),
        kind=str(metadata["kind"]), extra=extra,
    )


def check_collection_name(name: str) -> None:
    """Collection names: letters, digits, '-' and '_', starting and ending with a letter or digit."""
    if not NAME.match(name):
        raise UnknownCollection(
            f"{name!r} is not a valid collection name: use 1-63 letters, digits, '-' or '_', "
            "starting and ending with a letter or digit (e.g. parcelio-docs)."
        )


@contextmanager
def _server_errors(location: str) -> Iterator[None]:
    """Turn a Chroma server that cannot be reached into BackendUnavailable."""
    try:
        yield
    except (httpx.TransportError, ConnectionError, TimeoutError) as exc:
        raise BackendUnavailable(
            f"The Chroma store at {location} cannot be reached ({type(exc).__name__}): check that the server "
            "is running and POLYDESK_CHROMA_URL is right."
        ) from exc
    except ValueError as exc:  # chromadb's client says "Could not connect to a Chroma server" this way
        if "could not connect" not in str(exc).lower():
            raise
        raise BackendUnavailable(
            f"The Chroma store at {location} cannot be reached: check that the server is running and "
            "POLYDESK_CHROMA_URL is right."
        ) from exc
