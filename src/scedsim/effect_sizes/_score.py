"""The Newcombe score interval for NAP, shared by NAP, Tau and Tau-BC.

Private to ``effect_sizes``: the metric modules take the table and the solver
from here rather than from each other.  :func:`score_ci` is public and exported
as ``scedsim.score_ci``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .._validation import check_choice, z_for
from . import _kernels as K

__all__ = ["score_ci", "CI_ROOTS", "EMPTY_TABLE", "ci_table", "tau_ci_table", "score_bounds", "use_table"]

# Passed to the kernels in place of a table when the bounds are solved afterwards.
EMPTY_TABLE = np.empty((2, 0))


# Root-finder tolerances for the score interval: R's uniroot default, as
# SingleCaseES uses, or machine precision.
CI_ROOTS = {"uniroot": float(np.finfo(float).eps ** 0.25), "exact": 0.0}


@lru_cache(maxsize=256)
def ci_table(m: int, n: int, z: float, tol: float) -> np.ndarray:
    """Newcombe bounds for every attainable NAP = k/(2mn), k = 0..2mn."""
    vals = np.arange(2 * m * n + 1) / (2.0 * m * n)
    out = np.empty((2, vals.size))
    K._score_ci(vals, m, n, z, tol, out)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=256)
def tau_ci_table(m: int, n: int, z: float, tol: float) -> np.ndarray:
    """:func:`ci_table` mapped to Tau = 2 NAP - 1 (the same arithmetic as the kernels' mapping)."""
    out = 2.0 * ci_table(m, n, z, tol) - 1.0
    out.flags.writeable = False
    return out


def score_bounds(nap_values: np.ndarray, m: int, n: int, z: float, tol: float) -> np.ndarray:
    """Score bounds for a few NAP values, solved directly (no table)."""
    ci = np.empty((2, nap_values.size))
    K._score_ci(np.ascontiguousarray(nap_values, dtype=np.float64), m, n, z, tol, ci)
    return ci


def use_table(rows: int, m: int, n: int) -> bool:
    # Tabulating all 2mn + 1 attainable values pays off once the batch is larger.
    return rows * 4 >= 2 * m * n + 1


def score_ci(estimate, m: int, n: int, *, confidence: float = 0.95, ci_roots: str = "uniroot"):
    """Newcombe (2006) score confidence interval for NAP (the AUC).

    Parameters
    ----------
    estimate : float or array_like
        NAP value(s) in [0, 1].
    m, n : int
        Number of points in phase A and B.
    confidence : float
        Confidence level.
    ci_roots : {"uniroot", "exact"}
        How precisely the bounds are solved.  ``"uniroot"`` (default) stops
        Brent's method at R's ``uniroot`` tolerance, eps^0.25 ~ 1.2e-4, which
        reproduces SingleCaseES's bounds to 1e-16; those are within about 3e-5
        of the true roots.  ``"exact"`` solves to machine precision.  The
        bounds at NAP = 0 and 1, which SingleCaseES does not give, are always
        solved to machine precision.

    Returns
    -------
    (lower, upper) : tuple of float or numpy.ndarray

    Notes
    -----
    Method 5 of Newcombe (2006).  At NAP = 1 the lower bound is the root of
    f(x)/(1 - x) inside (0, 1), not the spurious root x = 1 that SingleCaseES's
    root finder returns (its interval there is the degenerate [1, 1]); likewise
    at NAP = 0.

    References
    ----------
    Newcombe, R. G. (2006). Confidence intervals for an effect size measure
    based on the Mann-Whitney statistic. Part 2: Asymptotic methods and
    evaluation. *Statistics in Medicine*, 25(4), 559-573.

    Examples
    --------
    The interval of NAP = 38.5/42 in the first example of Parker, Vannest &
    Davis (2011), 6 + 7 points, and the real lower bound at complete
    nonoverlap with 3 + 4 points (SingleCaseES gives [1, 1]):

    >>> import scedsim as ss
    >>> lo, hi = ss.score_ci(38.5 / 42, 6, 7)
    >>> round(lo, 4), round(hi, 4)
    (0.5973, 0.986)
    >>> lo, hi = ss.score_ci(1.0, 3, 4)
    >>> round(lo, 4), hi
    (0.5397, 1.0)
    >>> lo, hi = ss.score_ci([0.5, 0.75], 3, 4)   # one bound per value
    >>> lo.round(4), hi.round(4)
    (array([0.1669, 0.3221]), array([0.8331, 0.9459]))
    """
    z = z_for(confidence)
    tol = CI_ROOTS[check_choice("ci_roots", ci_roots, tuple(CI_ROOTS))]
    arr = np.atleast_1d(np.asarray(estimate, dtype=np.float64))
    if np.any(~np.isfinite(arr)) or np.any((arr < 0) | (arr > 1)):
        raise ValueError("NAP values for a score interval must lie in [0, 1]")
    if int(m) < 1 or int(n) < 1:
        raise ValueError(f"a score interval needs at least 1 point per phase, got m={m}, n={n}")
    out = score_bounds(arr, int(m), int(n), z, tol)
    if np.ndim(estimate) == 0:
        return float(out[0, 0]), float(out[1, 0])
    return out[0], out[1]
