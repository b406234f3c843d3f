"""Parametric comparators: within-case SMD and the log response ratio."""
from __future__ import annotations

import math

import numpy as np

from .._results import EffectSize, make
from .._threads import run_rows
from .._validation import check_choice, check_magnitude, check_nonnegative, phases, z_for
from ..registry import KernelCase, Metric, Reference, register
from . import _kernels as K

__all__ = ["smd", "lrr"]


def smd(a, b, *, improvement: str = "increase", std_dev: str = "baseline", bias_correct: bool = True,
        confidence: float = 0.95):
    """Within-case standardized mean difference, as SingleCaseES defines it.

    g = J (mean_B - mean_A) / s (negated for ``"decrease"``), where s is the
    baseline SD (Gingerich 1984; Busk & Serlin 1992) or the pooled SD, and
    J = 1 - 3/(4 nu - 1) is the small-sample correction (nu = m - 1 or
    m + n - 2).  SE = J sqrt(V1 + g^2/(2 nu)) with V1 = 1/m + s_B^2/(n s_A^2)
    (baseline) or 1/m + 1/n (pool); the interval is Wald, estimate +- z SE.

    Parameters
    ----------
    a, b : array_like
    improvement : {"increase", "decrease"}
    std_dev : {"baseline", "pool"}
    bias_correct : bool
    confidence : float

    Returns
    -------
    EffectSize

    Notes
    -----
    Where the standardizing SD is 0 the SMD does not exist: scedsim returns NaN
    (SingleCaseES returns +-Inf with a warning).  With the baseline SD and the
    correction at m = 2, nu = 1 makes J = 0; SingleCaseES then reports 0,
    scedsim NaN, since the corrected estimate carries no information.

    References
    ----------
    Gingerich, W. J. (1984). Meta-analysis of applied time-series data.
    *Journal of Applied Behavioral Science*, 20(1), 71-79.

    Busk, P. L., & Serlin, R. C. (1992). Meta-analysis for single-case
    research. In T. R. Kratochwill & J. R. Levin (Eds.), *Single-case research
    design and analysis* (pp. 187-212). Lawrence Erlbaum.

    Examples
    --------
    The first example of Parker, Vannest & Davis (2011): means 22.67 and 27.57,
    baseline SD 2.50.

    >>> import scedsim as ss
    >>> a = [20, 20, 26, 25, 22, 23]
    >>> b = [28, 25, 24, 27, 30, 30, 29]
    >>> r = ss.smd(a, b)
    >>> round(r.estimate, 4), round(r.se, 4)
    (1.6499, 0.6341)
    >>> round(ss.smd(a, b, std_dev="pool").estimate, 4)
    1.8762
    """
    check_choice("std_dev", std_dev, ("baseline", "pool"))
    z = z_for(confidence)
    pooled = std_dev == "pool"
    A, B, is_1d = phases(a, b, improvement, min_a=1 if pooled else 2, min_b=1,
                         metric=f"SMD with std_dev='{std_dev}'")
    if pooled and A.shape[1] + B.shape[1] < 3:
        raise ValueError("SMD with std_dev='pool' needs at least 3 points in all")
    out = np.empty((4, A.shape[0]))
    run_rows(K._smd_2d, A, B, out, pooled, bool(bias_correct), z)
    return make(EffectSize, out, is_1d, metric="SMD", n_a=A.shape[1], n_b=B.shape[1],
                improvement=improvement,
                options={"std_dev": std_dev, "bias_correct": bool(bias_correct), "confidence": confidence})


#: The bounded scales and their upper ends (the complement is taken from them).
_LRR_BOUNDED = {"proportion": 1.0, "percentage": 100.0}
_LRR_SCALES = ("count", "rate", "proportion", "percentage")


