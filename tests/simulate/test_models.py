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


# --------------------------------------------------------------------------- optional generators (issue 10)

# sha256 prefixes of the series these calls produced before the optional generators
# existed (commit 98acbe3): with the generators off, the draws are unchanged.
_BEFORE = {
    ("A3 B2 A2 B3", "normal_ar1"): "c7c2460412e4a298", ("A3 B2 A2 B3", "poisson"): "99d8bf404e2cc14a",
    ("A3 B2 A2 B3", "negbin"): "867c7a2d412b3d03", ("A3 B2 A2 B3", "bounded_scale"): "89f8e8e9b8af3200",
    ("A3 B4 | A4 B3 | A5 B2", "normal_ar1"): "3bd8bd51a91945ca",
    ("A3 B4 | A4 B3 | A5 B2", "poisson"): "c634169822e0dd52",
    ("A3 B4 | A4 B3 | A5 B2", "negbin"): "7155ef9e64a7ec0e",
    ("A3 B4 | A4 B3 | A5 B2", "bounded_scale"): "948b110b80d4f2a4",
}
_CFG = {"normal_ar1": {"phi": 0.4, "level": 1.0, "slope": 0.3, "trend": 0.1, "effect_sd": 0.5, "case_sd": 0.3,
                       "me_sd": 0.2, "missing_rate": 0.1},
        "poisson": {"level": 0.5, "slope": 0.1, "sd": 0.3, "phi": 0.3, "effect_sd": 0.2, "case_sd": 0.2,
                    "missing_rate": 0.1},
        "negbin": {"level": 0.5, "slope": 0.1, "trend": -0.02},
        "bounded_scale": {"level": 1.0, "slope": 0.2, "improvement": "decrease", "phi": 0.3, "missing_rate": 0.05}}


@pytest.mark.parametrize("design,name", sorted(_BEFORE))
@pytest.mark.parametrize("explicit_off", [False, True])
def test_generators_off_leave_series_bit_identical(design, name, explicit_off):
    import hashlib

    p = dict(_CFG[name])
    if explicit_off:
        p.update(onset=0.0, outlier_rate=0.0, outlier_k=5.0, outlier_sign="+", shock=0.0, shock_sd=0.0,
                 shock_at=5, select=None if name in ("poisson", "negbin") else float("nan"))
    y = get_model(name).generate(Design.parse(design), p, np.random.default_rng(20261130), 50)
    assert hashlib.sha256(np.ascontiguousarray(y).tobytes()).hexdigest()[:16] == _BEFORE[(design, name)]


def _gradual_path(codes, omega):
    z, out = 0.0, []
    for d in codes:
        z = omega * z + (1 - omega) * d
        out.append(z)
    return np.array(out)


def test_onset_mean_path_normal_ar1():
    """Swan & Pustejovsky's gradual effect: level (1 - omega^(j+1)) j occasions into
    treatment, dissipating after a withdrawal (ABAB); the mean of 20 000 series at
    every occasion within 4 MCSE (marginal SD 1 with effect_sd 0)."""
    d = Design.parse("A3 B5 A3 B3")
    r = 20_000
    y = get_model("normal_ar1").generate(d, {"phi": 0.5, "level": 2.0, "onset": 0.6, "intercept": 1.0},
                                         np.random.default_rng(21), r)[:, 0]
    codes = [0] * 3 + [1] * 5 + [0] * 3 + [1] * 3
    want = 1.0 + 2.0 * _gradual_path(codes, 0.6)
    assert want[3] == pytest.approx(1.0 + 2.0 * 0.4) and want[4] == pytest.approx(1.0 + 2.0 * (1 - 0.36))
    for t, (got, w) in enumerate(zip(y.mean(axis=0), want)):
        _within(got, w, y[:, t].std(ddof=1) / math.sqrt(r))
    # The abrupt model is onset = 0 exactly: the means differ from it where it matters.
    assert abs(y[:, 3].mean() - 3.0) > 10 / math.sqrt(r)


