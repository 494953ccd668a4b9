"""Collections being ingested for the first time: searchable by keywords from memory until their embeddings are stored.

A first ingest that chunks every file before embedding any hands its chunks over here; searches of the collection
then use a BM25 index of those chunks and never the store, which holds only the files embedded so far. When the run
has written everything, the collection is removed from here and searches become hybrid over the store.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from core.knowledge.lexical import LexicalIndex
from core.types import Chunk


@dataclass
class PendingCollection:
    """A collection's chunks, their BM25 index, and how many of them are embedded so far."""

    chunks: dict[str, Chunk]
    index: LexicalIndex
    embedded: int = 0

    @property
    def total(self) -> int:
        """The chunks to embed."""
        return len(self.chunks)

    def warning(self, name: str) -> str:
        """What a search of this collection says about its results."""
        return (f"Lexical search only in {name}: its embeddings are still being computed ({self.embedded} of "
                f"{self.total} chunks); searches become hybrid once they are stored.")


class PendingCollections:
    """The collections of a store whose first ingest has chunked every file but not stored every embedding yet."""

    def __init__(self) -> None:
        self._pending: dict[str, PendingCollection] = {}
        self._lock = threading.Lock()

    def add(self, name: str, chunks: Sequence[Chunk]) -> None:
        """Make a collection's chunks searchable by keywords until `remove`."""
        index = LexicalIndex([c.id for c in chunks], [c.text for c in chunks], [c.language for c in chunks])
        with self._lock:
            self._pending[name] = PendingCollection({c.id: c for c in chunks}, index)

    def embedded(self, name: str, count: int) -> None:
        """Note how many of a pending collection's chunks are embedded."""
        with self._lock:
            if name in self._pending:
                self._pending[name].embedded = count

    def remove(self, name: str) -> None:
        """The collection is fully stored (or its ingest ended): search the store again."""
        with self._lock:
            self._pending.pop(name, None)

    def get(self, name: str) -> PendingCollection | None:
        """The pending state of a collection, or None when searches use the store."""
        with self._lock:
            return self._pending.get(name)
