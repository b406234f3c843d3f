"""Random-effects synthesis: DerSimonian-Laird and REML tau^2, Knapp-Hartung."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from scedsim.synthesis import random_effects


def test_dl_by_hand():
    r = random_effects([0.2, 0.5, 0.9], [0.1, 0.1, 0.2])
    # w = 100, 100, 25; mean_w = 92.5/225; Q = 11.2222; C = 225 - 20625/225.
    q = 100 * (0.2 - 92.5 / 225) ** 2 + 100 * (0.5 - 92.5 / 225) ** 2 + 25 * (0.9 - 92.5 / 225) ** 2
    tau2 = (q - 2) / (225 - 20625 / 225)
    assert r.q == pytest.approx(q, rel=1e-13) and r.tau2 == pytest.approx(tau2, rel=1e-13)
    w = 1 / (np.array([0.01, 0.01, 0.04]) + tau2)
    assert r.estimate == pytest.approx(float(w @ [0.2, 0.5, 0.9] / w.sum()), rel=1e-13)
    assert r.se == pytest.approx(1 / math.sqrt(w.sum()), rel=1e-13)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-2, 2), st.floats(0.05, 1.0)), min_size=2, max_size=8))
def test_reml_maximises_the_restricted_likelihood(cases):
    y = np.array([c[0] for c in cases])
    v = np.array([c[1] for c in cases]) ** 2

    def nll(t):
        w = 1 / (v + t)
        mu = (w * y).sum() / w.sum()
        return 0.5 * (np.log(v + t).sum() + np.log(w.sum()) + (w * (y - mu) ** 2).sum())

    r = random_effects(y, np.sqrt(v), method="REML")
    best = optimize.minimize_scalar(nll, bounds=(0, 20), method="bounded", options={"xatol": 1e-10})
    assert nll(r.tau2) <= min(best.fun, nll(0.0)) + 1e-9


def test_no_heterogeneity_gives_the_fixed_effect_mean_and_knapp_hartung_uses_t():
    y, s = [0.5, 0.5, 0.5, 0.5], [0.1, 0.2, 0.3, 0.1]
    r = random_effects(y, s)
    assert r.tau2 == 0.0 and r.estimate == pytest.approx(0.5)
    kh = random_effects([0.1, 0.4, 0.8, 0.3], s, knapp_hartung=True)
    crit = stats.t.ppf(0.975, 3)
    assert kh.ci_upper - kh.estimate == pytest.approx(crit * kh.se, rel=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="SE > 0"):
        random_effects([0.1, 0.2], [0.1, 0.0])
    with pytest.raises(ValueError, match="unknown method"):
        random_effects([0.1, 0.2], [0.1, 0.1], method="PM")
    with pytest.raises(ValueError, match="same length"):
        random_effects([0.1, 0.2], [0.1])