def test_onset_with_slope_and_random_effects():
    """Onset weights the level change (and its random part), not the slope change."""
    d = Design.parse("A2 B6", n_cases=2)
    r = 20_000
    y = get_model("normal_ar1").generate(d, {"level": 1.0, "slope": 0.5, "onset": 0.5, "effect_sd": 0.5},
                                         np.random.default_rng(22), r).reshape(-1, 8)
    z = _gradual_path([0, 0] + [1] * 6, 0.5)
    since = np.array([0, 0, 0, 1, 2, 3, 4, 5])
    for t in range(8):
        _within(y[:, t].mean(), 1.0 * z[t] + 0.5 * since[t], y[:, t].std(ddof=1) / math.sqrt(y.shape[0]))
        # Variance 1 + (0.5 z_t)^2: the random effect grows with the onset.
        var = 1 + (0.5 * z[t]) ** 2
        _within(y[:, t].var(ddof=1), var, var * math.sqrt(2 / (y.shape[0] - 1)))


@pytest.mark.parametrize("name", ["poisson", "negbin"])
def test_level_slope_and_onset_mean_path_counts(name):
    """log E[y_t] = log rate + level z_t + slope (t - t0): counts' mean path, with and
    without onset, within 4 MCSE (the sample SD of each occasion's counts)."""
    d = Design.parse("A3 B5")
    r = 30_000
    for onset in (0.0, 0.5):
        y = get_model(name).generate(d, {"rate": 3.0, "level": 0.4, "slope": 0.1, "onset": onset},
                                     np.random.default_rng(23), r)[:, 0]
        z = _gradual_path([0] * 3 + [1] * 5, onset)
        since = np.array([0, 0, 0, 0, 1, 2, 3, 4])
        for t in range(8):
            _within(y[:, t].mean(), 3.0 * math.exp(0.4 * z[t] + 0.1 * since[t]), y[:, t].std(ddof=1) / math.sqrt(r))


@pytest.mark.parametrize("improvement", ["increase", "decrease"])
def test_level_and_slope_together_bounded_scale(improvement):
    """The score's mean at each occasion equals the exact expectation of the rounded,
    clipped latent normal N(+-(level + slope (t - t0)), 1) on the instrument."""
    from scipy.stats import norm

    d = Design.parse("A3 B4")
    r = 30_000
    p = {"lo": 0.0, "hi": 10.0, "level": 1.0, "slope": 0.5, "improvement": improvement}
    y = get_model("bounded_scale").generate(d, p, np.random.default_rng(24), r)[:, 0]
    center, spread = 5.0, 10.0 / 6.0
    sign = -1.0 if improvement == "decrease" else 1.0
    mu = sign * np.array([0, 0, 0, 1.0, 1.5, 2.0, 2.5])
    v = np.arange(0, 11)
    for t in range(7):
        # P(score = v): floor(center + spread z + 0.5) = v, clipped at 0 and 10.
        up = np.where(v == 10, np.inf, (v + 0.5 - center) / spread)
        lo = np.where(v == 0, -np.inf, (v - 0.5 - center) / spread)
        want = float((v * (norm.cdf(up - mu[t]) - norm.cdf(lo - mu[t]))).sum())
        _within(y[:, t].mean(), want, y[:, t].std(ddof=1) / math.sqrt(r))


@pytest.mark.parametrize("sign", ["random", "+", "-"])
def test_outliers_share_size_and_sign_normal(sign):
    """Outlier draws come after all others: with and without contamination the series
    differ exactly at the contaminated points, by outlier_k marginal SDs."""
    d = Design.parse("A5 B5", n_cases=3)
    m = get_model("normal_ar1")
    base = {"phi": 0.3, "level": 1.0, "sd": 2.0}
    y0 = m.generate(d, base, np.random.default_rng(25), 4000)
    y1 = m.generate(d, {**base, "outlier_rate": 0.1, "outlier_k": 3.0, "outlier_sign": sign},
                    np.random.default_rng(25), 4000)
    diff = (y1 - y0).ravel()
    hit = diff != 0
    _within(hit.mean(), 0.1, math.sqrt(0.1 * 0.9 / diff.size))
    np.testing.assert_allclose(np.abs(diff[hit]), 6.0, rtol=1e-12)  # 3 marginal SDs of sd = 2
    up = (diff[hit] > 0).mean()
    if sign == "random":
        _within(up, 0.5, math.sqrt(0.25 / hit.sum()))
    else:
        assert up == (1.0 if sign == "+" else 0.0)


