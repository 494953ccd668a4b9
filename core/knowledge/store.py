"""Chroma as the single source of truth for chunks: one Chroma collection per documentation collection.

Writes are atomic to readers through generations (see core.knowledge.generations). Each chunk records the generation
that wrote it (`written`) and the one that replaced it (`retired`); the collection records the last committed
generation. A write's new chunks (of one source file or of many) and the retirement of their old ones are written
under the next generation, then one metadata write commits it. Readers see only chunks written by and not retired at
the committed generation, and read again when a commit happened while they read, so every document in a write changes
from its old chunks to its new ones in one step. A write marks the collection `writing` until it has finished, so the
next write knows when there is a crashed one to undo. One writer at a time holds the store's write lock, across
threads, processes and app instances (core.knowledge.write_lock).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from core.errors import UnknownCollection
from core.knowledge.generations import (
    NEVER,
    WRITE_BATCH,
    both,
    delete_ids,
    generation_of,
    is_visible,
    prepare,
    set_retired,
    visible,
)
from core.knowledge.records import (
    LINK_FIELDS,
    CollectionInfo,
    StoredState,
    check_collection_name,
    check_embedder,
    from_record,
    to_metadata,
)
from core.knowledge.store_errors import store_errors
from core.knowledge.write_lock import FileWriteLock, NoLock, ServerLease, WriteLock
from core.settings import Settings, redact_credentials
from core.types import Chunk

PREFIX = "polydesk-"
# Measured by bench/search.py and bench/ingest.py: recall@20 0.995 on real text, 1.75x the upsert speed of 200/32.
HNSW = {"space": "cosine", "ef_construction": 100, "max_neighbors": 16, "ef_search": 128}
READ_ATTEMPTS = 5
T = TypeVar("T")


@dataclass(frozen=True)
class SourceWrite:
    """One source file's change: its new chunks with their vectors, and the ids of its chunks they replace."""

    chunks: Sequence[Chunk]
    embeddings: np.ndarray
    stale_ids: Sequence[str]


