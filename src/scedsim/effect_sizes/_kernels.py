"""Batched kernels for the effect sizes, and their plain-Python twins.

Conventions shared by every kernel:

* ``a`` is ``(rows, m)`` and ``b`` is ``(rows, n)``: one series per row, phase A
  (baseline) and phase B (comparison), already oriented so that *higher is
  better* (the public layer negates for ``improvement="decrease"``).
* ``out`` is ``(fields, rows)``; each kernel documents its fields.  Writing
  fields as rows keeps each result field contiguous for the caller.
* No validation, no random numbers, no Python objects, and no allocation inside
  the row loop: scratch buffers are allocated once, before it.

Each kernel ``_x_2d`` is built from a plain-Python function ``_x_2d_python``
by :func:`scedsim._numba.kernel`.  The twin is the readable statement of the
algorithm; the tests run both and compare them.
"""
from __future__ import annotations

import math

import numpy as np

from .._numba import kernel

# Codes for the NAP/Tau standard errors.
SE_UNBIASED, SE_HANLEY, SE_NULL, SE_NONE = 0, 1, 2, 3
SE_CODES = {"unbiased": SE_UNBIASED, "hanley": SE_HANLEY, "null": SE_NULL, "none": SE_NONE}

# Relative tolerance for ties against fitted values (PET, Tau-BC residuals):
# values equal in exact arithmetic must tie whatever rounding does.
TIE_RTOL = 1e-9


# --------------------------------------------------------------------------- helpers

def _insertion_sort_python(x, k):
    """Sort the first ``k`` entries of ``x`` in place (fast for the 3-10 values of a phase)."""
    for i in range(1, k):
        v = x[i]
        j = i - 1
        while j >= 0 and x[j] > v:
            x[j + 1] = x[j]
            j -= 1
        x[j + 1] = v


_insertion_sort = kernel(_insertion_sort_python)


def _sorted_median_python(x, k):
    """Median of the first ``k`` entries of ``x``, which must already be sorted."""
    h = k // 2
    if k % 2 == 1:
        return x[h]
    return 0.5 * (x[h - 1] + x[h])


_sorted_median = kernel(_sorted_median_python)


# --------------------------------------------------------------------------- NAP / Tau

def _nap_se_python(twice, sq, row_ss, col_ss, m, n, se_code):
    """Standard error of NAP from integer pair-score sums (scores 2q in {0, 1, 2}).

    ``twice`` = sum of 2q, ``sq`` = sum of (2q)^2, ``row_ss`` = sum over A values of
    (sum over B of 2q)^2 and ``col_ss`` the same over B values.  The centred sums
    of the SE formulas follow: sum_i (R_i - n N)^2 = sum R_i^2 - 2 n N sum R_i +
    m (n N)^2 with R_i the row sums of q.  Unbiased (Sen 1967; Mee 1990), Hanley &
    McNeil (1982), null, or none, with NAP truncated to [1/(2mn), 1 - 1/(2mn)].
    """
    mn = m * n
    if se_code == SE_NONE:
        return np.nan
    if se_code == SE_NULL:
        return math.sqrt((m + n + 1) / (12.0 * mn))
    # Reciprocals of the row-invariant divisors: once the function is inlined into
    # a kernel's row loop they are hoisted out of it, leaving multiplications.
    inv_mn = 1.0 / mn
    nap = 0.5 * twice * inv_mn
    q1 = (0.25 * row_ss - n * nap * twice + m * (n * nap) ** 2) * (inv_mn / n)
    q2 = (0.25 * col_ss - m * nap * twice + n * (m * nap) ** 2) * (inv_mn / m)
    xx = 0.25 * sq * inv_mn - nap * nap
    trunc = 0.5 * inv_mn
    ns = min(max(nap, trunc), 1.0 - trunc)
    if se_code == SE_UNBIASED:
        v = (ns * (1.0 - ns) + n * q1 + m * q2 - 2.0 * xx) * (1.0 / ((m - 1) * (n - 1)))
    else:
        v = (ns * (1.0 - ns) + (n - 1) * q1 + (m - 1) * q2) * inv_mn
    return math.sqrt(v) if v >= 0.0 else np.nan


_nap_se = kernel(_nap_se_python)


