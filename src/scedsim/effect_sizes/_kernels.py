"""Batched kernels for the effect sizes, and their plain-Python twins.

Conventions shared by every kernel:

* ``a`` is ``(rows, m)`` and ``b`` is ``(rows, n)``: one series per row, phase A
  (baseline) and phase B (comparison), already oriented so that *higher is
  better* (the public layer negates for ``improvement="decrease"``).
* ``out`` is ``(fields, rows)``; each kernel documents its fields.  Writing
  fields as rows keeps each result field contiguous for the caller.
* No validation, no random numbers, no Python objects, and no allocation inside
  the row loop: scratch buffers are allocated once, before it.  A fixed-shape
  kernel (below) may return a flag saying that some value needs the caller's
  checks (NaN, inf, out of range); the caller then runs them and raises.

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


# --------------------------------------------------------------------------- exact signs
# Ties against fitted lines (PET, the Tau-BC residuals) are decided in exact
# arithmetic on the data as written (Shewchuk 1997): a fast floating-point
# answer is used when its error bound proves the sign, otherwise the sign of
# an exact expansion of the same integer-coefficient expression.

_EPS = 2.220446049250313e-16
_SPLITTER = 134217729.0  # 2^27 + 1 (Dekker's split)
# Scaled decimal values stay below 2^50, so that distinct decimals with the
# same number of places are distinct doubles and the integers are exact.
_DEC_LIMIT = 1125899906842624.0
# Integer coefficients built from time differences must be exact doubles.
COEF_LIMIT = 9007199254740992.0  # 2^53


def _two_prod_python(a, b):
    """``(p, e)`` with p = fl(a b) and p + e = a b exactly (Dekker 1971)."""
    p = a * b
    c = _SPLITTER * a
    ah = c - (c - a)
    al = a - ah
    c = _SPLITTER * b
    bh = c - (c - b)
    bl = b - bh
    e = al * bl - (((p - ah * bh) - al * bh) - ah * bl)
    return p, e


_two_prod = kernel(_two_prod_python)


def _sum_sign_python(terms, k, h):
    """Sign of the exact sum of ``terms[:k]``.

    Shewchuk's (1997) grow-expansion adds each term to a nonoverlapping
    expansion ``h`` (scratch, length >= k) by error-free two-sums; the sign of
    such an expansion is the sign of its largest nonzero component.  Shewchuk,
    J. R. (1997). Adaptive precision floating-point arithmetic and fast robust
    geometric predicates. *Discrete & Computational Geometry*, 18, 305-363.
    """
    hl = 0
    for i in range(k):
        q = terms[i]
        for j in range(hl):
            s = q + h[j]
            bv = s - q
            av = s - bv
            h[j] = (q - av) + (h[j] - bv)
            q = s
        h[hl] = q
        hl += 1
    for j in range(hl - 1, -1, -1):
        if h[j] > 0.0:
            return 1
        if h[j] < 0.0:
            return -1
    return 0


_sum_sign = kernel(_sum_sign_python)


def _dot_sign_python(c, x, k, terms, h):
    """Exact sign of sum_i c[i] x[i] (i < k); ``c`` holds exact integers.

    ``terms`` (length >= 2k) and ``h`` (>= 2k) are scratch.
    """
    s = 0.0
    mag = 0.0
    for i in range(k):
        t = c[i] * x[i]
        s += t
        mag += abs(t)
    bound = (2.0 * k + 8.0) * _EPS * mag  # > the rounding error of the naive sum
    if s > bound:
        return 1
    if s < -bound:
        return -1
    if mag < 2251799813685248.0:  # 2^51: integer terms and sums below it are exact
        ints = True
        for i in range(k):
            if x[i] != math.floor(x[i]):
                ints = False
                break
        if ints:
            if s > 0.0:
                return 1
            return -1 if s < 0.0 else 0
    for i in range(k):
        p, e = _two_prod(c[i], x[i])
        terms[2 * i] = p
        terms[2 * i + 1] = e
    return _sum_sign(terms, 2 * k, h)


_dot_sign = kernel(_dot_sign_python)


def _exact_values_python(a, b, r, xv):
    """The row's values as exact numbers for tie decisions, in ``xv`` (length m + n).

    Data are usually written as decimals (e.g. 59.9337748344409, or 0.1, which
    no double holds exactly).  If every value of the row is the double nearest
    a decimal with d <= 15 places, xv holds the integers round(x 10^d): exact
    arithmetic on them is exact arithmetic on the decimals, so 0.1, 0.2, 0.3
    lie on a line.  Otherwise xv holds the doubles themselves (exact binary
    values).  Only comparisons are made with xv, and scaling does not change them.

    Returns the largest |xv| when xv holds integers, otherwise -1.
    """
    m = a.shape[1]
    big = m + b.shape[1]
    p = 1.0
    for d in range(16):
        if d > 0:
            p *= 10.0  # exact: 10^d is a double for d <= 22
        top = 0.0
        ok = True
        for t in range(big):
            x = a[r, t] if t < m else b[r, t - m]
            k = math.floor(x * p + 0.5)
            if abs(k) >= _DEC_LIMIT or k / p != x:
                ok = False
                break
            xv[t] = k
            top = max(top, abs(k))
        if ok:
            return top
    for t in range(big):
        xv[t] = a[r, t] if t < m else b[r, t - m]
    return -1.0


_exact_values = kernel(_exact_values_python)


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
    if se_code == SE_UNBIASED and (m < 2 or n < 2):
        return np.nan  # the unbiased variance divides by (m - 1)(n - 1)
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


# Fixed-shape kernels: the phase lengths m and n enter as the lengths of tuples
# of zeros, which are part of the argument types, so numba compiles (and caches
# on disk) one version per (m, n) in which the loops over the points have
# constant trip counts.  LLVM unrolls them; the row loop is then innermost and
# free of branches, and runs on SIMD lanes, several rows per instruction.

#: Batches of at least this many rows use the fixed-shape kernels (one compiled
#: version per phase-length pair, compiled once per machine and then loaded
#: from numba's disk cache, a few tens of milliseconds per process); smaller
#: ones use the general kernels, for which loading a further compiled version
#: would cost more than it saves.
FIXED_MIN_ROWS = 32_768

#: Rows per block of a fixed-shape kernel.  Its vectorised pass over a block
#: leaves the table indices in a scratch buffer that stays in L1, and a second,
#: scalar loop looks them up: an indexed load in the first loop would stop LLVM
#: from vectorising it (it cannot prove the table does not overlap ``out``).
FIXED_BLOCK = 512

#: Largest m n for which :func:`_nap_fixed_2d` is used.  Beyond about 32 pairs
#: LLVM no longer unrolls the pair loops (measured with numba 0.68 / LLVM 20:
#: vectorised up to 4 x 8 and 5 x 6, not at 4 x 9 or 6 x 6) and the fixed-shape
#: kernel falls behind the general one, which keeps per-column sums in memory.
NAP_FIXED_MAX_PAIRS = 30


def nap_fixed_shape(m: int, n: int) -> bool:
    """Whether :func:`_nap_fixed_2d` serves phases of m and n points."""
    return m * n <= NAP_FIXED_MAX_PAIRS


def _nap_fixed_2d_python(a, b, m_points, n_points, sign, se_code, ci_table, tau_scale, out):
    """:func:`_nap_2d` for phase lengths fixed at compile time, also reporting non-finite data.

    ``m_points`` and ``n_points`` are tuples of m and n zeros (only their lengths
    matter).  ``out`` is a tuple of the four fields, contiguous 1-D arrays
    (``run_rows(..., fields=True)``): strided stores would stop the
    vectorisation.  Every value is multiplied by ``sign`` as it is read: +1, or
    -1 for ``improvement="decrease"`` (exact, so the same as negating a copy of
    the data).
    ``ci_table`` must hold the 2mn + 1 bounds on the scale of the output: for
    ``tau_scale``, Tau's bounds 2 x - 1 (so that the scalar look-up loop only
    copies).  The fields of ``out`` equal those of :func:`_nap_2d` on the
    oriented data bit for bit: the unbiased and the
    Hanley-McNeil SE are one branch-free formula with different coefficients
    (adding ``0.0 * xx`` changes no finite value), and the other SE codes give
    a constant.

    Returns 1 if the values of some row sum to NaN or an infinity (a NaN or
    infinite value, or, rarely, finite values whose sum overflows), else 0.
    The caller then scans the data for the offending value; the fields of such
    a row are meaningless.

    Each row's pairs are scored twice, once summed by A value and once by B
    value, instead of keeping per-column sums in memory: after unrolling, LLVM
    merges the repeated comparisons and the sums stay in registers.
    """
    rows = a.shape[0]
    m = len(m_points)
    n = len(n_points)
    mn = m * n
    two_mn = 2.0 * mn
    af = a.reshape(rows * m)  # flat views: a constant stride between rows
    bf = b.reshape(rows * n)
    lo_t = ci_table[0]
    hi_t = ci_table[1]
    o_est, o_se, o_lo, o_hi = out
    # The SE as _nap_se computes it, with the branches on se_code taken here.
    inv_mn = 1.0 / mn
    trunc = 0.5 * inv_mn
    unbiased = se_code == SE_UNBIASED
    pieces = se_code == SE_HANLEY or (unbiased and m > 1 and n > 1)
    c_row = float(n) if unbiased else float(n - 1)
    c_col = float(m) if unbiased else float(m - 1)
    c_xx = 2.0 if unbiased else 0.0
    c_div = 1.0 / ((m - 1) * (n - 1)) if (pieces and unbiased) else inv_mn
    se_const = _nap_se(0, 0, 0, 0, m, n, se_code)  # used when the SE does not depend on the data
    scale = 2.0 if tau_scale else 1.0
    shift = 1.0 if tau_scale else 0.0
    idx = np.empty(FIXED_BLOCK, dtype=np.int64)
    bad = 0
    for blk in range((rows + FIXED_BLOCK - 1) // FIXED_BLOCK):
        r0 = blk * FIXED_BLOCK
        size = min(FIXED_BLOCK, rows - r0)
        for k in range(size):  # vectorised over rows
            r = r0 + k
            # Counts in floats (exact: small integers), which vectorise better than int64.
            twice = 0.0
            sq = 0.0
            row_ss = 0.0
            total = 0.0
            for i in range(m):
                ai = sign * af[r * m + i]
                total += ai
                s = 0.0
                for j in range(n):
                    bj = sign * bf[r * n + j]
                    q2 = (1.0 if bj > ai else 0.0) + (1.0 if bj >= ai else 0.0)
                    s += q2
                    sq += q2 * q2
                twice += s
                row_ss += s * s
            col_ss = 0.0
            for j in range(n):
                bj = sign * bf[r * n + j]
                total += bj
                s = 0.0
                for i in range(m):
                    ai = sign * af[r * m + i]
                    s += (1.0 if bj > ai else 0.0) + (1.0 if bj >= ai else 0.0)
                col_ss += s * s
            bad |= (total - total) != 0.0  # NaN exactly when the sum is NaN or infinite
            nap = 0.5 * twice * inv_mn
            q1 = (0.25 * row_ss - n * nap * twice + m * (n * nap) ** 2) * (inv_mn / n)
            q2 = (0.25 * col_ss - m * nap * twice + n * (m * nap) ** 2) * (inv_mn / m)
            xx = 0.25 * sq * inv_mn - nap * nap
            ns = min(max(nap, trunc), 1.0 - trunc)
            v = (ns * (1.0 - ns) + c_row * q1 + c_col * q2 - c_xx * xx) * c_div
            se = math.sqrt(v) if v >= 0.0 else np.nan
            se = se if pieces else se_const
            o_est[r] = scale * (twice / two_mn) - shift
            o_se[r] = scale * se
            idx[k] = int(twice)
        for k in range(size):  # the table look-up, scalar
            t = idx[k]
            o_lo[r0 + k] = lo_t[t]
            o_hi[r0 + k] = hi_t[t]
    return int(bad)


_nap_fixed_2d = kernel(_nap_fixed_2d_python)


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

def _pet_times_2d_python(a, b, times, out):
    """PET: share of B strictly above the OLS line of A against its times, projected to B's.

    ``times`` is ``(rows or 1, m + n)``: the session times of A then B (whole
    numbers, strictly increasing; one shared row or one per series).  With
    T = sum t_i, W = m sum t_i^2 - T^2 (= m Sxx), S = sum a_i and
    P = sum (m t_i - T) a_i, a B value b at time tau lies above the line when
    m W b - W S - (m tau - T) P > 0, an integer combination of the data: its
    sign is decided exactly (see :func:`_dot_sign`), so a value on the line in
    exact arithmetic is not above it.  Times are shifted to start at 0, which
    does not move the line.  Field of ``out``: estimate.
    """
    rows, m = a.shape
    n = b.shape[1]
    big = m + n
    tt = np.empty(big)
    xv = np.empty(big)
    c = np.empty(m + 1)
    x = np.empty(m + 1)
    terms = np.empty(2 * m + 2)
    h = np.empty(2 * m + 2)
    per_row = times.shape[0] > 1
    tsum = 0.0
    w = 0.0
    for r in range(rows):
        if r == 0 or per_row:
            for t in range(big):
                tt[t] = times[r if per_row else 0, t] - times[r if per_row else 0, 0]
            tsum = 0.0
            tsq = 0.0
            for i in range(m):
                tsum += tt[i]
                tsq += tt[i] * tt[i]
            w = m * tsq - tsum * tsum
        s = 0.0
        sabs = 0.0
        p = 0.0
        pabs = 0.0
        for i in range(m):
            ci = m * tt[i] - tsum
            s += a[r, i]
            sabs += abs(a[r, i])
            p += ci * a[r, i]
            pabs += abs(ci * a[r, i])
        have_exact = False
        cnt = 0
        for j in range(n):
            g = m * tt[m + j] - tsum
            e = m * w * b[r, j] - w * s - g * p
            # Bounds the rounding of S, P and e and the distance between the
            # doubles and the decimals they stand for (generously: x4).
            bound = 4.0 * (m + 4.0) * _EPS * (w * sabs + abs(g) * pabs + m * w * abs(b[r, j]))
            if e > bound:
                cnt += 1
            elif e >= -bound:
                if not have_exact:
                    _exact_values(a, b, r, xv)
                    have_exact = True
                c[0] = m * w
                x[0] = xv[m + j]
                for i in range(m):
                    c[i + 1] = -(w + (m * tt[i] - tsum) * g)
                    x[i + 1] = xv[i]
                if _dot_sign(c, x, m + 1, terms, h) > 0:
                    cnt += 1
        out[0, r] = cnt / n


_pet_times_2d = kernel(_pet_times_2d_python)


def _pet_2d_python(a, b, out):
    """PET at the positions 1..m+n (see :func:`_pet_times_2d`).  Field: estimate."""
    big = a.shape[1] + b.shape[1]
    _pet_times_2d(a, b, np.arange(1.0, big + 1.0).reshape(1, big), out)


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

def _slope_cmp_python(k1, k2, sl, sle, pi, pj, tt, xv, c, x, terms, h):
    """Exact sign of slope k1 - slope k2, slope k = (y[pj] - y[pi]) / (t[pj] - t[pi])."""
    d = sl[k1] - sl[k2]
    e = sle[k1] + sle[k2]
    if d > e:
        return 1
    if d < -e:
        return -1
    i1, j1, i2, j2 = pi[k1], pj[k1], pi[k2], pj[k2]
    dt1 = tt[j1] - tt[i1]
    dt2 = tt[j2] - tt[i2]
    c[0] = dt2
    x[0] = xv[j1]
    c[1] = -dt2
    x[1] = xv[i1]
    c[2] = -dt1
    x[2] = xv[j2]
    c[3] = dt1
    x[3] = xv[i2]
    return _dot_sign(c, x, 4, terms, h)


_slope_cmp = kernel(_slope_cmp_python)


def _res_sign_python(i, j, res, err, tt, xv, p1, q1, p2, q2, c, x, terms, h):
    """Exact sign of residual j - residual i.

    With the median slope (u + v)/2, u = (y[q1] - y[p1])/(t[q1] - t[p1]) and v
    likewise, residual j - residual i = (y_j - y_i) - (u + v)(t_j - t_i)/2;
    times 2 (t[q1] - t[p1])(t[q2] - t[p2]) > 0 it is an integer combination of
    six values, decided exactly unless the floating-point residuals ``res``
    (each within ``err``) already prove the sign.  ``err = 0`` means the
    residuals are the raw data (no correction, or a zero slope): compared as is.
    """
    d = res[j] - res[i]
    e = err[i] + err[j]
    if d > e:
        return 1
    if d < -e:
        return -1
    if e == 0.0:
        return 0
    dq = tt[q1] - tt[p1]
    ds = tt[q2] - tt[p2]
    dt = tt[j] - tt[i]
    c[0] = 2.0 * dq * ds
    x[0] = xv[j]
    c[1] = -2.0 * dq * ds
    x[1] = xv[i]
    c[2] = -dt * ds
    x[2] = xv[q1]
    c[3] = dt * ds
    x[3] = xv[p1]
    c[4] = -dt * dq
    x[4] = xv[q2]
    c[5] = dt * dq
    x[5] = xv[p2]
    return _dot_sign(c, x, 6, terms, h)


_res_sign = kernel(_res_sign_python)


def _tau_bc_times_2d_python(a, b, times, kendall, pretest_alpha, se_code, ci_table, z, out):
    """Baseline-corrected Tau (Tarlow 2017) against the session ``times``.

    Per row: the Theil-Sen line of A against its times (median pairwise slope,
    median intercept); optionally the Mann-Kendall pretest of that trend
    (tie-corrected variance, continuity correction, two-sided normal p), which
    keeps the raw data when p > ``pretest_alpha`` (``pretest_alpha < 0``: always
    correct); then Tau (NAP-based, with SE and tabulated score CI) or Kendall's
    tau-b against the phase dummy (SE sqrt(2 (1 - tau^2) / (m + n)), Wald CI)
    on the residuals.  ``times`` is ``(rows or 1, m + n)``, whole numbers,
    strictly increasing.

    Ties are exact: raw values are compared as they are, and residuals (and
    the slopes whose median is taken) by :func:`_res_sign` and
    :func:`_slope_cmp`, exact on the data as written.

    Fields of ``out``: estimate, se, ci_lower, ci_upper, slope, intercept,
    pretest p-value (NaN without a pretest), corrected (1.0 or 0.0).
    """
    rows, m = a.shape
    n = b.shape[1]
    big = m + n
    mn = m * n
    npairs = m * (m - 1) // 2
    kk = max(npairs, 1)
    sl = np.empty(kk)
    sle = np.empty(kk)
    pi = np.empty(kk, dtype=np.int64)
    pj = np.empty(kk, dtype=np.int64)
    order = np.empty(kk, dtype=np.int64)
    inter = np.empty(m)
    res = np.empty(big)
    err = np.empty(big)
    tt = np.empty(big)
    xv = np.empty(big)
    c = np.empty(6)
    x = np.empty(6)
    terms = np.empty(12)
    h = np.empty(12)
    col = np.zeros(n, dtype=np.int64)
    use_table = ci_table.shape[1] > 0
    k = 0
    for i in range(m):
        for j in range(i + 1, m):
            pi[k] = i
            pj[k] = j
            k += 1
    per_row = times.shape[0] > 1
    for r in range(rows):
        tr = r if per_row else 0
        if r == 0 or per_row:
            for t in range(big):
                tt[t] = times[tr, t] - times[tr, 0]
        # Exact values; with small integers (decimal data with few places, the
        # common case) the slopes and residuals below are compared exactly in
        # floating point, which holds integers below 2^53 exactly.
        # Integer data need no scaling (checked cheaply); other rows get their
        # exact values only if a comparison needs them.
        top = 0.0
        for t in range(big):
            y = a[r, t] if t < m else b[r, t - m]
            if y != math.floor(y) or abs(y) >= _DEC_LIMIT:
                top = -1.0
                break
            xv[t] = y
            top = max(top, abs(y))
        have_xv = top >= 0.0
        span = tt[big - 1]
        small = top >= 0.0 and top * (8.0 * span * span + 8.0) < 2251799813685248.0
        # Theil-Sen fit of A; each float slope is within sle of the exact one.
        for k in range(npairs):
            i = pi[k]
            j = pj[k]
            dt = tt[j] - tt[i]
            u = (a[r, j] - a[r, i]) / dt
            sl[k] = u
            sle[k] = 2.0 * _EPS * ((abs(a[r, j]) + abs(a[r, i])) / dt + abs(u))
            order[k] = k
        # Shell sort (Knuth's gaps) by exact comparison; the float filter is
        # inlined, the exact sign is called only when it cannot decide.
        gap = 1
        while gap < npairs // 3:
            gap = 3 * gap + 1
        while gap >= 1:
            for i in range(gap, npairs):
                v = order[i]
                j = i
                while j >= gap:
                    w = order[j - gap]
                    d = sl[w] - sl[v]
                    e = sle[w] + sle[v]
                    if d > e:
                        later = True
                    elif d < -e:
                        later = False
                    elif small:
                        later = ((xv[pj[w]] - xv[pi[w]]) * (tt[pj[v]] - tt[pi[v]])
                                 > (xv[pj[v]] - xv[pi[v]]) * (tt[pj[w]] - tt[pi[w]]))
                    else:
                        if not have_xv:
                            _exact_values(a, b, r, xv)
                            have_xv = True
                        later = _slope_cmp(w, v, sl, sle, pi, pj, tt, xv, c, x, terms, h) > 0
                    if not later:
                        break
                    order[j] = w
                    j -= gap
                order[j] = v
            gap //= 3
        half = npairs // 2
        k2 = order[half]
        k1 = k2 if npairs % 2 == 1 else order[half - 1]
        slope = sl[k1] if k1 == k2 else 0.5 * (sl[k1] + sl[k2])
        for i in range(m):
            inter[i] = a[r, i] - slope * times[tr, i]
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
        # Residuals y - slope t (the intercept cancels in every comparison),
        # each within err of the exact one; the raw data when nothing is removed.
        p1, q1, p2, q2 = pi[k1], pj[k1], pi[k2], pj[k2]
        # A zero median slope: the residuals order as the raw values.
        flat = a[r, q1] == a[r, p1] and a[r, q2] == a[r, p2]
        serr = 0.5 * (sle[k1] + sle[k2]) + _EPS * abs(slope)
        dq = tt[q1] - tt[p1]
        ds = tt[q2] - tt[p2]
        num = ds * (xv[q1] - xv[p1]) + dq * (xv[q2] - xv[p2]) if small else 0.0
        for t in range(big):
            y = a[r, t] if t < m else b[r, t - m]
            if correct and not flat and small:
                # 2 dq ds x residual, an exact integer.
                res[t] = 2.0 * dq * ds * xv[t] - tt[t] * num
                err[t] = 0.0
            elif correct and not flat:
                res[t] = y - slope * tt[t]
                err[t] = 2.0 * (serr * tt[t] + _EPS * (abs(slope * tt[t]) + abs(res[t]) + abs(y)))
            else:
                res[t] = y
                err[t] = 0.0
        # Pair scores 2q on the residuals, as in NAP.
        twice = 0
        sq = 0
        row_ss = 0
        for j in range(n):
            col[j] = 0
        for i in range(m):
            s1 = 0
            for j in range(n):
                d = res[m + j] - res[i]
                e = err[i] + err[m + j]
                if d > e:
                    q2s = 2
                elif d < -e:
                    q2s = 0
                elif e == 0.0:
                    q2s = 1
                else:
                    if not have_xv:
                        _exact_values(a, b, r, xv)
                        have_xv = True
                    q2s = _res_sign(i, m + j, res, err, tt, xv, p1, q1, p2, q2, c, x, terms, h) + 1
                s1 += q2s
                sq += q2s * q2s
                col[j] += q2s
            twice += s1
            row_ss += s1 * s1
        nap = twice / (2.0 * mn)
        if kendall:
            s_ab = twice - mn  # wins - losses
            ties_y = 0
            for i in range(big):
                for j in range(i + 1, big):
                    d = res[j] - res[i]
                    e = err[i] + err[j]
                    if d > e or d < -e:
                        continue
                    if e == 0.0:
                        ties_y += 1
                        continue
                    if not have_xv:
                        _exact_values(a, b, r, xv)
                        have_xv = True
                    ties_y += int(_res_sign(i, j, res, err, tt, xv, p1, q1, p2, q2, c, x, terms, h) == 0)
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


_tau_bc_times_2d = kernel(_tau_bc_times_2d_python)


def _tau_bc_2d_python(a, b, kendall, pretest_alpha, se_code, ci_table, z, out):
    """Tau-BC at the positions 1..m+n (see :func:`_tau_bc_times_2d`); same fields."""
    big = a.shape[1] + b.shape[1]
    _tau_bc_times_2d(a, b, np.arange(1.0, big + 1.0).reshape(1, big), kendall, pretest_alpha,
                     se_code, ci_table, z, out)


_tau_bc_2d = kernel(_tau_bc_2d_python)


# --------------------------------------------------------------------------- SMD, LRR

def _smd_moments_python(a, b, r, m, n, f1, f2):
    """Means and sample variances of row ``r`` of ``a`` and ``b``, each value first
    multiplied by ``f1`` and then ``f2`` (powers of two: exact).  The variance of a
    one-point A is NaN, of a one-point B 0."""
    sa = 0.0
    for i in range(m):
        sa += a[r, i] * f1 * f2
    sb = 0.0
    for j in range(n):
        sb += b[r, j] * f1 * f2
    ma = sa / m
    mb = sb / n
    va = 0.0
    for i in range(m):
        va += (a[r, i] * f1 * f2 - ma) ** 2
    vb = 0.0
    for j in range(n):
        vb += (b[r, j] * f1 * f2 - mb) ** 2
    va = va / (m - 1) if m > 1 else np.nan
    vb = vb / (n - 1) if n > 1 else 0.0
    return ma, mb, va, vb


_smd_moments = kernel(_smd_moments_python)

# Variances outside this range may have overflowed or lost digits to underflow.
_SMD_SAFE = (1e-280, 1e280)


def _smd_2d_python(a, b, pooled, bias_correct, z, out):
    """Within-case standardized mean difference (Gingerich 1984; Busk & Serlin 1992).

    Fields of ``out``: estimate, se, ci_lower, ci_upper (Wald).  A zero SD, or the
    baseline SD with the correction at m = 2 (J = 0), gives NaN.

    The SMD is scale-free, but its squares are not: data near 1e154 overflow
    them and data near 1e-162 underflow them.  A row whose variances leave the
    safe range (or are 0) is therefore computed again with its values
    multiplied by a power of two that brings its largest magnitude near 1.
    That is exact, so the value does not depend on the scale; rows in the
    ordinary range take the plain formula unchanged.
    """
    rows, m = a.shape
    n = b.shape[1]
    nu = (m + n - 2) if pooled else (m - 1)
    j_corr = (1.0 - 3.0 / (4.0 * nu - 1.0)) if bias_correct else 1.0
    lo = _SMD_SAFE[0]
    hi = _SMD_SAFE[1]
    for r in range(rows):
        # The plain formula first (inline: the ordinary case stays as fast as it was).
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
        if not (lo < va < hi) or not (vb == 0.0 or lo < vb < hi):
            big = 0.0
            for i in range(m):
                big = max(big, abs(a[r, i]))
            for j in range(n):
                big = max(big, abs(b[r, j]))
            # Two factors 2^h1 2^h2 = 2^-e: each stays finite even where 2^-e alone
            # would overflow (subnormal data) or be subnormal (data near the maximum).
            e = math.frexp(big)[1] if big > 0.0 else 0
            h1 = -e // 2
            ma, mb, va, vb = _smd_moments(a, b, r, m, n, math.ldexp(1.0, h1), math.ldexp(1.0, -e - h1))
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


# ln of the largest double: exp overflows above it (math.expm1 raises there in
# plain Python, so the twin needs the test; numba would give inf anyway).
_LOG_MAX = 709.782712893384


def _mean_var_python(x, r, k):
    """Mean and sample variance of ``x[r, :k]`` (the variance is NaN for one point).

    Shared by the kernels of the parametric comparators (LRR, LOR, PoGO).
    """
    s = 0.0
    for i in range(k):
        s += x[r, i]
    mean = s / k
    v = np.nan
    if k > 1:
        ss = 0.0
        for i in range(k):
            d = x[r, i] - mean
            ss += d * d
        v = ss / (k - 1)
    return mean, v


_mean_var = kernel(_mean_var_python)


def _mean_var_flat_python(x, start, k):
    """:func:`_mean_var` of ``x[start:start + k]`` of a flat array, with the same sums in
    the same order (so the same values).  Inlined in a fixed-shape kernel, where ``k``
    is a compile-time constant, its loops unroll."""
    s = 0.0
    for i in range(k):
        s += x[start + i]
    mean = s / k
    v = np.nan
    if k > 1:
        ss = 0.0
        for i in range(k):
            d = x[start + i] - mean
            ss += d * d
        v = ss / (k - 1)
    return mean, v


_mean_var_flat = kernel(_mean_var_flat_python)

#: Largest m + n for which the fixed-shape kernels of the mean-based metrics
#: (PoGO, LOR) are used: their loops over the points unroll well beyond this.
MEAN_FIXED_MAX_POINTS = 40


def mean_fixed_shape(m: int, n: int) -> bool:
    """Whether the fixed-shape mean-based kernels serve phases of m and n points."""
    return m + n <= MEAN_FIXED_MAX_POINTS


def _lrr_2d_python(a, b, complement, d_const, sign, bias_correct, pct_change, z, out):
    """Log response ratio (Pustejovsky 2018) with SingleCaseES's truncation.

    Per phase (n points): M = mean, replaced by ``complement`` - M when
    ``complement`` > 0 (a bounded scale read the other way), and V = s^2.  When
    ``d_const`` = D > 0, M >= 1/(2 D n) and V >= 1/(D^2 n^3) (D = inf: floors
    0).  L = ln M + [bias_correct] V/(2 n M^2); estimate = sign (L_B - L_A),
    SE = sqrt(sum V/(n M^2)), Wald interval.  With ``pct_change`` the estimate
    and bounds become exp(.) - 1 and the SE NaN.  Fields of ``out``: estimate,
    se, ci_lower, ci_upper.  A one-point phase has no sample variance (the
    floor is for a variance estimated as 0, not for an undefined one): the SE,
    interval and bias-corrected estimate are NaN (SingleCaseES returns NA).
    M = 0 after truncation gives ln 0 = -inf and V/0, as in R.
    """
    rows, m = a.shape
    n = b.shape[1]
    for r in range(rows):
        est = 0.0
        var = 0.0
        for p in range(2):
            x = a if p == 0 else b
            k = m if p == 0 else n
            mean, v = _mean_var(x, r, k)
            if complement > 0.0:
                mean = complement - mean
            if d_const > 0.0:
                mean = max(mean, 1.0 / (2.0 * d_const * k))
                if v == v:
                    v = max(v, 1.0 / (d_const * d_const * k * k * k))
            if mean > 0.0:
                lg = math.log(mean)
                if bias_correct:
                    lg += v / (2.0 * k * mean * mean)
                term = v / (k * mean * mean)
            elif mean == 0.0:
                # ln 0 = -inf; V/0 is inf for V > 0 and NaN for V = 0, so -inf + V/0 is NaN.
                lg = np.nan if bias_correct else -np.inf
                term = np.inf if v > 0.0 else np.nan
            else:
                # Only without truncation (D = 0): the log of a negative mean.
                lg = np.nan
                term = v / (k * mean * mean)
            est += lg if p == 1 else -lg
            var += term
        est *= sign
        se = math.sqrt(var) if var >= 0.0 else np.nan
        lo = est - z * se
        hi = est + z * se
        if pct_change:
            est = math.inf if est > _LOG_MAX else math.expm1(est)
            lo = math.inf if lo > _LOG_MAX else math.expm1(lo)
            hi = math.inf if hi > _LOG_MAX else math.expm1(hi)
            se = np.nan
        out[0, r] = est
        out[1, r] = se
        out[2, r] = lo
        out[3, r] = hi


_lrr_2d = kernel(_lrr_2d_python)

