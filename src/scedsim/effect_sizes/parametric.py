"""Parametric comparators: within-case SMD and the log response ratio."""
from __future__ import annotations

import math

import numpy as np

from .._results import EffectSize, make
from .._threads import run_rows
from .._validation import check_choice, phases, z_for
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


def lrr(a, b, *, improvement: str = "increase", kind: str = "lrri", bias_correct: bool = True,
        confidence: float = 0.95):
    """Log response ratio for count data (Pustejovsky 2018).

    With floors M_p = max(mean_p, 1/(2 n_p)) and
    V_p = max(s_p^2, 1/n_p^3), L_p = ln M_p + V_p/(2 n_p M_p^2) (bias-corrected)
    and R = L_B - L_A; SE = sqrt(V_A/(m M_A^2) + V_B/(n M_B^2)); Wald interval.

    Parameters
    ----------
    a, b : array_like
        Counts (non-negative values are expected; the floors keep the log finite).
    improvement : {"increase", "decrease"}
    kind : {"lrri", "lrrd"}
        ``"lrri"``: positive means improvement (R for increase, -R for decrease).
        ``"lrrd"``: negative means improvement (R for decrease, -R for increase).
    bias_correct : bool
    confidence : float

    Returns
    -------
    EffectSize

    Notes
    -----
    A phase with one point has no sample variance s_p^2.  The floor 1/n_p^3 is
    a floor for a variance that was estimated as 0, not a value for one that
    cannot be estimated, so scedsim does not apply it there: the SE and
    interval are NaN, and so is the bias-corrected estimate (its correction
    term needs V_p), as in SingleCaseES, which returns NA.  With
    ``bias_correct=False`` the estimate ln M_B - ln M_A needs no variance and
    is returned.

    References
    ----------
    Pustejovsky, J. E. (2018). Using response ratios for meta-analyzing
    single-case designs with behavioral outcomes. *Journal of School
    Psychology*, 68, 99-112.

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
    """
    check_choice("kind", kind, ("lrri", "lrrd"))
    check_choice("improvement", improvement, ("increase", "decrease"))
    z = z_for(confidence)
    # The ratio is of the raw means, so the data are not negated here.
    A, B, is_1d = phases(a, b, "increase", metric="LRR")
    sign = 1.0 if (kind == "lrri") == (improvement == "increase") else -1.0
    out = np.empty((4, A.shape[0]))
    run_rows(K._lrr_2d, A, B, out, sign, bool(bias_correct), z)
    return make(EffectSize, out, is_1d, metric=kind.upper(), n_a=A.shape[1], n_b=B.shape[1],
                improvement=improvement,
                options={"kind": kind, "bias_correct": bool(bias_correct), "confidence": confidence})


# --------------------------------------------------------------------------- registry entries

_Z95 = 1.959963984540054
_ONE_POINT_NOTE = "LRR's variance needs 2 points per phase; SE (and the bias-corrected estimate) left empty"


def _true(v: str) -> bool:
    return v.upper() == "TRUE"


def _sces_smd(o, imp, metric):
    return dict(improvement=imp, std_dev=o["std_dev"], bias_correct=_true(o["bias_correct"]),
                confidence=float(o["confidence"]))


def _sces_lrr(o, imp, metric):
    return dict(improvement=imp, kind=metric.lower(), bias_correct=_true(o["bias_correct"]),
                confidence=float(o["confidence"]))

register(Metric(
    name="smd", label="SMD", title="SMD (baseline SD)", func=smd, has_se=True, has_ci=True, min_a=2,
    references=(Reference("parametric", "SingleCaseES", "SMD", _sces_smd, ("estimate", "se", "ci"),
                          "std_dev=baseline;bias_correct=TRUE;confidence=0.95"),),
    limit=lambda q, o: q.delta / q.s,
    null_centre=lambda m, n, o: 0.0,  # symmetric about 0 under no effect
    undefined="SMD not defined: the standardizing SD is 0 (or the small-sample correction is 0)",
    kernels=(KernelCase("smd-baseline", K._smd_2d, 4, lambda m, n: (False, True, _Z95)),
             KernelCase("smd-pool", K._smd_2d, 4, lambda m, n: (True, False, _Z95)))))
register(Metric(
    name="lrr", label="LRR", title="LRRi", func=lrr, has_se=True, has_ci=True, default=False, oriented=False,
    se_min_points=2, short_note=lambda o: _ONE_POINT_NOTE,
    references=tuple(Reference("parametric", "SingleCaseES", k, _sces_lrr, ("estimate", "se", "ci"),
                               "scale=count;bias_correct=TRUE;confidence=0.95") for k in ("LRRi", "LRRd")),
    # A ratio of means of data centred at 0 has no meaningful target.
    limit=lambda q, o: math.nan,
    kernels=(KernelCase("lrr", K._lrr_2d, 4, lambda m, n: (1.0, True, _Z95)),)))
