"""Generators: moments, ranges and structure, with tolerances of 4 Monte Carlo SEs."""
import math

import numpy as np
import pytest

from scedsim.simulate import Design, get_model

Z = 4.0  # tolerance in Monte Carlo standard errors


def _within(est, target, mcse, z=Z):
    assert abs(est - target) <= z * mcse, f"{est} vs {target} (mcse {mcse})"


@pytest.mark.parametrize("phi", [-0.3, 0.0, 0.3, 0.6])
def test_normal_ar1_moments(phi):
    """Stationary from the first occasion: mean 0, variance sd^2 and lag-1 correlation phi
    at every occasion (checked at the start and in the middle), across 20 000 series."""
    d = Design.parse("A40 B40")
    y = get_model("normal_ar1").generate(d, {"phi": phi, "sd": 2.0}, np.random.default_rng(11), 20_000)[:, 0]
    r = y.shape[0]
    for t in (0, 40):
        x, x1 = y[:, t], y[:, t + 1]
        _within(x.mean(), 0.0, 2.0 / math.sqrt(r))
        _within(x.var(ddof=1), 4.0, 4.0 * math.sqrt(2 / (r - 1)))
        rho = np.corrcoef(x, x1)[0, 1]
        _within(rho, phi, (1 - phi ** 2) / math.sqrt(r))


def test_normal_ar1_innovation_scale_and_effects():
    d = Design.parse("A3 B4")
    m = get_model("normal_ar1")
    y = m.generate(d, {"phi": 0.5, "sd": 1.0, "scale": "innovation", "level": 2.0}, np.random.default_rng(3), 40_000)
    marg = 1 / math.sqrt(1 - 0.25)
    _within(y[:, 0, 0].var(ddof=1), marg ** 2, marg ** 2 * math.sqrt(2 / 39_999))
    _within(y[:, 0, 3].mean(), 2.0, marg / math.sqrt(40_000))   # level in innovation-SD units
    y = m.generate(d, {"trend": 0.5, "slope": 1.0}, np.random.default_rng(4), 40_000)
    means = y[:, 0].mean(axis=0)
    expect = 0.5 * np.arange(1, 8) + np.array([0, 0, 0, 0, 1, 2, 3])
    for got, want in zip(means, expect):
        _within(got, want, 1 / math.sqrt(40_000))


def test_random_effects_and_missing():
    d = Design.parse("A3 B4", n_cases=4)
    y = get_model("normal_ar1").generate(d, {"case_sd": 1.0, "effect_sd": 0.5, "level": 1.0, "missing_rate": 0.2},
                                         np.random.default_rng(5), 20_000)
    share = np.isnan(y).mean()
    _within(share, 0.2, math.sqrt(0.2 * 0.8 / y.size))
    # Marginal variance of a treatment occasion: 1 (errors) + 1 (intercepts) + 0.25 (effects).
    x = y[:, :, 5].ravel()
    x = x[~np.isnan(x)]
    _within(x.var(ddof=1), 2.25, 2.25 * math.sqrt(2 / x.size))  # a sum of normals: exact normal theory


def test_poisson_and_negbin_moments():
    d = Design.parse("A3 B4")
    y = get_model("poisson").generate(d, {"rate": 5.0}, np.random.default_rng(6), 50_000)[:, 0, 0]
    _within(y.mean(), 5.0, math.sqrt(5.0 / y.size))
    _within(y.var(ddof=1), 5.0, math.sqrt((5.0 + 2 * 25.0) / y.size))  # Var(s^2) ~ (mu4 - s^4)/n
    assert np.all(y == np.round(y)) and y.min() >= 0
    y = get_model("poisson").generate(d, {"rate": 5.0, "level": math.log(2)}, np.random.default_rng(7), 50_000)
    _within(y[:, 0, 4].mean(), 10.0, math.sqrt(10.0 / 50_000))
    k = 2.0
    y = get_model("negbin").generate(d, {"rate": 4.0, "dispersion": k}, np.random.default_rng(8), 100_000)[:, 0, 0]
    _within(y.mean(), 4.0, math.sqrt((4 + 16 / k) / y.size))
    var = 4 + 16 / k
    assert abs(y.var(ddof=1) - var) < 0.05 * var


def test_bounded_scale_integers_in_range_with_direction():
    d = Design.parse("A3 B4")
    m = get_model("bounded_scale")
    y = m.generate(d, {"lo": 0, "hi": 54, "phi": 0.4, "level": 2.0, "improvement": "decrease"},
                   np.random.default_rng(9), 5_000)
    assert np.all(y == np.round(y)) and y.min() >= 0 and y.max() <= 54
    assert y[:, 0, 3:].mean() < y[:, 0, :3].mean() - 10  # decrease is better: B lower
    assert m.improvement({"improvement": "decrease"}) == "decrease"
    # Floor and ceiling effects: a large shift piles values at the bound.
    y = m.generate(d, {"lo": 0, "hi": 30, "level": 4.0}, np.random.default_rng(10), 5_000)
    assert (y[:, 0, 3:] == 30).mean() > 0.3


def test_model_errors():
    d = Design.parse("A3 B4")
    with pytest.raises(ValueError, match="has no parameter"):
        get_model("normal_ar1").generate(d, {"rho": 0.3}, np.random.default_rng(1), 2)
    with pytest.raises(ValueError, match="phi must lie"):
        get_model("normal_ar1").generate(d, {"phi": 1.0}, np.random.default_rng(1), 2)
    with pytest.raises(ValueError, match="unknown model"):
        get_model("gaussian")
    with pytest.raises(ValueError, match="missing_rate"):
        get_model("poisson").generate(d, {"missing_rate": 1.5}, np.random.default_rng(1), 2)


def test_designs():
    d = Design.parse("A3 B2 C2", n_cases=6, contrasts=["A:B", "A:C", "A:B+C"])
    assert d.n_time == 7 and d.n_cases == 6 and d.labels == ("A", "B", "C")
    ia, ib = d.indices("A:B+C", 0)
    assert ia.tolist() == [0, 1, 2] and ib.tolist() == [3, 4, 5, 6]
    abab = Design.parse("A3 B3 A3 B3")
    assert abab.indices("A2:B2", 0)[0].tolist() == [6, 7, 8]
    assert abab.indices("A:B", 0)[1].tolist() == [3, 4, 5, 9, 10, 11]
    mbd = Design.multiple_baseline([3, 4, 5], n_time=9)
    assert mbd.describe() == "A3 B6 | A4 B5 | A5 B4"
    assert mbd.treatment_start().tolist() == [4, 5, 6]
    assert Design.parse("A3 B6 | A4 B5").n_cases == 2
    for bad, msg in [("A3B", "cannot read phase"), ("", "needs phases"), ("A3 B4 | A2 B2", "same number")]:
        with pytest.raises(ValueError, match=msg):
            Design.parse(bad)
    with pytest.raises(ValueError, match="unknown phase label 'D'"):
        Design.parse("A3 B4", contrasts=["A:D"])
