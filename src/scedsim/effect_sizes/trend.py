"""Trend-adjusted nonoverlap: Tau-U and baseline-corrected Tau (Tau-BC)."""
from __future__ import annotations

import math

import numpy as np

from .._results import EffectSize, TauBCResult, make
from .._threads import run_rows
from .._validation import check_choice, check_magnitude, phases, session_times, z_for
from ..registry import KernelCase, Metric, Reference, register, unbiased_se_note
from . import _kernels as K
from ._limits import nap_limit
from ._score import CI_ROOTS, EMPTY_TABLE, ci_table, score_bounds, use_table

__all__ = ["tau_u", "tau_bc"]

# Contrasts that need a trend within a phase need at least two points there.
_NEEDS_A2 = ("trend_a",)
_NEEDS_B2 = ("trend_b",)


def tau_u(a, b, *, improvement: str = "increase", method: str = "parker",
          contrast: str = "ab_minus_trend_a", times=None):
    """Tau-U: nonoverlap between phases combined with trend within phases.

    Defined by Parker, Vannest, Davis & Sauber (2011).  Every contrast is
    Kendall's S between the series (A then B, in time order) and a constructed
    predictor:

    ================================  ==========================  ==========================
    ``contrast``                      S                           pairs untied in predictor
    ================================  ==========================  ==========================
    ``"ab"``                          S_AB                        m n
    ``"trend_a"``                     S_AA                        m(m-1)/2
    ``"trend_b"``                     S_BB                        n(n-1)/2
    ``"ab_minus_trend_a"``            S_AB - S_AA                 m n + m(m-1)/2
    ``"ab_plus_trend_b"``             S_AB + S_BB                 m n + n(n-1)/2
    ``"ab_plus_trend_b_minus_trend_a"`` S_AB - S_AA + S_BB        m n + m(m-1)/2 + n(n-1)/2
    ================================  ==========================  ==========================

    where S_AB = sum of sign(B_j - A_i) over all pairs and S_AA, S_BB are
    Kendall's S of each phase against time.

    Parameters
    ----------
    a, b : array_like
        Baseline and comparison phases, each in time order.
    improvement : {"increase", "decrease"}
        ``"decrease"`` equals the same call on negated data (scan has no
        direction argument; its reference values were computed that way).
    method : {"parker", "complete", "tarlow"}
        The denominator.  ``"parker"`` (default, SingleCaseES's ``Tau_U``):
        m n for ``"ab_minus_trend_a"``, which makes the statistic unbounded
        (range +-(2n + m - 1)/(2n) for that contrast), otherwise the pairs
        column.  ``"tarlow"``: the pairs column, i.e. Kendall's tau-a of the
        constructed predictor (Tarlow 2017; scan's ``method="tarlow"`` and
        ``method="complete", tau_method="a"``).  ``"complete"``: Kendall's tau-b
        denominator sqrt((n0 - ties_x)(n0 - ties_y)) (scan's default), with
        scan's m n - ties_AB/2 for ``"ab"``.
    contrast : str
        One of the six contrasts above; default ``"ab_minus_trend_a"``.
    times : array_like, optional
        Session times, as for :func:`scedsim.pet` (validated the same way).
        Kendall's S against time counts only whether a later point is higher,
        so with strictly increasing times Tau-U is the same as at the positions
        1..m+n: the trend terms depend on the order of the sessions, not on
        their spacing.

    Returns
    -------
    EffectSize
        ``estimate`` (NaN where the denominator is 0, as R gives NA); no SE.

    References
    ----------
    Parker, R. I., Vannest, K. J., Davis, J. L., & Sauber, S. B. (2011).
    Combining nonoverlap and trend for single-case research: Tau-U. *Behavior
    Therapy*, 42(2), 284-299.

    Tarlow, K. R. (2017). An improved rank correlation effect size statistic for
    single-case designs: Baseline corrected Tau. *Behavior Modification*,
    41(4), 427-467.

    Examples
    --------
    Parker, Vannest & Davis (2011): S_AB = 35 and S_AA = 4 give
    Tau-U = (35 - 4)/42 = 31/42.  Their Tau-U example case gives .65.

    >>> import scedsim as ss
    >>> a = [20, 20, 26, 25, 22, 23]
    >>> b = [28, 25, 24, 27, 30, 30, 29]
    >>> round(ss.tau_u(a, b).estimate * 42, 6)
    31.0
    >>> round(ss.tau_u(a, b, contrast="ab").estimate * 42, 6)
    35.0
    >>> round(ss.tau_u([2, 3, 5, 3], [4, 5, 5, 7, 6]).estimate, 4)
    0.65

    Tarlow's denominator, the pairs untied in the predictor (42 + 15):

    >>> round(ss.tau_u(a, b, method="tarlow").estimate * 57, 6)
    31.0
    """
    check_choice("method", method, tuple(K.METHOD_CODES))
    check_choice("contrast", contrast, tuple(K.CONTRAST_CODES))
    A, B, is_1d = phases(a, b, improvement, min_a=2 if contrast in _NEEDS_A2 else 1,
                         min_b=2 if contrast in _NEEDS_B2 else 1, metric=f"Tau-U[{contrast}]")
    # Validated only: any strictly increasing times give the positions' ranks.
    session_times(times, A.shape[0], A.shape[1], B.shape[1], metric="Tau-U")
    out = np.empty((1, A.shape[0]))
    run_rows(K._tau_u_2d, A, B, out, K.CONTRAST_CODES[contrast], K.METHOD_CODES[method])
    return make(EffectSize, out, is_1d, metric="Tau-U", n_a=A.shape[1], n_b=B.shape[1],
                improvement=improvement, options={"method": method, "contrast": contrast})


