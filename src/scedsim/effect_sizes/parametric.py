"""Parametric comparators: within-case SMD and the log response ratio."""
from __future__ import annotations

import numpy as np

from .._numba import run_rows
from .._results import EffectSize, make
from .._validation import check_choice, phases, z_for
from . import _kernels as K

__all__ = ["smd", "lrr"]


def smd(a, b, *, improvement: str = "increase", std_dev: str = "baseline", bias_correct: bool = True,
        confidence: float = 0.95):
    """Within-case standardized mean difference, as SingleCaseES defines it.

    g = J (mean_B - mean_A) / s (negated for ``"decrease"``), where s is the
    baseline SD (Gingerich, W. J. (1984). Meta-analysis of applied time-series
    data. *Journal of Applied Behavioral Science*, 20(1), 71-79; Busk, P. L., &
    Serlin, R. C. (1992). Meta-analysis for single-case research. In Kratochwill
    & Levin (Eds.), *Single-case research design and analysis*) or the pooled
    SD, and J = 1 - 3/(4 nu - 1) is the small-sample correction (nu = m - 1 or
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

    Pustejovsky, J. E. (2018). Using response ratios for meta-analyzing
    single-case designs with behavioral outcomes. *Journal of School
    Psychology*, 68, 99-112.  With floors M_p = max(mean_p, 1/(2 n_p)) and
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

    Examples
    --------
    >>> import scedsim as ss
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
