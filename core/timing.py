"""Per-stage wall-clock timing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def timed(totals: dict[str, float], stage: str, scale: float = 1000.0) -> Iterator[None]:
    """Add the time spent in the block to `totals[stage]`, in milliseconds by default (scale=1 for seconds)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        totals[stage] = totals.get(stage, 0.0) + (time.perf_counter() - start) * scale


def with_wait(timings: dict[str, float], waited_ms: float) -> dict[str, float]:
    """Timings in milliseconds with a wait before the work counted as loading, and in the total."""
    if not waited_ms:
        return dict(timings)
    return {**timings, "load": timings.get("load", 0.0) + waited_ms, "total": timings.get("total", 0.0) + waited_ms}