def test_outliers_counts_and_bounded_scale():
    d = Design.parse("A4 B4")
    pois = get_model("poisson")
    p = pois.params({"rate": 4.0, "level": 0.3})
    q = pois.params({"rate": 4.0, "level": 0.3, "outlier_rate": 0.2, "outlier_k": 1.5})
    e0 = pois.log_mean(d, p, np.random.default_rng(26), 5000)
    e1 = pois.log_mean(d, q, np.random.default_rng(26), 5000)
    diff = (e1 - e0).ravel()
    hit = diff != 0
    _within(hit.mean(), 0.2, math.sqrt(0.2 * 0.8 / diff.size))
    np.testing.assert_allclose(np.abs(diff[hit]), 1.5, rtol=1e-12)  # log-mean units
    # Bounded scale: a latent shift of 3 SDs ("+": up) on the rounded, clipped scores.
    bs = get_model("bounded_scale")
    y0 = bs.generate(d, {"hi": 54.0}, np.random.default_rng(27), 5000)
    y1 = bs.generate(d, {"hi": 54.0, "outlier_rate": 0.05, "outlier_sign": "+"}, np.random.default_rng(27), 5000)
    assert (y1 >= y0).all() and ((y1 > y0).mean() > 0.03)
    assert y1.max() <= 54.0


def test_generator_parameter_errors():
    d = Design.parse("A3 B4")
    m = get_model("normal_ar1")
    for bad, msg in [({"onset": 1.0}, "onset"), ({"onset": -0.1}, "onset"), ({"outlier_rate": 1.5}, "outlier_rate"),
                     ({"outlier_k": -1.0}, "outlier_k"), ({"outlier_sign": "up"}, "outlier_sign")]:
        with pytest.raises(ValueError, match=msg):
            m.generate(d, bad, np.random.default_rng(0), 2)
    with pytest.raises(ValueError, match="onset"):
        get_model("poisson").generate(d, {"onset": 2.0}, np.random.default_rng(0), 2)


def test_estimands_with_onset_and_outliers(tmp_path):
    """Onset: the limit (phases growing with their ratio fixed) is the full level
    shift's, analytic; the design-length expectation shows the attenuation.
    Outliers: no closed form, the limit is simulated at about 400 occasions."""
    from scipy.stats import norm

    from scedsim.simulate.analysis import metric_specs
    from scedsim.simulate.estimands import compute_estimands

    d = Design.parse("A3 B4")
    specs = metric_specs(["nap"])
    kw = dict(design=d, contrasts=d.contrasts, specs=specs, improvement="increase", seed=1, condition_key="k",
              n_design=20_000, cache_root=tmp_path)
    m = get_model("normal_ar1")
    abrupt = compute_estimands(m, {"level": 1.0}, **kw)[("A:B", "nap", "case")]
    slow = compute_estimands(m, {"level": 1.0, "onset": 0.7}, **kw)[("A:B", "nap", "case")]
    assert abrupt["limit_kind"] == slow["limit_kind"] == "analytic"
    assert slow["limit"] == abrupt["limit"] == pytest.approx(norm.cdf(1 / math.sqrt(2)))
    # Mean effect over the 4 treatment points with onset 0.7: 1 - 0.7 (1 - 0.7^4) / (0.3 * 4) = 0.561.
    gap = abrupt["design"] - slow["design"]
    assert gap > 4 * math.hypot(abrupt["design_mcse"], slow["design_mcse"])
    dirty = compute_estimands(m, {"level": 1.0, "outlier_rate": 0.1}, **kw)[("A:B", "nap", "case")]
    assert dirty["limit_kind"].startswith("long_run")
    assert abs(dirty["limit"] - abrupt["limit"]) > 4 * dirty["limit_mcse"]  # contamination shrinks NAP


# --------------------------------------------------------------------------- threats (issue 13)