def _nap_2d_python(a, b, se_code, ci_table, tau_scale, out):
    """NAP (Parker & Vannest 2009) with its SE and a tabulated score CI.

    Fields of ``out``: estimate, se, ci_lower, ci_upper.  ``ci_table`` has shape
    ``(2, 2*m*n + 1)``: the Newcombe bounds for NAP = k / (2mn); an empty table
    (``shape[1] == 0``) leaves the CI fields untouched.  With ``tau_scale`` the
    fields are mapped to Tau = 2 NAP - 1.

    One pass over the m n pairs scores each as 2q in {0, 1, 2} (branch-free) and
    accumulates, in integers, the total, the sum of squares and the sums over B
    for each A value and over A for each B value; the centred sums of the SE
    formulas follow from these without a second pass.
    """
    rows, m = a.shape
    n = b.shape[1]
    mn = m * n
    use_table = ci_table.shape[1] > 0
    need_pieces = se_code == SE_UNBIASED or se_code == SE_HANLEY
    col = np.zeros(n, dtype=np.int64)
    for r in range(rows):
        twice = 0  # 2 x (wins + ties/2): an exact integer
        sq = 0
        row_ss = 0
        if need_pieces:
            for j in range(n):
                col[j] = 0
            for i in range(m):
                ai = a[r, i]
                s = 0
                for j in range(n):
                    bj = b[r, j]
                    q2 = int(bj > ai) + int(bj >= ai)
                    s += q2
                    sq += q2 * q2
                    col[j] += q2
                twice += s
                row_ss += s * s
        else:
            for i in range(m):
                ai = a[r, i]
                for j in range(n):
                    bj = b[r, j]
                    twice += int(bj > ai) + int(bj >= ai)
        nap = twice / (2.0 * mn)
        col_ss = 0
        for j in range(n):
            col_ss += col[j] * col[j]
        se = _nap_se(twice, sq, row_ss, col_ss, m, n, se_code)
        if tau_scale:
            out[0, r] = 2.0 * nap - 1.0
            out[1, r] = 2.0 * se
        else:
            out[0, r] = nap
            out[1, r] = se
        if use_table:
            if tau_scale:
                out[2, r] = 2.0 * ci_table[0, twice] - 1.0
                out[3, r] = 2.0 * ci_table[1, twice] - 1.0
            else:
                out[2, r] = ci_table[0, twice]
                out[3, r] = ci_table[1, twice]


_nap_2d = kernel(_nap_2d_python)


def _newcombe_g_python(x, nap, mn, z2, h, mode):
    """Newcombe's polynomial f(x), whose roots in [0, 1] are the score bounds.

    ``mode`` 0 gives f itself; 1 gives f(x)/x (the upper bound at NAP = 0) and
    2 gives f(x)/(1 - x) (the lower bound at NAP = 1), removing the spurious
    root at the boundary.
    """
    shape = 2.0 + h + (1.0 + 2.0 * h) * x * (1.0 - x)
    if mode == 1:  # NAP = 0: f(x)/x
        return mn * x * (2.0 - x) * (1.0 + x) - z2 * (1.0 - x) * shape
    if mode == 2:  # NAP = 1: f(x)/(1 - x)
        return mn * (1.0 - x) * (2.0 - x) * (1.0 + x) - z2 * x * shape
    return mn * (nap - x) ** 2 * (2.0 - x) * (1.0 + x) - z2 * x * (1.0 - x) * shape


_newcombe_g = kernel(_newcombe_g_python)


def _brent_root_python(ax, bx, nap, mn, z2, h, mode, tol):
    """Root of Newcombe's polynomial in [ax, bx] by Brent's (1973) method.

    Brent, R. P. (1973). *Algorithms for Minimization without Derivatives*,
    ch. 4: bisection safeguarded inverse quadratic interpolation.  It stops when
    the bracket is below ``2 eps |b| + tol/2``: ``tol = eps**0.25`` is R's
    ``uniroot`` default, which SingleCaseES uses (its bounds are reproduced to
    1e-16), and ``tol = 0`` gives the root to machine precision.
    """
    eps = 2.220446049250313e-16
    a = ax
    b = bx
    fa = _newcombe_g(a, nap, mn, z2, h, mode)
    fb = _newcombe_g(b, nap, mn, z2, h, mode)
    c = a
    fc = fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(1000):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a = b
            b = c
            c = a
            fa = fb
            fb = fc
            fc = fa
        tol_act = 2.0 * eps * abs(b) + tol / 2.0
        new_step = (c - b) / 2.0
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:  # secant
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:  # inverse quadratic interpolation
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0.0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2.0) and p < abs(prev_step * q / 2.0):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0.0 else -tol_act
        a = b
        fa = fb
        b += new_step
        fb = _newcombe_g(b, nap, mn, z2, h, mode)
        if (fb > 0.0 and fc > 0.0) or (fb < 0.0 and fc < 0.0):
            c = a
            fc = fa
    return b


