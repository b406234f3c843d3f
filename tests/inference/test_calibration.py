"""Calibration of the exact tests under the null, through the simulator (4 MCSE)."""
import pytest

from scedsim.inference import abab_test
from scedsim.simulate import Study, run

Z = 4.0


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCEDSIM_CACHE_DIR", str(tmp_path / "cache"))


# 20,000 null replications: the tests that use them are marked slow.
@pytest.fixture(scope="module")
def null_runs():
    study = Study(design="A3 B4", grid={"phi": [0.0, 0.6], "level": [0.0]}, n_reps=20_000, seed=77,
                  metrics=[{"name": "perm_test", "statistic": "nap"}, {"name": "perm_test", "statistic": "mean_diff"},
                           {"name": "rand_test", "statistic": "mean_diff"}],
                  rules=["p_perm_nap <= 0.05", "p_perm_mean_diff <= 0.10", "p_rand_mean_diff <= 0.25"],
                  estimands=False)
    return run(study, quiet=True)


def _rate(res, rule, phi):
    r = res.measure("rejection_rate", scope="case", rule=rule, phi=phi)
    return float(r.value.iloc[0]), float(r.mcse.iloc[0])


@pytest.mark.slow
def test_exact_nap_test_type_one_error_is_one_in_35(null_runs):
    rate, mcse = _rate(null_runs, "p_perm_nap <= 0.05", 0.0)
    assert abs(rate - 1 / 35) <= Z * mcse


@pytest.mark.slow
@pytest.mark.parametrize("rule,alpha", [("p_perm_nap <= 0.05", 0.05), ("p_perm_mean_diff <= 0.10", 0.10),
                                        ("p_rand_mean_diff <= 0.25", 0.25)])
def test_exact_tests_never_above_alpha_without_autocorrelation(null_runs, rule, alpha):
    rate, mcse = _rate(null_runs, rule, 0.0)
    assert rate <= alpha + Z * mcse


@pytest.mark.slow
def test_positive_autocorrelation_inflates_type_one_error(null_runs):
    """As Ferron & Onghena (1996) and Manolov et al. (2010) report for tests that assume
    exchangeability: with phi = .6 the nominal .05 test rejects far more often."""
    rate0, mcse0 = _rate(null_runs, "p_perm_nap <= 0.05", 0.0)
    rate6, mcse6 = _rate(null_runs, "p_perm_nap <= 0.05", 0.6)
    assert rate6 - rate0 > Z * (mcse0 ** 2 + mcse6 ** 2) ** 0.5
    assert rate6 > 0.05


@pytest.mark.slow
def test_min_pvalues_reported(null_runs):
    m = null_runs.measure("min_pvalue", phi=0.0).set_index("metric").value
    assert m["p_perm_nap"] == pytest.approx(1 / 35) and m["p_rand_mean_diff"] == pytest.approx(1 / 4)


def test_abab_reference_set():
    r = abab_test([[1, 2, 1], [6, 7, 6], [2, 1, 2], [7, 6, 7]], return_distribution=True)
    assert r.n_arrangements == 35 and r.pvalue == pytest.approx(1 / 35)  # compositions of 12 into 4 parts >= 2
    assert r.null_distribution.max() == r.statistic
    with pytest.raises(ValueError, match="four phases"):
        abab_test([[1, 2], [3, 4]])


@pytest.mark.slow
def test_interpretive_bands_as_rules():
    res = run(Study(design="A3 B4", grid={"level": [0.0]}, metrics=["nap", "ird"], n_reps=2000, seed=1,
                    rules=["nap_strong", "ird_large", "count(ird_large) >= 1"], estimands=False), quiet=True)
    rules = set(res.measure("rejection_rate").rule)
    assert {"nap_strong (nap >= 0.93)", "ird_large (ird >= 0.70)", "count(ird_large) >= 1"} <= rules


def _two_strong(results):
    return (results[("A:B", "nap")]["estimate"] >= 0.93).sum(axis=1) >= 2


def test_across_case_test_and_callable_rules():
    """The Marascuilo-Busk test of six... here three cases as a simulator rule, exact
    (never above alpha without autocorrelation); a callable rule equals its string form."""
    study = Study(design="A3 B4", grid={"level": [0.0, 1.0]}, n_cases=3, n_reps=4000, seed=12, estimands=False,
                  metrics=["nap", {"name": "mbd_test", "statistic": "mean_diff"}],
                  rules=["p_mbd_mean_diff <= 0.05", _two_strong, "count(nap_strong) >= 2"])
    res = run(study, quiet=True)
    null = res.measure("rejection_rate", level=0.0).set_index("rule")
    assert null.loc["p_mbd_mean_diff <= 0.05", "value"] <= 0.05 + Z * null.loc["p_mbd_mean_diff <= 0.05", "mcse"]
    assert null.loc["_two_strong", "value"] == null.loc["count(nap_strong) >= 2", "value"]
    power = res.measure("rejection_rate", level=1.0, rule="p_mbd_mean_diff <= 0.05").value.iloc[0]
    assert power > 0.1
    minp = res.measure("min_pvalue", metric="p_mbd_mean_diff").value.iloc[0]
    assert minp == pytest.approx(1 / 4 ** 3)


