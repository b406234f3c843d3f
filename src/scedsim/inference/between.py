"""Between-person tests: is the typical person's effect beyond its null centre?

With several people each measured in an AB design, the replication across
people carries most of the evidence.  Each person contributes one statistic
(a mean difference, NAP, Tau, robust IRD, ...), centred at its value under no
effect, and the k centred values are tested together: a one-sample t-test, an
exact sign-flip (randomization) test, or the Wilcoxon signed-rank test.
"""
from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np

from .._numba import kernel
from .._threads import run_rows
from .._validation import check_choice
from ..registry import TestSpec, metrics, register_test
from ._result import ALT_CODES, ALTERNATIVES, TIE_RTOL, TestResult, count_extreme, pvalue_from_counts
from ._stats import PLAIN, statistic_function

__all__ = ["between_person_test", "between_cases", "null_centre", "permutation_centre", "METHODS",
           "MAX_EXACT_CASES"]

METHODS = ("t", "sign_flip", "wilcoxon")
#: Sign patterns are enumerated up to this many people (2^16 patterns); Monte Carlo beyond.
MAX_EXACT_CASES = 16
#: Arrangements enumerated to find a rank metric's null mean.
MAX_ARRANGEMENTS = 200_000


# --------------------------------------------------------------------------- null centres

@lru_cache(maxsize=256)
def _rank_null_mean(name: str, m: int, n: int, options_items: tuple) -> float:
    """Mean of a rank-based metric over every equally likely arrangement of m + n distinct values."""
    from .permutation import arrangements

    entry = metrics()[name]
    total = m + n
    if entry.time_ordered:
        # The order within phases matters: every permutation of the ranks over the occasions.
        if math.factorial(total) > MAX_ARRANGEMENTS:
            raise ValueError(f"the null centre of {name} needs all {total}! orderings of {total} points; "
                             "give centre= yourself")
        perms = np.array(list(itertools.permutations(range(1, total + 1))), dtype=np.float64)
        a, b = perms[:, :m], perms[:, m:]
    else:
        if math.comb(total, m) > MAX_ARRANGEMENTS:
            raise ValueError(f"the null centre of {name} needs C({total}, {m}) arrangements; give centre= yourself")
        idx_a, idx_b = arrangements(total, m)
        a, b = idx_a + 1.0, idx_b + 1.0
    vals = entry.estimates(np.ascontiguousarray(a), np.ascontiguousarray(b), "increase", **dict(options_items))
    return float(np.nanmean(vals))


def null_centre(statistic: str, m: int, n: int, options: dict | None = None) -> float:
    """The value of a per-case statistic under no effect, for m + n points.

    ``mean_diff`` and ``median_diff``: 0.  A registered metric: its entry's
    ``null_centre`` where it declares one (NAP 1/2, Tau and Tau-U 0, PND
    1/(m + 1), PEM 1/2 for odd m); otherwise, for a rank-based metric, its
    exact mean over every equally likely arrangement of m + n distinct values,
    e.g. 11/30 for robust IRD with 3 + 4 points.

    These are expectations for exchangeable *continuous* data.  With ties
    (counts, short rating scales) rank metrics such as IRD and PND have other
    null means, and the tests then lose their level (they become conservative
    when ties lower the statistic): centre such data yourself (``centre=``) or
    use the mean difference.  SMD has no such centre (its null mean is 0 only
    for symmetric errors).

    References
    ----------
    Parker, R. I., Vannest, K. J., & Brown, L. (2009). The improvement rate
    difference for single-case research. *Exceptional Children*, 75(2),
    135-150 (robust IRD, whose null mean is far from 0 in short series).

    Examples
    --------
    >>> from scedsim.inference import null_centre
    >>> round(null_centre("ird", 3, 4) * 30, 10)
    11.0
    >>> null_centre("nap", 3, 4), round(null_centre("pnd", 3, 4), 12)
    (0.5, 0.25)
    """
    if statistic in PLAIN:
        return 0.0
    entry = metrics().get(statistic)
    if entry is None:
        raise ValueError(f"unknown statistic {statistic!r} for a null centre")
    options = dict(options or {})
    value = entry.null_centre(int(m), int(n), options) if entry.null_centre is not None else None
    if value is not None:
        return float(value)
    if entry.rank:
        return _rank_null_mean(statistic, int(m), int(n), tuple(sorted(options.items())))
    raise ValueError(f"{statistic} has no known value under no effect; give centre= yourself")