_brent_root = kernel(_brent_root_python)


def _score_ci_python(values, m, n, z, tol, out):
    """Newcombe (2006, method 5) score interval for each NAP in ``values``.

    The bounds are the roots in [0, 1] of
    ``f(x) = mn (N - x)^2 (2 - x)(1 + x) - z^2 x (1 - x)(2 + h + (1 + 2h) x (1 - x))``
    below and above N, h = (m + n)/2 - 1; f(0), f(1) >= 0 >= f(N) brackets them.
    At N = 1 the root x = 1 is the upper bound and the lower bound is the root
    of f(x)/(1 - x) in (0, 1); symmetrically at N = 0.  ``tol`` is the root
    finder's tolerance for interior bounds (see :func:`_brent_root`); the
    boundary bounds, which no R package gives, are always solved to machine
    precision.  ``out`` is ``(2, len(values))``.
    """
    mn = float(m * n)
    z2 = z * z
    h = (m + n) / 2.0 - 1.0
    for k in range(values.shape[0]):
        nap = values[k]
        if nap <= 0.0:
            out[0, k] = 0.0
            out[1, k] = _brent_root(0.0, 1.0, nap, mn, z2, h, 1, 0.0)
        elif nap >= 1.0:
            out[0, k] = _brent_root(0.0, 1.0, nap, mn, z2, h, 2, 0.0)
            out[1, k] = 1.0
        else:
            out[0, k] = _brent_root(0.0, nap, nap, mn, z2, h, 0, tol)
            out[1, k] = _brent_root(nap, 1.0, nap, mn, z2, h, 0, tol)


_score_ci = kernel(_score_ci_python)


# --------------------------------------------------------------------------- PND, PEM

def _pnd_2d_python(a, b, out):
    """PND (Scruggs, Mastropieri & Casto 1987): share of B strictly above max(A).

    Field of ``out``: estimate.
    """
    rows, m = a.shape
    n = b.shape[1]
    for r in range(rows):
        top = a[r, 0]
        for i in range(1, m):
            top = max(top, a[r, i])
        c = 0
        for j in range(n):
            c += int(b[r, j] > top)
        out[0, r] = c / n


_pnd_2d = kernel(_pnd_2d_python)


def _pem_2d_python(a, b, use_mean, half_ties, out):
    """PEM (Ma 2006): share of B above the centre of A (median, or mean).

    With ``half_ties`` a B value equal to the centre counts one half (SingleCaseES);
    otherwise only strict exceedances count (scan).  Field of ``out``: estimate.
    """
    rows, m = a.shape
    n = b.shape[1]
    scratch = np.empty(m)
    half = 1 if half_ties else 0
    for r in range(rows):
        if use_mean:
            s = 0.0
            for i in range(m):
                s += a[r, i]
            centre = s / m
        elif m == 3:
            # Median of three without a copy or a sort (the common 3-point baseline).
            x0, x1, x2 = a[r, 0], a[r, 1], a[r, 2]
            centre = max(min(x0, x1), min(max(x0, x1), x2))
        else:
            for i in range(m):
                scratch[i] = a[r, i]
            if m <= 64:
                _insertion_sort(scratch, m)
            else:  # long baselines: O(m log m) in place
                scratch.sort()
            centre = _sorted_median(scratch, m)
        twice = 0
        for j in range(n):
            bj = b[r, j]
            twice += 2 * int(bj > centre) + half * int(bj == centre)
        out[0, r] = twice / (2.0 * n)


_pem_2d = kernel(_pem_2d_python)


# --------------------------------------------------------------------------- PAND, IRD

