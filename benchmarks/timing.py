"""Timing helper shared by the micro benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_rate(fn: Callable[[], object], count: int, seconds: float = 2.0) -> float:
    """Best ``count``-per-second rate of ``fn`` over repeated runs lasting about ``seconds``."""
    best = float("inf")
    deadline = time.perf_counter() + seconds
    runs = 0
    while runs < 3 or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        runs += 1
    return count / best