def tau_bc(a, b, *, improvement: str = "increase", kendall: bool = False, pretest_alpha=None,
           se: str = "unbiased", confidence: float = 0.95, ci_roots: str = "uniroot", times=None):
    """Baseline-corrected Tau (Tau-BC).

    Defined by Tarlow (2017).  The baseline trend is estimated by the Theil-Sen
    slope of A against its times (1..m by default) with the median intercept,
    subtracted from both phases (time runs on through B), and Tau is computed on
    the residuals.

    Parameters
    ----------
    a, b : array_like
        Baseline and comparison phases in time order; A needs at least 2 points
        (3 with a pretest).
    improvement : {"increase", "decrease"}
    kendall : bool
        ``False`` (SingleCaseES's default): Tau = 2 NAP - 1 of the residuals,
        with the NAP standard errors (``se``) and score interval.  ``True``
        (Tarlow's version): Kendall's tau-b between the residuals and the 0/1
        phase dummy, SE sqrt(2 (1 - tau^2)/(m + n)) and a Wald interval.
    pretest_alpha : float or None
        If given, remove the trend only when the Mann-Kendall test of the A
        trend is significant, p <= ``pretest_alpha``; otherwise Tau is computed
        on the raw data.  The test uses Kendall's S, its tie-corrected variance,
        the continuity correction (|S| - 1)/sqrt(Var S) and a two-sided normal p.
    se : {"unbiased", "hanley", "null", "none"}
        As for :func:`scedsim.tau` (ignored with ``kendall=True``).
    confidence : float
    ci_roots : {"uniroot", "exact"}
        Precision of the score interval's bounds, as for :func:`scedsim.nap`.
    times : array_like, optional
        Session times, as for :func:`scedsim.pet`: m + n whole numbers, A's
        then B's, strictly increasing.  Default None: the positions 1..m+n
        (as SingleCaseES).  The slope is then per session, and the intercept
        is at session 0 of that axis.

    Returns
    -------
    TauBCResult
        Also carries ``slope`` and ``intercept`` (the Theil-Sen fit, in the
        data's own orientation), ``pretest_pvalue`` and ``corrected``.

    Notes
    -----
    Differences from SingleCaseES 0.7.4, which runs the pretest through R's
    Kendall package:

    * With m = 3 the Mann-Kendall p-value can never fall below .29, so no
      correction is ever made; SingleCaseES reports p = 1 there, scedsim the
      p-value of the formula.  The decisions agree.
    * With m = 2 SingleCaseES raises an error; no trend test is possible, and
      scedsim raises a ValueError naming the problem.
    * Ties are decided in exact arithmetic on the data as written, never by a
      tolerance: raw values are compared as they are (59.9337748344409 and
      59.933774834441 differ), and residuals, and the slopes whose median is
      taken, by exact integer combinations of the data (decimals such as 0.1
      taken as the decimals they stand for).  So without a correction Tau-BC
      equals :func:`scedsim.tau` on the same data.  SingleCaseES compares
      floating-point residuals and breaks some exact ties at random.
    * The Kendall version's values were computed in single precision by the
      Kendall package, so they agree with scedsim to about 1e-6 only; that
      package also rounds the residuals to single precision, which merges
      residuals that differ by less than about 1e-7 of their size (they are
      distinct here).
    * With one point in B (or A, without a pretest) the estimate is defined:
      with ``se="unbiased"``, which needs two points per phase, the SE is NaN
      and the score interval is still given.  SingleCaseES returns the
      estimate there too.

    References
    ----------
    Tarlow, K. R. (2017). An improved rank correlation effect size statistic for
    single-case designs: Baseline corrected Tau. *Behavior Modification*,
    41(4), 427-467.

    Examples
    --------
    Tarlow's (2017) perfectly trending series: Tau = 1, but the baseline trend
    (slope 1) explains the whole change, so Tau-BC = 0.

    >>> import scedsim as ss
    >>> r = ss.tau_bc([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    >>> r.estimate, r.slope, r.intercept
    (0.0, 1.0, 0.0)
    >>> ss.tau_bc([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], kendall=True).estimate
    0.0
    """
    check_choice("se", se, tuple(K.SE_CODES))
    tol = CI_ROOTS[check_choice("ci_roots", ci_roots, tuple(CI_ROOTS))]
    if not isinstance(kendall, (bool, np.bool_)):
        raise ValueError(f"kendall must be True or False, got {kendall!r}")
    if pretest_alpha is None:
        alpha = -1.0
    else:
        try:
            alpha = float(pretest_alpha)
        except (TypeError, ValueError):
            raise ValueError(f"pretest_alpha must be None or a level in (0, 1), got {pretest_alpha!r}") from None
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"pretest_alpha must be None or a level in (0, 1), got {pretest_alpha!r}")
    z = z_for(confidence)
    min_a = 3 if pretest_alpha is not None else 2
    what = "Tau-BC" + (" with a trend pretest" if pretest_alpha is not None else "")
    A, B, is_1d = phases(a, b, improvement, min_a=min_a, min_b=1, metric=what)
    # The exact tie decisions multiply data by times: beyond ~1e140 they overflow or underflow.
    check_magnitude("Tau-BC", A, B)
    rows, m = A.shape
    n = B.shape[1]
    t = session_times(times, rows, m, n, metric="Tau-BC",
                      coef=lambda span: 2.0 * (span + 1.0) ** 2)
    # The unbiased SE divides by (m - 1)(n - 1): undefined with one point in B.
    se_code = K.SE_NONE if (se == "unbiased" and n < 2) else K.SE_CODES[se]
    out = np.empty((8, rows))
    few = not use_table(rows, m, n)
    table = EMPTY_TABLE if (kendall or few) else ci_table(m, n, z, tol)
    run_rows(K._tau_bc_times_2d, A, B, out, t, bool(kendall), alpha, se_code, table, z, per_row=(0,))
    if few and not kendall:
        out[2:4] = 2.0 * score_bounds((out[0] + 1.0) / 2.0, m, n, z, tol) - 1.0
    if improvement == "decrease":
        # The fit was made on negated data; report it in the data's orientation.
        out[4:6] *= -1.0
    corrected = out[7] > 0.5
    extra = dict(slope=out[4], intercept=out[5], pretest_pvalue=out[6], corrected=corrected)
    if is_1d:
        extra = {k: (bool(v[0]) if k == "corrected" else float(v[0])) for k, v in extra.items()}
    else:
        for v in extra.values():
            v.flags.writeable = False
    return make(TauBCResult, out, is_1d, metric="Tau-BC", n_a=m, n_b=n, improvement=improvement,
                options={"kendall": bool(kendall), "pretest_alpha": pretest_alpha, "se": se,
                         "confidence": confidence, **({} if times is None else {"times": "session"})},
                **extra)


