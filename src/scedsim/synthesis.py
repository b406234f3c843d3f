"""Random-effects synthesis of per-case effect sizes.

Each case contributes an estimate y_i with its standard error s_i.  The
random-effects model y_i = mu + u_i + e_i, u_i ~ N(0, tau^2), e_i ~ N(0, s_i^2)
lets the true effect vary between cases, so the summary does not lean on the
cases whose SE happens to be small (e.g. NAP = 1, whose unbiased SE is tiny).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._validation import check_choice, z_for

__all__ = ["RandomEffects", "random_effects", "TAU2_METHODS", "WeightedMean", "weighted_mean", "WEIGHTINGS"]

TAU2_METHODS = ("DL", "REML")

# SingleCaseES's weighting schemes (batch_calc_ES(aggregate = ..., weighting = ...)).
WEIGHTINGS = ("equal", "nA", "nB", "nAnB", "1/nA+1/nB", "1/V")
_WEIGHTING_ALIASES = {"equal": "equal", "na": "nA", "n_a": "nA", "nb": "nB", "n_b": "nB",
                      "nanb": "nAnB", "na*nb": "nAnB", "n_a*n_b": "nAnB",
                      "1/na+1/nb": "1/nA+1/nB", "1/n_a+1/n_b": "1/nA+1/nB", "1/v": "1/V"}


class RandomEffects(NamedTuple):
    """A random-effects summary: the mean, its SE and interval, and the between-case variance."""

    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    tau2: float
    q: float
    k: int
    method: str


def _dl_tau2(y, v):
    w = 1.0 / v
    mean = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - mean) ** 2))
    c = np.sum(w) - np.sum(w * w) / np.sum(w)
    return max(0.0, (q - (y.size - 1)) / c) if c > 0 else 0.0, q


def _restricted_loglik(y, v, tau2):
    w = 1.0 / (v + tau2)
    mean = np.sum(w * y) / np.sum(w)
    return -0.5 * (np.sum(np.log(v + tau2)) + math.log(np.sum(w)) + np.sum(w * (y - mean) ** 2))


def _reml_tau2(y, v):
    """REML tau^2: the maximum of the restricted likelihood over [0, U] (bounded Brent),
    or the boundary 0 where that is higher.  Fisher scoring can oscillate for a few
    cases with unequal SEs, so the likelihood itself is maximised."""
    from scipy import optimize

    upper = 10.0 * (float(np.var(y)) + float(np.max(v)))
    res = optimize.minimize_scalar(lambda t: -_restricted_loglik(y, v, t), bounds=(0.0, upper),
                                   method="bounded", options={"xatol": 1e-12 * max(1.0, upper)})
    if not res.success:
        return math.nan, False
    best = float(res.x)
    if _restricted_loglik(y, v, 0.0) >= _restricted_loglik(y, v, best):
        best = 0.0
    return best, True


def random_effects(estimates, se, *, method: str = "DL", knapp_hartung: bool = False,
                   confidence: float = 0.95) -> RandomEffects:
    """Random-effects mean of per-case estimates with their standard errors.

    Parameters
    ----------
    estimates, se : array_like
        One estimate and its SE per case (finite, SE > 0).
    method : {"DL", "REML"}
        Estimator of the between-case variance tau^2: DerSimonian & Laird's
        (1986) moment estimator, or restricted maximum likelihood (Viechtbauer
        2005; the likelihood maximised directly over tau^2 >= 0).
    knapp_hartung : bool
        Use the Knapp & Hartung (2003) SE, sqrt(sum w (y - mu)^2 / ((k - 1) sum w)),
        and a t interval on k - 1 df instead of the Wald interval.
    confidence : float

    Returns
    -------
    RandomEffects
        ``estimate`` = sum w y / sum w with w = 1/(s^2 + tau^2); ``se`` =
        1/sqrt(sum w) (or the Knapp-Hartung SE); ``tau2``; ``q`` (Cochran's Q).

    References
    ----------
    DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials.
    *Controlled Clinical Trials*, 7(3), 177-188.

    Knapp, G., & Hartung, J. (2003). Improved tests for a random effects
    meta-regression with a single covariate. *Statistics in Medicine*, 22(17),
    2693-2710.

    Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance
    estimators in the random-effects model. *Journal of Educational and
    Behavioral Statistics*, 30(3), 261-293.

    Examples
    --------
    >>> from scedsim.synthesis import random_effects
    >>> r = random_effects([0.2, 0.5, 0.9], [0.1, 0.1, 0.2])
    >>> round(r.tau2, 4), round(r.estimate, 4)      # tau^2 = (Q - 2)/C = (11.22 - 2)/133.3
    (0.0692, 0.4964)
    >>> round(random_effects([0.2, 0.5, 0.9], [0.1, 0.1, 0.2], method="REML").tau2, 4)
    0.0911
    """
    check_choice("method", method, TAU2_METHODS)
    z = z_for(confidence)
    y = np.asarray(estimates, dtype=np.float64).ravel()
    s = np.asarray(se, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"estimates and se must have the same length; got {y.size} and {s.size}")
    if y.size == 0:
        raise ValueError("no case to combine")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError("every estimate must be finite with a finite SE > 0")
    v = s * s
    k = y.size
    tau2, q = _dl_tau2(y, v) if k > 1 else (0.0, 0.0)
    if method == "REML" and k > 1:
        tau2, ok = _reml_tau2(y, v)
        if not ok:
            raise ValueError("the REML estimate of tau^2 did not converge; use method='DL'")
    w = 1.0 / (v + tau2)
    mean = float(np.sum(w * y) / np.sum(w))
    if knapp_hartung:
        if k < 2:
            raise ValueError("the Knapp-Hartung interval needs at least 2 cases")
        se_mu = math.sqrt(float(np.sum(w * (y - mean) ** 2)) / ((k - 1) * float(np.sum(w))))
        from scipy import stats

        crit = float(stats.t.ppf(0.5 + confidence / 2.0, k - 1))
    else:
        se_mu = 1.0 / math.sqrt(float(np.sum(w)))
        crit = z
    return RandomEffects(mean, se_mu, mean - crit * se_mu, mean + crit * se_mu, float(tau2), float(q), k,
                         method + (" (Knapp-Hartung)" if knapp_hartung else ""))


class WeightedMean(NamedTuple):
    """A weighted mean of per-case estimates under one of SingleCaseES's weighting schemes."""

    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    k: int
    weighting: str


def weighting_name(weighting: str) -> str:
    """The canonical name of a weighting scheme (SingleCaseES's synonyms accepted:
    ``"n_A"``, ``"nA * nB"``, ``"1/n_A + 1/n_B"``, ...)."""
    key = "".join(str(weighting).split()).lower()
    if key not in _WEIGHTING_ALIASES:
        raise ValueError(f"unknown weighting {weighting!r}; expected one of {', '.join(WEIGHTINGS)}")
    return _WEIGHTING_ALIASES[key]


def weighted_mean(estimates, se=None, n_a=None, n_b=None, *, weighting: str = "equal",
                  confidence: float = 0.95) -> WeightedMean:
    """Weighted mean of per-case effect sizes, as SingleCaseES aggregates them.

    Weights w_i per case: ``"equal"`` 1; ``"nA"`` the baseline points n_A;
    ``"nB"`` the treatment points n_B; ``"nAnB"`` n_A n_B; ``"1/nA+1/nB"``
    1/(1/n_A + 1/n_B) = n_A n_B/(n_A + n_B), the reciprocal of the
    sampling-variance factor of a difference of two phase means (so larger
    cases weigh more); ``"1/V"`` 1/SE_i^2 (the fixed-effect inverse-variance
    mean).  Estimate = sum w y / sum w.  SE: for ``"1/V"`` 1/sqrt(sum w);
    otherwise sqrt(sum w^2 SE_i^2)/sum w, the SE of a fixed-weight mean of
    independent estimates (NaN when a case has no SE, as when the metric has
    none).  Interval: estimate +- z SE.

    Parameters
    ----------
    estimates : array_like
        One finite estimate per case.
    se : array_like or None
        The cases' SEs (required for ``"1/V"``; otherwise only the SE needs them).
    n_a, n_b : array_like or None
        Points per phase (required for the n-based schemes).
    weighting : str
        One of ``"equal", "nA", "nB", "nAnB", "1/nA+1/nB", "1/V"`` (SingleCaseES's
        spellings ``"n_A"``, ``"nA*nB"``, ``"1/n_A + 1/n_B"`` ... are accepted).
    confidence : float

    Returns
    -------
    WeightedMean

    References
    ----------
    Pustejovsky, J. E., Chen, M., & Swan, D. M. (2023). SingleCaseES: A
    calculator for single-case effect sizes (R package version 0.7),
    ``batch_calc_ES(aggregate, weighting)``. https://CRAN.R-project.org/package=SingleCaseES

    Examples
    --------
    >>> from scedsim.synthesis import weighted_mean
    >>> weighted_mean([0.5, 1.0], [0.2, 0.1], n_a=[3, 6], n_b=[4, 6], weighting="nA").estimate
    0.8333333333333334
    >>> r = weighted_mean([0.5, 1.0], [0.2, 0.1], weighting="1/V")
    >>> round(r.estimate, 4), round(r.se, 4)          # weights 25 and 100
    (0.9, 0.0894)
    """
    name = weighting_name(weighting)
    z = z_for(confidence)
    y = np.asarray(estimates, dtype=np.float64).ravel()
    k = y.size
    if k == 0:
        raise ValueError("no case to combine")
    if not np.all(np.isfinite(y)):
        raise ValueError("every estimate must be finite")
    s = None if se is None else np.asarray(se, dtype=np.float64).ravel()
    if s is not None and s.shape != y.shape:
        raise ValueError(f"estimates and se must have the same length; got {k} and {s.size}")
    if name in ("nA", "nB", "nAnB", "1/nA+1/nB"):
        if n_a is None or n_b is None:
            raise ValueError(f"weighting {name!r} needs the points per phase (n_a and n_b)")
        na = np.asarray(n_a, dtype=np.float64).ravel()
        nb = np.asarray(n_b, dtype=np.float64).ravel()
        if na.shape != y.shape or nb.shape != y.shape:
            raise ValueError("n_a and n_b need one value per estimate")
        if not (np.all(na >= 1) and np.all(nb >= 1)):
            raise ValueError("n_a and n_b must be at least 1")
        w = {"nA": na, "nB": nb, "nAnB": na * nb, "1/nA+1/nB": 1.0 / (1.0 / na + 1.0 / nb)}[name]
    elif name == "1/V":
        if s is None or not (np.all(np.isfinite(s)) and np.all(s > 0)):
            raise ValueError("weighting '1/V' needs every case's SE, finite and > 0")
        w = 1.0 / (s * s)
    else:
        w = np.ones(k)
    sw = float(np.sum(w))
    mean = float(np.sum(w * y) / sw)
    if name == "1/V":
        se_mu = 1.0 / math.sqrt(sw)
    elif s is not None and np.all(np.isfinite(s)):
        se_mu = math.sqrt(float(np.sum(w * w * s * s))) / sw
    else:
        se_mu = math.nan
    return WeightedMean(mean, se_mu, mean - z * se_mu, mean + z * se_mu, k, name)
