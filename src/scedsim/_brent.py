"""Brent's (1973) minimiser as a small state machine shared by the likelihood searches.

The objectives differ in their arguments (and some carry side results, such as the
lambda that goes with a phi), so the search is written as three steps the caller
drives instead of a function that takes the objective::

    s = brent_state(lo, hi, x, fx, x, fx, x, fx, 0.0)
    for _ in range(max_iter):
        s, u, done = brent_next(s, rtol, atol)
        if done:
            break
        s = brent_update(s, u, f(u))
    x, fx = s[2], s[5]

The state is a tuple of floats (no allocation): ``(lo, hi, x, w, v, fx, fw, fv, d, e)``
with x the best point so far, w the second best, v the previous w, d the last step
and e the step before it (Brent 1973, ch. 5; Press et al. 2007, sec. 10.3).

References
----------
Brent, R. P. (1973). *Algorithms for minimization without derivatives*.
Prentice-Hall.
"""
from __future__ import annotations

import math

from ._numba import kernel

__all__ = ["GOLD", "brent_state", "brent_next", "brent_update"]

GOLD = 0.3819660112501051  # (3 - sqrt 5) / 2


def brent_state_python(lo, hi, x, fx, w, fw, v, fv, e):
    """The search's state on [lo, hi] from a best point x, a second-best w and v
    (all three x to start plainly); ``e`` > 0 (e.g. hi - lo) lets the first step be
    a parabola through the three, 0 makes it a golden-section step."""
    return (lo, hi, x, w, v, fx, fw, fv, 0.0, e)


brent_state = kernel(brent_state_python)


def brent_next_python(s, rtol, atol):
    """The next point to evaluate: ``(state, u, done)``; ``done`` when x is within
    ``rtol * |x| + atol`` of the minimum's bracket (u is then x)."""
    lo, hi, x, w, v, fx, fw, fv, d, e = s
    xm = 0.5 * (lo + hi)
    tol1 = rtol * abs(x) + atol
    tol2 = 2.0 * tol1
    if abs(x - xm) <= tol2 - 0.5 * (hi - lo):
        return s, x, True
    golden = True
    if abs(e) > tol1:
        # A parabola through x, w, v, taken only if it steps inside the bracket and by
        # less than half the step before last (else the search could cycle).
        r = (x - w) * (fx - fv)
        p = (x - v) * (fx - fw)
        p2 = (x - v) * p - (x - w) * r
        q2 = 2.0 * (p - r)
        if q2 > 0.0:
            p2 = -p2
        q2 = abs(q2)
        if abs(p2) < abs(0.5 * q2 * e) and p2 > q2 * (lo - x) and p2 < q2 * (hi - x):
            e = d
            d = p2 / q2
            golden = False
            u = x + d
            if u - lo < tol2 or hi - u < tol2:
                d = tol1 if xm >= x else -tol1
    if golden:
        e = (hi - x) if x < xm else (lo - x)
        d = GOLD * e
    u = x + d if abs(d) >= tol1 else x + (tol1 if d > 0.0 else -tol1)
    return (lo, hi, x, w, v, fx, fw, fv, d, e), u, False


brent_next = kernel(brent_next_python)


def brent_update_python(s, u, fu):
    """The state after evaluating the objective at u (a NaN counts as +inf)."""
    lo, hi, x, w, v, fx, fw, fv, d, e = s
    if not fu == fu:
        fu = math.inf
    if fu <= fx:
        if u >= x:
            lo = x
        else:
            hi = x
        v, fv, w, fw, x, fx = w, fw, x, fx, u, fu
    else:
        if u < x:
            lo = u
        else:
            hi = u
        if fu <= fw or w == x:
            v, fv, w, fw = w, fw, u, fu
        elif fu <= fv or v == x or v == w:
            v, fv = u, fu
    return (lo, hi, x, w, v, fx, fw, fv, d, e)


brent_update = kernel(brent_update_python)