def _pand_2d_python(a, b, ird, out):
    """PAND (Parker, Hagan-Burke & Vannest 2007) or robust IRD (Parker, Vannest & Brown 2009).

    The most points that can be kept is ``max(n, max_k #{A <= a_k} + #{B > a_k})``:
    keeping every A value up to a_k leaves exactly the B values above a_k (ties
    between phases are overlap).  With r = m + n - kept removals,
    PAND = kept / (m + n) and robust IRD = 1 - r (m + n) / (2 m n).
    Field of ``out``: estimate.
    """
    rows, m = a.shape
    n = b.shape[1]
    for r in range(rows):
        kept = n
        for k in range(m):
            ak = a[r, k]
            c = 0
            for i in range(m):
                c += int(a[r, i] <= ak)
            for j in range(n):
                c += int(b[r, j] > ak)
            kept = max(kept, c)
        if ird:
            out[0, r] = 1.0 - (m + n - kept) * (m + n) / (2.0 * m * n)
        else:
            out[0, r] = kept / (m + n)


_pand_2d = kernel(_pand_2d_python)


# --------------------------------------------------------------------------- PET

def _pet_2d_python(a, b, out):
    """PET: share of B strictly above the OLS line of A (times 1..m) projected into B.

    A B value within ``TIE_RTOL`` of the data's scale from the line ties with it
    and does not count.  Field of ``out``: estimate.
    """
    rows, m = a.shape
    n = b.shape[1]
    tbar = (m + 1) / 2.0
    sxx = m * (m * m - 1) / 12.0
    for r in range(rows):
        s = 0.0
        scale = 0.0
        for i in range(m):
            s += a[r, i]
            if abs(a[r, i]) > scale:
                scale = abs(a[r, i])
        mean = s / m
        sxy = 0.0
        for i in range(m):
            sxy += (i + 1 - tbar) * (a[r, i] - mean)
        slope = sxy / sxx
        for j in range(n):
            if abs(b[r, j]) > scale:
                scale = abs(b[r, j])
        c = 0
        for j in range(n):
            fit = mean + slope * (m + 1 + j - tbar)
            tol = TIE_RTOL * max(scale, abs(fit))
            if b[r, j] - fit > tol:
                c += 1
        out[0, r] = c / n


_pet_2d = kernel(_pet_2d_python)


# --------------------------------------------------------------------------- Tau-U

C_AB, C_TREND_A, C_TREND_B, C_AB_MINUS_A, C_AB_PLUS_B, C_AB_PLUS_B_MINUS_A = 0, 1, 2, 3, 4, 5
CONTRAST_CODES = {
    "ab": C_AB,
    "trend_a": C_TREND_A,
    "trend_b": C_TREND_B,
    "ab_minus_trend_a": C_AB_MINUS_A,
    "ab_plus_trend_b": C_AB_PLUS_B,
    "ab_plus_trend_b_minus_trend_a": C_AB_PLUS_B_MINUS_A,
}
M_PARKER, M_COMPLETE, M_TARLOW = 0, 1, 2
METHOD_CODES = {"parker": M_PARKER, "complete": M_COMPLETE, "tarlow": M_TARLOW}


def _trend_s_python(x, r):
    """Kendall's S of row ``r`` of ``x`` against time, and its number of tied pairs.

    Each pair (earlier, later) scores 2q in {0, 1, 2}; with w rises, t ties:
    sum 2q = 2w + t and sum (2q)^2 = 4w + t, so S = sum 2q - pairs and
    t = 2 sum 2q - sum (2q)^2.
    """
    k = x.shape[1]
    tw = 0
    sq = 0
    for i in range(k):
        xi = x[r, i]
        for j in range(i + 1, k):
            q2 = int(x[r, j] > xi) + int(x[r, j] >= xi)
            tw += q2
            sq += q2 * q2
    return tw - k * (k - 1) // 2, 2 * tw - sq


_trend_s = kernel(_trend_s_python)


