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


def with_added(timings: dict[str, float], earlier: dict[str, float]) -> dict[str, float]:
    """Timings in milliseconds with the stages of earlier work (loading, waiting, rewriting) added, and to the total."""
    combined = dict(timings)
    for stage, ms in earlier.items():
        combined[stage] = combined.get(stage, 0.0) + ms
    combined["total"] = combined.get("total", 0.0) + sum(earlier.values())
    return combined
