"""Percent of goal obtained (PoGO): the share of the way from the baseline mean to a goal."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._numba import kernel
from .._results import EffectSize, make
from .._threads import run_rows
from .._validation import MAGNITUDE_RANGE, check_choice, check_finite, check_magnitude, phase_arrays, z_for
from ..registry import KernelCase, Metric, Reference, register
from . import _kernels as K
# Direct names: a twin resolves them to the helpers' twins.
from ._kernels import FIXED_BLOCK, _mean_var, _mean_var_flat

__all__ = ["pogo"]

#: The example goal of the generic tests and benchmarks (the registry's ``required``).
EXAMPLE_GOAL = 10.0


def _pogo_2d_python(a, b, goal, z, out):
    """out[0..3] = PoGO, SE, CI per row, as a proportion of the goal.

    ``goal`` holds one goal per row, or one shared by every row.
    PoGO = (M_B - M_A) / (g - M_A); Var = (V_A/m + V_B/n + PoGO^2 V_A/m) / (g - M_A)^2
    with V the phase variances (undefined for one point).
    """
    rows, m = a.shape
    n = b.shape[1]
    shared = goal.shape[0] == 1
    for r in range(rows):
        g = goal[0] if shared else goal[r]
        ma, va = _mean_var(a, r, m)
        mb, vb = _mean_var(b, r, n)
        # A goal equal to the baseline mean divides by 0: +-inf, or NaN for 0/0.
        gap = g - ma
        est = (mb - ma) / gap
        var = (va / m + vb / n + est * est * va / m) / (gap * gap)
        se = math.sqrt(var) if var >= 0.0 else np.nan
        out[0, r] = est
        out[1, r] = se
        out[2, r] = est - z * se
        out[3, r] = est + z * se


_pogo_2d = kernel(_pogo_2d_python)


def _pogo_fixed_2d_python(a, b, m_points, n_points, goal, z, lo, hi, out):
    """:func:`_pogo_2d` for phase lengths fixed at compile time, also reporting bad data.

    ``m_points`` and ``n_points`` are tuples of m and n zeros: their lengths are
    part of the argument types, so numba compiles one version per (m, n), in
    which the loops over the points unroll and the row loop runs on SIMD lanes
    (see ``_kernels._nap_fixed_2d``; ``out`` is a tuple of the four fields, as
    there).  The fields equal those of :func:`_pogo_2d` bit for bit.

    Returns 1 if some row sums to NaN or an infinity, or its largest magnitude
    lies outside [``lo``, ``hi``] (all-zero rows excepted), else 0: the checks
    of ``check_finite`` and ``check_magnitude``, which the caller then runs to
    report the offending value.
    """
    rows = a.shape[0]
    m = len(m_points)
    n = len(n_points)
    af = a.reshape(rows * m)
    bf = b.reshape(rows * n)
    o_est, o_se, o_lo, o_hi = out
    shared = goal.shape[0] == 1
    # The goals of a block, copied so that the row loop reads them at unit stride
    # whether one goal is shared or each row has its own.
    goals = np.empty(FIXED_BLOCK)
    if shared:
        for k in range(FIXED_BLOCK):
            goals[k] = goal[0]
    bad = 0
    for blk in range((rows + FIXED_BLOCK - 1) // FIXED_BLOCK):
        r0 = blk * FIXED_BLOCK
        size = min(FIXED_BLOCK, rows - r0)
        if not shared:
            for k in range(size):
                goals[k] = goal[r0 + k]
        for k in range(size):  # vectorised over rows
            r = r0 + k
            big = 0.0
            for i in range(m):
                x = abs(af[r * m + i])
                big = x if x > big else big
            for j in range(n):
                x = abs(bf[r * n + j])
                big = x if x > big else big
            ma, va = _mean_var_flat(af, r * m, m)
            mb, vb = _mean_var_flat(bf, r * n, n)
            bad |= ((ma - ma) != 0.0) | ((mb - mb) != 0.0) | (big > hi) | ((big > 0.0) & (big < lo))
            gap = goals[k] - ma
            est = (mb - ma) / gap
            var = (va / m + vb / n + est * est * va / m) / (gap * gap)
            se = math.sqrt(var) if var >= 0.0 else np.nan
            o_est[r] = est
            o_se[r] = se
            o_lo[r] = est - z * se
            o_hi[r] = est + z * se
    return int(bad)


_pogo_fixed_2d = kernel(_pogo_fixed_2d_python)


def _goals(goal, rows: int, is_1d: bool) -> np.ndarray:
    """The goal as a float64 array of length 1 (shared) or ``rows`` (one per series)."""
    if isinstance(goal, (bool, np.bool_)) or isinstance(goal, (str, bytes)):
        raise ValueError(f"PoGO's goal must be a number, got {goal!r}")
    if isinstance(goal, numbers.Real):
        g = np.array([float(goal)])
    else:
        try:
            g = np.asarray(goal, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"PoGO's goal must be a number or one number per series, got {goal!r}") from None
        if g.ndim == 0:
            g = g.reshape(1)
        elif g.ndim != 1 or g.shape[0] not in ((1,) if is_1d else (1, rows)):
            want = "one number" if is_1d else f"one number, or one per series ({rows})"
            raise ValueError(f"PoGO's goal must be {want}; got shape {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError(f"PoGO's goal must be finite, got {goal!r}")
    return np.ascontiguousarray(g)


def _check_data(A, B, is_1d):
    check_finite(A, B, is_1d)
    check_magnitude("PoGO", A, B)


def pogo(a, b, *, goal, improvement: str = "increase", confidence: float = 0.95):
    """Percent of goal obtained (PoGO), as a proportion: (mean B - mean A) / (goal - mean A).

    The share of the distance from the baseline mean to the goal that the
    comparison phase covers: 0 for no change, 1 when the comparison mean
    reaches the goal (Ferron, Goldstein, Olszewski & Rohrer 2020).  The SE is
    Patrona et al.'s (2022), from Dunlap & Silver's (1986) variance of a
    ratio: Var = (s_A^2/m + s_B^2/n + PoGO^2 s_A^2/m) / (goal - mean A)^2;
    Wald interval.  SingleCaseES's ``PoGO`` reports 100 times these values.

    Parameters
    ----------
    a, b : array_like
        Baseline and comparison phases (1-D, or 2-D with one series per row).
    goal : float or array_like
        The goal level of the outcome; for a batch, one goal for every series
        or one per series (per row).  It sets the direction: a goal below the
        baseline mean makes a decrease an improvement.
    improvement : {"increase", "decrease"}
        Accepted so that PoGO can be called like every other metric, and
        ignored (as SingleCaseES does): the direction comes from ``goal``.
    confidence : float
        Level of the Wald interval.

    Returns
    -------
    EffectSize

    Notes
    -----
    No truncation, and no check that the goal lies on the side of
    improvement.  A goal equal to the baseline mean makes the estimate +-inf
    (NaN when the phase means are equal too; SingleCaseES returns NA).  With
    one point in a phase its variance is undefined: the SE and the interval
    are NaN, the estimate is kept.

    References
    ----------
    Dunlap, W. P., & Silver, N. C. (1986). *Behavior Research Methods,
    Instruments, & Computers*, 18, 469-471.

    Ferron, J., Goldstein, H., Olszewski, A., & Rohrer, L. (2020).
    *Evidence-Based Communication Assessment and Intervention*, 14, 6-27.

    Patrona, E., Ferron, J., Olszewski, A., Kelley, E., & Goldstein, H.
    (2022). *Journal of Speech, Language, and Hearing Research*.

    Examples
    --------
    The worked example (means 19 and 18.8): a goal of 23 is 4 above the
    baseline mean, and B moved 0.2 away from it.

    >>> import scedsim as ss
    >>> r = ss.pogo([18, 20], [19, 18, 20, 19, 18], goal=23)
    >>> round(r.estimate, 6), round(r.se, 6), round(r.ci_lower, 6), round(r.ci_upper, 6)
    (-0.05, 0.267219, -0.573741, 0.473741)
    >>> round(ss.pogo([18, 20], [19, 18, 20, 19, 18], goal=15).estimate, 6)
    0.05
    """
    check_choice("improvement", improvement, ("increase", "decrease"))
    z = z_for(confidence)
    # The goal is on the scale of the raw data: they are not negated.
    A, B, is_1d = phase_arrays(a, b, "increase", metric="PoGO")
    rows, m = A.shape
    n = B.shape[1]
    # The fixed-shape kernel checks the values as it reads them; the general one
    # needs them checked beforehand.  Either way the data's errors come before the goal's.
    fused = rows >= K.FIXED_MIN_ROWS and K.mean_fixed_shape(m, n)
    if not fused:
        _check_data(A, B, is_1d)
    try:
        g = _goals(goal, rows, is_1d)
    except ValueError:
        if fused:
            _check_data(A, B, is_1d)
        raise
    out = np.empty((4, rows))
    with np.errstate(divide="ignore", invalid="ignore"):
        if fused:
            if run_rows(_pogo_fixed_2d, A, B, out, (0,) * m, (0,) * n, g, z, *MAGNITUDE_RANGE, per_row=(2,),
                        fields=True):
                _check_data(A, B, is_1d)
        else:
            run_rows(_pogo_2d, A, B, out, g, z, per_row=(0,))
    recorded = float(g[0]) if g.shape[0] == 1 else g
    return make(EffectSize, out, is_1d, metric="PoGO", n_a=A.shape[1], n_b=B.shape[1], improvement=improvement,
                options={"goal": recorded, "confidence": confidence})


# --------------------------------------------------------------------------- registry entry

def _sces_pogo(o, imp, metric):
    return dict(improvement=imp, goal=float(o["goal"]), confidence=float(o["confidence"]))


def _limit(q, o):
    # Baseline N(0, s^2), comparison N(delta, s^2): PoGO tends to delta / goal.
    goal = o.get("goal")
    if not isinstance(goal, numbers.Real) or isinstance(goal, bool):
        return None
    return q.delta / goal if goal != 0 else math.nan


_ONE_POINT_NOTE = "PoGO's variance needs 2 points per phase; SE and interval left empty"

register(Metric(
    name="pogo", label="PoGO", title="PoGO (% of goal obtained)", func=pogo, has_se=True, has_ci=True,
    se_min_points=2, short_note=lambda o: _ONE_POINT_NOTE, default=False, oriented=False, directed=False,
    required={"goal": EXAMPLE_GOAL},
    # Permuting points moves the baseline mean in the denominator: not a test statistic.
    statistic=False,
    references=(Reference("comparators", "SingleCaseES", "PoGO", _sces_pogo, ("estimate", "se", "ci"),
                          units=100.0),),
    limit=_limit,
    undefined="PoGO not defined: the goal equals the baseline mean, as does the comparison mean",
    kernels=(KernelCase("pogo", _pogo_2d, 4, lambda m, n: (np.array([EXAMPLE_GOAL]), 1.959963984540054)),
             KernelCase("pogo-goal-below", _pogo_2d, 4, lambda m, n: (np.array([-3.5]), 1.644853626951472)))))
