"""Simulate data like mine: the REML AR(1) baseline fit against known truth, and its
parameters in the simulator's units."""
import math

import numpy as np
import pandas as pd
import pytest

import scedsim as ss
from scedsim.baseline_model import fit_baseline
from scedsim.simulate import Design, NormalAR1


def ar1(rng, n, phi, su):
    """Stationary AR(1) errors, written here independently of the simulator."""
    e = np.empty(n)
    e[0] = rng.normal() * su / math.sqrt(1 - phi * phi)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + rng.normal() * su
    return e


def lag1_moment(ys, trend=True):
    """The naive estimate REML improves on: lag-1 autocorrelation of OLS residuals."""
    num = den = 0.0
    for y in ys:
        t = np.arange(1, y.size + 1)
        X = np.column_stack([np.ones_like(t), t]) if trend else np.ones((y.size, 1))
        r = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
        num += (r[1:] * r[:-1]).sum()
        den += (r * r).sum()
    return num / den


def test_long_series_recovers_the_truth():
    rng = np.random.default_rng(5)
    n, phi, su, b = 3000, 0.5, 2.0, 0.01
    y = 10 + b * np.arange(1, n + 1) + ar1(rng, n, phi, su)
    f = fit_baseline(y)
    se_phi = math.sqrt((1 - phi ** 2) / n)
    assert abs(f.phi - phi) < 4 * se_phi
    assert f.phi_ci[0] < f.phi < f.phi_ci[1] and f.phi_ci[1] - f.phi_ci[0] < 6 * se_phi
    assert abs(f.innovation_sd - su) < 4 * su / math.sqrt(2 * n)
    assert abs(f.trend - b) < 4 * f.trend_se and f.notes == ()
    assert f.sd == pytest.approx(f.innovation_sd / math.sqrt(1 - f.phi ** 2))


def test_bias_and_coverage_against_known_truth():
    """4 cases x 15 baseline points, phi = .4: REML phi nearly unbiased (and far less biased
    than the lag-1 moment estimator), intervals near nominal within Monte Carlo error."""
    rng = np.random.default_rng(2024)
    R, K, n, phi, su, b = 300, 4, 15, 0.4, 1.0, 0.1
    est, naive, cov_phi, cov_su, cov_b, trend = [], [], [], [], [], []
    for _ in range(R):
        ys = [2.0 * k + b * np.arange(1, n + 1) + ar1(rng, n, phi, su) for k in range(K)]
        f = fit_baseline(ys)
        est.append(f.phi)
        naive.append(lag1_moment(ys))
        cov_phi.append(f.phi_ci[0] <= phi <= f.phi_ci[1])
        cov_su.append(f.innovation_sd_ci[0] <= su <= f.innovation_sd_ci[1])
        cov_b.append(f.trend_ci[0] <= b <= f.trend_ci[1])
        trend.append(f.trend)
    est, naive, trend = map(np.array, (est, naive, trend))
    mcse = lambda v: v.std(ddof=1) / math.sqrt(R)  # noqa: E731
    bias = est.mean() - phi
    assert abs(bias) < 0.05                                   # small: documented
    assert abs(naive.mean() - phi) > abs(bias) + 4 * mcse(est - naive)   # REML is the less biased
    assert abs(trend.mean() - b) < 4 * mcse(trend)            # GLS trend unbiased
    cover_mcse = math.sqrt(0.95 * 0.05 / R)
    assert abs(np.mean(cov_phi) - 0.95) < 4 * cover_mcse
    assert abs(np.mean(cov_su) - 0.95) < 4 * cover_mcse
    # Conditional on phi-hat the trend interval runs short (documented: .91-.95).
    assert 0.91 - 4 * cover_mcse < np.mean(cov_b) < 0.95 + 4 * cover_mcse


