"""Nonoverlap effect sizes: NAP, Tau, PND, PEM, PAND, robust IRD and PET."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .._numba import run_rows
from .._results import EffectSize, make
from .._validation import check_choice, phases, session_times, z_for
from . import _kernels as K

__all__ = ["nap", "tau", "pnd", "pem", "pand", "ird", "pet", "score_ci", "pooled_ird"]

_EMPTY_TABLE = np.empty((2, 0))


# Root-finder tolerances for the score interval: R's uniroot default, as
# SingleCaseES uses, or machine precision.
CI_ROOTS = {"uniroot": float(np.finfo(float).eps ** 0.25), "exact": 0.0}


@lru_cache(maxsize=256)
def _ci_table(m: int, n: int, z: float, tol: float) -> np.ndarray:
    """Newcombe bounds for every attainable NAP = k/(2mn), k = 0..2mn."""
    vals = np.arange(2 * m * n + 1) / (2.0 * m * n)
    out = np.empty((2, vals.size))
    K._score_ci(vals, m, n, z, tol, out)
    out.flags.writeable = False
    return out


def _score_bounds(nap_values: np.ndarray, m: int, n: int, z: float, tol: float) -> np.ndarray:
    """Score bounds for a few NAP values, solved directly (no table)."""
    ci = np.empty((2, nap_values.size))
    K._score_ci(np.ascontiguousarray(nap_values, dtype=np.float64), m, n, z, tol, ci)
    return ci


def _use_table(rows: int, m: int, n: int) -> bool:
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
    Method 5 of Newcombe, R. G. (2006). Confidence intervals for an effect size
    measure based on the Mann-Whitney statistic. Part 2. *Statistics in
    Medicine*, 25(4), 559-573.  At NAP = 1 the lower bound is the root of
    f(x)/(1 - x) inside (0, 1), not the spurious root x = 1 that SingleCaseES's
    root finder returns (its interval there is the degenerate [1, 1]); likewise
    at NAP = 0.
    """
    z = z_for(confidence)
    tol = CI_ROOTS[check_choice("ci_roots", ci_roots, tuple(CI_ROOTS))]
    arr = np.atleast_1d(np.asarray(estimate, dtype=np.float64))
    if np.any(~np.isfinite(arr)) or np.any((arr < 0) | (arr > 1)):
        raise ValueError("NAP values for a score interval must lie in [0, 1]")
    if int(m) < 1 or int(n) < 1:
        raise ValueError(f"a score interval needs at least 1 point per phase, got m={m}, n={n}")
    out = _score_bounds(arr, int(m), int(n), z, tol)
    if np.ndim(estimate) == 0:
        return float(out[0, 0]), float(out[1, 0])
    return out[0], out[1]


def _nap_like(a, b, improvement, se, confidence, ci_roots, tau_scale):
    metric = "Tau" if tau_scale else "NAP"
    check_choice("se", se, tuple(K.SE_CODES))
    tol = CI_ROOTS[check_choice("ci_roots", ci_roots, tuple(CI_ROOTS))]
    z = z_for(confidence)
    A, B, is_1d = phases(a, b, improvement, metric=metric)
    rows, m = A.shape
    n = B.shape[1]
    # The unbiased SE divides by (m - 1)(n - 1): undefined (NaN) with a one-point phase.
    se_code = K.SE_NONE if (se == "unbiased" and min(m, n) < 2) else K.SE_CODES[se]
    out = np.empty((4, rows))
    if _use_table(rows, m, n):
        run_rows(K._nap_2d, A, B, out, se_code, _ci_table(m, n, z, tol), tau_scale)
    else:
        # Few rows: solve only the intervals needed.
        run_rows(K._nap_2d, A, B, out, se_code, _EMPTY_TABLE, False)
        out[2:] = _score_bounds(out[0], m, n, z, tol)
        if tau_scale:
            out[0] = 2.0 * out[0] - 1.0
            out[1:] = 2.0 * out[1:]
            out[2:] -= 1.0
    options = {"se": se, "confidence": confidence}
    if ci_roots != "uniroot":
        options["ci_roots"] = ci_roots
    return make(EffectSize, out, is_1d, metric=metric, n_a=m, n_b=n, improvement=improvement,
                options=options)


