"""Multiple baselines whose start points are drawn per replication (issue 11):
the draws, the models' structure, the grouping of the analysis, the across-case
test's size, and the runner's reproducibility.  Tolerances: 4 Monte Carlo SEs."""
import math

import numpy as np
import pandas as pd
import pytest

import scedsim as ss
from scedsim.inference import multiple_baseline_pvalues, multiple_baseline_test
from scedsim.simulate import Design, Study, get_model, run
from scedsim.simulate.analysis import analyze_block, across_tests, metric_specs

Z = 4.0


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCEDSIM_CACHE_DIR", str(tmp_path / "cache"))


def test_parse_describe_and_errors():
    d = Design.parse("MB n_time=10 starts=3-7", n_cases=3)
    assert d.is_random and d.n_cases == 3 and d.n_time == 10 and d.starts == ((3, 4, 5, 6, 7),) * 3
    assert d.describe() == "MB n_time=10 starts=3-7" and [str(c) for c in d.contrasts] == ["A:B"]
    kl = Design.parse("MB n_time=12 starts=3-4,5/7,8 scheme=koehler_levin")
    assert kl.n_cases == 3 and kl.starts == ((3, 4), (5, 7), (8,)) and kl.scheme == "koehler_levin"
    assert Design.parse(kl.describe()) == kl
    assert kl.start_distribution(0) == pytest.approx({3: 1 / 6, 4: 1 / 6, 5: 1 / 6, 7: 1 / 6, 8: 1 / 3})
    assert Design.multiple_baseline_random(12, [[3, 4], [5, 7], [8]], scheme="koehler_levin") == kl
    assert not Design.parse("A3 B4").is_random
    for text, msg in [("MB n_time=10 starts=3-10", "leave no"), ("MB starts=3-7", "needs n_time"),
                      ("MB n_time=10 starts=7-3", "cannot read"), ("MB n_time=10 starts=3-7 scheme=x", "scheme"),
                      ("MB n_time=10 start=3", "unknown"), ("MB n_time=10 starts=2,3", "n_cases=3")]:
        with pytest.raises(ValueError, match=msg):
            Design.parse(text, n_cases=3)


def test_drawn_starts_are_uniform_over_the_admissible_set():
    r = 20_000
    d = Design.parse("MB n_time=10 starts=3-7", n_cases=3)
    m = d.draw_starts(np.random.default_rng(1), r)
    assert m.shape == (r, 3)
    for k in range(3):
        for v in range(3, 8):
            share = (m[:, k] == v).mean()
            assert abs(share - 0.2) <= Z * math.sqrt(0.2 * 0.8 / r), (k, v, share)
    # Marascuilo-Busk: independent cases (pairs uniform over 25 combinations).
    share = ((m[:, 0] == 3) & (m[:, 1] == 3)).mean()
    assert abs(share - 0.04) <= Z * math.sqrt(0.04 * 0.96 / r)
    # Koehler-Levin: one start per tier in each replication, cases assigned to tiers at random.
    kl = Design.parse("MB n_time=12 starts=2-3,5-6,8-9 scheme=koehler_levin")
    m = kl.draw_starts(np.random.default_rng(2), r)
    assert (np.sort(m, axis=1)[:, 0] <= 3).all() and (np.sort(m, axis=1)[:, 1] >= 5).all()
    assert (np.sort(m, axis=1)[:, 2] >= 8).all()
    for k in range(3):
        for v in (2, 3, 5, 6, 8, 9):
            share = (m[:, k] == v).mean()
            assert abs(share - 1 / 6) <= Z * math.sqrt(5 / 36 / r), (k, v, share)


def test_models_use_each_replications_starts():
    """Residuals from level (t >= m) + slope (t - m)+ at each replication's own start
    have mean 0 at every occasion (4 MCSE; marginal SD 1)."""
    r = 20_000
    d = Design.parse("MB n_time=8 starts=2-6", n_cases=2)
    m = d.draw_starts(np.random.default_rng(3), r)
    y = get_model("normal_ar1").generate(d.realise(m), {"phi": 0.5, "level": 2.0, "slope": 0.5},
                                         np.random.default_rng(4), r)
    occ = np.arange(8)[None, None, :]
    resid = y - 2.0 * (occ >= m[:, :, None]) - 0.5 * np.maximum(occ - m[:, :, None], 0)
    means = resid.reshape(-1, 8).mean(axis=0)
    assert np.all(np.abs(means) <= Z / math.sqrt(2 * r)), means
    # Counts: log E[y] = log rate + level at the drawn start.
    y = get_model("poisson").generate(d.realise(m), {"rate": 2.0, "level": 0.7}, np.random.default_rng(5), r)
    ratio = (y / (2.0 * np.exp(0.7 * (occ >= m[:, :, None])))).reshape(-1, 8)
    for t in range(8):
        assert abs(ratio[:, t].mean() - 1) <= Z * ratio[:, t].std(ddof=1) / math.sqrt(2 * r)