def permutation_centre(statistic, a, b, *, improvement: str = "increase", options: dict | None = None,
                       max_arrangements: int = 5000) -> np.ndarray:
    """Each series' statistic averaged over every reassignment of its own values to the phases.

    The exact null expectation given the observed values: under no effect
    (the phases exchangeable) the statistic's mean equals this average, ties
    and skewed values included, so it centres a between-person test where the
    unconditional :func:`null_centre` assumes continuous data.

    Parameters
    ----------
    statistic : str or callable
        As for :func:`scedsim.inference.permutation_test`.
    a, b : array_like
        One series (1-D) or a batch (2-D, one per row).
    improvement : {"increase", "decrease"}
    options : dict, optional
    max_arrangements : int
        At most this many arrangements C(m + n, m).

    Returns
    -------
    float or ndarray

    References
    ----------
    Edgington, E. S., & Onghena, P. (2007). *Randomization tests* (4th ed.).
    Chapman & Hall/CRC.

    Examples
    --------
    With tied counts robust IRD's conditional null mean is not 11/30:

    >>> from scedsim.inference import permutation_centre
    >>> permutation_centre("ird", [0, 1, 0], [1, 1, 0, 2])
    0.25
    >>> round(permutation_centre("ird", [1, 2, 3], [4, 5, 6, 7]) * 30, 10)   # no ties: 11/30
    11.0
    """
    from .._validation import phases
    from .permutation import arrangements

    A, B, is_1d = phases(a, b, improvement, metric="permutation centre")
    m, n = A.shape[1], B.shape[1]
    if math.comb(m + n, m) > max_arrangements:
        raise ValueError(f"a permutation centre with {m} + {n} points needs C({m + n}, {m}) = "
                         f"{math.comb(m + n, m)} arrangements, above max_arrangements={max_arrangements}")
    _, f = statistic_function(statistic, options, improvement)
    out = _perm_means(f, A, B)
    return float(out[0]) if is_1d else out


def _perm_means(f, A, B) -> np.ndarray:
    """Per row, the mean of ``f`` over every assignment of the row's values to m + n positions."""
    from .permutation import arrangements

    m, n = A.shape[1], B.shape[1]
    idx_a, idx_b = arrangements(m + n, m)
    pooled = np.concatenate([A, B], axis=1)
    vals = f(np.ascontiguousarray(pooled[:, idx_a].reshape(-1, m)),
             np.ascontiguousarray(pooled[:, idx_b].reshape(-1, n)))
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.asarray(vals, dtype=np.float64).reshape(A.shape[0], idx_a.shape[0]), axis=1)


# --------------------------------------------------------------------------- the tests

@lru_cache(maxsize=32)
def _sign_patterns(k: int) -> np.ndarray:
    """All 2^k sign vectors, shape (2^k, k); the first is all +1 (the observed)."""
    bits = (np.arange(2 ** k)[:, None] >> np.arange(k)[None, :]) & 1
    out = 1.0 - 2.0 * bits
    out.flags.writeable = False
    return out


def _signed_ranks_python(d, out):
    """Wilcoxon's signed ranks per row: zeros dropped (rank 0), ties averaged."""
    rows, k = d.shape
    for r in range(rows):
        for i in range(k):
            ai = abs(d[r, i])
            if ai == 0.0:
                out[r, i] = 0.0
                continue
            below = 0
            equal = 0
            for j in range(k):
                aj = abs(d[r, j])
                if aj == 0.0:
                    continue
                if aj < ai:
                    below += 1
                elif aj == ai:
                    equal += 1
            rank = below + (equal + 1) / 2.0
            out[r, i] = rank if d[r, i] > 0 else -rank


_signed_ranks = kernel(_signed_ranks_python)


def _p_from_counts_python(ge, le, total, alt):
    """:func:`pvalue_from_counts` for one row (``alt`` 0 greater, 1 less, 2
    two-sided): the same divisions and minimum, so the same float."""
    pg = ge / total
    pl = le / total
    if alt == 0:
        return pg
    if alt == 1:
        return pl
    return min(1.0, 2.0 * min(pg, pl))


_p_from_counts = kernel(_p_from_counts_python)


def _count8_python(h, l1, l2, l3, l4, l5, l6, l7, c):
    """How many of h, h + l1, ..., h + l7 are <= c, and how many are >= -c."""
    u1 = h + l1
    u2 = h + l2
    u3 = h + l3
    u4 = h + l4
    u5 = h + l5
    u6 = h + l6
    u7 = h + l7
    g = (int(h <= c) + int(u1 <= c) + int(u2 <= c) + int(u3 <= c)
         + int(u4 <= c) + int(u5 <= c) + int(u6 <= c) + int(u7 <= c))
    lo = (int(h >= -c) + int(u1 >= -c) + int(u2 >= -c) + int(u3 >= -c)
          + int(u4 >= -c) + int(u5 >= -c) + int(u6 >= -c) + int(u7 >= -c))
    return g, lo


_count8 = kernel(_count8_python)


