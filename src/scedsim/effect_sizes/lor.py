"""The log odds ratio (LOR) for outcomes recorded as percentages or proportions."""
from __future__ import annotations

import math

import numpy as np

from .._numba import kernel
from .._results import EffectSize, make
from .._threads import run_rows
from .._validation import check_choice, check_finite, phase_arrays, z_for
from ..registry import KernelCase, Metric, Reference, register
from . import _kernels as K
# Direct names: a twin resolves them to the helpers' twins.
from ._kernels import FIXED_BLOCK, _mean_var, _mean_var_flat

__all__ = ["lor"]

SCALES = {"percentage": 100.0, "proportion": 1.0}


def _lor_truncate_python(mean, v, k, inv_top, k_intervals):
    """A phase's mean proportion and variance from those of its ``k`` values (times
    ``inv_top``), truncated when ``k_intervals`` > 0: M into [1/(2Kk), 1 - 1/(2Kk)],
    V at least 1/(K^2 k^3) (a variance estimated as 0; an undefined one stays NaN)."""
    mean *= inv_top
    v *= inv_top * inv_top
    if k_intervals > 0.0:
        lo = 1.0 / (2.0 * k_intervals * k)
        mean = min(max(mean, lo), 1.0 - lo)
        if v == v:
            v = max(v, 1.0 / (k_intervals * k_intervals * k * k * k))
    return mean, v


_lor_truncate = kernel(_lor_truncate_python)


def _edge_logit_python(mean, v, k, bias_correct):
    """One phase's log odds where the other phase's mean is 0 or 1 (the rare path):
    bias-corrected when asked, +-inf (or NaN with the correction) at 0 or 1."""
    if 0.0 < mean < 1.0:
        c = 1.0 - mean
        logit = math.log(mean) - math.log(c)
        if bias_correct:
            logit -= (2.0 * mean - 1.0) * v / (2.0 * k * (mean * mean * c * c))
        return logit
    return np.nan if bias_correct else (-np.inf if mean <= 0.0 else np.inf)


_edge_logit = kernel(_edge_logit_python)


def _lor_2d_python(a, b, inv_top, k_intervals, bias_correct, sign, z, out):
    """out[0..3] = LOR, SE, CI per row; ``a``, ``b`` times ``inv_top`` are proportions.

    Per phase: M = mean, V = s^2 (undefined for one point), truncated when
    ``k_intervals`` > 0 (M into [1/(2Kn), 1 - 1/(2Kn)], V at least 1/(K^2 n^3));
    L = logit(M) - [bias_correct] (2M - 1) V / (2 n M^2 (1 - M)^2).
    """
    rows, m = a.shape
    n = b.shape[1]
    for r in range(rows):
        ma, va = _mean_var(a, r, m)
        ma, va = _lor_truncate(ma, va, m, inv_top, k_intervals)
        mb, vb = _mean_var(b, r, n)
        mb, vb = _lor_truncate(mb, vb, n, inv_top, k_intervals)
        if 0.0 < ma < 1.0 and 0.0 < mb < 1.0:
            ca = 1.0 - ma
            cb = 1.0 - mb
            ta = va / (m * (ma * ma * ca * ca))
            tb = vb / (n * (mb * mb * cb * cb))
            # logit(M_B) - logit(M_A) as one log of the odds ratio: the logs are most of the cost.
            est = math.log((mb * ca) / (cb * ma))
            if bias_correct:
                est += (2.0 * ma - 1.0) * 0.5 * ta - (2.0 * mb - 1.0) * 0.5 * tb
            var = ta + tb
        else:
            # A phase mean of 0 or 1: the log odds are infinite and the variance undefined.
            est = _edge_logit(mb, vb, n, bias_correct) - _edge_logit(ma, va, m, bias_correct)
            var = np.nan
        est *= sign
        se = math.sqrt(var) if var >= 0.0 else np.nan
        out[0, r] = est
        out[1, r] = se
        out[2, r] = est - z * se
        out[3, r] = est + z * se


_lor_2d = kernel(_lor_2d_python)