@pytest.mark.parametrize("missing", [0.0, 0.15])
def test_analysis_groups_series_by_realised_start(missing):
    d = Design.parse("MB n_time=9 starts=2-7", n_cases=3)
    m = d.draw_starts(np.random.default_rng(6), 40)
    used = d.realise(m)
    y = get_model("normal_ar1").generate(used, {"level": 1.0, "missing_rate": missing}, np.random.default_rng(7), 40)
    specs = metric_specs(["nap", "pnd", {"name": "mbd_test", "statistic": "mean_diff"}])
    res = analyze_block(y, used, used.contrasts, specs, "increase")
    for r in range(40):
        for k in range(3):
            a, b = y[r, k, :m[r, k]], y[r, k, m[r, k]:]
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            assert res[("A:B", "nap")]["estimate"][r, k] == ss.nap(a, b).estimate
            assert res[("A:B", "nap")]["n_a"][r, k] == a.size
    across = across_tests(y, used, used.contrasts, specs, "increase")[("A:B", "p_mbd_mean_diff", "replication")]
    for r in range(40):
        if np.isnan(y[r]).any():
            assert np.isnan(across["estimate"][r])
            continue
        cases = [(y[r, k, :m[r, k]], y[r, k, m[r, k]:]) for k in range(3)]
        assert across["estimate"][r] == pytest.approx(multiple_baseline_test(cases).pvalue, abs=1e-12)


def test_mbd_test_is_exact_under_random_starts():
    """The Marascuilo-Busk test's reference set is the design's randomization: with
    starts drawn from admissible_starts(8, 2) = 2..6 (5^3 = 125 combinations) the
    size is exactly floor(0.05 * 125) / 125 = 0.048 (continuous data), even with a
    baseline trend and autocorrelation and no effect, within 4 MCSE; the same data
    with every case's start fixed at 6 reject far more often."""
    r, alpha = 4000, 0.05
    d = Design.parse("MB n_time=8 starts=2-6", n_cases=3)
    m = d.draw_starts(np.random.default_rng(8), r)
    y = get_model("normal_ar1").generate(d.realise(m), {"phi": 0.6, "trend": 0.3}, np.random.default_rng(9), r)
    specs = metric_specs([{"name": "mbd_test", "statistic": "mean_diff"}])
    p = across_tests(y, d.realise(m), d.contrasts, specs, "increase")[("A:B", "p_mbd_mean_diff", "replication")]
    rate = (p["estimate"] <= alpha).mean()
    size = 6 / 125
    assert abs(rate - size) <= Z * math.sqrt(size * (1 - size) / r), rate
    fixed = Design.multiple_baseline([6, 6, 6], 8)
    y = get_model("normal_ar1").generate(fixed, {"phi": 0.6, "trend": 0.3}, np.random.default_rng(9), r)
    rate_fixed = (multiple_baseline_pvalues(y, [6, 6, 6]) <= alpha).mean()
    assert rate_fixed > alpha + 10 * math.sqrt(alpha * (1 - alpha) / r), rate_fixed


def _study(**kw):
    base = dict(design="MB n_time=9 starts=3-6", n_cases=3, grid={"phi": [0.0, 0.5], "level": [0.0, 1.0]},
                metrics=["nap", "ird", {"name": "mbd_test", "statistic": "mean_diff"}], n_reps=600, seed=11,
                block_size=100, n_design=600)
    base.update(kw)
    return Study(**base)


def test_runner_results_depend_only_on_the_seed():
    ref = run(_study(chunk_size=100), quiet=True)
    other = run(_study(chunk_size=300), n_jobs=2, backend="threading", quiet=True)
    pd.testing.assert_frame_equal(ref.summary, other.summary, check_exact=True)
    pd.testing.assert_frame_equal(ref.estimands, other.estimands, check_exact=True)
    assert ref.errors.empty
    # The drawn starts differ from the representative fixed design's (every case at 3).
    fixed = run(_study(design="A3 B6"), quiet=True)
    key = ["phi", "level", "contrast", "metric", "scope", "measure", "estimand", "rule"]
    a = ref.summary.query("measure == 'mean' and metric == 'nap' and scope == 'case'").set_index(key).value
    b = fixed.summary.query("measure == 'mean' and metric == 'nap' and scope == 'case'").set_index(key).value
    assert not np.array_equal(a.to_numpy(), b.to_numpy())
    mins = ref.summary.query("measure == 'min_pvalue'").value
    assert np.allclose(mins, 1 / 6 ** 3)  # the test's reference set: admissible_starts(9, 2) = 2..7 per case
    # Limits: NAP's does not depend on the start; IRD's (through pi = m / n_time) is
    # averaged over the uniform start distribution.
    est = ref.estimands.query("scope == 'case' and phi == 0.0")
    assert np.allclose(est.query("metric == 'nap' and level == 1.0").limit, 0.7602499389065233)
    from scipy.stats import norm
    from scedsim.simulate.estimands import analytic_limit
    from scedsim.simulate.analysis import MetricSpec

    want = np.mean([analytic_limit(get_model("normal_ar1"), {"level": 1.0}, MetricSpec("ird"),
                                   Design.parse(f"A{m} B{9 - m}"), Design.parse("A3 B6").contrasts[0], 0)
                    for m in range(3, 7)])
    assert np.allclose(est.query("metric == 'ird' and level == 1.0").limit, want)
    assert norm.cdf(1 / math.sqrt(2)) == pytest.approx(0.7602499389065233)