def _count64_python(x, r, h, l1, l2, l3, l4, l5, l6, l7, c):
    """How many of the 64 sums h + (a subset sum of x[r, 3..5]) + (one of 0, l1..l7)
    are <= c, and how many >= -c.  Written so (a loop of its own, reading
    x[r, 3..5] inside) LLVM compiles it to branch-free vector code: inside the
    caller's Gray-code loop, eight written-out calls, or the three values read
    before the loop, it ran three to four times slower."""
    g = 0
    lo = 0
    for q in range(8):
        hm = h
        if q & 1:
            hm += x[r, 3]
        if q & 2:
            hm += x[r, 4]
        if q & 4:
            hm += x[r, 5]
        a, b = _count8(hm, l1, l2, l3, l4, l5, l6, l7, c)
        g += a
        lo += b
    return g, lo


_count64 = kernel(_count64_python)


def _row_flips_small_python(x, r, tie_rtol):
    """Row ``r`` of ``x`` (k <= 6 values): how many of the 2^k sign-flipped sums
    are >= and <= the observed sum, within tie_rtol of sum |x| (as count_extreme
    judges ties), and that sum.

    A pattern that flips the set F changes the sum by -2 * sum_F x, so it counts
    as >= when sum_F x <= tol/2 and as <= when sum_F x >= -tol/2.  With six
    values the 64 subset sums are 64 independent additions and comparisons
    (:func:`_count64`), where a Gray-code walk through the patterns is a chain of
    64 dependent additions; fewer values enumerate their subsets directly.  Kept
    apart from :func:`_row_flips` (k > 6): compiled into one function with its
    Gray-code loop, the six-value path ran three times slower."""
    k = x.shape[1]
    obs = 0.0
    scale = 0.0
    for i in range(k):
        obs += x[r, i]
        scale += abs(x[r, i])
    # Every flipped sum and the observed one are bounded by sum |x|.
    c = 0.5 * (tie_rtol * max(scale, 1e-300))
    if k < 6:
        g = 0
        lo = 0
        for p in range(1 << k):
            s = 0.0
            for i in range(k):
                if (p >> i) & 1:
                    s += x[r, i]
            g += int(s <= c)
            lo += int(s >= -c)
        return g, lo, obs
    l1 = x[r, 0]
    l2 = x[r, 1]
    l4 = x[r, 2]
    l3 = l1 + l2
    l7 = l3 + l4
    g, lo = _count64(x, r, 0.0, l1, l2, l3, l4, l1 + l4, l2 + l4, l7, c)
    return g, lo, obs


_row_flips_small = kernel(_row_flips_small_python)


def _row_flips_python(x, r, step_idx, step_sign, tie_rtol):
    """:func:`_row_flips_small` for k >= 6 values: the 64 subsets of the first six
    as there, for every subset of the other k - 6 values, which run in Gray-code
    order (``_gray_steps(k - 6)``: step p adds or removes value ``6 + step_idx[p]``),
    one addition per 64 subsets."""
    k = x.shape[1]
    obs = 0.0
    scale = 0.0
    for i in range(k):
        obs += x[r, i]
        scale += abs(x[r, i])
    c = 0.5 * (tie_rtol * max(scale, 1e-300))
    l1 = x[r, 0]
    l2 = x[r, 1]
    l4 = x[r, 2]
    l3 = l1 + l2
    l7 = l3 + l4
    g = 0
    lo = 0
    h = 0.0
    for p in range(step_idx.shape[0]):
        if p > 0:
            h -= 0.5 * step_sign[p] * x[r, 6 + step_idx[p]]
        a, b = _count64(x, r, h, l1, l2, l3, l4, l1 + l4, l2 + l4, l7, c)
        g += a
        lo += b
    return g, lo, obs


_row_flips = kernel(_row_flips_python)


def _flip_test_python(x, _none, step_idx, step_sign, tie_rtol, alt, out):
    """Exact sign-flip test of each row's sum (k >= 6 values): out[0] = the sum,
    out[1] = the p-value over the 2^k patterns (``alt`` 0 greater, 1 less, 2
    two-sided; see :func:`_row_flips`, whose steps are ``_gray_steps(k - 6)``).
    ``_none`` is an empty (rows, 0) array, so that run_rows can split the rows."""
    total = 2.0 ** x.shape[1]
    for r in range(x.shape[0]):
        g, lo, obs = _row_flips(x, r, step_idx, step_sign, tie_rtol)
        out[0, r] = obs
        out[1, r] = _p_from_counts(g, lo, total, alt)


_flip_test = kernel(_flip_test_python)


def _flip_test_small_python(x, _none, tie_rtol, alt, out):
    """:func:`_flip_test` for k <= 6 values (:func:`_row_flips_small`)."""
    total = 2.0 ** x.shape[1]
    for r in range(x.shape[0]):
        g, lo, obs = _row_flips_small(x, r, tie_rtol)
        out[0, r] = obs
        out[1, r] = _p_from_counts(g, lo, total, alt)