def test_batched_multiple_baseline_equals_single():
    import numpy as np

    from scedsim.inference import multiple_baseline_pvalues, multiple_baseline_test

    rng = np.random.default_rng(3)
    y = rng.integers(0, 6, (20, 3, 8)).astype(float)
    p = multiple_baseline_pvalues(y, [3, 4, 5], statistic="nap")
    for r in range(0, 20, 4):
        cases = [(y[r, k, :m], y[r, k, m:]) for k, m in enumerate((3, 4, 5))]
        assert p[r] == pytest.approx(multiple_baseline_test(cases, statistic="nap").pvalue, abs=1e-12)


def test_review_fixes_inference():
    import math

    import numpy as np

    from scedsim.inference import permutation_test, randomization_test, rank_null_pvalues

    # An undefined statistic gives an undefined p-value, not 0.
    r = permutation_test([1, 1, 1], [2, 3, 4, 5], statistic="smd")
    assert math.isnan(r.statistic) and math.isnan(r.pvalue)
    # The log response ratio keeps its direction (it is not a statistic of negated data).
    assert permutation_test([5, 6, 7], [2, 3, 1, 2], statistic="lrr", improvement="decrease").pvalue == \
        pytest.approx(1 / 35)
    # Ties judged against the data's magnitude: a shift of the data changes nothing.
    a, b = np.array([0.1, 0.3, 0.3]), np.array([0.2, 0.2, 0.3, 0.1])
    for shift in (0.0, 1e6):
        assert permutation_test(a + shift, b + shift, statistic="mean_diff").pvalue == \
            pytest.approx(permutation_test(a, b, statistic="mean_diff").pvalue)
    y = 0.1 * np.array([0, 3, 3, 2, 2, 3, 2, 1.0])
    assert randomization_test(y[:3], y[3:], statistic="mean_diff", min_phase=3).pvalue == \
        randomization_test(10 * y[:3], 10 * y[3:], statistic="mean_diff", min_phase=3).pvalue
    # The exact size of a coarse statistic's test: PEM with 3 + 4 points cannot go below 5/35.
    assert rank_null_pvalues(3, 4, "pem").min() == pytest.approx(5 / 35)
    assert rank_null_pvalues(3, 4, "nap", "two-sided").min() == pytest.approx(2 / 35)


def test_count_rule_null_probability_and_p_of_zero():
    res = run(Study(design="A3 B4", grid={"level": [0.0]}, n_cases=6, n_reps=3000, seed=3, estimands=False,
                    metrics=[{"name": "perm_test", "statistic": "nap"},
                             {"name": "rand_test", "statistic": "mean_diff", "exclude_equal": True}],
                    rules=["count(p_perm_nap <= 0.05) >= 2"]), quiet=True)
    assert set(res.conditions.status) == {"ok"}  # p = 0 from exclude_equal no longer fails a block
    null = res.measure("null_probability").value.iloc[0]
    assert null == pytest.approx(1 - (34 / 35) ** 6 - 6 * (1 / 35) * (34 / 35) ** 5)
    rate = res.measure("rejection_rate", scope="count")
    assert abs(rate.value.iloc[0] - null) <= Z * rate.mcse.iloc[0]
    with pytest.raises(ValueError, match="distinct"):
        Study(metrics=["nap"], rules=[lambda r: r, lambda r: r])


def test_batched_multiple_baseline_monte_carlo_beyond_the_limit():
    import math

    import numpy as np

    from scedsim.inference import multiple_baseline_pvalues, multiple_baseline_test

    rng = np.random.default_rng(0)
    y = rng.normal(size=(4, 6, 12))
    y[:, :, 5:] += 1.0
    p = multiple_baseline_pvalues(y, [5] * 6)  # 8^6 = 262,144 combinations: Monte Carlo
    assert np.array_equal(p, multiple_baseline_pvalues(y, [5] * 6))  # seeded by the data
    for r in range(4):
        exact = multiple_baseline_test([(y[r, k, :5], y[r, k, 5:]) for k in range(6)],
                                       max_arrangements=10 ** 6).pvalue
        assert abs(p[r] - exact) <= Z * math.sqrt(exact * (1 - exact) / 9999) + 1 / 10_000
