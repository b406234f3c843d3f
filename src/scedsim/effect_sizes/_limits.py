"""Closed-form large-sample limits under a normal level shift, shared by the
registry entries of the nonoverlap metrics.

Phases are N(0, s^2) and N(delta, s^2) (stationary errors, any autocorrelation),
and delta varies across cases with SD ``tau``; ``pi = m / (m + n)``.
"""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

normal_cdf = NormalDist().cdf

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(40)  # E[f(Z)] for Z ~ N(0, 1)
_GH_W = _GH_W / _GH_W.sum()


def nap_limit(q) -> float:
    """P(B > A) = Phi(delta / sqrt(2 s^2 + tau^2))."""
    return normal_cdf(q.delta / math.sqrt(2.0 * q.s * q.s + q.tau ** 2))


def exceed_limit(q) -> float:
    """Share of B beyond a fixed point of A's distribution (its median or trend line)."""
    return normal_cdf(q.delta / math.sqrt(q.s * q.s + q.tau ** 2))


def _pand_one(delta: float, s: float, pi: float) -> float:
    """max over c of pi P(A <= c) + (1 - pi) P(B > c) for A ~ N(0, s^2), B ~ N(delta, s^2)."""
    best = max(pi, 1.0 - pi)  # keep everything of one phase (c -> +-inf)
    if delta != 0.0:
        c = delta / 2.0 + s * s * math.log(pi / (1.0 - pi)) / delta
        best = max(best, pi * normal_cdf(c / s) + (1.0 - pi) * (1.0 - normal_cdf((c - delta) / s)))
    return best


def pand_limit(q) -> float:
    """PAND's limit, averaged over delta ~ N(delta, tau^2) by Gauss-Hermite quadrature."""
    if q.tau > 0:
        return float(sum(w * _pand_one(float(d), q.s, q.pi) for d, w in zip(q.delta + q.tau * _GH_X, _GH_W)))
    return _pand_one(q.delta, q.s, q.pi)


def ird_limit(q) -> float:
    """Robust IRD = 1 - (1 - PAND) / (2 pi (1 - pi))."""
    return 1.0 - (1.0 - pand_limit(q)) / (2.0 * q.pi * (1.0 - q.pi))
