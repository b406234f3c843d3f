"""Nonoverlap effect sizes: NAP, Tau, PND, PEM, PAND, robust IRD and PET."""
from __future__ import annotations

import numpy as np

from .._results import EffectSize, make
from .._threads import run_rows
from .._validation import check_choice, check_finite, phase_arrays, phases, session_times, z_for
from ..registry import KernelCase, Metric, Reference, register, unbiased_se_note
from . import _kernels as K
from . import _limits as L
from ._score import CI_ROOTS, EMPTY_TABLE, ci_table, score_bounds, tau_ci_table, use_table

__all__ = ["nap", "tau", "pnd", "pem", "pand", "ird", "pet", "pooled_ird"]

def _nap_like(a, b, improvement, se, confidence, ci_roots, tau_scale):
    metric = "Tau" if tau_scale else "NAP"
    check_choice("se", se, tuple(K.SE_CODES))
    tol = CI_ROOTS[check_choice("ci_roots", ci_roots, tuple(CI_ROOTS))]
    z = z_for(confidence)
    A, B, is_1d = phase_arrays(a, b, improvement, metric=metric)
    rows, m = A.shape
    n = B.shape[1]
    # The unbiased SE divides by (m - 1)(n - 1): undefined (NaN) with a one-point phase.
    se_code = K.SE_NONE if (se == "unbiased" and min(m, n) < 2) else K.SE_CODES[se]
    out = np.empty((4, rows))
    if rows >= K.FIXED_MIN_ROWS and K.nap_fixed_shape(m, n):
        # One pass: the kernel orients the values as it reads them and reports
        # NaN or inf, instead of a scan for them and a negated copy beforehand.
        sign = -1.0 if improvement == "decrease" else 1.0
        table = (tau_ci_table if tau_scale else ci_table)(m, n, z, tol)
        if run_rows(K._nap_fixed_2d, A, B, out, (0,) * m, (0,) * n, sign, se_code, table, tau_scale, fields=True):
            check_finite(A, B, is_1d)
    else:
        check_finite(A, B, is_1d)
        if improvement == "decrease":
            A, B = -A, -B
        if use_table(rows, m, n):
            run_rows(K._nap_2d, A, B, out, se_code, ci_table(m, n, z, tol), tau_scale)
        else:
            # Few rows: solve only the intervals needed.
            run_rows(K._nap_2d, A, B, out, se_code, EMPTY_TABLE, False)
            out[2:] = score_bounds(out[0], m, n, z, tol)
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
    ties counting one half: the Mann-Whitney U divided by m n (Parker & Vannest
    2009).

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

    References
    ----------
    Parker, R. I., & Vannest, K. J. (2009). An improved effect size for
    single-case research: Nonoverlap of all pairs. *Behavior Therapy*, 40(4),
    357-367.

    Hanley, J. A., & McNeil, B. J. (1982). The meaning and use of the area
    under a receiver operating characteristic (ROC) curve. *Radiology*,
    143(1), 29-36.

    Mee, R. W. (1990). Confidence intervals for probabilities and tolerance
    regions based on a generalization of the Mann-Whitney statistic. *Journal
    of the American Statistical Association*, 85(411), 793-800.

    Newcombe, R. G. (2006). Confidence intervals for an effect size measure
    based on the Mann-Whitney statistic. Part 2: Asymptotic methods and
    evaluation. *Statistics in Medicine*, 25(4), 559-573.

    Examples
    --------
    The first example of Parker, Vannest & Davis (2011): 38.5 of the 42 pairs
    improve.

    >>> import scedsim as ss
    >>> r = ss.nap([20, 20, 26, 25, 22, 23], [28, 25, 24, 27, 30, 30, 29])
    >>> round(r.estimate * 42, 6)   # 38.5 of 42 pairs
    38.5
    >>> round(r.ci_lower, 4), round(r.ci_upper, 4)
    (0.5973, 0.986)

    Parker & Vannest (2009) report NAP = .96 for their example (106 of 110 pairs):

    >>> r = ss.nap([4, 3, 4, 3, 4, 7, 5, 2, 3, 2], [5, 9, 7, 9, 7, 5, 9, 11, 11, 10, 9])
    >>> round(r.estimate, 4)
    0.9636
    """
    return _nap_like(a, b, improvement, se, confidence, ci_roots, False)


def tau(a, b, *, improvement: str = "increase", se: str = "unbiased", confidence: float = 0.95,
        ci_roots: str = "uniroot"):
    """Tau, the nonoverlap of all pairs rescaled to [-1, 1]: Tau = 2 NAP - 1.

    Defined by Parker, Vannest, Davis & Sauber (2011).  SE = 2 SE(NAP) and the
    interval is the NAP score interval mapped the same way.

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

    References
    ----------
    Parker, R. I., Vannest, K. J., Davis, J. L., & Sauber, S. B. (2011).
    Combining nonoverlap and trend for single-case research: Tau-U. *Behavior
    Therapy*, 42(2), 284-299.

    Examples
    --------
    Parker, Vannest & Davis (2011): Tau = 35/42 for their first example and
    16/20 for their second.

    >>> import scedsim as ss
    >>> round(ss.tau([20, 20, 26, 25, 22, 23], [28, 25, 24, 27, 30, 30, 29]).estimate * 42, 6)
    35.0
    >>> round(ss.tau([3, 3, 4, 5], [4, 5, 6, 7, 7]).estimate, 4)
    0.8
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
    (Scruggs, Mastropieri & Casto 1987).  Under exchangeability without ties
    E[PND] = 1/(m + 1).

    Parameters
    ----------
    a, b : array_like
        Baseline and comparison phases (1-D, or 2-D with one series per row).
    improvement : {"increase", "decrease"}

    Returns
    -------
    EffectSize
        ``estimate`` in [0, 1]; no SE or CI is defined (NaN).

    References
    ----------
    Scruggs, T. E., Mastropieri, M. A., & Casto, G. (1987). The quantitative
    synthesis of single-subject research: Methodology and validation.
    *Remedial and Special Education*, 8(2), 24-33.

    Examples
    --------
    Five of the seven B values of Parker, Vannest & Davis (2011) lie above the
    highest A value, 26:

    >>> import scedsim as ss
    >>> a = [20, 20, 26, 25, 22, 23]           # Parker, Vannest & Davis (2011)
    >>> b = [28, 25, 24, 27, 30, 30, 29]
    >>> r = ss.pnd(a, b)
    >>> round(r.estimate * 7, 6)
    5.0
    >>> ss.pnd([30, 28, 31], [24, 22, 20, 21], improvement="decrease").estimate   # lower is better
    1.0
    """
    return _single(K._pnd_2d, (), "PND", a, b, improvement)


def pem(a, b, *, improvement: str = "increase", ties: str = "half", center: str = "median"):
    """Percentage Exceeding the Median (PEM), as a proportion.

    The share of B values that improve on the centre (median) of A (Ma 2006).

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

    References
    ----------
    Ma, H.-H. (2006). An alternative method for quantitative synthesis of
    single-subject researches: Percentage of data points exceeding the median.
    *Behavior Modification*, 30(5), 598-617.

    Examples
    --------
    Every B value of Parker, Vannest & Davis (2011) lies above the A median,
    22.5.  With A = 3 5 7, the B value at A's median 5 counts one half unless
    ``ties="strict"``:

    >>> import scedsim as ss
    >>> a = [20, 20, 26, 25, 22, 23]           # Parker, Vannest & Davis (2011)
    >>> b = [28, 25, 24, 27, 30, 30, 29]
    >>> ss.pem(a, b).estimate
    1.0
    >>> round(ss.pem([3, 5, 7], [4, 5, 6, 8]).estimate, 4)
    0.625
    >>> ss.pem([3, 5, 7], [4, 5, 6, 8], ties="strict").estimate
    0.5
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
    Hagan-Burke & Vannest 2007).
    This is scan's ``method="minimum"``; scan's sort-based variant orders tied
    values by phase and is a different statistic.

    Parameters
    ----------
    a, b : array_like
    improvement : {"increase", "decrease"}

    Returns
    -------
    EffectSize

    References
    ----------
    Parker, R. I., Hagan-Burke, S., & Vannest, K. (2007). Percentage of all
    non-overlapping data (PAND): An alternative to PND. *The Journal of Special
    Education*, 40(4), 194-204.

    Examples
    --------
    Parker, Vannest & Davis (2011): removing A's two highest values, 25 and
    26, leaves 11 of the 13 points without overlap.

    >>> import scedsim as ss
    >>> a = [20, 20, 26, 25, 22, 23]           # Parker, Vannest & Davis (2011)
    >>> b = [28, 25, 24, 27, 30, 30, 29]
    >>> round(ss.pand(a, b).estimate * 13, 6)
    11.0
    """
    return _single(K._pand_2d, (False,), "PAND", a, b, improvement)


def ird(a, b, *, improvement: str = "increase"):
    """Robust Improvement Rate Difference (IRD).

    With r the number of points PAND removes, split equally between the phases
    (halves allowed), IR_B = 1 - r/(2n), IR_A = r/(2m) and
    IRD = IR_B - IR_A = 1 - (m + n) r / (2 m n) (Parker, Vannest & Brown 2009;
    Parker, Vannest & Davis 2011).

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

    References
    ----------
    Parker, R. I., Vannest, K. J., & Brown, L. (2009). The improvement rate
    difference for single-case research. *Exceptional Children*, 75(2),
    135-150.

    Parker, R. I., Vannest, K. J., & Davis, J. L. (2011). Effect size in
    single-case research: A review of nine nonoverlap techniques. *Behavior
    Modification*, 35(4), 303-322.

    Examples
    --------
    Parker, Vannest & Davis (2011): IRD = 6/7 - 1/6.

    >>> import scedsim as ss
    >>> a = [20, 20, 26, 25, 22, 23]           # Parker, Vannest & Davis (2011)
    >>> b = [28, 25, 24, 27, 30, 30, 29]
    >>> round(ss.ird(a, b).estimate, 4), round(6 / 7 - 1 / 6, 4)
    (0.6905, 0.6905)
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
    >>> a = [20, 20, 26, 25, 22, 23]           # Parker, Vannest & Davis (2011)
    >>> round(ss.pet(a, [28, 25, 24, 27, 30, 30, 29]).estimate * 7, 6)
    5.0
    """
    A, B, is_1d = phases(a, b, improvement, min_a=2, metric="PET")
    m, n = A.shape[1], B.shape[1]
    t = session_times(times, A.shape[0], m, n, metric="PET",
                      coef=lambda span: 2.0 * m ** 3 * (span + 1.0) ** 2)
    out = np.empty((1, A.shape[0]))
    run_rows(K._pet_times_2d, A, B, out, t, per_row=(0,))
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

    References
    ----------
    Parker, R. I., Vannest, K. J., & Brown, L. (2009). The improvement rate
    difference for single-case research. *Exceptional Children*, 75(2),
    135-150.

    Examples
    --------
    Two cases of 3 + 4 points: the first without overlap (IRD 1, no removal),
    the second with two removals (IRD 5/12).  Pooled, two removals among
    6 + 8 points give 1 - 2 (6 + 8) / (2 * 6 * 8) = 17/24:

    >>> import scedsim as ss
    >>> from scedsim.effect_sizes import pooled_ird
    >>> r1 = ss.ird([3, 4, 3], [6, 7, 5, 8])
    >>> r2 = ss.ird([5, 6, 4], [6, 7, 3, 8])
    >>> round(r1.estimate, 4), round(r2.estimate, 4)
    (1.0, 0.4167)
    >>> round(pooled_ird([r1.estimate, r2.estimate], n_a=3, n_b=4), 4)
    0.7083
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


def _ird_detail(est, n_a, n_b) -> str:
    """The pooled table behind :func:`pooled_ird`: PAND removals r behind each
    robust IRD = 1 - (m + n) r / (2 m n), summed."""
    r = (1.0 - np.asarray(est, float)) * 2.0 * n_a * n_b / (n_a + n_b)
    ri = np.rint(r)
    if np.any(np.abs(r - ri) > 1e-6):
        raise ValueError("IRD rows do not come from robust IRD values (removals are not whole numbers)")
    return f"R = {float(ri.sum()):g} removals, M = {float(np.sum(n_a)):g}, N = {float(np.sum(n_b)):g}"


# --------------------------------------------------------------------------- registry entries

_Z95 = 1.959963984540054
_TOL = CI_ROOTS["uniroot"]
_NAP_DEFAULT = "SE=unbiased;confidence=0.95"


def _irregular_times(m: int, n: int) -> np.ndarray:
    """Session numbers with gaps (1, 2, 3, 5, 6, 7, 9, ...), one shared row: a kernel test input."""
    return np.cumsum(1.0 + (np.arange(m + n) % 3 == 2)).reshape(1, -1)


def _sces_nap(o, imp, metric):
    return dict(improvement=imp, se=o.get("SE", "unbiased").lower(), confidence=float(o.get("confidence", 0.95)))


def _scan_pem(o, imp, metric):
    return dict(improvement=imp, ties="strict", center="median" if o.get("FUN") == "median" else "mean")


def _scan_pand(o, imp, metric):
    # scan's sort-based PAND orders tied values by phase: a different statistic.
    return dict(improvement=imp) if o.get("method") == "minimum" else None


def _sces(metric, default=None):
    return Reference("nonoverlap", "SingleCaseES", metric, default=default)


def _scan(metric, kwargs=None):
    return Reference("nonoverlap", "scan", metric, kwargs)

register(Metric(
    name="nap", label="NAP", func=nap, bounds=(0.0, 1.0), has_se=True, has_ci=True, se_min_points=2,
    short_note=unbiased_se_note,
    rank=True, swap="complement", weighted=True, statistic_options={"se": "none"},
    # Parker & Vannest (2009): weak < .66, medium .66-.92, strong >= .93.
    bands={"nap_strong": "nap >= 0.93", "nap_medium_or_strong": "nap >= 0.66"},
    null_centre=lambda m, n, o: 0.5,
    references=(Reference("nonoverlap", "SingleCaseES", "NAP", _sces_nap, ("estimate", "se", "ci"), _NAP_DEFAULT),
                _scan("NAP")),
    limit=lambda q, o: L.nap_limit(q),
    kernels=(KernelCase("nap-unbiased", K._nap_2d, 4, lambda m, n: (K.SE_UNBIASED, ci_table(m, n, _Z95, _TOL), False)),
             KernelCase("nap-hanley-tau", K._nap_2d, 4, lambda m, n: (K.SE_HANLEY, ci_table(m, n, _Z95, _TOL), True)),
             KernelCase("nap-null-notable", K._nap_2d, 4, lambda m, n: (K.SE_NULL, EMPTY_TABLE, False)))))
register(Metric(
    name="tau", label="Tau", func=tau, bounds=(-1.0, 1.0), has_se=True, has_ci=True, se_min_points=2,
    short_note=unbiased_se_note,
    rank=True, swap="negate", weighted=True, statistic_options={"se": "none"},
    references=(Reference("nonoverlap", "SingleCaseES", "Tau", _sces_nap, ("estimate", "se", "ci"), _NAP_DEFAULT),),
    limit=lambda q, o: 2.0 * L.nap_limit(q) - 1.0, null_centre=lambda m, n, o: 0.0,
    kernels=(KernelCase("tau-unbiased", K._nap_2d, 4, lambda m, n: (K.SE_UNBIASED, ci_table(m, n, _Z95, _TOL), True)),)))
register(Metric(
    name="pnd", label="PND", func=pnd, bounds=(0.0, 1.0), rank=True, discrete=True,
    references=(_sces("PND"), _scan("PND")), null_centre=lambda m, n, o: 1.0 / (m + 1),
    limit=lambda q, o: 0.0,  # max(A) grows without bound
    kernels=(KernelCase("pnd", K._pnd_2d, 1),)))
register(Metric(
    name="pem", label="PEM", func=pem, bounds=(0.0, 1.0), discrete=True,
    references=(_sces("PEM"), _scan("PEM", _scan_pem)),
    # With odd m, each B point lies beyond A's median (an order statistic of the
    # pooled sample) with probability exactly 1/2 for exchangeable continuous data.
    null_centre=lambda m, n, o: 0.5 if o.get("center", "median") == "median" and m % 2 == 1 else None,
    limit=lambda q, o: L.exceed_limit(q),
    kernels=(KernelCase("pem-median-half", K._pem_2d, 1, lambda m, n: (False, True)),
             KernelCase("pem-mean-strict", K._pem_2d, 1, lambda m, n: (True, False)))))
register(Metric(
    name="pand", label="PAND", func=pand, bounds=(0.0, 1.0), rank=True, discrete=True,
    references=(_sces("PAND"), _scan("PAND", _scan_pand)),
    limit=lambda q, o: L.pand_limit(q),
    kernels=(KernelCase("pand", K._pand_2d, 1, lambda m, n: (False,)),)))
register(Metric(
    name="ird", label="IRD", title="IRD (robust)", func=ird, bounds=(0.0, 1.0), rank=True, discrete=True,
    references=(_sces("IRD"), _scan("IRD")),
    limit=lambda q, o: L.ird_limit(q), pool=pooled_ird, pool_detail=_ird_detail,
    # Parker, Vannest & Brown (2009): robust IRD >= .70 large, .50-.70 moderate.
    bands={"ird_large": "ird >= 0.70", "ird_moderate_or_large": "ird >= 0.50"},
    kernels=(KernelCase("ird", K._pand_2d, 1, lambda m, n: (True,)),)))
register(Metric(
    name="pet", label="PET", func=pet, bounds=(0.0, 1.0), min_a=2, time_ordered=True, spaced=True, discrete=True,
    references=(_scan("PET"),),
    limit=lambda q, o: L.exceed_limit(q),
    kernels=(KernelCase("pet", K._pet_2d, 1),
             KernelCase("pet-times", K._pet_times_2d, 1, lambda m, n: (_irregular_times(m, n),)))))