class ChromaStore:
    """Embedded PersistentClient by default, HttpClient when POLYDESK_CHROMA_URL is set."""

    def __init__(self, client: Any, location: str, lock: WriteLock | None = None) -> None:
        self._client = client
        self.location = location
        self._lock = lock or NoLock()
        self._write_lock = threading.RLock()
        self._depth = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> ChromaStore:
        """Open the configured store; a server that cannot be reached or a broken store is a clear error."""
        import chromadb

        chroma_settings = chromadb.Settings(anonymized_telemetry=False)
        if settings.chroma_url:
            url, shown = urlparse(settings.chroma_url), redact_credentials(settings.chroma_url)
            with store_errors(shown):
                client = chromadb.HttpClient(
                    host=url.hostname or "localhost", port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https", settings=chroma_settings,
                )
            return cls(client, shown, ServerLease(client, shown, settings.write_wait))
        location = str(settings.chroma_path)
        with store_errors(location):
            settings.chroma_path.mkdir(parents=True, exist_ok=True)
            client = _persistent_client(location, chroma_settings)
        return cls(client, location, FileWriteLock(settings.chroma_path, settings.write_wait))

    def collections(self) -> list[CollectionInfo]:
        """Every Polydesk collection, by name."""
        with store_errors(self.location):
            found = [c for c in self._client.list_collections() if c.name.startswith(PREFIX)]
            return sorted((self._info(c) for c in found), key=lambda info: info.name)

    def info(self, name: str) -> CollectionInfo:
        """One collection's record."""
        return self._info(self._open(name))

    def open_for_ingest(self, name: str, model_id: str, dim: int, description: str = "") -> CollectionInfo:
        """Create the collection for this embedder, or check that an existing one was embedded the same way."""
        check_collection_name(name)
        with store_errors(self.location):
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
        with self._writing():
            self._open(name)
            with store_errors(self.location):
                self._client.delete_collection(PREFIX + name)

    def update_settings(self, name: str, *, description: str | None = None, rerank_instruction: str | None = None,
                        **links: str | None) -> CollectionInfo:
        """Change a collection's description, rerank instruction or link settings (base_url, url_*)."""
        unknown = set(links) - set(LINK_FIELDS)
        if unknown:
            raise TypeError(f"unknown collection settings: {', '.join(sorted(unknown))}")
        changes = {k: v for k, v in (("description", description), ("rerank_instruction", rerank_instruction),
                                     *links.items()) if v is not None}
        with self._writing():
            collection = self._open(name)
            _merge_metadata(collection, self.location, **changes)
        return self._info(collection)

    def source_state(self, name: str, source: str) -> StoredState:
        """The ids, content hashes and positions of one source file's chunks."""
        return self.source_states(name, [source])[source]

    def source_states(self, name: str, sources: Sequence[str]) -> dict[str, StoredState]:
        """`source_state` of several source files, read at once."""
        found = self._read(name, lambda collection, generation: collection.get(
            where=both({"source": {"$in": list(sources)}}, visible(generation)), include=["metadatas"]))
        states = {source: StoredState({}, {}) for source in sources}
        for chunk_id, metadata in zip(found["ids"], found["metadatas"] or [], strict=True):
            state = states[str(metadata["source"])]
            state.hashes[chunk_id] = str(metadata["content_hash"])
            state.positions[chunk_id] = int(metadata["chunk_index"])
        return states

    def embeddings_by_hash(self, name: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of these chunks, keyed by content hash, to reuse when text only moved."""
        if not ids:
            return {}
        with store_errors(self.location):
            found = self._open(name).get(ids=list(ids), include=["metadatas", "embeddings"])
        return {str(m["content_hash"]): np.asarray(e, dtype=np.float32)
                for m, e in zip(found["metadatas"], found["embeddings"], strict=True)}

    def write_source(self, name: str, chunks: Sequence[Chunk], embeddings: np.ndarray,
                     stale_ids: Sequence[str]) -> None:
        """Add a source's new chunks and retire its stale ones in one commit; re-running after a crash converges."""
        self.write_sources(name, [SourceWrite(chunks, embeddings, stale_ids)])

    def write_sources(self, name: str, writes: Sequence[SourceWrite]) -> None:
        """Several sources' changes in one commit, under the store's write lock: readers see all or none of them."""
        chunks = [c for w in writes for c in w.chunks]
        stale = [i for w in writes for i in w.stale_ids]
        if not chunks and not stale:
            return
        embeddings = np.concatenate([w.embeddings for w in writes if len(w.chunks)]) if chunks else None
        with self._writing():
            collection = self._open(name)
            with store_errors(self.location):
                following = prepare(collection) + 1
                _merge_metadata(collection, self.location, writing=following)
                for start in range(0, len(chunks), WRITE_BATCH):
                    batch = chunks[start : start + WRITE_BATCH]
                    collection.upsert(
                        ids=[c.id for c in batch], documents=[c.text for c in batch],
                        embeddings=embeddings[start : start + WRITE_BATCH],
                        metadatas=[to_metadata(c) | {"written": following, "retired": NEVER} for c in batch],
                    )
                    self._lock.renew()
                set_retired(collection, stale, following)
                self._lock.renew()
                _merge_metadata(collection, self.location, revision=uuid.uuid4().hex, generation=following)
                delete_ids(collection, stale)
                _merge_metadata(collection, self.location, writing=0)

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

    def chunk_languages(self, name: str) -> dict[str, str | None]:
        """The language of every chunk of a collection, by id, without reading the texts."""
        found = self._all(name, ["metadatas"])
        return {i: str(m.get("language") or "") or None for i, m in zip(found["ids"], found["metadatas"], strict=True)}

    def chunks(self, name: str, ids: Sequence[str]) -> list[Chunk]:
        """These chunks, in the order asked; ids that no longer exist are skipped."""
        if not ids:
            return []
        found = self._read(name, lambda collection, generation: collection.get(
            ids=list(ids), where=visible(generation), include=["documents", "metadatas"]))
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
                    if is_visible(m, generation)]

        return self._read(name, nearest)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One writer at a time: this process's threads by a lock, other processes by the store's write lock."""
        with self._write_lock, ExitStack() as outer:
            if self._depth == 0:
                outer.enter_context(store_errors(self.location))
                outer.enter_context(self._lock.held())
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1

    def _all(self, name: str, include: list[str]) -> dict[str, Any]:
        """Every visible chunk of a collection: the ids at once, then their fields in pages by id."""
        def read(collection: Any, generation: int | None) -> dict[str, list]:
            ids = collection.get(where=visible(generation), include=[])["ids"]
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
            generation = generation_of(collection)
            with store_errors(self.location):
                result = read(collection, generation)
            collection = self._open(name)
            if generation_of(collection) == generation:
                break
        return result

    def _open(self, name: str) -> Any:
        """The Chroma collection behind a Polydesk collection name."""
        from chromadb.errors import NotFoundError

        check_collection_name(name)
        with store_errors(self.location):
            try:
                return self._client.get_collection(PREFIX + name, embedding_function=None)
            except NotFoundError:
                pass
        known = ", ".join(info.name for info in self.collections()) or "none yet"
        raise UnknownCollection(
            f"There is no collection named {name!r} (existing: {known}). "
            f"Create it with `polydesk ingest PATH --collection {name}`."
        )

    def _info(self, collection: Any) -> CollectionInfo:
        """The record of a Chroma collection."""
        meta = collection.metadata or {}
        with store_errors(self.location):
            if meta.get("writing"):
                count = len(collection.get(where=visible(generation_of(collection)), include=[])["ids"])
            else:
                count = collection.count()
        return CollectionInfo(
            collection.name.removeprefix(PREFIX), count, str(meta.get("embedding_model", "")),
            int(meta.get("embedding_dim", 0)), str(meta.get("description", "")),
            str(meta.get("rerank_instruction", "")), str(meta.get("revision", "")),
            *(str(meta.get(key, "")) for key in LINK_FIELDS),
        )


def _persistent_client(location: str, chroma_settings: Any) -> Any:
    """An embedded client; one that fails to start is dropped from chromadb's cache, so the next try says why again."""
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient

    try:
        return chromadb.PersistentClient(path=location, settings=chroma_settings)
    except Exception:
        SharedSystemClient._identifier_to_system.pop(location, None)  # else it answers AttributeError from now on
        raise


def _merge_metadata(collection: Any, location: str, **changes: Any) -> None:
    """Merge changes into a collection's metadata (the caller holds the write lock, so no commit is undone)."""
    with store_errors(location):
        collection.modify(metadata={**(collection.metadata or {}), **changes})
