"""Questions first: while a question is searched and reranked, an ingest's embedding in the same process waits.

On a CPU both would run on the same cores and slow each other down; a question is what an agent waits for.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

GIVE_WAY_S = 10.0  # the longest a background step waits, so that a stream of questions never stalls an ingest


class Foreground:
    """Counts the questions in flight; background work gives way to them between its steps."""

    def __init__(self) -> None:
        self._questions = 0
        self._changed = threading.Condition()

    @contextmanager
    def question(self) -> Iterator[None]:
        """Hold while a question runs."""
        with self._changed:
            self._questions += 1
        try:
            yield
        finally:
            with self._changed:
                self._questions -= 1
                self._changed.notify_all()

    def give_way(self, timeout: float = GIVE_WAY_S) -> None:
        """Wait until no question runs, at most `timeout` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self._questions == 0, timeout)