def _tau_u_2d_python(a, b, contrast, method, out):
    """Tau-U (Parker, Vannest, Davis & Sauber 2011) and its variants.

    Every contrast is Kendall's S between the series and a constructed predictor,
    which reduces to sums of the three blocks S_AB = sum sign(B_j - A_i),
    S_AA and S_BB (Kendall's S of each phase against time).  The denominator
    depends on ``method``: the number of pairs untied in the predictor
    (``tarlow``); the same but m n for ``ab_minus_trend_a`` (``parker``, as
    SingleCaseES's Tau_U); or Kendall's tau-b denominator (``complete``, scan's
    default), with scan's m n - ties_AB / 2 for ``ab``.  A zero denominator
    gives NaN.  Field of ``out``: estimate.
    """
    rows, m = a.shape
    n = b.shape[1]
    pa = m * (m - 1) // 2
    pb = n * (n - 1) // 2
    mn = m * n
    need_ab = contrast != C_TREND_A and contrast != C_TREND_B
    need_aa = contrast == C_TREND_A or contrast == C_AB_MINUS_A or contrast == C_AB_PLUS_B_MINUS_A
    need_bb = contrast == C_TREND_B or contrast == C_AB_PLUS_B or contrast == C_AB_PLUS_B_MINUS_A
    complete = method == M_COMPLETE
    for r in range(rows):
        # Each block scores its pairs 2q in {0, 1, 2} (later value above, tied,
        # below); with w wins, l losses and t ties, sum 2q = 2w + t and
        # sum (2q)^2 = 4w + t, so S = sum 2q - pairs and t = 2 sum 2q - sum (2q)^2.
        s_ab = 0
        t_ab = 0
        s_aa = 0
        t_aa = 0
        s_bb = 0
        t_bb = 0
        if need_ab:
            tw = 0
            sq = 0
            for i in range(m):
                ai = a[r, i]
                for j in range(n):
                    q2 = int(b[r, j] > ai) + int(b[r, j] >= ai)
                    tw += q2
                    sq += q2 * q2
            s_ab = tw - mn
            t_ab = 2 * tw - sq
        if need_aa or (complete and need_ab):
            s_aa, t_aa = _trend_s(a, r)
        if need_bb or (complete and need_ab):
            s_bb, t_bb = _trend_s(b, r)
        # S and the pair counts: untied in the predictor (px), all pairs of the
        # series used (n0) and predictor ties (tx).
        if contrast == C_AB:
            s = s_ab
            px = mn
            n0 = (m + n) * (m + n - 1) // 2
            tx = pa + pb
        elif contrast == C_TREND_A:
            s = s_aa
            px = pa
            n0 = pa
            tx = 0
        elif contrast == C_TREND_B:
            s = s_bb
            px = pb
            n0 = pb
            tx = 0
        elif contrast == C_AB_MINUS_A:
            s = s_ab - s_aa
            px = mn + pa
            n0 = (m + n) * (m + n - 1) // 2
            tx = pb
        elif contrast == C_AB_PLUS_B:
            s = s_ab + s_bb
            px = mn + pb
            n0 = (m + n) * (m + n - 1) // 2
            tx = pa
        else:
            s = s_ab - s_aa + s_bb
            px = mn + pa + pb
            n0 = (m + n) * (m + n - 1) // 2
            tx = 0
        if method == M_TARLOW:
            d = float(px)
        elif method == M_PARKER:
            d = float(mn) if contrast == C_AB_MINUS_A else float(px)
        elif contrast == C_AB:
            d = mn - t_ab / 2.0
        else:
            if contrast == C_TREND_A:
                ty = t_aa
            elif contrast == C_TREND_B:
                ty = t_bb
            else:
                ty = t_aa + t_bb + t_ab
            d = math.sqrt(float(n0 - tx) * float(n0 - ty))
        out[0, r] = s / d if d > 0.0 else np.nan


_tau_u_2d = kernel(_tau_u_2d_python)


# --------------------------------------------------------------------------- Tau-BC

