"""Test statistics shared by the permutation and randomization tests."""
from __future__ import annotations

from typing import Callable

import numpy as np

import scedsim as _ss

METRICS = ("nap", "tau", "ird", "pnd", "pem", "pand", "pet", "tau_u", "tau_bc", "smd", "lrr")
BUILTIN = ("mean_diff", "median_diff") + METRICS


def statistic_function(statistic, options: dict | None = None, improvement: str = "increase") -> tuple[str, Callable]:
    """``(name, f)`` where ``f(a2d, b2d) -> 1-D array`` computes the statistic per row.

    ``a2d`` and ``b2d`` are already oriented so that higher is better (negated for
    ``improvement="decrease"``).  The log response ratio, a ratio of raw means, is
    computed on the original data with the direction passed on.  A user callable
    ``g(a, b)`` is called per row when it does not accept 2-D input.
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
    if statistic == "mean_diff":
        return statistic, lambda a, b: b.mean(axis=1) - a.mean(axis=1)
    if statistic == "median_diff":
        return statistic, lambda a, b: np.median(b, axis=1) - np.median(a, axis=1)
    if statistic in METRICS:
        func = getattr(_ss, statistic)
        if statistic in ("nap", "tau", "tau_bc"):
            options.setdefault("se", "none")
        if statistic == "lrr" and improvement == "decrease":
            def f(a, b):
                return np.asarray(func(-a, -b, improvement="decrease", **options).estimate, dtype=np.float64)
        else:
            def f(a, b):
                return np.asarray(func(a, b, **options).estimate, dtype=np.float64)

        return statistic, f
    raise ValueError(f"unknown statistic {statistic!r}; expected one of {', '.join(BUILTIN)} or a callable")