def test_shared_shock_fixed_and_random():
    """A shared shock from the first treatment occasion on (occasion 4 here, where the
    first case starts): the mean path is exactly shock * step; a random shock is the
    same for every case of a replication, so between-case differences do not contain
    it (variance 2 exactly) while each case's variance grows by shock_sd^2."""
    d = Design.parse("A3 B4 | A4 B3 | A5 B2")
    m = get_model("normal_ar1")
    r = 40_000
    y = m.generate(d, {"shock": 1.5, "level": 0.0}, np.random.default_rng(31), r)
    step = np.array([0, 0, 0, 1, 1, 1, 1.0]) * 1.5
    for k in range(3):
        for t in range(7):
            _within(y[:, k, t].mean(), step[t], 1 / math.sqrt(r))
    late = m.generate(d, {"shock": 1.0, "shock_at": 6}, np.random.default_rng(32), r)
    _within(late[:, 0, 4].mean(), 0.0, 1 / math.sqrt(r))
    _within(late[:, 0, 5].mean(), 1.0, 1 / math.sqrt(r))
    y = m.generate(d, {"shock_sd": 1.0}, np.random.default_rng(33), r)
    diff = y[:, 0, 5] - y[:, 1, 5]
    _within(diff.var(ddof=1), 2.0, 2.0 * math.sqrt(2 / (r - 1)))          # normal: exact theory
    _within(y[:, 0, 5].var(ddof=1), 2.0, 2.0 * math.sqrt(2 / (r - 1)))
    _within(y[:, 0, 2].var(ddof=1), 1.0, math.sqrt(2 / (r - 1)))            # before the shock
    # Innovation scale: the shock is in the effect unit (the innovation SD).
    y = m.generate(Design.parse("A3 B4"), {"shock": 1.0, "phi": 0.6, "scale": "innovation"},
                   np.random.default_rng(34), r)
    _within(y[:, 0, 3].mean(), 1.0, 1.25 / math.sqrt(r))


def test_shared_shock_random_starts_and_other_models():
    """With drawn multiple-baseline starts the default shock occasion is each
    replication's earliest start; Poisson shocks multiply the rate by exp(shock)."""
    d = Design.parse("MB n_time=12 starts=3-9", n_cases=3)
    starts = d.draw_starts(np.random.default_rng(35), 20_000)
    y = get_model("normal_ar1").generate(d.realise(starts), {"shock": 2.0}, np.random.default_rng(36), 20_000)
    first = starts.min(axis=1)
    occ = np.arange(12)[None, :]
    resid = y[:, 1, :] - 2.0 * (occ >= first[:, None])
    for t in range(12):
        _within(resid[:, t].mean(), 0.0, 1 / math.sqrt(20_000))
    y = get_model("poisson").generate(Design.parse("A3 B4"), {"rate": 2.0, "shock": math.log(2)},
                                      np.random.default_rng(37), 50_000)[:, 0]
    _within(y[:, 2].mean(), 2.0, math.sqrt(2.0 / 50_000))
    _within(y[:, 3].mean(), 4.0, math.sqrt(4.0 / 50_000))
    # bounded_scale, lower is better: a positive shock lowers the scores like an improvement.
    bs = get_model("bounded_scale")
    kw = {"improvement": "decrease", "center": 27.0, "spread": 9.0}
    y0 = bs.generate(Design.parse("A3 B4"), kw, np.random.default_rng(38), 2000)
    y1 = bs.generate(Design.parse("A3 B4"), {**kw, "shock": 1.0}, np.random.default_rng(38), 2000)
    assert (y1[:, :, :3] == y0[:, :, :3]).all() and (y1[:, :, 3:] <= y0[:, :, 3:]).all()
    assert (y0[:, :, 3:] - y1[:, :, 3:]).mean() > 8.0


@pytest.mark.parametrize("phi", [0.0, 0.6])
def test_selection_regression_to_the_mean(phi):
    """select = c: the first error is the normal truncated to (-inf, -c] (marginal SDs),
    later errors follow the AR(1) from it, so E[y_t] = -phi^(t-1) pdf(c) / Phi(-c)
    exactly; every first score lies at or below -c.  The variance of y_t is at most 1
    (truncation shrinks it), which bounds the MCSE of the means."""
    from scipy.stats import norm

    c, r = 1.0, 40_000
    y = get_model("normal_ar1").generate(Design.parse("A3 B4"), {"phi": phi, "select": c},
                                         np.random.default_rng(41), r)[:, 0]
    assert y[:, 0].max() <= -c
    mills = norm.pdf(c) / norm.cdf(-c)
    for t in range(7):
        _within(y[:, t].mean(), -phi ** t * mills, 1 / math.sqrt(r))
    # The truncated normal's variance, exactly: 1 - mills (mills - c).
    x = y[:, 0] - y[:, 0].mean()
    _within(x.var(ddof=1), 1 - mills * (mills - c), math.sqrt(((x ** 2 - x.var()) ** 2).mean() / r))
    # Same draws otherwise: with select off, occasions 2.. keep their innovations.
    y0 = get_model("normal_ar1").generate(Design.parse("A3 B4"), {"phi": 0.0}, np.random.default_rng(41), 5)[:, 0]
    y1 = get_model("normal_ar1").generate(Design.parse("A3 B4"), {"phi": 0.0, "select": c},
                                          np.random.default_rng(41), 5)[:, 0]
    assert (y0[:, 1:] == y1[:, 1:]).all() and (np.argsort(y0[:, 0]) == np.argsort(y1[:, 0])).all()