_flip_test_small = kernel(_flip_test_small_python)


def _betacf_python(a, b, x):
    """Continued fraction of the regularized incomplete beta (modified Lentz;
    Press et al., *Numerical Recipes*, 3rd ed., section 6.4)."""
    tiny = 1e-300
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < tiny:
        d = tiny
    d = 1.0 / d
    h = d
    for i in range(1, 300):
        m2 = 2 * i
        aa = i * (b - i) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < tiny:
            d = tiny
        c = 1.0 + aa / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        h *= d * c
        aa = -(a + i) * (qab + i) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < tiny:
            d = tiny
        c = 1.0 + aa / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h


_betacf = kernel(_betacf_python)


def _t_lbeta(df: float) -> float:
    """log Gamma(df/2 + 1/2) - log Gamma(df/2) - log Gamma(1/2), the constant of
    :func:`_t_sf` (computed outside the kernels: numba's lgamma differs from
    CPython's in the last bits)."""
    return math.lgamma(0.5 * df + 0.5) - math.lgamma(0.5 * df) - math.lgamma(0.5)


def _t_sf_python(t, df, lbeta):
    """P(T > t) for Student's t on ``df`` degrees of freedom: half the regularized
    incomplete beta I_x(df/2, 1/2) at x = df/(df + t^2), with 1 - x = t^2/(df + t^2)
    formed directly so that the far tails keep their relative accuracy.  ``lbeta``
    is :func:`_t_lbeta` of ``df``."""
    if t != t:
        return np.nan
    if t == np.inf:
        return 0.0
    if t == -np.inf:
        return 1.0
    a = 0.5 * df
    b = 0.5
    t2 = t * t
    x = df / (df + t2)
    y = t2 / (df + t2)
    if y == 0.0:
        return 0.5
    lbt = lbeta + a * math.log(x) + b * math.log(y)
    if x < (a + 1.0) / (a + b + 2.0):
        ib = math.exp(lbt) * _betacf(a, b, x) / a
    else:
        ib = 1.0 - math.exp(lbt) * _betacf(b, a, y) / b
    return 0.5 * ib if t > 0 else 1.0 - 0.5 * ib


_t_sf = kernel(_t_sf_python)


#: Degrees of freedom up to which :func:`_t_tail` uses the closed form.
T_CLOSED_DF = 200
#: The closed form is kept where the tail is at least this large (its absolute
#: error of a few 1e-16 is then within 1e-12 of the tail, relatively); smaller
#: tails take the continued fraction, which keeps their relative accuracy.
T_CLOSED_MIN = 1e-3