def nap(a, b, *, improvement: str = "increase", se: str = "unbiased", confidence: float = 0.95,
        ci_roots: str = "uniroot"):
    """Nonoverlap of All Pairs (NAP).

    The share of all (A, B) pairs in which the B value improves on the A value,
    ties counting one half: the Mann-Whitney U divided by m n (Parker, R. I., &
    Vannest, K. J. (2009). An improved effect size for single-case research:
    Nonoverlap of all pairs. *Behavior Therapy*, 40(4), 357-367).

    Parameters
    ----------
    a, b : array_like
        Baseline (A) and comparison (B) phase values.  Both 1-D (one series) or
        both 2-D with one series per row (a batch).
    improvement : {"increase", "decrease"}
        Direction of improvement; ``"decrease"`` equals the same call on negated data.
    se : {"unbiased", "hanley", "null", "none"}
        Standard error: the unbiased variance estimator of Sen (1967) and Mee (1990)
        (NaN unless both phases have 2 points or more), Hanley & McNeil (1982), the null
        (exchangeable) variance (m + n + 1)/(12 m n), or none (NaN).
    confidence : float
        Level of the Newcombe (2006) score interval, computed whatever ``se`` is.
    ci_roots : {"uniroot", "exact"}
        Precision of the interval's bounds: R's ``uniroot`` tolerance, which
        reproduces SingleCaseES (default), or machine precision; see
        :func:`score_ci`.

    Returns
    -------
    EffectSize
        ``estimate`` in [0, 1]; float fields for 1-D input, arrays for a batch.

    Notes
    -----
    The interval is the real score interval at NAP = 0 and 1.  SingleCaseES 0.7.4
    returns the degenerate interval [1, 1] (or [0, 0]) there, because its root
    finder picks the spurious root at the boundary; see :func:`score_ci`.

    With one point in a phase the estimate and the score interval are defined,
    but the unbiased variance divides by (m - 1)(n - 1): with the default
    ``se="unbiased"`` the SE is NaN there (``"hanley"`` and ``"null"`` give a
    value).  SingleCaseES and scan return the estimate too.

    Examples
    --------
    >>> import scedsim as ss
    >>> r = ss.nap([20, 20, 26, 25, 22, 23], [28, 25, 24, 27, 30, 30, 29])
    >>> round(r.estimate * 42, 6)   # 38.5 of 42 pairs
    38.5
    """
    return _nap_like(a, b, improvement, se, confidence, ci_roots, False)


def tau(a, b, *, improvement: str = "increase", se: str = "unbiased", confidence: float = 0.95,
        ci_roots: str = "uniroot"):
    """Tau, the nonoverlap of all pairs rescaled to [-1, 1]: Tau = 2 NAP - 1.

    Defined by Parker, R. I., Vannest, K. J., Davis, J. L., & Sauber, S. B.
    (2011). Combining nonoverlap and trend for single-case research: Tau-U.
    *Behavior Therapy*, 42(2), 284-299.  SE = 2 SE(NAP) and the interval is the
    NAP score interval mapped the same way.

    Parameters
    ----------
    a, b, improvement, se, confidence, ci_roots
        As for :func:`nap`.

    Returns
    -------
    EffectSize
        ``estimate`` in [-1, 1].

    Notes
    -----
    As for :func:`nap`: with one point in a phase and ``se="unbiased"`` the
    estimate and interval are given and the SE is NaN.

    Examples
    --------
    >>> import scedsim as ss
    >>> r = ss.tau([3, 3, 4, 5], [4, 5, 6, 7, 7])   # Parker et al. (2011), example 2
    >>> round(r.estimate * 20, 6)
    16.0
    """
    return _nap_like(a, b, improvement, se, confidence, ci_roots, True)


def _single(kern, args, metric, a, b, improvement, min_a=1, min_b=1, options=None):
    """Validate, run a one-field kernel ``kern(A, B, *args, out)`` and wrap the result."""
    A, B, is_1d = phases(a, b, improvement, min_a=min_a, min_b=min_b, metric=metric)
    out = np.empty((1, A.shape[0]))
    run_rows(kern, A, B, out, *args)
    return make(EffectSize, out, is_1d, metric=metric, n_a=A.shape[1], n_b=B.shape[1],
                improvement=improvement, options=options or {})