def test_params_drive_the_simulator_in_its_units():
    """Fit, simulate normal_ar1 with the fitted params, refit: the simulator's trend is in
    marginal-SD units, and the refits centre on the params."""
    rng = np.random.default_rng(8)
    ys = [5 + 0.3 * np.arange(1, 21) + ar1(rng, 20, 0.3, 1.5) for _ in range(3)]
    params = fit_baseline(ys).params()
    assert set(params) == {"intercept", "trend", "phi", "sd", "scale", "case_sd"}
    design = Design.parse("A20 B5", n_cases=3)
    y = NormalAR1().generate(design, {**params, "case_sd": 0.0}, np.random.default_rng(3), 100)
    refits = [fit_baseline(list(rep[:, :20])) for rep in y]
    raw_trend = np.array([f.trend for f in refits])
    sd = params["sd"]
    assert abs(raw_trend.mean() - params["trend"] * sd) < 4 * raw_trend.std() / math.sqrt(100)
    lev = np.array([f.level for f in refits])
    assert abs(lev.mean() - params["intercept"]) < 4 * lev.std() / math.sqrt(100)
    phis = np.array([f.phi for f in refits])
    assert abs(phis.mean() - params["phi"]) < 0.05
    sc = fit_baseline(ys).scenarios()
    assert sc["lower"]["phi"] < sc["estimate"]["phi"] < sc["upper"]["phi"]
    # The innovation SD is kept across the scenarios.
    assert {round(v["sd"] * math.sqrt(1 - v["phi"] ** 2), 9) for v in sc.values()} == \
        {round(fit_baseline(ys).innovation_sd, 9)}


def test_short_baseline_says_how_little_is_known_and_table_input():
    f = fit_baseline([3, 5, 4, 6, 5, 4, 6])
    assert f.df == 5 and any("poorly determined" in n for n in f.notes)
    assert f.phi_ci[1] - f.phi_ci[0] > 0.8
    df = pd.DataFrame({"case": ["a"] * 9 + ["b"] * 9, "session": list(range(9, 0, -1)) + list(range(1, 10)),
                       "phase": (["B"] * 3 + ["A"] * 6) + (["A"] * 6 + ["B"] * 3),
                       "value": [9, 9, 9, 6, 5, 4, 3, 2, 1] + [1, 2, 3, 4, 5, 6, 9, 9, 9]})
    g = fit_baseline(df)
    h = fit_baseline([[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]])
    assert g.n_obs == 12 and g.trend == pytest.approx(h.trend) and g.phi == pytest.approx(h.phi)
    assert "phi" in f.summary() and ss.fit_baseline is fit_baseline


def test_validation():
    with pytest.raises(ValueError, match="NaN"):
        fit_baseline([1, 2, np.nan, 4, 5])
    with pytest.raises(ValueError, match="at least 3 baseline points"):
        fit_baseline([[1, 2, 3, 4], [1, 2]])
    with pytest.raises(ValueError, match="residual degrees of freedom"):
        fit_baseline([1, 2, 4, 3])
    with pytest.raises(ValueError, match="no rows with phase 'A'"):
        fit_baseline(pd.DataFrame({"case": [1, 1], "session": [1, 2], "phase": ["X", "X"], "value": [1, 2]}))
    with pytest.raises(ValueError, match="between -1 and 1"):
        fit_baseline([1, 3, 2, 4, 3, 5, 4]).params(phi=1.0)


def test_cli_baseline(tmp_path, capsys):
    import json

    from scedsim import cli

    df = pd.DataFrame({"case": ["a"] * 10 + ["b"] * 10, "session": list(range(1, 11)) * 2,
                       "phase": (["A"] * 7 + ["B"] * 3) * 2,
                       "score": [4, 5, 3, 5, 6, 4, 5, 9, 9, 9, 6, 7, 6, 8, 7, 7, 9, 9, 9, 9]})
    df.to_csv(tmp_path / "d.csv", index=False)
    assert cli.main(["baseline", str(tmp_path / "d.csv"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    want = fit_baseline([[4, 5, 3, 5, 6, 4, 5], [6, 7, 6, 8, 7, 7, 9]])
    assert out["params"]["phi"] == pytest.approx(want.phi) and out["n_obs"] == 14
    assert set(out["scenarios"]) == {"lower", "estimate", "upper"}
    assert cli.main(["baseline", str(tmp_path / "d.csv")]) == 0
    assert "normal_ar1 parameters" in capsys.readouterr().out
    assert cli.main(["baseline", str(tmp_path / "d.csv"), "--outcome", "nope"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err