def test_batched_koehler_levin_matches_the_single_test():
    """tier_starts: the batched p-values over a design's own randomization equal
    multiple_baseline_test's (cases ordered by tier, as it expects); with every
    case's set the full admissible set they equal the default Marascuilo-Busk ones."""
    d = Design.parse("MB n_time=10 starts=2-3,5-6,7-8 scheme=koehler_levin")
    m = d.draw_starts(np.random.default_rng(12), 30)
    y = get_model("normal_ar1").generate(d.realise(m), {"level": 0.5, "phi": 0.3}, np.random.default_rng(13), 30)
    tiers = [[2, 3], [5, 6], [7, 8]]
    for r in range(30):
        p = multiple_baseline_pvalues(y[r:r + 1], m[r], scheme="koehler_levin", tier_starts=tiers)[0]
        order = np.argsort(m[r])  # tiers do not overlap: the k-th smallest start is tier k's
        cases = [(y[r, k, :m[r, k]], y[r, k, m[r, k]:]) for k in order]
        want = multiple_baseline_test(cases, scheme="koehler_levin", tier_starts=tiers)
        assert p == pytest.approx(want.pvalue, abs=1e-12) and want.n_arrangements == 48
    full = [list(range(2, 9))] * 3
    y3 = get_model("normal_ar1").generate(Design.parse("A4 B6", n_cases=3), {"level": 0.5},
                                          np.random.default_rng(14), 50)
    np.testing.assert_allclose(multiple_baseline_pvalues(y3, [4, 4, 4], tier_starts=full),
                               multiple_baseline_pvalues(y3, [4, 4, 4]), atol=1e-12)
    with pytest.raises(ValueError, match="tier 1"):
        multiple_baseline_pvalues(y3, [4, 4, 4], tier_starts=[[1, 4], [4], [4]])
    with pytest.raises(ValueError, match="not in the reference set"):
        multiple_baseline_pvalues(y3, [4, 4, 4], tier_starts=[[3], [4], [4]])


def test_design_reference_set_is_exact_for_koehler_levin():
    """tier_starts = "design": the reference set is the design's randomization, 3! x 2^3
    = 48 arrangements, so P(p <= 0.05) = 2/48 under no effect, with a trend and
    autocorrelation, within 4 MCSE; in a study the smallest p is 1/48."""
    r = 4000
    d = Design.parse("MB n_time=10 starts=2-3,5-6,7-8 scheme=koehler_levin")
    m = d.draw_starts(np.random.default_rng(15), r)
    used = d.realise(m)
    y = get_model("normal_ar1").generate(used, {"phi": 0.6, "trend": 0.3}, np.random.default_rng(16), r)
    specs = metric_specs([{"name": "mbd_test", "statistic": "mean_diff", "tier_starts": "design"}])
    p = across_tests(y, used, used.contrasts, specs, "increase")[("A:B", "p_mbd_mean_diff[tier_starts=design]",
                                                                   "replication")]["estimate"]
    size = 2 / 48
    assert abs((p <= 0.05).mean() - size) <= Z * math.sqrt(size * (1 - size) / r), (p <= 0.05).mean()
    study = Study(design="MB n_time=10 starts=2-3,5-6,7-8 scheme=koehler_levin", n_cases=3, n_reps=100,
                  metrics=[{"name": "mbd_test", "statistic": "mean_diff", "tier_starts": "design"}], n_design=100)
    res = run(study, quiet=True)
    assert res.errors.empty
    assert res.summary.query("measure == 'min_pvalue'").value.iloc[0] == pytest.approx(1 / 48)
    with pytest.raises(ValueError, match="needs a design with random start points"):
        Study(design="A3 B4", n_cases=3, metrics=[{"name": "mbd_test", "statistic": "mean_diff",
                                                   "tier_starts": "design"}])
