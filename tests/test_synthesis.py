"""Random-effects synthesis: DerSimonian-Laird and REML tau^2, Knapp-Hartung."""
import math

import numpy as np
import pandas as pd
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


# ---------------------------------------------------------------- SingleCaseES weighting schemes

from scedsim.synthesis import WEIGHTINGS, weighted_mean, weighting_name  # noqa: E402


def test_weighted_mean_by_hand():
    y = np.array([0.2, 0.6, 0.9])
    s = np.array([0.1, 0.2, 0.3])
    na = np.array([3, 5, 10])
    nb = np.array([4, 5, 2])
    for name, w in [("equal", np.ones(3)), ("nA", na), ("nB", nb), ("nAnB", na * nb),
                    ("1/nA+1/nB", na * nb / (na + nb))]:
        r = weighted_mean(y, s, na, nb, weighting=name, confidence=0.9)
        w = w.astype(float)
        assert r.estimate == pytest.approx(np.sum(w * y) / np.sum(w), rel=1e-14)
        # The SE of a fixed-weight mean of independent estimates.
        assert r.se == pytest.approx(np.sqrt(np.sum((w / w.sum()) ** 2 * s ** 2)), rel=1e-14)
        assert r.ci_upper - r.estimate == pytest.approx(1.6448536269514722 * r.se, rel=1e-12)
    r = weighted_mean(y, s, weighting="1/V")
    w = 1 / s ** 2
    assert r.estimate == pytest.approx(np.sum(w * y) / np.sum(w), rel=1e-14)
    assert r.se == pytest.approx(1 / np.sqrt(np.sum(w)), rel=1e-14)
    # Equal weights are the plain mean; SE sqrt(sum SE^2)/k as SingleCaseES's test computes it.
    r = weighted_mean(y, s, weighting="equal")
    assert r.estimate == pytest.approx(y.mean()) and r.se == pytest.approx(np.sqrt(np.sum(s ** 2)) / 3)


def test_weighted_mean_one_case_and_missing_ses():
    assert weighted_mean([0.4], [0.1], [3], [4], weighting="nAnB").se == pytest.approx(0.1)
    r = weighted_mean([0.4, 0.8], None, [3, 5], [4, 4], weighting="nA")
    assert r.estimate == pytest.approx((3 * 0.4 + 5 * 0.8) / 8) and np.isnan(r.se) and np.isnan(r.ci_lower)


def test_weighting_synonyms_and_errors():
    for text, name in [("n_A", "nA"), ("nA * nB", "nAnB"), ("n_A*n_B", "nAnB"), ("1/n_A + 1/n_B", "1/nA+1/nB"),
                       ("Equal", "equal"), ("1/V", "1/V")]:
        assert weighting_name(text) == name
    assert set(WEIGHTINGS) == {weighting_name(w) for w in WEIGHTINGS}
    with pytest.raises(ValueError, match="unknown weighting 'nC'"):
        weighting_name("nC")
    with pytest.raises(ValueError, match="needs the points per phase"):
        weighted_mean([0.1, 0.2], [0.1, 0.1], weighting="nB")
    with pytest.raises(ValueError, match="needs every case's SE"):
        weighted_mean([0.1, 0.2], [0.1, 0.0], weighting="1/V")
    with pytest.raises(ValueError, match="finite"):
        weighted_mean([0.1, np.nan], weighting="equal")
    with pytest.raises(ValueError, match="no case"):
        weighted_mean([], weighting="equal")


def test_summarize_weighting_rows():
    import scedsim as ss

    rows = []
    for case, (a, b) in {"P1": ([1, 2, 3], [4, 5, 6, 7]), "P2": ([2, 2, 5, 3, 1], [3, 6, 4]),
                         "P3": ([4, 1, 2], [3, 5, 2, 6, 7, 8])}.items():
        for i, v in enumerate(a + b):
            rows.append(dict(case=case, session=i + 1, phase="A" if i < len(a) else "B", outcome="y", value=v))
    df = pd.DataFrame(rows)
    res = ss.effect_sizes(df, metrics=["nap", "smd"], summary={"weighting": ["n_A", "1/V"], "between": None})
    cases, summ = res.cases, res.summary.set_index(["metric", "method"])
    for m in ("nap", "smd"):
        c = cases[cases.metric == m]
        w = c["n_a"].to_numpy(float)
        assert summ.loc[(m, "weighted mean (nA)"), "estimate"] == pytest.approx(
            np.sum(w * c["estimate"]) / w.sum(), rel=1e-12)
        w = 1 / c["se"].to_numpy(float) ** 2
        assert summ.loc[(m, "weighted mean (1/V)"), "estimate"] == pytest.approx(
            np.sum(w * c["estimate"]) / w.sum(), rel=1e-12)
    # NAP's interval is cut to [0, 1].
    assert summ.loc[("nap", "weighted mean (nA)"), "ci_upper"] <= 1.0
    assert "weighted mean (equal)" not in res.summary["method"].tolist()
    with pytest.raises(ValueError, match="confidence"):
        ss.effect_sizes(df, metrics=["nap"], summary={"confidence": 0.9})
