"""Test statistics shared by the permutation and randomization tests."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..registry import metrics

#: Statistics that are not registered metrics.
PLAIN = {
    "mean_diff": lambda a, b: b.mean(axis=1) - a.mean(axis=1),
    "median_diff": lambda a, b: np.median(b, axis=1) - np.median(a, axis=1),
}


def statistic_names() -> tuple[str, ...]:
    """Every statistic a permutation or randomization test accepts by name."""
    return tuple(PLAIN) + tuple(n for n, m in metrics().items() if m.statistic)


def statistic_function(statistic, options: dict | None = None, improvement: str = "increase") -> tuple[str, Callable]:
    """``(name, f)`` where ``f(a2d, b2d) -> 1-D array`` computes the statistic per row.

    ``a2d`` and ``b2d`` are already oriented so that higher is better (negated for
    ``improvement="decrease"``).  A registered metric that is not oriented (the
    log response ratio, a ratio of raw means) is computed on the original data
    with the direction passed on.  A user callable ``g(a, b)`` is called per row
    when it does not accept 2-D input.
    """
    options = dict(options or {})
    if callable(statistic):
        g = statistic

        def one(a, b):
            v = g(a, b)
            return float(getattr(v, "estimate", v))

        def f(a, b):
            try:
                out = np.asarray(g(a, b), dtype=np.float64)
                if out.shape == (a.shape[0],):
                    return out
            except Exception:  # noqa: BLE001 - fall back to one row at a time
                pass
            return np.array([one(a[i], b[i]) for i in range(a.shape[0])])

        return getattr(statistic, "__name__", "custom"), f
    if statistic in PLAIN:
        if options:
            raise ValueError(f"statistic {statistic!r} takes no options, got {', '.join(options)}")
        return statistic, PLAIN[statistic]
    entry = metrics().get(statistic) if isinstance(statistic, str) else None
    if entry is not None and entry.statistic:
        def f(a, b):
            return entry.estimates(a, b, improvement, **options)

        return statistic, f
    raise ValueError(f"unknown statistic {statistic!r}; expected one of {', '.join(statistic_names())} "
                     "or a callable")
