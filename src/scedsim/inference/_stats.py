"""Test statistics shared by the permutation and randomization tests."""
from __future__ import annotations

from typing import Callable

import numpy as np

import scedsim as _ss

# Values within this relative distance of the observed statistic count as equal
# to it: statistics equal in exact arithmetic must tie whatever rounding does.
TIE_RTOL = 1e-9
METRICS = ("nap", "tau", "ird", "pnd", "pem", "pand", "pet", "tau_u", "tau_bc", "smd", "lrr")
BUILTIN = ("mean_diff", "median_diff") + METRICS


def statistic_function(statistic, options: dict | None = None) -> tuple[str, Callable]:
    """``(name, f)`` where ``f(a2d, b2d) -> 1-D array`` computes the statistic per row.

    ``a2d`` and ``b2d`` are already oriented so that higher is better.  A user
    callable ``g(a, b)`` is called per row when it does not accept 2-D input.
    """
    options = dict(options or {})
    if callable(statistic):
        g = statistic

        def f(a, b):
            try:
                out = np.asarray(g(a, b), dtype=np.float64)
                if out.shape == (a.shape[0],):
                    return out
            except Exception:  # noqa: BLE001 - fall back to one row at a time
                pass
            return np.array([float(getattr(g(a[i], b[i]), "estimate", g(a[i], b[i]))) for i in range(a.shape[0])])

        return getattr(statistic, "__name__", "custom"), f
    if statistic == "mean_diff":
        return statistic, lambda a, b: b.mean(axis=1) - a.mean(axis=1)
    if statistic == "median_diff":
        return statistic, lambda a, b: np.median(b, axis=1) - np.median(a, axis=1)
    if statistic in METRICS:
        func = getattr(_ss, statistic)
        if statistic in ("nap", "tau", "tau_bc"):
            options.setdefault("se", "none")

        def f(a, b):
            return np.asarray(func(a, b, **options).estimate, dtype=np.float64)

        return statistic, f
    raise ValueError(f"unknown statistic {statistic!r}; expected one of {', '.join(BUILTIN)} or a callable")


def count_extreme(null: np.ndarray, observed: np.ndarray, alternative: str, exclude_equal: bool = False):
    """Per row, how many null values are at least as extreme as the observed one.

    ``null`` is ``(rows, K)``; ``observed`` ``(rows,)``.  Ties are judged with a
    relative tolerance of ``TIE_RTOL`` of the row's largest magnitude.
    Returns ``(count_greater, count_less)`` as integer arrays (each including ties
    unless ``exclude_equal``).
    """
    scale = np.maximum(np.nanmax(np.abs(null), axis=1), np.abs(observed))
    tol = TIE_RTOL * np.maximum(scale, 1e-300)[:, None]
    diff = null - observed[:, None]
    if exclude_equal:
        ge = (diff > tol).sum(axis=1)
        le = (diff < -tol).sum(axis=1)
    else:
        ge = (diff >= -tol).sum(axis=1)
        le = (diff <= tol).sum(axis=1)
    return ge, le


def pvalue_from_counts(ge, le, total, alternative: str, plus_one: bool = False):
    """p-values from counts; ``plus_one`` gives the Monte Carlo form (1 + count)/(1 + R)."""
    add = 1 if plus_one else 0
    pg = (ge + add) / (total + add)
    pl = (le + add) / (total + add)
    if alternative == "greater":
        return pg
    if alternative == "less":
        return pl
    return np.minimum(1.0, 2.0 * np.minimum(pg, pl))
