"""Questions first: while a question is searched and reranked, an ingest's embedding in the same process waits.

On a CPU both would run on the same cores and slow each other down; a question is what an agent waits for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

# The longest background work waits for questions before it takes a turn: a question with 0.6B models on 2 CPU cores
# takes about 10 s, and waiting for models on a first start adds more.
PATIENCE_S = 20.0


class Foreground:
    """Counts the questions in flight; background work gives way to them between its steps."""

    def __init__(self, patience: float = PATIENCE_S) -> None:
        self.patience = patience
        self._questions = 0
        self._changed = threading.Condition()
        self._own_turn_until = 0.0

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

    def give_way(self) -> None:
        """Wait until no question runs. When questions keep coming past `patience`, background work then runs as
        long as it waited without waiting again: under a steady stream of questions it still gets half the time."""
        start = time.monotonic()
        if start < self._own_turn_until:
            return
        with self._changed:
            idle = self._changed.wait_for(lambda: self._questions == 0, self.patience)
        if not idle:
            now = time.monotonic()
            self._own_turn_until = now + (now - start)
