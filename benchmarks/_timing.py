"""Shared timing helper for the benchmark scripts."""
from __future__ import annotations

import time


def best(fn, repeats: int = 3) -> float:
    """Best wall time of ``fn()`` over ``repeats`` runs, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
