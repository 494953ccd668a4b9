"""Files' chunks gathered and written to the store together: one commit for many files, each file still atomic."""

from __future__ import annotations

from core.knowledge.generations import WRITE_BATCH
from core.knowledge.store import ChromaStore, SourceWrite
from core.timing import timed


class WriteBatch:
    """Sources' changes held until they make `rows` rows (or the run ends), then committed in one generation."""

    def __init__(self, store: ChromaStore, collection: str, seconds: dict[str, float], rows: int = WRITE_BATCH) -> None:
        self.store = store
        self.collection = collection
        self.seconds = seconds
        self.rows = rows
        self._writes: dict[str, SourceWrite] = {}

    def __contains__(self, source: str) -> bool:
        return source in self._writes

    def add(self, source: str, write: SourceWrite) -> None:
        """Hold one source's change (the caller flushes first when the source is held already); commit when full."""
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