def _positive(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if isinstance(value, (bool, np.bool_)) or not (0.0 < v < math.inf):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return v


def _flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _lrr_truncation(scale: str, intervals, observation_length, d_const) -> float:
    """The truncation constant D of :func:`lrr` (SingleCaseES's ``trunc_const``), options checked.

    ``d_const`` if given; else 1 for counts, ``observation_length`` for rates,
    ``intervals`` for proportions and ``intervals``/100 for percentages, and
    infinity (floors of 0) where that option is not given.
    """
    check_choice("scale", scale, _LRR_SCALES)
    if intervals is not None:
        intervals = _positive("intervals", intervals)
    if observation_length is not None:
        observation_length = _positive("observation_length", observation_length)
    if d_const is not None:
        try:
            d = float(d_const)
        except (TypeError, ValueError):
            raise ValueError(f"d_const must be a number >= 0, got {d_const!r}") from None
        if isinstance(d_const, (bool, np.bool_)) or not d >= 0.0:
            raise ValueError(f"d_const must be a number >= 0, got {d_const!r}")
        return d
    if scale == "count":
        return 1.0  # observation_length and intervals do not apply to counts
    if scale == "rate":
        return math.inf if observation_length is None else observation_length
    if intervals is None:
        return math.inf
    return intervals if scale == "proportion" else intervals / 100.0


def lrr(a, b, *, improvement: str = "increase", kind: str = "lrri", scale: str = "count", intervals=None,
        observation_length=None, d_const=None, bias_correct: bool = True, pct_change: bool = False,
        confidence: float = 0.95):
    """Log response ratio (Pustejovsky 2018), for counts, rates, proportions or percentages.

    Per phase p with n_p points, mean M_p and variance V_p = s_p^2: on a
    bounded scale read in the direction opposite to the ratio's (``"lrri"``
    with ``"decrease"``, ``"lrrd"`` with ``"increase"``) M_p is replaced by its
    complement (100 - M_p or 1 - M_p).  With the truncation constant D > 0,
    M_p >= 1/(2 D n_p) and V_p >= 1/(D^2 n_p^3).  Then
    L_p = ln M_p + V_p/(2 n_p M_p^2) (bias-corrected), R = L_B - L_A (negated
    for counts and rates where the complement would be taken),
    SE = sqrt(V_A/(n_A M_A^2) + V_B/(n_B M_B^2)) and the Wald interval
    R +- z SE.  This is SingleCaseES's ``LRRi``/``LRRd``.

    Parameters
    ----------
    a, b : array_like
        Baseline and comparison phases on the scale named by ``scale``.
    improvement : {"increase", "decrease"}
        The direction of improvement (the data are not negated: the ratio is
        of the raw means).
    kind : {"lrri", "lrrd"}
        ``"lrri"``: positive means improvement; ``"lrrd"``: negative means
        improvement.  ``lrri`` with one direction equals ``lrrd`` with the
        other.
    scale : {"count", "rate", "proportion", "percentage"}
        How the behaviour was recorded; it sets the default D and, for the
        bounded scales, the complement.
    intervals : int, optional
        Number of intervals K of an interval recording: D = K for proportions,
        K/100 for percentages.  Ignored for counts and rates.
    observation_length : float, optional
        Length of each observation session: D for rates.  Ignored otherwise.
    d_const : float, optional
        The truncation constant D itself (>= 0); it wins over ``intervals``
        and ``observation_length``.  0 applies no truncation.  Default: 1 for
        counts, and for the other scales as above, or no floor (D = inf, floors
        0) when the option is not given.
    bias_correct : bool
        Apply the small-sample bias correction to each L_p.
    pct_change : bool
        Report the percentage change exp(R) - 1 (as a proportion: 0.25 is
        +25%) and exp of the interval bounds minus 1; the SE is then NaN.
    confidence : float
        Level of the Wald interval.

    Returns
    -------
    EffectSize

    Raises
    ------
    ValueError
        For an unknown ``kind`` or ``scale``, ``intervals`` or
        ``observation_length`` that is not positive, a negative ``d_const``,
        or a negative data value.

    Notes
    -----
    A phase with one point has no sample variance s_p^2.  The floor
    1/(D^2 n_p^3) is a floor for a variance that was estimated as 0, not a
    value for one that cannot be estimated, so scedsim does not apply it there:
    the SE and interval are NaN, and so is the bias-corrected estimate (its
    correction term needs V_p), as in SingleCaseES, which returns NA.  With
    ``bias_correct=False`` the estimate ln M_B - ln M_A needs no variance and
    is returned.

    Negative data are refused (ValueError): a log ratio of means needs
    non-negative outcomes, and SingleCaseES's truncation floor would turn a
    negative mean into a large value of the wrong sign.  Otherwise no range
    check is made, as in SingleCaseES: a value above 100 (or 1) gives
    a negative complement, which the truncation floors.  A phase mean of 0
    after truncation (D = inf, or D = 0 with a zero mean) makes ln M_p = -inf:
    the estimate is then +-inf without the bias correction and NaN with it.  With ``pct_change`` a floored
    negative mean can make exp(R) overflow to +inf.

    References
    ----------
    Pustejovsky, J. E. (2018). Using response ratios for meta-analyzing
    single-case designs with behavioral outcomes. *Journal of School
    Psychology*, 68, 99-112.

    SingleCaseES: a calculator for single-case effect sizes. R package,
    version 0.7.4 (``LRRi``, ``LRRd``, ``trunc_constant``).

    Examples
    --------
    A problem behaviour counted per session falls from a mean of 9 to 3; with
    ``improvement="decrease"`` the LRRi is positive for that improvement, about
    ln 3 plus the small-sample correction:

    >>> import scedsim as ss
    >>> r = ss.lrr([8, 10, 9], [4, 3, 2, 3], improvement="decrease")
    >>> round(r.estimate, 4), round(r.se, 4)
    (1.0914, 0.1504)
    >>> round(ss.lrr([8, 10, 9], [4, 3, 2, 3], improvement="decrease", kind="lrrd").estimate, 4)
    -1.0914
    >>> round(ss.lrr([4, 5, 6], [8, 10, 12], bias_correct=False).estimate, 6)   # ln 2
    0.693147

    SingleCaseES's worked example, A = 18 20 and B = 19 18 20 19 18:

    >>> a, b = [18, 20], [19, 18, 20, 19, 18]
    >>> r = ss.lrr(a, b)
    >>> round(r.estimate, 7), round(r.se, 7), round(r.ci_lower, 6), round(r.ci_upper, 6)
    (-0.0117691, 0.0562689, -0.122054, 0.098516)
    >>> p = ss.lrr(a, b, pct_change=True)   # exp(LRR) - 1, a proportion
    >>> round(p.estimate, 7), round(p.ci_lower, 6), round(p.ci_upper, 6)
    (-0.0117001, -0.1149, 0.103532)

    As percentages of 20 intervals (D = .2), the variance of A is floored
    from 2 to 1/(.2^2 2^3) = 3.125:

    >>> r = ss.lrr(a, b, scale="percentage", intervals=20)
    >>> round(r.estimate, 7), round(r.se, 7)
    (-0.0125482, 0.068734)
    >>> round(ss.lrr(a, b, scale="percentage", improvement="decrease").estimate, 7)   # 81 vs 81.2
    0.0024005

    A baseline of zeros is floored at 1/(2n) = 1/6, with variance 1/n^3 = 1/27:

    >>> r = ss.lrr([0, 0, 0], [2, 3, 4])
    >>> round(r.estimate, 6), round(r.se, 6)
    (2.686668, 0.693889)
    >>> ss.lrr([0, 0, 0], [2, 3, 4], scale="rate").estimate   # no observation length: no floor
    nan
    """
    check_choice("kind", kind, ("lrri", "lrrd"))
    check_choice("improvement", improvement, ("increase", "decrease"))
    d = _lrr_truncation(scale, intervals, observation_length, d_const)
    bias_correct = bool(bias_correct)
    pct_change = _flag("pct_change", pct_change)
    z = z_for(confidence)
    # The ratio is of the raw means, so the data are not negated here.
    A, B, is_1d = phases(a, b, "increase", metric="LRR")
    check_nonnegative("LRR", A, B, is_1d)
    check_magnitude("LRR", A, B)
    flip = (kind == "lrri") != (improvement == "increase")
    # A bounded scale turns the other way by its complement, an unbounded one by the sign.
    complement = _LRR_BOUNDED.get(scale, 0.0) if flip else 0.0
    sign = -1.0 if flip and scale not in _LRR_BOUNDED else 1.0
    out = np.empty((4, A.shape[0]))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        run_rows(K._lrr_2d, A, B, out, complement, d, sign, bias_correct, pct_change, z)
    options = {"kind": kind, "bias_correct": bias_correct, "confidence": confidence}
    if scale != "count":
        options["scale"] = scale
    for key, value in (("intervals", intervals), ("observation_length", observation_length),
                       ("d_const", d_const)):
        if value is not None:
            options[key] = value
    if pct_change:
        options["pct_change"] = True
    return make(EffectSize, out, is_1d, metric=kind.upper(), n_a=A.shape[1], n_b=B.shape[1],
                improvement=improvement, options=options)


# --------------------------------------------------------------------------- registry entries

_Z95 = 1.959963984540054
_ONE_POINT_NOTE = "LRR's variance needs 2 points per phase; SE (and the bias-corrected estimate) left empty"


def _true(v: str) -> bool:
    return v.upper() == "TRUE"


def _sces_smd(o, imp, metric):
    return dict(improvement=imp, std_dev=o["std_dev"], bias_correct=_true(o["bias_correct"]),
                confidence=float(o["confidence"]))


_LRR_R_OPTIONS = {"scale", "intervals", "observation_length", "D_const", "bias_correct", "confidence",
                  "pct_change", "transform"}


def _sces_lrr(o, imp, metric):
    # SingleCaseES's LRRi/LRRd (and their pct_change rows); ``transform`` is applied
    # to the data by scedsim.testing.  An option not known here leaves the row unmapped.
    if not set(o) <= _LRR_R_OPTIONS:
        return None
    kw = dict(improvement=imp, kind=metric[:4].lower(), bias_correct=_true(o["bias_correct"]),
              confidence=float(o["confidence"]))
    if o.get("scale", "count") != "count":
        kw["scale"] = o["scale"]
    for r_name, name in (("intervals", "intervals"), ("observation_length", "observation_length"),
                         ("D_const", "d_const")):
        if r_name in o:
            kw[name] = float(o[r_name])
    if metric.endswith("_pct_change"):
        kw["pct_change"] = True
    return kw


def _lrr_references():
    lrr_options = "scale=count;bias_correct=TRUE;confidence=0.95"
    refs = [Reference("parametric", "SingleCaseES", k, _sces_lrr, ("estimate", "se", "ci"), lrr_options)
            for k in ("LRRi", "LRRd")]
    refs += [Reference("lrr_lrm", "SingleCaseES", k, _sces_lrr, ("estimate", "se", "ci"), lrr_options)
             for k in ("LRRi", "LRRd")]
    # R reports the percentage change in percent, scedsim as a proportion; its SE is NA.
    refs += [Reference("lrr_lrm", "SingleCaseES", f"{k}_pct_change", _sces_lrr, ("estimate", "ci"),
                       "scale=count;bias_correct=TRUE;confidence=0.95;pct_change=TRUE", units=100.0)
             for k in ("LRRi", "LRRd")]
    return tuple(refs)


register(Metric(
    name="smd", label="SMD", title="SMD (baseline SD)", func=smd, has_se=True, has_ci=True, min_a=2,
    references=(Reference("parametric", "SingleCaseES", "SMD", _sces_smd, ("estimate", "se", "ci"),
                          "std_dev=baseline;bias_correct=TRUE;confidence=0.95"),),
    limit=lambda q, o: q.delta / q.s,
    undefined="SMD not defined: the standardizing SD is 0 (or the small-sample correction is 0)",
    kernels=(KernelCase("smd-baseline", K._smd_2d, 4, lambda m, n: (False, True, _Z95)),
             KernelCase("smd-pool", K._smd_2d, 4, lambda m, n: (True, False, _Z95)))))
register(Metric(
    name="lrr", label="LRR", title="LRRi", func=lrr, has_se=True, has_ci=True, default=False, oriented=False,
    se_min_points=2, short_note=lambda o: _ONE_POINT_NOTE,
    references=_lrr_references(),
    # A ratio of means of data centred at 0 has no meaningful target.
    limit=lambda q, o: math.nan,
    # args: complement, D, sign, bias_correct, pct_change, z.
    kernels=(KernelCase("lrr", K._lrr_2d, 4, lambda m, n: (0.0, 1.0, 1.0, True, False, _Z95)),
             KernelCase("lrr-percentage-intervals-complement", K._lrr_2d, 4,
                        lambda m, n: (100.0, 0.2, 1.0, True, False, _Z95)),
             KernelCase("lrr-proportion-complement", K._lrr_2d, 4,
                        lambda m, n: (1.0, 10.0, 1.0, False, False, _Z95)),
             KernelCase("lrr-rate-no-floor-pct-change", K._lrr_2d, 4,
                        lambda m, n: (0.0, math.inf, -1.0, True, True, 1.644853626951472)),
             KernelCase("lrr-no-truncation-pct-change", K._lrr_2d, 4,
                        lambda m, n: (0.0, 0.0, 1.0, False, True, _Z95)),
             KernelCase("lrr-d-const-decrease", K._lrr_2d, 4,
                        lambda m, n: (0.0, 5.0, -1.0, True, False, _Z95)))))
