"""Test results and the mapping of ``alternative`` to p-values, shared by every test."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ALTERNATIVES", "ALT_CODES", "TestResult", "TIE_RTOL", "count_extreme", "pvalue_from_counts"]

# Values within this relative distance of the observed statistic count as equal
# to it: statistics equal in exact arithmetic must tie whatever rounding does.
TIE_RTOL = 1e-9
ALTERNATIVES = ("greater", "less", "two-sided")
# The same choices as integers, for kernels that compute p-values themselves.
ALT_CODES = {"greater": 0, "less": 1, "two-sided": 2}


@dataclass(frozen=True)
class TestResult:
    """Outcome of an exact or Monte Carlo test.

    Attributes
    ----------
    statistic : float or ndarray
        Observed statistic (oriented so that larger means improvement).
    pvalue : float or ndarray
    n_arrangements : int
        Size of the reference set (or Monte Carlo resamples + 1).
    min_pvalue : float
        The smallest p-value the test can give for this design.
    method : str
        ``"exact"`` or ``"monte_carlo"``.
    alternative : str
    null_distribution : ndarray or None
        The statistic over the reference set, with ``return_distribution=True``.
    """

    statistic: Any
    pvalue: Any
    n_arrangements: int
    min_pvalue: float
    method: str
    alternative: str
    null_distribution: Any = None

    def __repr__(self) -> str:
        if np.ndim(self.pvalue):
            return (f"TestResult(batch of {np.size(self.pvalue)}, method={self.method!r}, "
                    f"n_arrangements={self.n_arrangements}, min_pvalue={self.min_pvalue:.4g})")
        return (f"TestResult(statistic={self.statistic:.4g}, pvalue={self.pvalue:.4g}, method={self.method!r}, "
                f"n_arrangements={self.n_arrangements}, min_pvalue={self.min_pvalue:.4g})")


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