def test_selection_bounded_scale_and_errors():
    """Burnout-like scores (lower is better): enrolled because the first score was high."""
    y = get_model("bounded_scale").generate(Design.parse("A3 B4"), {"improvement": "decrease", "center": 27.0,
                                                                    "spread": 9.0, "select": 1.0},
                                            np.random.default_rng(42), 5000)
    assert y[:, 0, 0].min() >= 36.0 and y[:, 0, 1].mean() < 33.0
    d = Design.parse("A3 B4")
    m = get_model("normal_ar1")
    for bad, msg in [({"shock_sd": -1.0}, "shock_sd"), ({"shock": float("inf")}, "shock"),
                     ({"shock_at": 1.5}, "shock_at"), ({"shock_at": -1}, "shock_at"), ({"select": 20.0}, "select")]:
        with pytest.raises(ValueError, match=msg):
            m.generate(d, bad, np.random.default_rng(0), 2)
    with pytest.raises(ValueError, match="select"):
        get_model("poisson").generate(d, {"select": 1.0}, np.random.default_rng(0), 2)


def test_tau_bc_long_run_limit_is_taus(tmp_path):
    """Where no closed form exists (here Poisson counts, with ties), Tau-BC's
    long-run limit is read from Tau's run (``Metric.limit_from``): equal to
    Tau's, with the kind saying so, while Kendall's variant (a tie-dependent
    denominator) is still simulated itself."""
    from scedsim.simulate.analysis import MetricSpec, metric_specs
    from scedsim.simulate.estimands import compute_estimands

    d = Design.parse("A3 B4")
    kw = dict(design=d, contrasts=d.contrasts, improvement="increase", seed=3, condition_key="k",
              n_design=2_000, cache_root=tmp_path, use_cache=False)
    m, p = get_model("poisson"), {"level": 0.5}
    kendall = MetricSpec("tau_bc", {"kendall": True}, label="tau_bc_k")
    e = compute_estimands(m, p, specs=list(metric_specs(["tau_bc", "tau"])) + [kendall], **kw)
    bc, k, tau = (e[("A:B", lab, "case")] for lab in ("tau_bc", "tau_bc_k", "tau"))
    assert bc["limit_kind"] == tau["limit_kind"] + " of tau"
    assert k["limit_kind"] == tau["limit_kind"]  # simulated itself
    assert (bc["limit"], bc["limit_mcse"]) == (tau["limit"], tau["limit_mcse"])
    assert abs(k["limit"] - bc["limit"]) > 0.05  # tau-b of tied counts is another quantity
    # Without Tau among the study's metrics a hidden Tau run gives the limit.
    alone = compute_estimands(m, p, specs=metric_specs(["tau_bc"]), **kw)
    assert list(alone) == [("A:B", "tau_bc", "case"), ("A:B", "tau_bc", "mean")]
    assert alone[("A:B", "tau_bc", "case")]["limit_kind"].endswith(" of tau")
    assert 0.0 < alone[("A:B", "tau_bc", "case")]["limit"] < 1.0


def test_theil_sen_slope_of_tied_counts_is_exactly_zero():
    """Why Tau-BC's limit is Tau's also for tied discrete data: the median pairwise
    slope of a long trend-free Poisson baseline is exactly 0 in nearly every
    series (the zero slopes of tied pairs cover the median), so the correction
    breaks no ties.  With 200 points the share of exactly-zero medians is > .95;
    with 20 points it is smaller (the attenuation seen at short lengths)."""
    rng = np.random.default_rng(5)

    def share_zero(n, reps=300):
        y = rng.poisson(2.0, size=(reps, n)).astype(float)
        i, j = np.triu_indices(n, 1)
        slopes = (y[:, j] - y[:, i]) / (j - i)
        return float(np.mean(np.median(slopes, axis=1) == 0.0))

    short, long_ = share_zero(20), share_zero(200)
    assert long_ > 0.95
    assert short < long_