def _t_tail_python(t, df, lbeta):
    """P(T > t) for Student's t on ``df`` degrees of freedom, by the finite series
    for integer df (Abramowitz & Stegun 1964, 26.7.3-4; Student 1908) where the
    tail is at least T_CLOSED_MIN, else :func:`_t_sf`.  With theta = atan(|t|/sqrt(df))
    and x = cos^2 theta = df/(df + t^2), P(|T| <= |t|) is

    * odd df:  (2/pi) [theta + sin theta cos theta (1 + 2/3 x + 2 4/(3 5) x^2 + ...)],
      df - 1 terms over two;
    * even df: sin theta (1 + 1/2 x + 1 3/(2 4) x^2 + ...), df/2 terms.

    One arctangent (odd df) or none, against the 5-30 steps of the continued
    fraction; the test's p-values stay within 1e-12 (relative) of it."""
    if t != t or df != math.floor(df) or df > T_CLOSED_DF or df < 1.0:
        return _t_sf(t, df, lbeta)
    if t == np.inf:
        return 0.0
    if t == -np.inf:
        return 1.0
    at = abs(t)
    t2 = at * at
    x = df / (df + t2)
    n = int(df)
    term = 1.0
    series = 1.0
    if n % 2 == 1:
        for j in range(1, (n - 1) // 2):
            term *= x * (2.0 * j) / (2.0 * j + 1.0)
            series += term
        theta = math.atan(at / math.sqrt(df))
        if n == 1:
            inside = 2.0 / math.pi * theta
        else:
            inside = 2.0 / math.pi * (theta + at * math.sqrt(df) / (df + t2) * series)
    else:
        for j in range(1, n // 2):
            term *= x * (2.0 * j - 1.0) / (2.0 * j)
            series += term
        inside = at / math.sqrt(df + t2) * series
    q = 0.5 - 0.5 * inside
    if q < T_CLOSED_MIN:
        return _t_sf(t, df, lbeta)
    return q if t >= 0 else 1.0 - q


_t_tail = kernel(_t_tail_python)


def _t_test_python(d, _none, alt, lbeta, out):
    """One-sample t-test of each row's values against 0: out[0] = t, out[1] = p
    (``alt`` 0 greater, 1 less, 2 two-sided).  ``_none`` is an empty (rows, 0)
    array, so that run_rows can split the rows."""
    rows, k = d.shape
    for r in range(rows):
        s = 0.0
        for i in range(k):
            s += d[r, i]
        mean = s / k
        ss = 0.0
        for i in range(k):
            e = d[r, i] - mean
            ss += e * e
        sd = math.sqrt(ss / (k - 1))
        if sd > 0.0:
            t = mean / (sd / math.sqrt(k))
        elif mean != 0.0:
            t = np.inf if mean > 0 else -np.inf
        else:
            t = np.nan
        if alt == 0:
            p = _t_tail(t, k - 1.0, lbeta)
        elif alt == 1:
            p = _t_tail(-t, k - 1.0, lbeta)
        else:
            p = min(1.0, 2.0 * _t_tail(abs(t), k - 1.0, lbeta))
        out[0, r] = t
        out[1, r] = p


_t_test = kernel(_t_test_python)


def _signed_rank_row_python(d, r, ranks):
    """Row ``r``'s signed ranks into ``ranks[r]`` (zeros dropped, ties averaged):
    returns (clean, W+), clean when the row has no zero and no tied |value|,
    W+ the sum of the positive ranks."""
    k = d.shape[1]
    n_clean = 0
    w = 0.0
    for i in range(k):
        di = d[r, i]
        ai = abs(di)
        # Branch-free: which |d_j| are below or equal to |d_i| is data, not pattern.
        below = 0
        equal = 0
        for j in range(k):
            aj = abs(d[r, j])
            below += int(aj < ai) & int(aj != 0.0)
            equal += int(aj == ai)
        nonzero = ai != 0.0
        rank = (below + (equal + 1) * 0.5) * nonzero
        w += rank * (di > 0.0)
        ranks[r, i] = -rank if di < 0.0 else rank
        n_clean += int(nonzero) & int(equal == 1)
    return n_clean == k, w


_signed_rank_row = kernel(_signed_rank_row_python)


def _wilcoxon_python(d, _none, ge_table, le_table, step_idx, step_sign, tie_rtol, alt, ranks, out):
    """Exact signed-rank test per row (k >= 6 values): out[0] = the sum of signed
    ranks (zeros dropped, ties averaged; Wilcoxon 1945), out[1] = its p-value
    over the 2^k sign patterns (``alt`` 0 greater, 1 less, 2 two-sided).

    Rows without zeros or tied |values| look W+ (the sum of the positive ranks)
    up in the exact null tables ``ge_table``/``le_table``
    (:func:`_signed_rank_tables`); the others count the sign flips of their
    signed ranks (:func:`_row_flips`, steps ``_gray_steps(k - 6)``), which is
    exact conditional on the ties.  ``ranks`` is scratch, one row per series, so
    that each row's ranks sit together in memory."""
    rows, k = d.shape
    total = 2.0 ** k
    for r in range(rows):
        clean, w = _signed_rank_row(d, r, ranks)
        if clean:
            iw = int(w)
            g = ge_table[iw]
            lo = le_table[iw]
            obs = 2.0 * w - k * (k + 1) / 2.0
        else:
            g, lo, obs = _row_flips(ranks, r, step_idx, step_sign, tie_rtol)
        out[0, r] = obs
        out[1, r] = _p_from_counts(g, lo, total, alt)


_wilcoxon = kernel(_wilcoxon_python)


def _wilcoxon_small_python(d, _none, ge_table, le_table, tie_rtol, alt, ranks, out):
    """:func:`_wilcoxon` for k <= 6 values (:func:`_row_flips_small`)."""
    rows, k = d.shape
    total = 2.0 ** k
    for r in range(rows):
        clean, w = _signed_rank_row(d, r, ranks)
        if clean:
            iw = int(w)
            g = ge_table[iw]
            lo = le_table[iw]
            obs = 2.0 * w - k * (k + 1) / 2.0
        else:
            g, lo, obs = _row_flips_small(ranks, r, tie_rtol)
        out[0, r] = obs
        out[1, r] = _p_from_counts(g, lo, total, alt)


_wilcoxon_small = kernel(_wilcoxon_small_python)


@lru_cache(maxsize=32)
def _signed_rank_tables(k: int):
    """For W+ = 0..k(k+1)/2: how many of the 2^k sign patterns of ranks 1..k give
    a W+ at least (``ge``) and at most (``le``) that large."""
    top = k * (k + 1) // 2
    counts = np.zeros(top + 1, dtype=np.float64)
    counts[0] = 1.0
    for rank in range(1, k + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    ge = counts[::-1].cumsum()[::-1].copy()
    le = counts.cumsum()
    ge.flags.writeable = False
    le.flags.writeable = False
    return ge, le


@lru_cache(maxsize=32)
def _gray_steps(k: int):
    """Gray-code order of the 2^k sign patterns: the value flipped at each step and
    the change of the sum in units of it (-2 when it turns negative, +2 back)."""
    p = np.arange(1, 2 ** k)
    idx = np.zeros(2 ** k, dtype=np.int64)
    sign = np.zeros(2 ** k)
    low = (p & -p).astype(np.int64)
    idx[1:] = np.log2(low).astype(np.int64)
    gray = p ^ (p >> 1)
    sign[1:] = np.where((gray >> idx[1:]) & 1, -2.0, 2.0)
    idx.flags.writeable = False
    sign.flags.writeable = False
    return idx, sign


def _flip_pvalues(x: np.ndarray, alternative: str, max_exact: int, n_resamples: int, rng):
    """Sign-flip p-values of sum(x) per row; returns (statistic, p, n_arrangements, min_p, kind)."""
    rows, k = x.shape
    two = 2.0 if alternative == "two-sided" else 1.0
    if k <= max_exact:
        out = np.empty((2, rows))
        if k <= 6:
            run_rows(_flip_test_small, np.ascontiguousarray(x), np.empty((rows, 0)), out, TIE_RTOL,
                     ALT_CODES[alternative])
        else:
            run_rows(_flip_test, np.ascontiguousarray(x), np.empty((rows, 0)), out, *_gray_steps(k - 6),
                     TIE_RTOL, ALT_CODES[alternative])
        return out[0], out[1], 2 ** k, min(1.0, two / 2 ** k), "exact"
    if rng is None:
        raise ValueError("a Monte Carlo sign-flip test needs rng=")
    observed = x.sum(axis=1)
    scale = np.abs(x).sum(axis=1)  # ties are judged relative to the data's magnitude
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_resamples, k))
    null = x @ signs.T
    ge, le, total = count_extreme(null, observed, alternative, data_scale=scale)
    p = pvalue_from_counts(ge, le, total, alternative, plus_one=True)
    return observed, p, n_resamples + 1, min(1.0, two / (n_resamples + 1)), "monte_carlo"


def _test(d: np.ndarray, method: str, alternative: str, max_exact: int, n_resamples: int, rng):
    """(statistic, p, n_arrangements, min_p, kind) for the rows of centred values ``d``."""
    rows, k = d.shape
    d = np.ascontiguousarray(d)
    if method == "t":
        out = np.empty((2, rows))
        run_rows(_t_test, d, np.empty((rows, 0)), out, ALT_CODES[alternative], _t_lbeta(k - 1.0))
        return out[0], out[1], 0, 0.0, "t"
    if method == "wilcoxon":
        if k <= max_exact:
            out = np.empty((2, rows))
            if k <= 6:
                run_rows(_wilcoxon_small, d, np.empty((rows, 0)), out, *_signed_rank_tables(k), TIE_RTOL,
                         ALT_CODES[alternative], np.empty((rows, k)), per_row=(4,))
            else:
                run_rows(_wilcoxon, d, np.empty((rows, 0)), out, *_signed_rank_tables(k), *_gray_steps(k - 6),
                         TIE_RTOL, ALT_CODES[alternative], np.empty((rows, k)), per_row=(6,))
            two = 2.0 if alternative == "two-sided" else 1.0
            return out[0], out[1], 2 ** k, min(1.0, two / 2 ** k), "exact"
        x = np.empty_like(d)
        _signed_ranks(d, x)  # O(k^2) per row: k is a handful of people
    else:
        x = d
    return _flip_pvalues(x, alternative, max_exact, n_resamples, rng)


def _check(method, alternative, k):
    check_choice("method", method, METHODS)
    check_choice("alternative", alternative, ALTERNATIVES)
    if k < 2:
        raise ValueError(f"a between-person test needs at least 2 people, got {k}")


def between_person_test(values, *, centre: float = 0.0, method: str = "t", alternative: str = "greater",
                        max_exact: int = MAX_EXACT_CASES, n_resamples: int = 9999, rng=None) -> TestResult:
    """Test whether k people's statistics lie beyond their null centre.

    Parameters
    ----------
    values : array_like
        One statistic per person (1-D, length k), or a batch (2-D, one set of
        k people per row), oriented so that larger means improvement.
    centre : float or array_like
        The statistic's value under no effect (0 for a mean difference, 1/2
        for NAP; see :func:`null_centre`); a scalar, or one per person.
    method : {"t", "sign_flip", "wilcoxon"}
        ``"t"``: one-sample t-test of the centred values, t = mean/(s/sqrt(k))
        on k - 1 df (exact when they are independent normal, e.g. mean
        differences of normal data).  ``"sign_flip"``: the randomization test
        of their sum over all 2^k sign patterns (Fisher 1935; Edgington &
        Onghena 2007), exact when the centred values are symmetric about 0.
        ``"wilcoxon"``: the signed-rank test (Wilcoxon 1945), the same sign
        flips on the ranks of |value| (zeros dropped, ties averaged; exact
        conditional on the ties).
    alternative : {"greater", "less", "two-sided"}
    max_exact : int
        Enumerate the 2^k patterns up to this many people; Monte Carlo beyond.
    n_resamples : int
        Random sign patterns for the Monte Carlo p-value, (1 + count)/(1 + R).
    rng : numpy.random.Generator, optional
        For the Monte Carlo p-value.

    Returns
    -------
    TestResult
        ``statistic`` is t, the sum of centred values, or the sum of signed
        ranks; ``min_pvalue`` is 2^-k (sign flips, one-sided) or 0 (t).

    References
    ----------
    Fisher, R. A. (1935). *The design of experiments*. Oliver & Boyd.

    Wilcoxon, F. (1945). Individual comparisons by ranking methods.
    *Biometrics Bulletin*, 1(6), 80-83.

    Edgington, E. S., & Onghena, P. (2007). *Randomization tests* (4th ed.).
    Chapman & Hall/CRC.

    Examples
    --------
    Six people's mean differences (B - A):

    >>> from scedsim.inference import between_person_test
    >>> d = [1.2, 0.4, 2.1, -0.3, 0.9, 1.5]
    >>> round(between_person_test(d).pvalue, 4)
    0.0188
    >>> r = between_person_test(d, method="sign_flip")
    >>> r.pvalue * 64, r.min_pvalue * 64       # 2 of the 64 sign patterns reach the observed sum
    (2.0, 1.0)
    >>> between_person_test(d, method="wilcoxon").pvalue * 64
    2.0
    """
    check_choice("method", method, METHODS)
    x = np.asarray(values, dtype=np.float64)
    if x.ndim not in (1, 2) or x.size == 0:
        raise ValueError(f"values must be 1-D (one value per person) or 2-D (a batch), got shape {x.shape}")
    is_1d = x.ndim == 1
    x = x.reshape(1, -1) if is_1d else x
    if not np.all(np.isfinite(x)):
        raise ValueError("values contain NaN or an infinite value; a between-person test needs every person's value")
    c = np.broadcast_to(np.asarray(centre, dtype=np.float64), (x.shape[1],)) if np.ndim(centre) <= 1 else None
    if c is None or not np.all(np.isfinite(c)):
        raise ValueError(f"centre must be a finite number or one per person, got {centre!r}")
    _check(method, alternative, x.shape[1])
    if method != "t" and x.shape[1] > max_exact and rng is None:
        from .permutation import data_rng

        rng = data_rng(x, c)  # seeded by the data: the same call gives the same p-value
    stat, p, n_arr, min_p, kind = _test(x - c, method, alternative, max_exact, n_resamples, rng)
    if is_1d:
        stat, p = float(stat[0]), float(p[0])
    return TestResult(stat, p, n_arr, min_p, kind, alternative)


def between_cases(a, b, *, statistic: str = "mean_diff", method: str = "t", improvement: str = "increase",
                  centre=None, alternative: str = "greater", options: dict | None = None,
                  max_exact: int = MAX_EXACT_CASES, n_resamples: int = 9999, rng=None) -> TestResult:
    """A between-person test on each person's AB statistic.

    Parameters
    ----------
    a, b : sequence of array_like
        Each person's baseline and comparison phase (lengths may differ).
    statistic : str
        ``"mean_diff"``, ``"median_diff"`` or a registered metric (``"nap"``,
        ``"tau"``, ``"ird"``, ...), computed per person in the direction of
        improvement.
    method, alternative, max_exact, n_resamples, rng
        As for :func:`between_person_test`.
    improvement : {"increase", "decrease"}
    centre : float or "permutation", optional
        The statistic under no effect; default :func:`null_centre` for each
        person's phase lengths (continuous data).  ``"permutation"``: each
        person's :func:`permutation_centre` (exact given their values; use it
        for counts and short rating scales, where ties are common).
    options : dict, optional
        Options of the statistic.

    Returns
    -------
    TestResult

    References
    ----------
    Edgington, E. S., & Onghena, P. (2007). *Randomization tests* (4th ed.).
    Chapman & Hall/CRC.

    Examples
    --------
    >>> from scedsim.inference import between_cases
    >>> a = [[3, 4, 3], [5, 6, 5], [2, 2, 3], [4, 5, 4]]
    >>> b = [[6, 7, 6, 8], [6, 7, 8, 7], [3, 4, 5, 4], [4, 6, 5, 7]]
    >>> r = between_cases(a, b, statistic="nap", method="sign_flip")
    >>> r.pvalue * 16                     # all four NAPs above 1/2: 1 of 16 sign patterns
    1.0
    """
    if len(a) != len(b):
        raise ValueError(f"a and b must list the same people; got {len(a)} and {len(b)}")
    _check(method, alternative, len(a))
    _, f = statistic_function(statistic, options, improvement)
    values, centres = [], []
    for i, (ai, bi) in enumerate(zip(a, b)):
        from .._validation import phases

        A, B, _ = phases(ai, bi, improvement, metric=f"person {i + 1}")
        values.append(float(f(A, B)[0]))
        if centre is None:
            centres.append(null_centre(statistic, A.shape[1], B.shape[1], options))
        elif isinstance(centre, str):
            check_choice("centre", centre, ("permutation",))
            centres.append(float(_perm_means(f, A, B)[0]))
        else:
            centres.append(centre)
    if not np.all(np.isfinite(values)):
        bad = [i + 1 for i, v in enumerate(values) if not math.isfinite(v)]
        raise ValueError(f"{statistic} is not defined for person {bad[0]}")
    return between_person_test(values, centre=centres, method=method, alternative=alternative,
                               max_exact=max_exact, n_resamples=n_resamples, rng=rng)


# --------------------------------------------------------------------------- simulator rule

_TEST_OPTIONS = ("statistic", "method", "alternative", "centre", "max_exact", "n_resamples")


def _between_values(y, baseline_lengths, improvement="increase", **options) -> np.ndarray:
    """The per-case statistics of the simulator rule, centred: (reps, cases) from
    ``y`` (reps, cases, time), case k's first ``baseline_lengths[k]`` points its
    baseline.  NaN where a case's statistic is undefined."""
    statistic = options["statistic"]
    stat_opts = {k: v for k, v in options.items() if k not in _TEST_OPTIONS}
    y = np.asarray(y, dtype=np.float64)
    reps, k, total = y.shape
    _, f = statistic_function(statistic, stat_opts or None, improvement)
    sign = -1.0 if improvement == "decrease" else 1.0
    d = np.empty((reps, k))
    for c, m in enumerate(baseline_lengths):
        a = np.ascontiguousarray(sign * y[:, c, :m])
        b = np.ascontiguousarray(sign * y[:, c, m:])
        centre = options.get("centre")
        if centre == "permutation":
            centre = _perm_means(f, a, b)   # per replication: exact given the case's values
        elif centre is None:
            centre = null_centre(statistic, m, total - m, stat_opts)
        else:
            centre = float(centre)
        d[:, c] = f(a, b) - centre
    return d


def _between_from_values(d, rng_data, **options):
    """One p-value per row of centred values ``d`` (NaN where one is undefined);
    ``rng_data`` (arrays) seeds the Monte Carlo sign flips beyond ``max_exact``."""
    from .permutation import data_rng

    method = options.get("method", "t")
    alternative = options.get("alternative", "greater")
    _check(method, alternative, d.shape[1])
    max_exact = int(options.get("max_exact", MAX_EXACT_CASES))
    n_resamples = int(options.get("n_resamples", 9999))
    rng = data_rng(*rng_data) if d.shape[1] > max_exact and method != "t" else None
    ok = np.isfinite(d).all(axis=1)
    if ok.all():   # the usual case: no copy of d, no scatter of p
        return _test(d, method, alternative, max_exact, n_resamples, rng)[1]
    p = np.full(d.shape[0], np.nan)
    if ok.any():
        p[ok] = _test(d[ok], method, alternative, max_exact, n_resamples, rng)[1]
    return p


def _between_pvalues(y, baseline_lengths, improvement="increase", **options):
    """One p-value per replication: ``y`` is (reps, cases, time), case k's first
    ``baseline_lengths[k]`` points are its baseline."""
    _check(options.get("method", "t"), options.get("alternative", "greater"), np.shape(y)[1])
    d = _between_values(y, baseline_lengths, improvement, **options)
    return _between_from_values(d, (y, np.asarray(baseline_lengths, dtype=np.float64)), **options)


def _between_min_pvalue(options: dict, m: int, n: int, k: int) -> float:
    if options.get("method", "t") == "t":
        return 0.0
    two = 2.0 if options.get("alternative") == "two-sided" else 1.0
    if k <= int(options.get("max_exact", MAX_EXACT_CASES)):
        return min(1.0, two / 2.0 ** k)
    return min(1.0, two / (int(options.get("n_resamples", 9999)) + 1))


register_test(TestSpec(name="between_test", prefix="p_between", pvalues=_between_pvalues,
                       min_pvalue=_between_min_pvalue, needs=("statistic",), across=True, min_cases=2))
