"""The (conservative) dual criterion: B points beyond both the baseline mean and trend lines."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from .._numba import kernel
from .._results import EffectSize, make
from .._threads import run_rows
from .._validation import check_choice, check_magnitude, phases
from ..registry import KernelCase, Metric, Reference, TestSpec, register, register_test
from ._kernels import _EPS, _dot_sign, _exact_values, _two_prod

__all__ = ["cdc", "CDCResult", "cdc_required_count", "cdc_table_count", "FISHER_TABLE", "TREND_CODES"]

T_OLS, T_BISPLIT, T_TRISPLIT = 0, 1, 2
TREND_CODES = {"ols": T_OLS, "bisplit": T_BISPLIT, "trisplit": T_TRISPLIT}
DECISIONS = ("binomial", "table")
#: The level Fisher, Kelley & Lomas's table of required counts is meant for.
TABLE_ALPHA = 0.05
#: Fisher, Kelley & Lomas's (2003) table: B points (key) -> how many must lie beyond
#: both lines.  Not read from the paper itself: these are the counts for 5-23 B
#: points in an independent implementation, Spink's CDC-Calculator
#: (github.com/calebspink/CDC-Calculator, ``CDC_Calc.py``, whose README calls it
#: "Fisher et al.'s (2003) modified list ... with 3/3 and 4/4 added"; those two
#: additions are left out here), and they agree with the counts remembered from the
#: paper at 7 (6) and 10 (8) B points.  They are not the exact binomial test at .05:
#: see :func:`cdc_table_count`.
FISHER_TABLE = {5: 5, 6: 6, 7: 6, 8: 7, 9: 8, 10: 8, 11: 9, 12: 9, 13: 10, 14: 11, 15: 12, 16: 12, 17: 12,
                18: 13, 19: 13, 20: 14, 21: 14, 22: 15, 23: 15}
# The largest integer coefficient of the exact comparisons must be an exact double.
_COEF_LIMIT = 2.0 ** 53


# --------------------------------------------------------------------------- exact arithmetic
# Expansions (Shewchuk 1997): sums of nonoverlapping doubles, smallest first,
# with zero components removed, representing a number exactly.

def _grow_python(terms, k):
    """The exact sum of ``terms[:k]`` as an expansion (a new array, possibly empty)."""
    h = np.empty(max(k, 1))
    hl = 0
    for i in range(k):
        q = terms[i]
        nl = 0
        for j in range(hl):
            hj = h[j]
            s = q + hj
            bv = s - q
            av = s - bv
            err = (q - av) + (hj - bv)
            q = s
            if err != 0.0:
                h[nl] = err
                nl += 1
        if q != 0.0:
            h[nl] = q
            nl += 1
        hl = nl
    return h[:hl]


_grow = kernel(_grow_python)


def _mul_python(e, f):
    """The exact product of two expansions, as an expansion."""
    terms = np.empty(max(2 * e.shape[0] * f.shape[0], 1))
    t = 0
    for i in range(e.shape[0]):
        for j in range(f.shape[0]):
            p, err = _two_prod(e[i], f[j])
            terms[t] = p
            terms[t + 1] = err
            t += 2
    return _grow(terms, t)


_mul = kernel(_mul_python)


def _beyond_exact_python(coef, vals, k, dmul, kc, pc, xv, m, terms, h):
    """Exact: sum_i coef[i] vals[i] / dmul > (kc / pc) * SD(xv[:m]), with dmul > 0, kc >= 0.

    ``coef`` holds exact integers; ``vals`` and ``xv`` exact values (the
    data as integers, or the doubles themselves).  With s^2 = Q / (m (m - 1))
    and Q = m sum x^2 - (sum x)^2, the comparison L / D > c s is L > 0 and
    m (m - 1) pc^2 L^2 > D^2 kc^2 Q, decided on exact expansions.
    ``terms`` and ``h`` are scratch of length >= 2k (the shift-0 path allocates nothing).
    """
    sl = _dot_sign(coef, vals, k, terms, h)
    if sl <= 0:
        return False
    if kc == 0.0:
        return True
    # Q as an expansion.
    sq = np.empty(2 * m)
    for i in range(m):
        p, err = _two_prod(xv[i], xv[i])
        sq[2 * i] = p
        sq[2 * i + 1] = err
    big_s = _grow(xv, m)
    f = np.empty(1)
    f[0] = m
    q_terms = np.concatenate((_mul(_grow(sq, 2 * m), f), -_mul(big_s, big_s)))
    q = _grow(q_terms, q_terms.shape[0])
    if q.shape[0] == 0:
        return True  # constant baseline: SD 0, the line itself
    for i in range(k):
        p, err = _two_prod(coef[i], vals[i])
        terms[2 * i] = p
        terms[2 * i + 1] = err
    lin = _grow(terms, 2 * k)
    f = np.empty(1)
    f[0] = m * (m - 1.0)
    lhs = _mul(_mul(lin, lin), f)
    f[0] = pc
    lhs = _mul(_mul(lhs, f), f)
    f[0] = dmul
    rhs = _mul(_mul(q, f), f)
    f[0] = kc
    rhs = _mul(_mul(rhs, f), f)
    diff = np.concatenate((lhs, -rhs))
    d = _grow(diff, diff.shape[0])
    return d.shape[0] > 0 and d[d.shape[0] - 1] > 0.0


_beyond_exact = kernel(_beyond_exact_python)


# --------------------------------------------------------------------------- the kernel

def _split_groups(m, k):
    """0-based ``(end of group 1, start of group 2)`` of the split-middle line with k parts.

    Group 1 is the first floor(m/k) points, group 2 the points with 1-based
    index >= ceil(m (k - 1)/k + 1); each keeps at least one point (the first
    and the last), which matters only for k = 3, m = 2.
    """
    g1 = m // k
    s2 = (m * (k - 1) + 2 * k - 1) // k  # ceil(m (k - 1)/k + 1), 1-based
    if g1 < 1:
        g1 = 1
    if s2 > m:
        s2 = m
    return g1, s2 - 1


def _group_median_python(a, r, lo, hi, idx):
    """Indices (p, q) in row ``r`` of the median pair of a[r, lo:hi] (p == q for an odd count)."""
    g = hi - lo
    for i in range(g):
        idx[i] = lo + i
    for i in range(1, g):
        v = idx[i]
        j = i - 1
        while j >= 0 and a[r, idx[j]] > a[r, v]:
            idx[j + 1] = idx[j]
            j -= 1
        idx[j + 1] = v
    if g % 2 == 1:
        return idx[g // 2], idx[g // 2]
    return idx[g // 2 - 1], idx[g // 2]


_group_median = kernel(_group_median_python)


def _cdc_2d_python(a, b, trend, c, kc, pc, out):
    """Share of B points strictly beyond both CDC lines, per row (``out[0]``: count / n).

    The count, p-value and decision follow from it (:class:`CDCResult`), so
    the kernel writes one field.

    Data are oriented (higher is better).  B_j counts when B_j > T_j + c s and
    B_j > mean(A) + c s, with T the baseline trend (``trend``: 0 OLS, 1
    bi-split, 2 tri-split) at B's times m+1..m+n, s = SD(A) and c = ``shift``
    = kc / pc (kc, pc the decimal the shift stands for).  A branch-free
    floating-point pass decides a row unless some B value lies within the
    pass's error bound of a threshold; such a row is counted again point by
    point, each near-tie decided exactly (:func:`_beyond_exact`) on the data
    as written (decimals taken as the decimals they stand for), so exact ties
    count as not beyond.  Needs m >= 2.
    """
    rows, m = a.shape
    n = b.shape[1]
    big = m + n
    xv = np.empty(big)
    kk = max(m + 1, 5)
    coef = np.empty(kk)
    vals = np.empty(kk)
    terms = np.empty(2 * kk)
    h = np.empty(2 * kk)
    idx = np.empty(m, dtype=np.int64)
    frac = np.empty(n + 1)
    for k in range(n + 1):
        frac[k] = k / n
    tsum = m * (m - 1) / 2.0  # times 0..m-1 (shifting the times moves no line)
    w = m * (m * (m * m - 1.0)) / 12.0  # m sum t^2 - (sum t)^2
    tbar = tsum / m
    r_m = 1.0 / m
    r_m1 = 1.0 / (m - 1.0)
    r_sxx = m / w  # 1 / Sxx
    g1 = 0
    s2 = 0
    t1d = 0.0
    t2d = 0.0
    r_half_dt = 0.0
    if trend != T_OLS:
        k = 2 if trend == T_BISPLIT else 3
        # Group 1: the first floor(m/k) points; group 2 from 1-based index
        # ceil(m (k - 1)/k + 1); at least one point each (see _split_groups).
        g1 = max(m // k, 1)
        s2 = min((m * (k - 1) + 2 * k - 1) // k, m) - 1
        t1d = g1 - 1.0  # doubled median time of group 1 (times 0..): 0 + (g1 - 1)
        t2d = s2 + m - 1.0
        r_half_dt = 2.0 / (t2d - t1d)
    # The floating-point comparisons' error bound, per unit of the data's
    # magnitude: it covers the rounding of the lines (reciprocals included) and
    # the distance between the doubles and the decimals they stand for, generously.
    unit = 64.0 * (big + 8.0) * (big + 8.0) * _EPS * (1.0 + c)
    for r in range(rows):
        # Mean and SD (two passes), the largest magnitude.
        s = 0.0
        big_x = 0.0
        for i in range(m):
            s += a[r, i]
            big_x = max(big_x, abs(a[r, i]))
        mean = s * r_m
        ss = 0.0
        for i in range(m):
            d = a[r, i] - mean
            ss += d * d
        sd = math.sqrt(ss * r_m1)
        # Trend: intercept at time 0 and slope.
        p1 = 0
        q1 = 0
        p2 = 0
        q2 = 0
        if trend == T_OLS:
            sxy = 0.0
            for i in range(m):
                sxy += (i - tbar) * a[r, i]
            slope = sxy * r_sxx
            icpt = mean - slope * tbar
        else:
            p1, q1 = _group_median(a, r, 0, g1, idx)
            p2, q2 = _group_median(a, r, s2, m, idx)
            y1 = 0.5 * (a[r, p1] + a[r, q1])
            y2 = 0.5 * (a[r, p2] + a[r, q2])
            slope = (y2 - y1) * r_half_dt
            icpt = y1 - slope * 0.5 * t1d
        shift = c * sd
        thr_mean = mean + shift
        thr_icpt = icpt + shift
        # Branch-free pass.
        cnt = 0
        near = False
        for j in range(n):
            x = b[r, j]
            bound = unit * max(big_x, abs(x))
            e1 = x - thr_mean
            e2 = x - (thr_icpt + slope * (m + j))
            cnt += (e1 > bound) & (e2 > bound)
            near |= (abs(e1) <= bound) | (abs(e2) <= bound)
        if near:
            # Point by point, near-ties exactly.
            _exact_values(a, b, r, xv)
            cnt = 0
            for j in range(n):
                x = b[r, j]
                tau = m + j
                bound = unit * max(big_x, abs(x))
                # The mean line.
                e = x - thr_mean
                if e < -bound:
                    continue
                if e <= bound:
                    coef[0] = m
                    vals[0] = xv[m + j]
                    for i in range(m):
                        coef[i + 1] = -1.0
                        vals[i + 1] = xv[i]
                    if not _beyond_exact(coef, vals, m + 1, float(m), kc, pc, xv, m, terms, h):
                        continue
                # The trend line.
                e = x - (thr_icpt + slope * tau)
                if e < -bound:
                    continue
                if e <= bound:
                    if trend == T_OLS:
                        # m W B - W S - g P, P = sum (m t_i - T) a_i, g = m tau - T.
                        g = m * tau - tsum
                        coef[0] = m * w
                        vals[0] = xv[m + j]
                        for i in range(m):
                            coef[i + 1] = -(w + g * (m * i - tsum))
                            vals[i + 1] = xv[i]
                        ok = _beyond_exact(coef, vals, m + 1, m * w, kc, pc, xv, m, terms, h)
                    else:
                        # 2 d B + (e - d)(a_p + a_q) - e (a_r + a_s), doubled times.
                        dd = t2d - t1d
                        ee = 2.0 * tau - t1d
                        coef[0] = 2.0 * dd
                        vals[0] = xv[m + j]
                        coef[1] = ee - dd
                        vals[1] = xv[p1]
                        coef[2] = ee - dd
                        vals[2] = xv[q1]
                        coef[3] = -ee
                        vals[3] = xv[p2]
                        coef[4] = -ee
                        vals[4] = xv[q2]
                        ok = _beyond_exact(coef, vals, 5, 2.0 * dd, kc, pc, xv, m, terms, h)
                    if not ok:
                        continue
                cnt += 1
        out[0, r] = frac[cnt]


_cdc_2d = kernel(_cdc_2d_python)


# --------------------------------------------------------------------------- public function

@dataclass(frozen=True, repr=False, eq=False)
class CDCResult(EffectSize):
    """The dual criterion: ``estimate`` = count / n_b (SE and interval NaN).

    Attributes
    ----------
    required_count : int
        The fewest B points beyond both lines that make ``decision`` True
        (n_b + 1 where no count does).
    count : int or numpy.ndarray
        B points beyond both lines (computed from the estimate when read).
    pvalue : float or numpy.ndarray
        One-sided binomial p-value, P(Bin(n_b, 1/2) >= count).
    decision : bool or numpy.ndarray
        The criterion's verdict ("systematic change"): ``pvalue < alpha``, or
        ``count >= cdc_table_count(n_b)`` with ``decision="table"``; both
        are ``count >= required_count``.
    """

    required_count: int = 0

    @cached_property
    def count(self):
        k = np.rint(np.asarray(self.estimate) * self.n_b).astype(np.int64)
        if not self.is_batch:
            return int(k)
        k.flags.writeable = False
        return k

    @cached_property
    def pvalue(self):
        p = _binom_sf(self.n_b)[self.count]
        if not self.is_batch:
            return float(p)
        p.flags.writeable = False
        return p

    @cached_property
    def decision(self):
        d = self.count >= self.required_count
        if not self.is_batch:
            return bool(d)
        d.flags.writeable = False
        return d

    def _extra_repr(self):
        return ("count", "pvalue")


@lru_cache(maxsize=256)
def _binom_sf(n: int) -> np.ndarray:
    """P(Bin(n, 1/2) >= k) for k = 0..n+1, correctly rounded (exact integer sums)."""
    tail = [0] * (n + 2)
    acc = 0
    for k in range(n, -1, -1):
        acc += math.comb(n, k)
        tail[k] = acc
    out = np.array([t / 2 ** n for t in tail])
    out.flags.writeable = False
    return out


def cdc_required_count(n: int, alpha: float = TABLE_ALPHA):
    """The fewest of ``n`` B points beyond both lines for which the binomial test says "systematic change".

    The smallest k with P(Bin(n, 1/2) >= k) < alpha (one-sided binomial test,
    p = 1/2), the rule of scan's ``cdc`` and of ``decision="binomial"``.
    None where even k = n is not enough (2^-n >= alpha: n <= 4 at .05).

    This is not Fisher, Kelley & Lomas's published table
    (:func:`cdc_table_count`), which asks for fewer points at 9 of its 19
    lengths (e.g. 6 of 7 and 8 of 10, where this gives 7 and 9).

    >>> [cdc_required_count(n) for n in range(4, 16)]
    [None, 5, 6, 7, 7, 8, 9, 9, 10, 10, 11, 12]
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive whole number, got {n!r}")
    sf = _binom_sf(int(n))
    for k in range(int(n) + 1):
        if sf[k] < alpha:
            return k
    return None