# --------------------------------------------------------------------------- registry entries

def _tau_u_limit(q, opts):
    # Only these forms have Tau as their limit (the trend terms vanish under no trend).
    method = opts.get("method", "parker")
    contrast = opts.get("contrast", "ab_minus_trend_a")
    if contrast == "ab" or (contrast == "ab_minus_trend_a" and method == "parker"):
        return 2.0 * nap_limit(q) - 1.0
    return None


def _tau_bc_limit(q, opts):
    tau = 2.0 * nap_limit(q) - 1.0
    return tau * math.sqrt(2 * q.pi * (1 - q.pi)) if opts.get("kendall", False) else tau


def _tau_bc_limit_from(opts):
    # The Theil-Sen slope of a trend-free baseline tends to 0 faster than the
    # extrapolation distance grows (error O(N^-1.5) over O(N) occasions), so the
    # corrected Tau tends to Tau's limit, ties included: the slope of tied discrete
    # data is exactly 0 with probability tending to 1.  Kendall's tau-b divides
    # by a tie-dependent denominator, so it has no such relation for tied data.
    return None if opts.get("kendall", False) else ("tau", {})


_Z95 = 1.959963984540054
_TOL = CI_ROOTS["uniroot"]

# scan's names of the Tau-U contrasts (its Tau_U[...] rows).
_SCAN_CONTRASTS = {
    "A vs. B": "ab", "A vs. B - Trend A": "ab_minus_trend_a", "A vs. B + Trend B": "ab_plus_trend_b",
    "A vs. B + Trend B - Trend A": "ab_plus_trend_b_minus_trend_a", "Trend A": "trend_a",
    "Trend B": "trend_b",
}


