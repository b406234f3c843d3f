"""Test statistics shared by the permutation and randomization tests."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..registry import metrics

# Values within this relative distance of the observed statistic count as equal
# to it: statistics equal in exact arithmetic must tie whatever rounding does.
TIE_RTOL = 1e-9
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


def count_extreme(null: np.ndarray, observed: np.ndarray, alternative: str, exclude_equal: bool = False,
                  data_scale=None):
    """Per row, how many null values are at least as extreme as the observed one.

    ``null`` is ``(rows, K)``; ``observed`` ``(rows,)``.  Values within
    ``TIE_RTOL`` of the larger of the statistics' and the data's magnitude
    (``data_scale``, per row) count as equal.  Arrangements whose statistic is
    undefined (NaN) are left out of the reference set.

    Returns ``(count_greater, count_less, n_defined)``: the first two include
    ties unless ``exclude_equal``.
    """
    with np.errstate(invalid="ignore"):
        scale = np.fmax(np.nanmax(np.abs(np.where(np.isnan(null), 0.0, null)), axis=1), np.abs(observed))
    if data_scale is not None:
        scale = np.fmax(scale, np.asarray(data_scale, dtype=np.float64))
    tol = TIE_RTOL * np.maximum(np.nan_to_num(scale), 1e-300)[:, None]
    diff = null - observed[:, None]
    if exclude_equal:
        ge = (diff > tol).sum(axis=1)
        le = (diff < -tol).sum(axis=1)
    else:
        ge = (diff >= -tol).sum(axis=1)
        le = (diff <= tol).sum(axis=1)
    return ge, le, (~np.isnan(null)).sum(axis=1)


def pvalue_from_counts(ge, le, total, alternative: str, plus_one: bool = False, observed=None):
    """p-values from counts; ``plus_one`` gives the Monte Carlo form (1 + count)/(1 + R).
    ``total`` may vary by row; an undefined observed statistic gives NaN."""
    add = 1 if plus_one else 0
    total = np.asarray(total, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        pg = (ge + add) / (total + add)
        pl = (le + add) / (total + add)
    if alternative == "greater":
        p = pg
    elif alternative == "less":
        p = pl
    else:
        p = np.minimum(1.0, 2.0 * np.minimum(pg, pl))
    if observed is not None:
        p = np.where(np.isnan(observed), np.nan, p)
    return p