def pnd(a, b, *, improvement: str = "increase"):
    """Percentage of Nonoverlapping Data (PND), as a proportion.

    The share of B values that improve strictly on the most extreme A value
    (Scruggs, T. E., Mastropieri, M. A., & Casto, G. (1987). The quantitative
    synthesis of single-subject research. *Remedial and Special Education*,
    8(2), 24-33).  Under exchangeability without ties E[PND] = 1/(m + 1).

    Parameters
    ----------
    a, b : array_like
        Baseline and comparison phases (1-D, or 2-D with one series per row).
    improvement : {"increase", "decrease"}

    Returns
    -------
    EffectSize
        ``estimate`` in [0, 1]; no SE or CI is defined (NaN).
    """
    return _single(K._pnd_2d, (), "PND", a, b, improvement)


def pem(a, b, *, improvement: str = "increase", ties: str = "half", center: str = "median"):
    """Percentage Exceeding the Median (PEM), as a proportion.

    The share of B values that improve on the centre (median) of A (Ma, H.-H.
    (2006). An alternative method for quantitative synthesis of single-subject
    researches: Percentage of data points exceeding the median. *Behavior
    Modification*, 30(5), 598-617).

    Parameters
    ----------
    a, b : array_like
        Baseline and comparison phases.
    improvement : {"increase", "decrease"}
    ties : {"half", "strict"}
        ``"half"`` counts a B value equal to the centre as one half
        (SingleCaseES); ``"strict"`` counts strict exceedances only (scan).
    center : {"median", "mean"}
        The centre of phase A (scan offers the mean as an option).

    Returns
    -------
    EffectSize
    """
    check_choice("ties", ties, ("half", "strict"))
    check_choice("center", center, ("median", "mean"))
    return _single(K._pem_2d, (center == "mean", ties == "half"), "PEM", a, b, improvement,
                   options={"ties": ties, "center": center})


def pand(a, b, *, improvement: str = "increase"):
    """Percentage of All Nonoverlapping Data (PAND), as a proportion.

    The largest share of the m + n points that can be kept so that every kept A
    value lies strictly below every kept B value, removing A values from the top
    and B values from the bottom; ties between phases count as overlap (Parker,
    R. I., Hagan-Burke, S., & Vannest, K. (2007). Percentage of all
    non-overlapping data (PAND). *Journal of Special Education*, 40(4), 194-204).
    This is scan's ``method="minimum"``; scan's sort-based variant orders tied
    values by phase and is a different statistic.

    Parameters
    ----------
    a, b : array_like
    improvement : {"increase", "decrease"}

    Returns
    -------
    EffectSize
    """
    return _single(K._pand_2d, (False,), "PAND", a, b, improvement)


def ird(a, b, *, improvement: str = "increase"):
    """Robust Improvement Rate Difference (IRD).

    With r the number of points PAND removes, split equally between the phases
    (halves allowed), IR_B = 1 - r/(2n), IR_A = r/(2m) and
    IRD = IR_B - IR_A = 1 - (m + n) r / (2 m n) (Parker, R. I., Vannest, K. J.,
    & Brown, L. (2009). The improvement rate difference for single-case
    research. *Exceptional Children*, 75(2), 135-150; Parker, Vannest & Davis
    (2011), *Behavior Modification*, 35(4), 303-322).

    Robust IRD is never negative, and it is far from 0 under no effect: for
    m = 3, n = 4 it takes only the values 1/8, 5/12, 17/24 and 1, with null
    mean 11/30.  The SingleCaseES vignette prints the expanded formula with a
    sign error; this is the correct one, which both R packages compute.

    Parameters
    ----------
    a, b : array_like
    improvement : {"increase", "decrease"}

    Returns
    -------
    EffectSize
    """
    return _single(K._pand_2d, (True,), "IRD", a, b, improvement)


