"""The randomization test of an alternating treatments design, batched for the simulator.

In an alternating treatments design (ATD) the two conditions are assigned to
the occasions at random, a fixed number each, no condition more than
``max_run`` times in a row (Onghena & Edgington 1994).  The randomization test
compares the statistic of the sequence actually drawn with its value under
every admissible sequence: the p-value is the share of admissible sequences
whose statistic is at least the observed one (Edgington & Onghena 2007).
When the data do not depend on the assignment (any null of no effect, whatever
the autocorrelation or trend) and the statistics of the sequences are
distinct, the observed one's rank is uniform, so P(p <= alpha) =
floor(alpha K) / K exactly for K admissible sequences.

:func:`atd_pvalues` computes the test for a batch of series, each with its
own observed sequence; :meth:`scedsim.designs.AlternatingTreatments.test`
is the same test for one series (the tests check that they agree).

References
----------
Edgington, E. S., & Onghena, P. (2007). *Randomization tests* (4th ed.).
Chapman & Hall/CRC.

Onghena, P., & Edgington, E. S. (1994). Randomization tests for restricted
alternating treatments designs. *Behaviour Research and Therapy*, 32(7),
783-786.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..registry import TestSpec, register_test
from ._result import ALTERNATIVES, count_extreme, pvalue_from_counts
from ._stats import statistic_function

__all__ = ["atd_pvalues", "atd_count", "MAX_ATD_EXACT"]

#: Largest reference set enumerated; above it the p-value is a Monte Carlo one.
MAX_ATD_EXACT = 100_000


@functools.lru_cache(maxsize=32)
def _design(n_time: int, max_run, a: int, b: int):
    from ..designs import AlternatingTreatments

    return AlternatingTreatments(n_time, max_run=max_run, n_per_condition=(a, b))


@functools.lru_cache(maxsize=16)
def _reference(n_time: int, max_run, a: int, b: int) -> np.ndarray:
    """Every admissible sequence as a read-only (K, n_time) 0/1 array (1 = B)."""
    ref = _design(n_time, max_run, a, b).assignments(MAX_ATD_EXACT)[:, 0, :].astype(np.int8)
    ref.setflags(write=False)
    return ref


def atd_count(n_time: int, max_run, a: int, b: int) -> int:
    """Number of admissible sequences with ``a`` A and ``b`` B occasions, no run longer
    than ``max_run`` (None: no limit); 0 when there is none."""
    if a < 1 or b < 1 or a + b != n_time:
        return 0
    try:
        return _design(int(n_time), max_run, int(a), int(b)).n_assignments()
    except ValueError:
        return 0


def _longest_runs(codes: np.ndarray) -> np.ndarray:
    run = np.ones(codes.shape[0], dtype=np.int64)
    best = run.copy()
    for t in range(1, codes.shape[1]):
        run = np.where(codes[:, t] == codes[:, t - 1], run + 1, 1)
        best = np.maximum(best, run)
    return best


def _gather(y: np.ndarray, masks: np.ndarray, a: int, b: int):
    """A and B values (in time order) of every row of ``y`` under every sequence of
    ``masks``: two (rows * K, a) and (rows * K, b) arrays."""
    order = np.argsort(masks, axis=1, kind="stable")  # A positions first, each in time order
    ia, ib = order[:, :a], order[:, a:]
    return (np.ascontiguousarray(y[:, ia].reshape(-1, a)), np.ascontiguousarray(y[:, ib].reshape(-1, b)))


def atd_pvalues(y, codes, improvement: str = "increase", *, statistic="mean_diff", max_run=2,
                alternative: str = "greater", max_arrangements: int = MAX_ATD_EXACT, n_resamples: int = 1999,
                options: dict | None = None, rng=None) -> np.ndarray:
    """Randomization-test p-values of alternating treatments series, one per row.

    Parameters
    ----------
    y : array_like, shape (rows, n_time)
        The series in time order.  A row holding NaN gets p = NaN (the test
        needs every occasion).
    codes : array_like, shape (rows, n_time)
        The condition actually given at each occasion: 0 = A (baseline), 1 = B;
        every row with the same number of B occasions.
    improvement : {"increase", "decrease"}
    statistic : str or callable
        ``"mean_diff"`` (B mean minus A mean, computed for all sequences at once
        as a matrix product), ``"median_diff"`` or a metric name such as ``"nap"``.
    max_run : int or None
        The design's largest admissible run of one condition: the reference set is
        every sequence with these counts and no longer run.
    alternative : {"greater", "less", "two-sided"}
    max_arrangements, n_resamples
        Above ``max_arrangements`` admissible sequences the p-value is the Monte
        Carlo one, (1 + count) / (1 + R) over ``n_resamples`` sequences drawn
        uniformly; their seed is a hash of ``y``, so results depend only on the data.

    Returns
    -------
    ndarray of shape (rows,)

    References
    ----------
    Onghena, P., & Edgington, E. S. (1994). Randomization tests for restricted
    alternating treatments designs. *Behaviour Research and Therapy*, 32(7),
    783-786.

    Examples
    --------
    >>> y = np.array([[1, 5, 6, 2, 1, 6, 2, 5, 6, 2, 1, 5.]])
    >>> codes = np.array([[0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1]])
    >>> float(atd_pvalues(y, codes)[0] * 208)
    1.0
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, got {alternative!r}")
    if improvement not in ("increase", "decrease"):
        raise ValueError(f"improvement must be 'increase' or 'decrease', got {improvement!r}")
    y = np.asarray(y, dtype=np.float64)
    codes = np.asarray(codes)
    if y.ndim != 2 or codes.shape != y.shape:
        raise ValueError(f"y and codes must be 2-D arrays of the same shape, got {y.shape} and {codes.shape}")
    rows, n_time = y.shape
    out = np.full(rows, np.nan)
    if rows == 0:
        return out
    if not np.isin(codes, (0, 1)).all():
        raise ValueError("codes must be 0 (A) or 1 (B)")
    nb = codes.sum(axis=1)
    if np.any(nb != nb[0]):
        raise ValueError("every series needs the same number of B occasions")
    b = int(nb[0])
    a = n_time - b
    if a < 1 or b < 1:
        raise ValueError("each condition needs at least one occasion")
    max_run = None if max_run is None or max_run == "none" else int(max_run)
    if max_run is not None and np.any(_longest_runs(codes) > max_run):
        raise ValueError(f"an observed sequence has a run longer than max_run={max_run}: it is not in the "
                         "design's reference set")
    name, f = statistic_function(statistic, options, improvement)
    ok = ~np.isnan(y).any(axis=1)
    if not ok.any():
        return out
    yy = y[ok] if improvement == "increase" else -y[ok]
    cc = codes[ok].astype(np.int8)
    total = atd_count(n_time, max_run, a, b)
    monte_carlo = total > max_arrangements
    if monte_carlo:
        from .randomization import _data_rng

        ref = _design(n_time, max_run, a, b).sample(_data_rng(y, rng), int(n_resamples))[:, 0, :]
    else:
        ref = _reference(n_time, max_run, a, b)
    scale = np.abs(yy).max(axis=1)
    K = ref.shape[0]
    p = np.empty(yy.shape[0])
    if name == "mean_diff":
        # Linear in the B sum: the statistic of every sequence is one matrix product.
        tot = yy.sum(axis=1)
        refm = ref.astype(np.float64)
        step = max(1, 4_000_000 // K)
        for lo in range(0, yy.shape[0], step):
            hi = min(yy.shape[0], lo + step)
            sb = yy[lo:hi] @ refm.T
            null = sb / b - (tot[lo:hi, None] - sb) / a
            sbo = (yy[lo:hi] * cc[lo:hi]).sum(axis=1)
            obs = sbo / b - (tot[lo:hi] - sbo) / a
            ge, le, k_def = count_extreme(null, obs, alternative, data_scale=scale[lo:hi])
            p[lo:hi] = pvalue_from_counts(ge, le, k_def, alternative, plus_one=monte_carlo, observed=obs)
    else:
        step = max(1, 2_000_000 // (K * n_time))
        for lo in range(0, yy.shape[0], step):
            hi = min(yy.shape[0], lo + step)
            ya, yb = _gather(yy[lo:hi], ref, a, b)
            null = f(ya, yb).reshape(hi - lo, K)
            oa, ob = _gather_rows(yy[lo:hi], cc[lo:hi], a)
            obs = np.asarray(f(oa, ob), dtype=np.float64)
            ge, le, k_def = count_extreme(null, obs, alternative, data_scale=scale[lo:hi])
            p[lo:hi] = pvalue_from_counts(ge, le, k_def, alternative, plus_one=monte_carlo, observed=obs)
    out[ok] = p
    return out


def _gather_rows(y: np.ndarray, codes: np.ndarray, a: int):
    order = np.argsort(codes, axis=1, kind="stable")
    return (np.ascontiguousarray(np.take_along_axis(y, order[:, :a], axis=1)),
            np.ascontiguousarray(np.take_along_axis(y, order[:, a:], axis=1)))


# --------------------------------------------------------------------------- registry entry

def _max_run(options: dict):
    v = options.get("max_run", 2)
    return None if v is None or v == "none" else int(v)


def _n_ref(options: dict, m: int, n: int) -> tuple[int, bool]:
    total = atd_count(m + n, _max_run(options), m, n)
    cap = int(options.get("max_arrangements", MAX_ATD_EXACT))
    if total > cap:
        return int(options.get("n_resamples", 1999)) + 1, True
    return total, False


def _atd_min_pvalue(options: dict, m: int, n: int, n_cases: int) -> float:
    k, _ = _n_ref(options, m, n)
    if k == 0:
        return 1.0
    two = 2.0 if options.get("alternative") == "two-sided" else 1.0
    return min(1.0, two / k)


def _atd_null(options: dict, m: int, n: int):
    """The p-value's exact null distribution: uniform ranks over the K admissible
    sequences, for a statistic that separates every two sequences on continuous
    data (the mean difference: distinct B-sets have distinct sums)."""
    if options.get("statistic") != "mean_diff" or "max_run" not in options:
        return None  # ties between sequences, or the design's run limit not resolved
    k, mc = _n_ref(options, m, n)
    if mc or k == 0:
        return None
    r = np.arange(1, k + 1, dtype=np.float64)
    alt = options.get("alternative", "greater")
    if alt == "two-sided":
        return np.minimum(1.0, 2.0 * np.minimum(r, k + 1 - r) / k)
    return r / k


def _atd_check(options: dict, improvement: str) -> None:
    mr = options.get("max_run", 2)
    if mr is not None and mr != "none" and (not isinstance(mr, (int, np.integer)) or mr < 1):
        raise ValueError(f"max_run must be a positive integer or none, got {mr!r}")


register_test(TestSpec(
    name="atd_test", prefix="p_atd", needs=("statistic",), sequence=True, check=_atd_check,
    pvalues=lambda y, codes, improvement="increase", **o: atd_pvalues(y, codes, improvement, **o),
    min_pvalue=_atd_min_pvalue, null_pvalues=_atd_null))