def cdc_table_count(n: int):
    """Fisher, Kelley & Lomas's (2003) required count for ``n`` B points (:data:`FISHER_TABLE`).

    The table covers 5 to 23 B points.  None for fewer than 5 (the table lists
    no count: no number of points suffices); a ValueError beyond 23.

    The published counts are not the exact one-sided binomial test at .05
    (:func:`cdc_required_count`): at 7, 10, 12, 17 and 19-23 B points they
    accept one point fewer, whose binomial tail P(Bin(n, 1/2) >= k) is .055 to
    .105 (e.g. 6 of 7: 8/128 = .0625; 8 of 10: 56/1024 = .0547), and no single
    level, nor a normal approximation with or without continuity correction,
    reproduces all 19 counts.  Use ``decision="table"`` to apply the criterion as
    published and used in practice; its Type I error is then above .05 at those
    lengths even for independent data.

    References
    ----------
    Fisher, W. W., Kelley, M. E., & Lomas, J. E. (2003). Visual aids and
    structured criteria for improving visual inspection and interpretation of
    single-case designs. *Journal of Applied Behavior Analysis*, 36(3), 387-406.

    >>> [cdc_table_count(n) for n in (4, 5, 7, 10, 23)]
    [None, 5, 6, 8, 15]
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive whole number, got {n!r}")
    if n < min(FISHER_TABLE):
        return None
    if n > max(FISHER_TABLE):
        raise ValueError(f"Fisher et al.'s table of required counts covers 5 to {max(FISHER_TABLE)} B points, "
                         f"got {n}; use decision='binomial'")
    return FISHER_TABLE[int(n)]


def _decimal(x: float) -> tuple[float, float]:
    """``(k, p)`` with x = k / p for the shortest decimal (<= 15 places) whose double is x; else (x, 1)."""
    p = 1.0
    for d in range(16):
        if d:
            p *= 10.0
        k = math.floor(x * p + 0.5)
        if abs(k) < 2.0 ** 50 and k / p == x:
            return float(k), p
    return x, 1.0


def _check_shift(shift) -> float:
    if isinstance(shift, (bool, np.bool_)) or not isinstance(shift, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"shift must be a number >= 0, got {shift!r}")
    c = float(shift)
    if not (math.isfinite(c) and c >= 0.0):
        raise ValueError(f"shift must be a finite number >= 0, got {shift!r}")
    return c


def _check_alpha(alpha) -> float:
    try:
        x = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a level in (0, 1), got {alpha!r}") from None
    if isinstance(alpha, (bool, np.bool_)) or not 0.0 < x < 1.0:
        raise ValueError(f"alpha must be a level in (0, 1), got {alpha!r}")
    return x


def _check_length(m: int, n: int) -> None:
    # The exact comparison's largest integer coefficients (OLS: m W and W + g (m t - T)).
    w = m * m * (m * m - 1) // 12
    g = m * (m + n - 1) - m * (m - 1) // 2
    if max(m * w, w + g * m * m) >= _COEF_LIMIT:
        raise ValueError(f"CDC: phases of {m} and {n} points are too long for exact tie decisions")


def _need(n: int, alpha: float) -> int:
    """The fewest of n points that make the binomial p < alpha (n + 1: none)."""
    sf = _binom_sf(n)
    return next((k for k in range(n + 1) if sf[k] < alpha), n + 1)


def cdc(a, b, *, improvement: str = "increase", trend: str = "ols", shift: float = 0.25,
        alpha: float = 0.05, decision: str = "binomial"):
    """The conservative dual criterion (CDC), or with ``shift=0`` the dual criterion (DC).

    Fisher, Kelley & Lomas (2003): draw the baseline mean line and the
    baseline trend line, extend both into the comparison phase, move both by
    ``shift`` baseline SDs in the direction of improvement, and count the B
    points beyond both lines.  The count is tested against a binomial
    distribution with p = 1/2 (as scan's ``cdc``).

    1. Trend T(t), projected to B's times t = m+1..m+n:

       * ``"ols"``: least-squares line of A on t = 1..m;
       * ``"bisplit"`` (k = 2) / ``"trisplit"`` (k = 3): the split-middle line
         through (median t, median value) of the first floor(m/k) points and
         of the points with index >= ceil(m (k - 1)/k + 1).

    2. s = SD(A), c = ``shift``.  Increase: B_j counts when B_j > T_j + c s
       **and** B_j > mean(A) + c s (decrease: B_j < T_j - c s and
       B_j < mean(A) - c s).  Strict inequalities.
    3. p = P(Bin(n, 1/2) >= count); decision: p < ``alpha``.

    Parameters
    ----------
    a, b : array_like
        Baseline and comparison phases in time order (1-D, or 2-D with one
        series per row).  A needs at least 2 points (its SD).
    improvement : {"increase", "decrease"}
    trend : {"ols", "bisplit", "trisplit"}
    shift : float
        c >= 0, in baseline SDs; 0.25 is the CDC, 0 the DC.
    alpha : float
        Level of the binomial test (scan uses .05).
    decision : {"binomial", "table"}
        ``"binomial"``: decision = p < ``alpha``.  ``"table"``: decision =
        count >= the required count of Fisher et al.'s published table
        (:func:`cdc_table_count`, 5 to 23 B points; fewer: no count suffices;
        more: a ValueError), which is for alpha = .05 only (another ``alpha``
        is a ValueError).  The table asks for one point fewer than the
        binomial test at 7, 10, 12, 17 and 19-23 B points (binomial tails
        .055-.105 there); elsewhere both rules agree.

    Returns
    -------
    CDCResult
        ``count``, ``n_b``, ``pvalue``, ``decision`` and ``estimate`` =
        count / n_b; ``se`` and the interval are NaN.

    Notes
    -----
    *Split-middle trends in short phases.* scan refuses bi- and tri-split
    trends with fewer than 5 points in either phase; scedsim computes them for
    any m >= 2 from the same formula, each group keeping at least one point:

    =====  =====================  =====================
    m      bisplit groups         trisplit groups
    =====  =====================  =====================
    2      1 / 2                  1 / 2 (formula: empty)
    3      1 / 3                  1 / 3
    4      1-2 / 3-4              1 / 4
    5      1-2 / 4-5              1 / 5
    6      1-3 / 4-6              1-2 / 5-6
    =====  =====================  =====================

    With one point per group the line runs through those two points.  m = 1
    raises a ValueError (the SD is undefined; R gives NA).  A constant
    baseline (s = 0) leaves the lines unshifted.

    *Ties.* A B value exactly on a threshold is not beyond it.  The
    comparison is decided in exact arithmetic on the data as written (values
    such as 0.1 taken as the decimals they stand for; the shift too): a fast
    floating-point comparison is used where its error bound proves the
    answer, otherwise the sign of L / D - c s is found from exact expansions
    of the integer combination L (Shewchuk 1997) and of the squares
    m (m - 1) L^2 and D^2 c^2 Q, Q = m (m - 1) s^2.  scan compares raw
    doubles from ``lm``/``predict`` and breaks such ties either way.

    References
    ----------
    Fisher, W. W., Kelley, M. E., & Lomas, J. E. (2003). Visual aids and
    structured criteria for improving visual inspection and interpretation of
    single-case designs. *Journal of Applied Behavior Analysis*, 36, 387-406.

    Swoboda, C. M., Kratochwill, T. R., & Levin, J. R. (2010). Conservative
    dual-criterion method for single-case research: A guide for visual
    analysis of AB, ABAB, and multiple-baseline designs. WCER working paper
    2010-13.

    Examples
    --------
    >>> import scedsim as ss
    >>> r = ss.cdc([18, 20], [19, 18, 20, 19, 18], improvement="decrease")
    >>> r.count, r.n_b, r.pvalue, r.decision, r.estimate
    (2, 5, 0.8125, False, 0.4)
    >>> a, b = [30, 29, 28, 30, 30, 28], [31, 31, 28, 28, 31, 30, 29]
    >>> ss.cdc(a, b, trend="bisplit").count, ss.cdc(a, b, trend="trisplit").pvalue
    (1, 0.5)

    An exact tie (T(11) = 45 = B at t = 11) is not beyond the line:

    >>> ss.cdc([48, 47, 49, 47, 49, 46], [48, 48, 45, 48, 45, 46, 46, 45], improvement="decrease",
    ...        trend="bisplit", shift=0).count
    1
    """
    check_choice("trend", trend, tuple(TREND_CODES))
    check_choice("decision", decision, DECISIONS)
    c = _check_shift(shift)
    lev = _check_alpha(alpha)
    if decision == "table" and lev != TABLE_ALPHA:
        raise ValueError(f"decision='table' is Fisher et al.'s table for alpha = .05; got alpha={alpha!r} "
                         "(use decision='binomial' for another level)")
    A, B, is_1d = phases(a, b, improvement, min_a=2, metric="CDC (its baseline SD)")
    # Its exact line comparisons square the data: beyond ~1e140 they overflow or underflow.
    check_magnitude("CDC", A, B)
    m, n = A.shape[1], B.shape[1]
    _check_length(m, n)
    if decision == "binomial":
        need = _need(n, lev)
    else:
        need = cdc_table_count(n)
        need = n + 1 if need is None else need
    kc, pc = _decimal(c)
    out = np.empty((1, A.shape[0]))
    run_rows(_cdc_2d, A, B, out, TREND_CODES[trend], c, kc, pc)
    return make(CDCResult, out, is_1d, metric="CDC" if c > 0 else "DC", n_a=m, n_b=n, improvement=improvement,
                options={"trend": trend, "shift": shift, "alpha": alpha, "decision": decision},
                required_count=need)


# --------------------------------------------------------------------------- registry entries

def _scan_cdc(o, imp, metric):
    return dict(improvement=imp, trend=o["trend_method"].lower(), shift=float(o["conservative"]))


register(Metric(
    name="cdc", label="CDC", title="CDC (share of B beyond both lines)", func=cdc, bounds=(0.0, 1.0),
    discrete=True, time_ordered=True, min_a=2, default=False,
    # Its own test is the binomial one (cdc_test); under permutation the trend moves with A.
    statistic=False,
    references=(Reference("comparators", "scan", "cdc_exceeding", _scan_cdc, ("count", "pvalue")),
                Reference("comparators", "scan", "cdc_decision", _scan_cdc, ("decision",))),
    undefined="CDC not defined for these values",
    kernels=(KernelCase("cdc-ols", _cdc_2d, 1, lambda m, n: (T_OLS, 0.25, 25.0, 100.0)),
             KernelCase("cdc-bisplit-dc", _cdc_2d, 1, lambda m, n: (T_BISPLIT, 0.0, 0.0, 1.0)),
             KernelCase("cdc-trisplit-half", _cdc_2d, 1, lambda m, n: (T_TRISPLIT, 0.5, 5.0, 10.0)),
             KernelCase("cdc-ols-dc", _cdc_2d, 1, lambda m, n: (T_OLS, 0.0, 0.0, 1.0)))))


def _cdc_pvalues(a, b, improvement="increase", *, trend="ols", shift=0.25):
    """One binomial CDC p-value per row of the 2-D batches ``a``, ``b``."""
    return np.asarray(cdc(a, b, improvement=improvement, trend=trend, shift=shift).pvalue, dtype=np.float64)


def _cdc_check(options, improvement):
    check_choice("trend", options.get("trend", "ols"), tuple(TREND_CODES))
    _check_shift(options.get("shift", 0.25))
    unknown = set(options) - {"trend", "shift"}
    if unknown:
        raise ValueError(f"cdc_test takes the options trend and shift; got {', '.join(sorted(unknown))}")


register_test(TestSpec(
    name="cdc_test", prefix="p_cdc", pvalues=_cdc_pvalues,
    # The count can reach n: p = 2^-n.
    min_pvalue=lambda o, m, n, k: 0.5 ** n,
    check=_cdc_check))