def pet(a, b, *, improvement: str = "increase", times=None):
    """Percentage Exceeding the Trend (PET), as a proportion.

    The share of B values strictly beyond (above for ``"increase"``, below for
    ``"decrease"``) the ordinary least-squares line of A against its times,
    projected to B's times (as scan's ``pet``).

    Parameters
    ----------
    a, b : array_like
        Phase A needs at least 2 points.
    improvement : {"increase", "decrease"}
    times : array_like, optional
        The session times of the points: m + n whole numbers, A's then B's,
        strictly increasing (or a pair ``(times_a, times_b)``, or one row per
        series of a batch).  Default None: the positions 1..m+n.  With
        irregular sessions, or sessions dropped as missing, the recorded
        session numbers place the line where scan (which uses them) does.

    Returns
    -------
    EffectSize

    Notes
    -----
    A B value that lies on the line in exact arithmetic is not beyond it.
    The comparison is decided exactly on the data as written (decimals such as
    0.1 are taken as the decimals they stand for), never by a tolerance: with
    integer times, m W (b - fit) is an integer combination of the data (see
    ``scedsim.effect_sizes._kernels._pet_times_2d``).  scan compares doubles,
    so a few rows with integer data land on either side of the line there
    (e.g. A = 30 29 31 projects exactly 31).

    References
    ----------
    Wilbert, J., & Lueke, T. scan: Single-case data analyses for single and
    multiple baseline designs. R package, version 0.67.1 (``pet``).

    Examples
    --------
    >>> import scedsim as ss
    >>> ss.pet([30, 29, 31], [31, 35]).estimate    # 31 lies exactly on the line
    0.5
    >>> ss.pet([1, 2, 3], [5, 6]).estimate                          # sessions 4, 5
    1.0
    >>> ss.pet([1, 2, 3], [5, 6], times=[1, 2, 3, 7, 8]).estimate   # sessions 7, 8
    0.0
    """
    A, B, is_1d = phases(a, b, improvement, min_a=2, metric="PET")
    m, n = A.shape[1], B.shape[1]
    t = session_times(times, A.shape[0], m, n, metric="PET",
                      coef=lambda span: 2.0 * m ** 3 * (span + 1.0) ** 2)
    out = np.empty((1, A.shape[0]))
    run_rows(K._pet_times_2d, A, B, out, t)
    return make(EffectSize, out, is_1d, metric="PET", n_a=m, n_b=n, improvement=improvement,
                options={} if times is None else {"times": "session"})


def pooled_ird(ird_values, n_a, n_b, axis: int = -1):
    """Robust IRD across cases from pooled counts.

    Each case's robust IRD implies r_k = (1 - IRD_k) 2 m_k n_k / (m_k + n_k)
    removed points.  Pooling the balanced 2x2 tables across cases gives
    IR_B = 1 - (sum r_k / 2) / sum n_k and IR_A = (sum r_k / 2) / sum m_k, so
    IRD = 1 - (sum r_k)(sum m_k + sum n_k) / (2 sum m_k sum n_k): the same as
    the IRD formula applied to pooled PAND counts, which is how scan's ``ird``
    treats several cases (Parker, Vannest & Brown 2009).

    Parameters
    ----------
    ird_values : array_like
        Per-case robust IRD; NaN entries (undefined cases) are left out.
    n_a, n_b : array_like
        Per-case phase lengths, broadcastable to ``ird_values``.
    axis : int
        The case axis.

    Returns
    -------
    float or numpy.ndarray
        NaN where no case is defined.
    """
    ird_values = np.asarray(ird_values, dtype=np.float64)
    m = np.broadcast_to(np.asarray(n_a, dtype=np.float64), ird_values.shape)
    n = np.broadcast_to(np.asarray(n_b, dtype=np.float64), ird_values.shape)
    ok = ~np.isnan(ird_values)
    r = np.where(ok, (1.0 - np.where(ok, ird_values, 0.0)) * 2.0 * m * n / (m + n), 0.0)
    sm = np.where(ok, m, 0.0).sum(axis=axis)
    sn = np.where(ok, n, 0.0).sum(axis=axis)
    sr = r.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 1.0 - sr * (sm + sn) / (2.0 * sm * sn)
    out = np.where(sm > 0, out, np.nan)
    return float(out) if np.ndim(out) == 0 else out
