"""One model, many threads: calls that arrive while the model is busy are merged into its next batch.

Each caller submits its items under a key (calls merge only with calls of the same key, e.g. the same reranker
instruction) and waits. Whoever gets the model next takes every waiting call, runs each key's items as one batch,
and hands every caller its own slice of the outputs. When a merged batch fails, its calls run again one by one,
so an error belongs only to the call that causes it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Call(Generic[T]):
    """One caller's items, and what became of them."""

    key: Hashable
    items: list[T]
    done: bool = False
    output: Any = None
    error: BaseException | None = None


class MergingQueue(Generic[T, R]):
    """Serialises `run(key, items)` across threads and merges the calls that wait into one batch per key."""

    def __init__(self, run: Callable[[Hashable, list[T]], Sequence[R]], max_items: int = 512) -> None:
        self._run = run
        self.max_items = max_items
        self._waiting: list[_Call[T]] = []
        self._waiting_lock = threading.Lock()
        self._model_lock = threading.Lock()

    def submit(self, key: Hashable, items: Sequence[T]) -> Sequence[R]:
        """The outputs of `run(key, items)`, computed alone or in one batch with other threads' items."""
        call = _Call(key, list(items))
        with self._waiting_lock:
            self._waiting.append(call)
        while not call.done:
            with self._model_lock:
                if not call.done:
                    self._run_batch(self._take())
        if call.error is not None:
            raise call.error
        return call.output

    def _take(self) -> list[_Call[T]]:
        """The oldest waiting calls, up to max_items items (at least one call)."""
        with self._waiting_lock:
            taken, size = [], 0
            while self._waiting and (not taken or size + len(self._waiting[0].items) <= self.max_items):
                size += len(self._waiting[0].items)
                taken.append(self._waiting.pop(0))
            return taken

    def _run_batch(self, calls: list[_Call[T]]) -> None:
        """Run each key's calls as one batch; split a failed batch into its calls."""
        groups: dict[Hashable, list[_Call[T]]] = {}
        for call in calls:
            groups.setdefault(call.key, []).append(call)
        for key, group in groups.items():
            try:
                outputs = self._run(key, [item for call in group for item in call.items])
            except Exception as exc:
                if len(group) == 1:
                    self._finish(group[0], error=exc)
                else:
                    for call in group:
                        self._run_batch([call])
                continue
            start = 0
            for call in group:
                self._finish(call, output=outputs[start : start + len(call.items)])
                start += len(call.items)

    @staticmethod
    def _finish(call: _Call[T], output: Any = None, error: BaseException | None = None) -> None:
        """Hand a call its outputs or its error."""
        call.output, call.error, call.done = output, error, True


def token_batches(lengths: Sequence[int], max_tokens: int, max_items: int) -> list[list[int]]:
    """Indices grouped longest first, at most `max_items` a group, each group's padded size (its size x its
    longest) within `max_tokens`; a longer item goes alone. Neighbours in length share a group: little padding."""
    groups: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        last = groups[-1] if groups else []
        if last and len(last) < max_items and (len(last) + 1) * lengths[last[0]] <= max_tokens:
            last.append(index)
        else:
            groups.append([index])
    return groups
