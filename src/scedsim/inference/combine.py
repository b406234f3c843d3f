"""Combining evidence across cases: p-value combinations and counting rules."""
from __future__ import annotations

import math

import numpy as np

from .._numba import kernel

__all__ = ["combine_pvalues", "k_of_n"]

METHODS = ("fisher", "stouffer", "edgington")


def _irwin_hall_python(s, k, coef, fact, out):
    """P(U_1 + ... + U_k <= s[i]) for independent uniforms (Irwin-Hall), per element.

    F(x) = sum_{j <= x} (-1)^j C(k, j) (x - j)^k / k! (Irwin 1927; Hall 1927), on
    the nearer tail (F(s) = 1 - F(k - s)), where the alternating sum cancels
    least.  ``coef[j]`` is (-1)^j C(k, j) and ``fact`` is k!, both as floats; the
    terms are added in order of j and clipped to [0, 1], so that every value is
    the one the scalar formula gives in Python floats.

    References
    ----------
    Irwin, J. O. (1927). On the frequency distribution of the means of samples
    from a population having any law of frequency with finite moments.
    *Biometrika*, 19(3/4), 225-239.

    Hall, P. (1927). The distribution of means for samples of size N drawn from
    a population in which the variate takes values between 0 and 1.
    *Biometrika*, 19(3/4), 240-245.
    """
    half = k / 2.0
    kf = float(k)
    for i in range(s.shape[0]):
        v = s[i]
        upper = v > half
        x = k - v if upper else v
        acc = 0.0
        for j in range(int(math.floor(x)) + 1):
            acc += coef[j] * math.pow(x - j, kf)
        f = acc / fact
        # max(f, 0.0) then min(f, 1.0), with Python's rules for ties and -0.0.
        if 0.0 > f:
            f = 0.0
        if 1.0 < f:
            f = 1.0
        out[i] = 1.0 - f if upper else f


_irwin_hall = kernel(_irwin_hall_python)


def _irwin_hall_exact(v: float, k: int) -> float:
    """The Irwin-Hall CDF at ``v`` in exact rational arithmetic (for k > 20, where the
    alternating float sum cancels too much), rounded once to a float."""
    from fractions import Fraction

    upper = v > k / 2.0
    x = k - v if upper else v
    fx = Fraction(x)
    f = float(sum((-1) ** j * math.comb(k, j) * (fx - j) ** k for j in range(int(math.floor(x)) + 1))
              / math.factorial(k))
    f = min(max(f, 0.0), 1.0)
    return 1.0 - f if upper else f


def _edgington_cdf(s: np.ndarray, k: int) -> np.ndarray:
    """P(U_1 + ... + U_k <= s) for independent uniforms (Irwin-Hall distribution).

    The alternating sum loses precision as k grows, so it is evaluated on the
    nearer tail (F(s) = 1 - F(k - s)) by a compiled kernel; beyond k = 20 it is
    evaluated in exact rational arithmetic, once per distinct value of ``s``
    (sums of exact tests' p-values take few values).
    """
    s = np.asarray(s, dtype=np.float64)
    flat = np.ascontiguousarray(s.ravel())
    if k <= 20:
        out = np.empty_like(flat)
        coef = np.array([(-1) ** j * math.comb(k, j) for j in range(k + 1)], dtype=np.float64)
        _irwin_hall(flat, k, coef, float(math.factorial(k)), out)
        return out.reshape(s.shape)
    values, inverse = np.unique(flat, return_inverse=True)
    exact = np.array([_irwin_hall_exact(float(v), k) for v in values], dtype=np.float64)
    return exact[inverse.ravel()].reshape(s.shape)


