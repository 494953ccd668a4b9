"""The store as an ingest run uses it: stored states read for many files at once, and their changes written together
in one commit (each file still atomic to readers)."""

from __future__ import annotations

from core.knowledge.generations import WRITE_BATCH
from core.knowledge.records import StoredState
from core.knowledge.store import ChromaStore, SourceWrite
from core.timing import timed


class WriteBatch:
    """Sources' changes held until they make `rows` rows (or the run ends), then committed in one generation."""

    def __init__(self, store: ChromaStore, collection: str, seconds: dict[str, float], sources: list[str],
                 rows: int = WRITE_BATCH) -> None:
        self.store = store
        self.collection = collection
        self.seconds = seconds
        self.rows = rows
        self._states = StoredStates(store, collection, sources)
        self._writes: dict[str, SourceWrite] = {}

    def stored(self, source: str) -> StoredState:
        """A source's committed chunks (its held change, if any, is committed first)."""
        if source in self._writes:
            self.flush()
        return self._states.get(source)

    def add(self, source: str, write: SourceWrite) -> None:
        """Hold one source's change (after `stored` for it); commit the batch once it is big enough."""
        self._writes[source] = write
        if sum(len(w.chunks) + len(w.stale_ids) for w in self._writes.values()) >= self.rows:
            self.flush()

    def flush(self) -> None:
        """Commit every held change in one generation (readers see each file's old chunks or its new ones)."""
        if not self._writes:
            return
        with timed(self.seconds, "store", scale=1.0):
            self.store.write_sources(self.collection, list(self._writes.values()))
        self._writes.clear()


class StoredStates:
    """Each file's stored chunks, read for `ahead` files of the run at once; a file seen before is read again."""

    def __init__(self, store: ChromaStore, collection: str, sources: list[str], ahead: int = 200) -> None:
        self.store = store
        self.collection = collection
        self.sources = sources
        self.ahead = ahead
        self._read: dict[str, StoredState] = {}
        self._next = 0

    def get(self, source: str) -> StoredState:
        """The committed chunks of one source (call after flushing a batch that holds it)."""
        if source not in self._read:
            upcoming = [s for s in self.sources[self._next : self._next + self.ahead] if s not in self._read]
            self._next += self.ahead
            self._read.update(self.store.source_states(self.collection, sorted({source, *upcoming})))
        return self._read.pop(source)