def _tau_bc_2d_python(a, b, kendall, pretest_alpha, se_code, ci_table, z, out):
    """Baseline-corrected Tau (Tarlow 2017).

    Per row: the Theil-Sen line of A against times 1..m (median pairwise slope,
    median intercept); optionally the Mann-Kendall pretest of that trend
    (tie-corrected variance, continuity correction, two-sided normal p), which
    keeps the raw data when p > ``pretest_alpha`` (``pretest_alpha < 0``: always
    correct); then Tau (NAP-based, with SE and tabulated score CI) or Kendall's
    tau-b against the phase dummy (SE sqrt(2 (1 - tau^2) / (m + n)), Wald CI)
    on the residuals.  Residuals within ``TIE_RTOL`` of the data's scale tie.

    Fields of ``out``: estimate, se, ci_lower, ci_upper, slope, intercept,
    pretest p-value (NaN without a pretest), corrected (1.0 or 0.0).
    """
    rows, m = a.shape
    n = b.shape[1]
    big = m + n
    mn = m * n
    npairs = m * (m - 1) // 2
    slopes = np.empty(max(npairs, 1))
    inter = np.empty(m)
    res = np.empty(big)
    col = np.zeros(n, dtype=np.int64)
    use_table = ci_table.shape[1] > 0
    for r in range(rows):
        # Theil-Sen fit of A on t = 1..m.
        if m == 3:
            # Three slopes and three intercepts: medians of three, no sorting.
            x0, x1, x2 = a[r, 1] - a[r, 0], (a[r, 2] - a[r, 0]) / 2.0, a[r, 2] - a[r, 1]
            slope = max(min(x0, x1), min(max(x0, x1), x2))
            x0, x1, x2 = a[r, 0] - slope, a[r, 1] - slope * 2.0, a[r, 2] - slope * 3.0
            intercept = max(min(x0, x1), min(max(x0, x1), x2))
        else:
            k = 0
            for i in range(m):
                for j in range(i + 1, m):
                    slopes[k] = (a[r, j] - a[r, i]) / (j - i)
                    k += 1
            if npairs <= 64:
                _insertion_sort(slopes, npairs)
            else:  # long baselines: O(k log k) in place
                slopes[:npairs].sort()
            slope = _sorted_median(slopes, npairs)
            for i in range(m):
                inter[i] = a[r, i] - slope * (i + 1)
            if m <= 64:
                _insertion_sort(inter, m)
            else:
                inter.sort()
            intercept = _sorted_median(inter, m)
        out[4, r] = slope
        out[5, r] = intercept
        # Mann-Kendall pretest of the A trend.
        correct = True
        if pretest_alpha >= 0.0:
            s = 0
            for i in range(m):
                for j in range(i + 1, m):
                    if a[r, j] > a[r, i]:
                        s += 1
                    elif a[r, j] < a[r, i]:
                        s -= 1
            ties = 0.0
            for i in range(m):
                first = True
                for j in range(i):
                    if a[r, j] == a[r, i]:
                        first = False
                        break
                if first:
                    t = 0
                    for j in range(i, m):
                        if a[r, j] == a[r, i]:
                            t += 1
                    ties += t * (t - 1.0) * (2.0 * t + 5.0)
            var = (m * (m - 1.0) * (2.0 * m + 5.0) - ties) / 18.0
            if var > 0.0:
                zs = (abs(s) - 1.0) / math.sqrt(var)
                p = min(1.0, math.erfc(zs / math.sqrt(2.0)))
            else:
                p = 1.0
            out[6, r] = p
            correct = p <= pretest_alpha
        else:
            out[6, r] = np.nan
        out[7, r] = 1.0 if correct else 0.0
        # Residuals (or the raw data when no correction is made).
        scale = 0.0
        for t in range(big):
            y = a[r, t] if t < m else b[r, t - m]
            if correct:
                y = y - intercept - slope * (t + 1)
            res[t] = y
            if abs(y) > scale:
                scale = abs(y)
            if abs(a[r, t] if t < m else b[r, t - m]) > scale:
                scale = abs(a[r, t] if t < m else b[r, t - m])
        tol = TIE_RTOL * scale
        # Pair scores 2q on the residuals, ties within the tolerance, as in NAP.
        twice = 0
        sq = 0
        row_ss = 0
        for j in range(n):
            col[j] = 0
        for i in range(m):
            ri = res[i]
            s1 = 0
            for j in range(n):
                d = res[m + j] - ri
                q2 = int(d > tol) + int(d >= -tol)
                s1 += q2
                sq += q2 * q2
                col[j] += q2
            twice += s1
            row_ss += s1 * s1
        nap = twice / (2.0 * mn)
        if kendall:
            s_ab = twice - mn  # wins - losses
            ties_y = 0
            for i in range(big):
                for j in range(i + 1, big):
                    ties_y += int(abs(res[j] - res[i]) <= tol)
            n0 = big * (big - 1) // 2
            ties_x = npairs + n * (n - 1) // 2
            den = math.sqrt(float(n0 - ties_x) * float(n0 - ties_y))
            # All residuals tied: S = 0 and R's Kendall package reports tau = 0.
            tau = s_ab / den if den > 0.0 else 0.0
            se = math.sqrt(2.0 * (1.0 - tau * tau) / big)
            out[0, r] = tau
            out[1, r] = se
            out[2, r] = tau - z * se
            out[3, r] = tau + z * se
            continue
        col_ss = 0
        for j in range(n):
            col_ss += col[j] * col[j]
        se = _nap_se(twice, sq, row_ss, col_ss, m, n, se_code)
        out[0, r] = 2.0 * nap - 1.0
        out[1, r] = 2.0 * se
        if use_table:
            out[2, r] = 2.0 * ci_table[0, twice] - 1.0
            out[3, r] = 2.0 * ci_table[1, twice] - 1.0
        else:
            out[2, r] = np.nan
            out[3, r] = np.nan


