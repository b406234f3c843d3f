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
from scipy import stats

from ._validation import check_choice, z_for

__all__ = ["RandomEffects", "random_effects", "TAU2_METHODS"]

TAU2_METHODS = ("DL", "REML")


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
        crit = float(stats.t.ppf(0.5 + confidence / 2.0, k - 1))
    else:
        se_mu = 1.0 / math.sqrt(float(np.sum(w)))
        crit = z
    return RandomEffects(mean, se_mu, mean - crit * se_mu, mean + crit * se_mu, float(tau2), float(q), k,
                         method + (" (Knapp-Hartung)" if knapp_hartung else ""))