def combine_pvalues(pvalues, method: str = "fisher", axis: int = -1):
    """Combine independent one-sided p-values of several cases into one.

    Parameters
    ----------
    pvalues : array_like
        p-values in [0, 1] (0 arises from tests that exclude ties with the
        observed statistic); the last axis (or ``axis``) runs over cases, so a
        2-D array combines each row.
    method : {"fisher", "stouffer", "edgington"}
        Fisher (1932): -2 sum ln p ~ chi-square with 2k df.  Stouffer et al.
        (1949): sum Phi^-1(1 - p) / sqrt(k) ~ N(0, 1).  Edgington (1972): the
        sum of the p-values against the Irwin-Hall distribution (exact for
        uniform p-values; recommended for randomization tests by Onghena &
        Edgington 2005).

    Returns
    -------
    float or ndarray
        The combined p-value.

    Notes
    -----
    The combinations assume continuous, uniform p-values under the null.  The
    p-values of exact tests on 7 points are discrete (e.g. multiples of 1/35),
    which makes Fisher and Stouffer conservative; Edgington's sum is the usual
    choice for combining randomization tests.

    References
    ----------
    Fisher, R. A. (1932). *Statistical methods for research workers* (4th ed.).
    Oliver & Boyd.

    Stouffer, S. A., Suchman, E. A., DeVinney, L. C., Star, S. A., & Williams,
    R. M., Jr. (1949). *The American soldier: Vol. 1. Adjustment during army
    life*. Princeton University Press.

    Edgington, E. S. (1972). An additive method for combining probability
    values from independent experiments. *The Journal of Psychology*, 80(2),
    351-363.

    Onghena, P., & Edgington, E. S. (2005). Customization of pain treatments:
    Single-case design and analysis. *The Clinical Journal of Pain*, 21(1),
    56-68.

    Examples
    --------
    Six participants' exact one-sided p-values, two of them the smallest
    attainable with 3 + 4 points (1/35):

    >>> from scedsim.inference import combine_pvalues
    >>> p = [1/35, 0.1, 0.2, 0.06, 0.3, 1/35]
    >>> round(combine_pvalues(p, "edgington"), 5)
    0.00019
    >>> round(combine_pvalues(p, "fisher"), 5)
    0.00272
    >>> round(combine_pvalues(p, "stouffer"), 5)
    0.00054
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    p = np.asarray(pvalues, dtype=np.float64)
    if p.size == 0:
        raise ValueError("no p-values to combine")
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values to combine must lie in [0, 1] and not be NaN")
    p = np.moveaxis(p, axis, -1)
    k = p.shape[-1]
    from scipy import stats  # here, not at import: scipy.stats is a third of `import scedsim`

    if method == "fisher":
        with np.errstate(divide="ignore"):  # p = 0 gives a combined p of 0
            out = stats.chi2.sf(-2.0 * np.log(p).sum(axis=-1), 2 * k)
    elif method == "stouffer":
        z = stats.norm.isf(p).sum(axis=-1) / math.sqrt(k)
        out = stats.norm.sf(z)
    else:
        out = _edgington_cdf(p.sum(axis=-1), k)
    return float(out) if np.ndim(out) == 0 else out


def k_of_n(successes, n: int, p0: float):
    """Exact probability of at least ``successes`` of ``n`` independent cases showing
    an event of null probability ``p0`` (e.g. "p <= .05" or "IRD >= .70").

    This is the p-value of the counting rule "at least k of N cases": the
    binomial upper tail P(X >= k), X ~ Binomial(n, p0).

    Parameters
    ----------
    successes : int or array_like
    n : int
    p0 : float
        Null probability of the event in one case, e.g. the exact P(p <= alpha)
        of a discrete test, or P(IRD >= .70) under no effect.

    Returns
    -------
    float or ndarray

    References
    ----------
    Wilkinson, B. (1951). A statistical consideration in psychological
    research. *Psychological Bulletin*, 48(2), 156-158.

    Examples
    --------
    With 3 + 4 points an exact rank test rejects at .05 with probability 1/35
    under the null.  Two of six participants rejecting is then unlikely; one
    is not:

    >>> from scedsim.inference import k_of_n
    >>> round(k_of_n(2, 6, 1/35), 4)
    0.0113
    >>> round(k_of_n(1, 6, 1/35), 4)
    0.1596
    """
    if not 0.0 <= p0 <= 1.0:
        raise ValueError(f"p0 must be a probability, got {p0}")
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    k = np.asarray(successes)
    if np.any((k < 0) | (k > n)):
        raise ValueError(f"successes must lie between 0 and n = {n}")
    from scipy import stats

    out = stats.binom.sf(k - 1, n, p0)
    return float(out) if np.ndim(out) == 0 else out
