"""The log ratio of medians (LRM): a robust log response ratio for positive outcomes."""
from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np

from .._numba import kernel
from .._results import EffectSize, make
from .._threads import run_rows
from .._validation import check_choice, check_nonnegative, phases, z_for
from ..registry import KernelCase, Metric, Reference, register
# Direct names: a twin resolves them to the helpers' own twins.
from ._kernels import _insertion_sort, _sorted_median

__all__ = ["lrm"]


@lru_cache(maxsize=256)
def _order_stat(n: int) -> tuple[int, float]:
    """Bonett & Price's (2002) order statistic o1 (1-based) and z0 for a phase of n points.

    o1 = max(round(n/2 - sqrt(n)), 1), rounding half to even; p = P(Bin(n, 1/2) <= o1 - 1);
    z0 = Phi^-1(1 - p).  (L, U) = (y_(o1), y_(n - o1 + 1)) is a distribution-free
    interval for the median with coverage 1 - 2p.
    """
    o1 = max(round(n / 2 - math.sqrt(n)), 1)
    p = sum(math.comb(n, k) for k in range(o1)) / 2.0 ** n
    return o1, NormalDist().inv_cdf(1.0 - p)


def _lrm_2d_python(a, b, o1a, z0a, o1b, z0b, delta, sign, z, out):
    """out[0..3] = LRM, SE, CI for each row; log(med_B) - log(med_A), times ``sign``."""
    rows, m = a.shape
    n = b.shape[1]
    xa = np.empty(m)
    xb = np.empty(n)
    for r in range(rows):
        for i in range(m):
            xa[i] = a[r, i]
        for i in range(n):
            xb[i] = b[r, i]
        _insertion_sort(xa, m)
        _insertion_sort(xb, n)
        med_a = _sorted_median(xa, m)
        med_b = _sorted_median(xb, n)
        lo_a, hi_a = xa[o1a - 1], xa[m - o1a]
        lo_b, hi_b = xb[o1b - 1], xb[n - o1b]
        if delta:
            va = ((hi_a - lo_a) / (2.0 * z0a)) ** 2 / (med_a * med_a)
            vb = ((hi_b - lo_b) / (2.0 * z0b)) ** 2 / (med_b * med_b)
        else:
            va = ((np.log(hi_a) - np.log(lo_a)) / (2.0 * z0a)) ** 2
            vb = ((np.log(hi_b) - np.log(lo_b)) / (2.0 * z0b)) ** 2
        est = sign * (np.log(med_b) - np.log(med_a))
        se = np.sqrt(va + vb)
        out[0, r] = est
        out[1, r] = se
        out[2, r] = est - z * se
        out[3, r] = est + z * se


_lrm_2d = kernel(_lrm_2d_python)


def _args(m: int, n: int, delta: bool, sign: float, z: float) -> tuple:
    o1a, z0a = _order_stat(m)
    o1b, z0b = _order_stat(n)
    return (o1a, z0a, o1b, z0b, bool(delta), float(sign), float(z))


def lrm(a, b, *, improvement: str = "increase", delta_method: bool = False, confidence: float = 0.95):
    """Log ratio of medians (LRM): log(median B) - log(median A), negated for ``"decrease"``.

    A robust counterpart of the log response ratio for positive outcomes
    (Bonett & Price 2020), as SingleCaseES's ``LRM``.  The variance of each
    phase's log median comes from the distribution-free interval (L, U) =
    (y_(o1), y_(n - o1 + 1)) of Bonett & Price (2002), with
    o1 = max(round(n/2 - sqrt(n)), 1) and z0 = Phi^-1(1 - P(Bin(n, 1/2) <= o1 - 1)):
    Var(log med) = ((log U - log L) / (2 z0))^2, or with ``delta_method=True``
    ((U - L) / (2 z0))^2 / med^2.  SE = sqrt(Var_A + Var_B); Wald interval.

    Parameters
    ----------
    a, b : array_like
        Baseline and comparison phases, each with at least 2 points (z0 = 0
        for one point).  Positive values are expected.
    improvement : {"increase", "decrease"}
        ``"decrease"`` negates the log ratio (the data are not negated: the
        ratio is of the raw medians).
    delta_method : bool
        The delta-method variance instead of the log-scale interval.
    confidence : float
        Level of the Wald interval.

    Returns
    -------
    EffectSize

    Notes
    -----
    Negative data are refused (ValueError): a log ratio needs non-negative
    outcomes (SingleCaseES returns NaN, or a value when the medians happen to
    be positive).  No truncation is applied (as SingleCaseES): a zero median
    makes the estimate infinite, and L = 0 makes the default SE infinite.

    References
    ----------
    Bonett, D. G., & Price, R. M. (2002). Statistical inference for a linear
    function of medians: Confidence intervals, hypothesis testing, and sample
    size requirements. *Psychological Methods*, 7(3), 370-383.

    Bonett, D. G., & Price, R. M. (2020). Confidence intervals for ratios of
    means and medians. *Journal of Educational and Behavioral Statistics*,
    45(6), 750-770.

    Examples
    --------
    The worked example: both medians are 19, so LRM = 0.

    >>> import scedsim as ss
    >>> r = ss.lrm([18, 20], [19, 18, 20, 19, 18])
    >>> r.estimate, round(r.se, 7)
    (0.0, 0.0830665)
    >>> round(ss.lrm([18, 20], [19, 18, 20, 19, 18], delta_method=True).se, 7)
    0.0829897
    """
    check_choice("improvement", improvement, ("increase", "decrease"))
    if not isinstance(delta_method, (bool, np.bool_)):
        raise ValueError(f"delta_method must be True or False, got {delta_method!r}")
    z = z_for(confidence)
    # A log ratio of the raw medians: the data are not negated.
    A, B, is_1d = phases(a, b, "increase", min_a=2, min_b=2, metric="LRM")
    check_nonnegative("LRM", A, B, is_1d)
    sign = 1.0 if improvement == "increase" else -1.0
    out = np.empty((4, A.shape[0]))
    with np.errstate(divide="ignore", invalid="ignore"):
        run_rows(_lrm_2d, A, B, out, *_args(A.shape[1], B.shape[1], delta_method, sign, z))
    return make(EffectSize, out, is_1d, metric="LRM", n_a=A.shape[1], n_b=B.shape[1], improvement=improvement,
                options={"delta_method": bool(delta_method), "confidence": confidence})


# --------------------------------------------------------------------------- registry entry

def _sces_lrm(o, imp, metric):
    return dict(improvement=imp, delta_method=o["delta_method"].upper() == "TRUE",
                confidence=float(o["confidence"]))


register(Metric(
    name="lrm", label="LRM", title="LRM (log ratio of medians)", func=lrm, has_se=True, has_ci=True,
    min_a=2, min_b=2, swap="negate", default=False, oriented=False,
    references=(Reference("lrr_lrm", "SingleCaseES", "LRM", _sces_lrm, ("estimate", "se", "ci"),
                          "delta_method=FALSE;confidence=0.95"),),
    # A log ratio of medians of data centred at 0 has no meaningful target.
    limit=lambda q, o: math.nan,
    undefined="LRM not defined: a median or interval bound of 0",
    kernels=(KernelCase("lrm", _lrm_2d, 4, lambda m, n: _args(m, n, False, 1.0, 1.959963984540054)),
             KernelCase("lrm-delta-decrease", _lrm_2d, 4, lambda m, n: _args(m, n, True, -1.0, 1.644853626951472)))))