def _lor_fixed_2d_python(a, b, m_points, n_points, inv_top, k_intervals, bias_correct, sign, z, top, out):
    """:func:`_lor_2d` for phase lengths fixed at compile time, also reporting bad data.

    ``m_points`` and ``n_points`` are tuples of m and n zeros: their lengths are
    part of the argument types, so numba compiles one version per (m, n), in
    which the loops over the points unroll (see ``_kernels._nap_fixed_2d``;
    ``out`` is a tuple of the four fields, as there).
    A first loop over a block of rows runs on SIMD lanes: the phase means and
    variances, the odds ratio, the bias correction and the variance.  A second,
    scalar loop takes the logarithm (numba has no vector logarithm that is the
    same as libm's) and redoes the rare rows with a phase mean of 0 or 1.  The
    fields of ``out`` equal those of :func:`_lor_2d` bit for bit.

    Returns 1 if some value is NaN or lies outside [0, ``top``] (infinities
    included), else 0: the caller then finds and reports it.
    """
    rows = a.shape[0]
    m = len(m_points)
    n = len(n_points)
    af = a.reshape(rows * m)
    bf = b.reshape(rows * n)
    o_est, o_se, o_lo, o_hi = out
    ratio = np.empty(FIXED_BLOCK)
    correction = np.empty(FIXED_BLOCK)
    variance = np.empty(FIXED_BLOCK)
    interior = np.empty(FIXED_BLOCK, dtype=np.bool_)
    bad = 0
    for blk in range((rows + FIXED_BLOCK - 1) // FIXED_BLOCK):
        r0 = blk * FIXED_BLOCK
        size = min(FIXED_BLOCK, rows - r0)
        for k in range(size):  # vectorised over rows
            r = r0 + k
            for i in range(m):
                x = af[r * m + i]
                bad |= not (0.0 <= x <= top)
            for j in range(n):
                x = bf[r * n + j]
                bad |= not (0.0 <= x <= top)
            ma, va = _mean_var_flat(af, r * m, m)
            ma, va = _lor_truncate(ma, va, m, inv_top, k_intervals)
            mb, vb = _mean_var_flat(bf, r * n, n)
            mb, vb = _lor_truncate(mb, vb, n, inv_top, k_intervals)
            inside = 0.0 < ma < 1.0 and 0.0 < mb < 1.0
            x = 1.0
            c = 0.0
            var = np.nan
            if inside:
                ca = 1.0 - ma
                cb = 1.0 - mb
                ta = va / (m * (ma * ma * ca * ca))
                tb = vb / (n * (mb * mb * cb * cb))
                x = (mb * ca) / (cb * ma)
                c = (2.0 * ma - 1.0) * 0.5 * ta - (2.0 * mb - 1.0) * 0.5 * tb
                var = ta + tb
            interior[k] = inside
            ratio[k] = x
            correction[k] = c
            variance[k] = var
        for k in range(size):  # scalar: the logarithm, and the rows with a phase mean of 0 or 1
            r = r0 + k
            if interior[k]:
                est = math.log(ratio[k])
                if bias_correct:
                    est += correction[k]
            else:
                ma, va = _mean_var_flat(af, r * m, m)
                ma, va = _lor_truncate(ma, va, m, inv_top, k_intervals)
                mb, vb = _mean_var_flat(bf, r * n, n)
                mb, vb = _lor_truncate(mb, vb, n, inv_top, k_intervals)
                est = _edge_logit(mb, vb, n, bias_correct) - _edge_logit(ma, va, m, bias_correct)
            est *= sign
            var = variance[k]
            se = math.sqrt(var) if var >= 0.0 else np.nan
            o_est[r] = est
            o_se[r] = se
            o_lo[r] = est - z * se
            o_hi[r] = est + z * se
    return int(bad)


_lor_fixed_2d = kernel(_lor_fixed_2d_python)


def _check_data(A, B, is_1d, scale, top):
    """Raise for NaN or inf, then for a value outside [0, top]."""
    check_finite(A, B, is_1d)
    for label, x in (("A", A), ("B", B)):
        # min and max are single passes; the offending value is looked up only on failure.
        if x.size and (x.min() < 0.0 or x.max() > top):
            v = x[(x < 0.0) | (x > top)][0]
            raise ValueError(f"LOR on the {scale} scale needs values in [0, {top:g}]; phase {label} "
                             f"holds {v:g}")


def lor(a, b, *, improvement: str = "increase", scale: str = "percentage", intervals=None,
        bias_correct: bool = True, confidence: float = 0.95):
    """Log odds ratio (LOR) between phases, for percentages or proportions.

    LOR = logit(M_B) - logit(M_A) of the phase means (negated for
    ``"decrease"``), with the small-sample bias correction of each phase's log
    odds, L_p = logit(M_p) - (2 M_p - 1) V_p / (2 n_p M_p^2 (1 - M_p)^2), and
    SE = sqrt(sum_p V_p / (n_p M_p^2 (1 - M_p)^2)); Wald interval.  This is
    SingleCaseES's ``LOR`` (Pustejovsky 2015).

    Parameters
    ----------
    a, b : array_like
        Baseline and comparison phases on the scale named by ``scale``.
    improvement : {"increase", "decrease"}
        ``"decrease"`` negates the log odds ratio (the data are not negated).
    scale : {"percentage", "proportion"}
        Percentages (0-100) are divided by 100.  A value outside the scale is
        an error.
    intervals : int, optional
        Number of intervals K of the recording (partial or whole interval,
        momentary time sampling): truncates each phase mean into
        [1/(2 K n), 1 - 1/(2 K n)] and floors its variance at 1/(K^2 n^3).
        Default: no truncation, as SingleCaseES.
    bias_correct : bool
        Apply the small-sample bias correction.
    confidence : float
        Level of the Wald interval.

    Returns
    -------
    EffectSize

    Notes
    -----
    A phase mean of 0 or 1 makes the log odds infinite: the estimate is then
    +-inf without the bias correction and NaN with it, and the SE is NaN
    (SingleCaseES returns NA).  With one point in a phase its variance is
    undefined: the SE and the bias-corrected estimate are NaN, as for LRR.

    References
    ----------
    Pustejovsky, J. E. (2015). Measurement-comparable effect sizes for
    single-case studies of free-operant behavior. *Psychological Methods*,
    20(3), 342-359.

    Examples
    --------
    SingleCaseES's worked example on the percentage scale (M_A = .19, M_B = .188):

    >>> import scedsim as ss
    >>> r = ss.lor([18, 20], [19, 18, 20, 19, 18])
    >>> round(r.estimate, 7), round(r.se, 7)
    (-0.0141696, 0.0694464)
    >>> round(ss.lor([18, 20], [19, 18, 20, 19, 18], bias_correct=False).estimate, 7)
    -0.0130482
    """
    check_choice("improvement", improvement, ("increase", "decrease"))
    check_choice("scale", scale, tuple(SCALES))
    if not isinstance(bias_correct, (bool, np.bool_)):
        raise ValueError(f"bias_correct must be True or False, got {bias_correct!r}")
    if intervals is None:
        k_intervals = 0.0
    else:
        if isinstance(intervals, bool) or not float(intervals).is_integer() or float(intervals) < 1:
            raise ValueError(f"intervals must be a positive whole number, got {intervals!r}")
        k_intervals = float(intervals)
    z = z_for(confidence)
    # The odds are of the raw proportions: the data are not negated.
    A, B, is_1d = phase_arrays(a, b, "increase", metric="LOR")
    rows, m = A.shape
    n = B.shape[1]
    top = SCALES[scale]
    sign = 1.0 if improvement == "increase" else -1.0
    out = np.empty((4, rows))
    # The kernels scale percentages to proportions as they read them (no copy of the data).
    if rows >= K.FIXED_MIN_ROWS and K.mean_fixed_shape(m, n):
        # One pass: the kernel checks the values as it reads them.
        with np.errstate(divide="ignore", invalid="ignore"):
            flagged = run_rows(_lor_fixed_2d, A, B, out, (0,) * m, (0,) * n, 1.0 / top, k_intervals,
                               bool(bias_correct), sign, z, top, fields=True)
        if flagged:
            _check_data(A, B, is_1d, scale, top)
    else:
        _check_data(A, B, is_1d, scale, top)
        with np.errstate(divide="ignore", invalid="ignore"):
            run_rows(_lor_2d, A, B, out, 1.0 / top, k_intervals, bool(bias_correct), sign, z)
    options = {"scale": scale, "bias_correct": bool(bias_correct), "confidence": confidence}
    if intervals is not None:
        options["intervals"] = int(k_intervals)
    return make(EffectSize, out, is_1d, metric="LOR", n_a=A.shape[1], n_b=B.shape[1], improvement=improvement,
                options=options)


# --------------------------------------------------------------------------- registry entry

def _sces_lor(o, imp, metric):
    return dict(improvement=imp, scale=o["scale"], bias_correct=o["bias_correct"].upper() == "TRUE",
                confidence=float(o["confidence"]))


_ONE_POINT_NOTE = "LOR's variance needs 2 points per phase; SE (and the bias-corrected estimate) left empty"

register(Metric(
    name="lor", label="LOR", title="LOR (log odds ratio, %)", func=lor, has_se=True, has_ci=True,
    se_min_points=2, short_note=lambda o: _ONE_POINT_NOTE, swap="negate", default=False, oriented=False,
    references=(Reference("comparators", "SingleCaseES", "LOR", _sces_lor, ("estimate", "se", "ci"),
                          "scale=percentage;bias_correct=TRUE;confidence=0.95"),),
    # Normal data centred at 0 are no proportions: no meaningful target.
    limit=lambda q, o: math.nan,
    undefined="LOR not defined: a phase mean of 0 or 1 (or 100%)",
    kernels=(KernelCase("lor", _lor_2d, 4, lambda m, n: (0.01, 0.0, True, 1.0, 1.959963984540054)),
             KernelCase("lor-intervals-decrease", _lor_2d, 4,
                        lambda m, n: (1.0, 20.0, False, -1.0, 1.644853626951472)))))