_tau_bc_2d = kernel(_tau_bc_2d_python)


# --------------------------------------------------------------------------- SMD, LRR

def _smd_2d_python(a, b, pooled, bias_correct, z, out):
    """Within-case standardized mean difference (Gingerich 1984; Busk & Serlin 1992).

    Fields of ``out``: estimate, se, ci_lower, ci_upper (Wald).  A zero SD, or the
    baseline SD with the correction at m = 2 (J = 0), gives NaN.
    """
    rows, m = a.shape
    n = b.shape[1]
    nu = (m + n - 2) if pooled else (m - 1)
    j_corr = (1.0 - 3.0 / (4.0 * nu - 1.0)) if bias_correct else 1.0
    for r in range(rows):
        sa = 0.0
        for i in range(m):
            sa += a[r, i]
        sb = 0.0
        for j in range(n):
            sb += b[r, j]
        ma = sa / m
        mb = sb / n
        va = 0.0
        for i in range(m):
            va += (a[r, i] - ma) ** 2
        va = va / (m - 1) if m > 1 else np.nan
        vb = 0.0
        for j in range(n):
            vb += (b[r, j] - mb) ** 2
        vb = vb / (n - 1) if n > 1 else 0.0
        if pooled:
            s2 = ((m - 1) * (va if m > 1 else 0.0) + (n - 1) * vb) / nu
            v1 = 1.0 / m + 1.0 / n
        else:
            s2 = va
            v1 = (1.0 / m + vb / (n * va)) if va > 0.0 else np.nan
        if not (s2 > 0.0) or j_corr <= 0.0:
            out[0, r] = np.nan
            out[1, r] = np.nan
            out[2, r] = np.nan
            out[3, r] = np.nan
            continue
        g = j_corr * (mb - ma) / math.sqrt(s2)
        se = j_corr * math.sqrt(v1 + g * g / (2.0 * nu))
        out[0, r] = g
        out[1, r] = se
        out[2, r] = g - z * se
        out[3, r] = g + z * se


_smd_2d = kernel(_smd_2d_python)


def _lrr_2d_python(a, b, sign, bias_correct, z, out):
    """Log response ratio on the count scale (Pustejovsky 2018), with its floors.

    ``sign`` (+1 or -1) orients R = L_B - L_A.  Fields of ``out``: estimate, se,
    ci_lower, ci_upper (Wald).
    """
    rows, m = a.shape
    n = b.shape[1]
    for r in range(rows):
        sa = 0.0
        for i in range(m):
            sa += a[r, i]
        sb = 0.0
        for j in range(n):
            sb += b[r, j]
        ma = max(sa / m, 1.0 / (2.0 * m))
        mb = max(sb / n, 1.0 / (2.0 * n))
        va = 0.0
        for i in range(m):
            va += (a[r, i] - sa / m) ** 2
        va = va / (m - 1) if m > 1 else 0.0
        vb = 0.0
        for j in range(n):
            vb += (b[r, j] - sb / n) ** 2
        vb = vb / (n - 1) if n > 1 else 0.0
        va = max(va, 1.0 / m ** 3)
        vb = max(vb, 1.0 / n ** 3)
        la = math.log(ma)
        lb = math.log(mb)
        if bias_correct:
            la += va / (2.0 * m * ma * ma)
            lb += vb / (2.0 * n * mb * mb)
        est = sign * (lb - la)
        se = math.sqrt(va / (m * ma * ma) + vb / (n * mb * mb))
        out[0, r] = est
        out[1, r] = se
        out[2, r] = est - z * se
        out[3, r] = est + z * se


_lrr_2d = kernel(_lrr_2d_python)