def _scan_tau_u(o, imp, metric):
    method = o.get("method")
    if method == "complete" and o.get("tau_method") == "a":
        method = "tarlow"  # scan's complete with tau-a is its tarlow estimate
    return dict(improvement=imp, method=method, contrast=_SCAN_CONTRASTS[metric[len("Tau_U["):-1]])


def _sces_tau_bc(o, imp, metric):
    pre = o.get("pretest_trend", "FALSE")
    kw = dict(improvement=imp, kendall=o.get("Kendall", "FALSE").upper() == "TRUE",
              pretest_alpha=None if pre.upper() == "FALSE" else float(pre),
              confidence=float(o.get("confidence", 0.95)))
    if not kw["kendall"]:
        kw["se"] = o.get("SE", "unbiased").lower()
    return kw

register(Metric(
    name="tau_u", label="Tau-U", title="Tau-U (A vs B - trend A)", func=tau_u, rank=True, time_ordered=True,
    references=(Reference("nonoverlap", "SingleCaseES", "Tau_U",
                          lambda o, imp, metric: dict(improvement=imp, method="parker")),
                Reference("nonoverlap", "scan", "Tau_U[", _scan_tau_u)),
    limit=_tau_u_limit,
    # Negating the data negates every Tau-U: its mean under exchangeable data is 0.
    null_centre=lambda m, n, o: 0.0,
    undefined="Tau-U not defined: its denominator is 0",
    # The default call (ab_minus_trend_a, parker) first.
    kernels=tuple(KernelCase(f"tau-u-{c}-{meth}", K._tau_u_2d, 1,
                             (lambda c, meth: lambda m, n: (K.CONTRAST_CODES[c], K.METHOD_CODES[meth]))(c, meth))
                  for c, meth in sorted(((c, meth) for c in K.CONTRAST_CODES for meth in K.METHOD_CODES),
                                        key=lambda t: t != ("ab_minus_trend_a", "parker"))),
))
register(Metric(
    name="tau_bc", label="Tau-BC", func=tau_bc, bounds=(-1.0, 1.0), has_se=True, has_ci=True, se_min_points=2,
    short_note=unbiased_se_note, min_a=2, time_ordered=True, spaced=True, variants=(("Tau-BC (pretest .05)", {"pretest_alpha": 0.05}),),
    statistic_options={"se": "none"},
    references=(Reference("nonoverlap", "SingleCaseES", "Tau_BC", _sces_tau_bc, ("estimate", "se", "ci"),
                          "Kendall=FALSE;pretest_trend=FALSE;SE=unbiased;confidence=0.95"),),
    limit=_tau_bc_limit,
    limit_from=_tau_bc_limit_from,
    kernels=(KernelCase("tau-bc", K._tau_bc_2d, 8,
                        lambda m, n: (False, -1.0, K.SE_UNBIASED, ci_table(m, n, _Z95, _TOL), _Z95)),
             KernelCase("tau-bc-kendall-pretest", K._tau_bc_2d, 8,
                        lambda m, n: (True, 0.05, K.SE_HANLEY, EMPTY_TABLE, _Z95)),
             KernelCase("tau-bc-times", K._tau_bc_times_2d, 8,
                        lambda m, n: (np.cumsum(1.0 + (np.arange(m + n) % 3 == 2)).reshape(1, -1), False, 0.5,
                                      K.SE_UNBIASED, ci_table(m, n, _Z95, _TOL), _Z95)))))

