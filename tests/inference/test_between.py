"""Between-person tests: t, exact sign flips, Wilcoxon; null centres from the registry; the simulator rule."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

import scedsim as ss
from scedsim.inference import between_cases, between_person_test, null_centre
from scedsim.simulate import Study, run


def _brute_sign_flip(d, alternative):
    d = [Fraction(str(x)) for x in d]
    obs = sum(d)
    sums = [sum(s * x for s, x in zip(signs, d)) for signs in itertools.product((1, -1), repeat=len(d))]
    ge = sum(v >= obs for v in sums)
    le = sum(v <= obs for v in sums)
    if alternative == "greater":
        return ge / len(sums)
    if alternative == "less":
        return le / len(sums)
    return min(1.0, 2 * min(ge, le) / len(sums))


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_sign_flip_is_the_exact_enumeration(alternative):
    rng = np.random.default_rng(3)
    for k in (2, 3, 5, 7):
        for _ in range(20):
            d = np.round(rng.normal(0.3, 1.0, k), 1)   # one decimal: ties between sums are common
            got = between_person_test(d, method="sign_flip", alternative=alternative).pvalue
            assert got == pytest.approx(_brute_sign_flip(d, alternative), abs=1e-15)


def test_t_and_wilcoxon_agree_with_scipy():
    rng = np.random.default_rng(4)
    for k in (3, 6, 10):
        for alternative in ("greater", "less", "two-sided"):
            d = rng.normal(0.5, 1.0, k)
            t = between_person_test(d, alternative=alternative)
            assert t.pvalue == pytest.approx(stats.ttest_1samp(d, 0.0, alternative=alternative).pvalue, rel=1e-12)
            w = between_person_test(d, method="wilcoxon", alternative=alternative)
            ref = stats.wilcoxon(d, alternative=alternative, method="exact").pvalue
            assert w.pvalue == pytest.approx(ref, rel=1e-12)


def test_batches_equal_single_calls_and_monte_carlo_beyond_the_limit():
    rng = np.random.default_rng(5)
    d = rng.normal(0.2, 1.0, (30, 6))
    for method in ("t", "sign_flip", "wilcoxon"):
        batch = between_person_test(d, method=method).pvalue
        one = [between_person_test(row, method=method).pvalue for row in d]
        np.testing.assert_allclose(batch, one, rtol=0, atol=1e-15)
    exact = between_person_test(d[0], method="sign_flip").pvalue
    mc = between_person_test(d[0], method="sign_flip", max_exact=3, n_resamples=20000,
                             rng=np.random.default_rng(1))
    assert mc.method == "monte_carlo" and mc.n_arrangements == 20001
    # The Monte Carlo p-value estimates the exact one: within 4 binomial SEs.
    assert abs(mc.pvalue - exact) <= 4 * math.sqrt(exact * (1 - exact) / 20000) + 1 / 20001


def test_null_centres():
    assert null_centre("ird", 3, 4) == pytest.approx(11 / 30, abs=1e-14)
    assert null_centre("pnd", 3, 4) == 0.25 and null_centre("nap", 5, 2) == 0.5
    assert null_centre("mean_diff", 3, 4) == 0.0 and null_centre("tau", 3, 4) == 0.0
    assert abs(null_centre("tau_u", 3, 4)) < 1e-15
    # PAND by enumeration equals the exact average over the 35 arrangements.
    from scedsim.inference import arrangements

    ia, ib = arrangements(7, 3)
    exact = sum(Fraction(ss.pand(a + 1.0, b + 1.0).estimate).limit_denominator(100) for a, b in zip(ia, ib)) / 35
    assert null_centre("pand", 3, 4) == pytest.approx(float(exact), abs=1e-14)
    with pytest.raises(ValueError, match="no known value under no effect"):
        null_centre("pet", 3, 4)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="at least 2 people"):
        between_person_test([1.0])
    with pytest.raises(ValueError, match="NaN"):
        between_person_test([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="unknown method 'z'"):
        between_person_test([1.0, 2.0], method="z")
    with pytest.raises(ValueError, match="same people"):
        between_cases([[1, 2]], [[3, 4], [5, 6]])
    with pytest.raises(ValueError, match="phase A is empty"):
        between_cases([[], [1, 2]], [[3, 4], [5, 6]])


def test_between_cases_uses_each_persons_centre_and_direction():
    a = [[3, 4, 3], [5, 6, 5], [2, 2, 3], [4, 5, 4]]
    b = [[6, 7, 6, 8], [6, 7, 8, 7], [3, 4, 5, 4], [4, 6, 5, 7]]
    up = between_cases(a, b, statistic="ird", method="t")
    ird = [ss.ird(x, y).estimate - 11 / 30 for x, y in zip(a, b)]
    assert up.pvalue == pytest.approx(between_person_test(ird).pvalue, rel=1e-12)
    down = between_cases(a, b, statistic="mean_diff", improvement="decrease", method="sign_flip")
    assert down.pvalue == 1.0   # every person got worse in the 'decrease' direction


@pytest.mark.slow
def test_simulated_t_test_holds_its_level_and_is_exact_under_ar1():
    """Six people, A3 B4, no effect: the t-test of mean differences rejects at .05 within 4 MCSE,
    at phi = 0 and .6 (the mean differences are i.i.d. normal across people)."""
    study = Study(design="A3 B4", grid={"phi": [0.0, 0.6], "level": [0.0, 1.0]}, n_cases=6, n_reps=8000,
                  seed=11, estimands=False,
                  metrics=[{"name": "between_test", "statistic": "mean_diff"},
                           {"name": "between_test", "statistic": "mean_diff", "method": "sign_flip"},
                           {"name": "between_test", "statistic": "nap", "method": "wilcoxon"}],
                  rules=["p_between_mean_diff <= 0.05", "p_between_mean_diff[method=sign_flip] <= 0.05",
                         "p_between_nap[method=wilcoxon] <= 0.05"])
    res = run(study, quiet=True)
    rej = res.measure("rejection_rate", scope="replication")
    t_null = rej[(rej.level == 0.0) & (rej.rule == "p_between_mean_diff <= 0.05")]
    assert len(t_null) == 2
    for r in t_null.itertuples():
        assert abs(r.value - 0.05) <= 4 * math.sqrt(0.05 * 0.95 / 8000), r
    flip = rej[(rej.level == 0.0) & (rej.rule == "p_between_mean_diff[method=sign_flip] <= 0.05")]
    assert (flip.value <= 0.05 + 4 * math.sqrt(0.05 * 0.95 / 8000)).all()
    power = rej[(rej.level == 1.0) & (rej.rule == "p_between_mean_diff <= 0.05")]
    assert (power.value > 0.5).all()
    minp = res.measure("min_pvalue", metric="p_between_mean_diff[method=sign_flip]")
    assert np.allclose(minp.value, 1 / 64)


def test_permutation_centre_is_the_exact_conditional_mean():
    from scedsim.inference import arrangements, permutation_centre

    a, b = [0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 2.0]
    pooled = np.array(a + b)
    ia, ib = arrangements(7, 3)
    brute = np.mean([ss.ird(pooled[x], pooled[y]).estimate for x, y in zip(ia, ib)])
    assert permutation_centre("ird", a, b) == pytest.approx(brute, abs=1e-15)
    batch = permutation_centre("pnd", np.array([a, [1.0, 2.0, 3.0]]), np.array([b, [4.0, 5.0, 6.0, 7.0]]))
    assert batch[1] == pytest.approx(0.25, abs=1e-15)
    with pytest.raises(ValueError, match="max_arrangements"):
        permutation_centre("nap", np.ones(10), np.ones(10))


def test_permutation_centre_is_unbiased_with_ties():
    """Tied counts, no effect: the centred IRD has mean 0 (the registry's 11/30 does not)."""
    rng = np.random.default_rng(8)
    a = rng.poisson(1.0, (20000, 3)).astype(float)
    b = rng.poisson(1.0, (20000, 4)).astype(float)
    d = ss.ird(a, b).estimate - ss.inference.permutation_centre("ird", a, b)
    assert abs(d.mean()) <= 4 * d.std() / math.sqrt(d.size)
    biased = ss.ird(a, b).estimate - 11 / 30
    assert abs(biased.mean()) > 8 * biased.std() / math.sqrt(d.size)
    people = [(a[i], b[i]) for i in range(6)]
    r = between_cases([p[0] for p in people], [p[1] for p in people], statistic="ird", centre="permutation")
    assert 0.0 <= r.pvalue <= 1.0


def test_permutation_centre_in_a_study_of_counts():
    """Poisson counts (rate 1, A4 B4, six people): IRD centred at 11/30 almost never rejects;
    centred at each person's permutation mean it keeps a usable level and gains power."""
    study = Study(design="A4 B4", model="poisson", grid={"rate": [1.0], "level": [0.0, 0.7]}, n_cases=6,
                  n_reps=4000, seed=5, estimands=False,
                  metrics=[{"name": "between_test", "statistic": "ird"},
                           {"name": "between_test", "statistic": "ird", "centre": "permutation",
                            "label": "p_ird_perm"}],
                  rules=["p_between_ird <= 0.05", "p_ird_perm <= 0.05"])
    rej = run(study, quiet=True).measure("rejection_rate").set_index(["level", "rule"])["value"]
    mcse = math.sqrt(0.05 * 0.95 / 4000)
    assert rej[(0.0, "p_ird_perm <= 0.05")] <= 0.05 + 4 * mcse
    assert rej[(0.0, "p_ird_perm <= 0.05")] > 5 * rej[(0.0, "p_between_ird <= 0.05")]
    assert rej[(0.7, "p_ird_perm <= 0.05")] > rej[(0.7, "p_between_ird <= 0.05")] + 0.2


def test_t_tail_against_closed_forms_and_scipy():
    """The t-test's tail probability: exact closed forms for 1 and 2 df (Cauchy;
    1/2 - t/(2 sqrt(2 + t^2))), and scipy elsewhere, far tails included."""
    from scipy import stats

    from scedsim.inference.between import _t_lbeta, _t_sf

    for t in [0.0, 1e-8, -1e-8, 0.3, -2.5, 7.0, 40.0, 1e3, 1e6]:
        assert _t_sf(t, 1.0, _t_lbeta(1.0)) == pytest.approx(math.atan2(1.0, t) / math.pi, rel=1e-14, abs=0)
        if t > 1:  # the tail as 1/(2 (2 + t^2) (1 + t/sqrt(2 + t^2))), free of cancellation
            want = 1.0 / ((2.0 + t * t) * (1.0 + t / math.sqrt(2.0 + t * t)))
        else:
            want = 0.5 - t / (2.0 * math.sqrt(2.0 + t * t))
        assert _t_sf(t, 2.0, _t_lbeta(2.0)) == pytest.approx(want, rel=1e-14, abs=0)
    for df in (3, 5, 9, 30):
        for t in [-30.0, -1.0, 0.2, 2.0, 11.0, 300.0]:
            assert _t_sf(t, float(df), _t_lbeta(df)) == pytest.approx(stats.t.sf(t, df), rel=1e-12, abs=0)
    lb = _t_lbeta(5.0)
    assert _t_sf(np.inf, 5.0, lb) == 0.0 and _t_sf(-np.inf, 5.0, lb) == 1.0 and np.isnan(_t_sf(np.nan, 5.0, lb))


@pytest.mark.parametrize("k", [2, 3, 6, 9])
def test_wilcoxon_table_path_equals_the_sign_flips_of_the_ranks(k):
    """Rows without zeros or ties take W+ from the exact null table; every row must
    get what the sign flips of its signed ranks give (ties and zeros included)."""
    from scedsim.inference import between as B

    rng = np.random.default_rng(k)
    for data in (rng.normal(size=(500, k)), rng.integers(-3, 4, (500, k)).astype(float)):
        ranks = np.empty_like(data)
        B._signed_ranks(data, ranks)
        for alt in ("greater", "less", "two-sided"):
            got = between_person_test(data, method="wilcoxon", alternative=alt)
            stat, p, *_ = B._flip_pvalues(ranks, alt, 16, 0, None)
            np.testing.assert_array_equal(got.pvalue, p)
            np.testing.assert_allclose(got.statistic, stat, rtol=0, atol=1e-12)


def test_t_tail_closed_form_equals_the_continued_fraction():
    """The t-test's tail for integer df (A&S 26.7.3-4, used where the tail is >= 1e-3)
    agrees with the continued fraction it replaced to 1e-12 relative, on both sides
    of the switch to the continued fraction in the tails."""
    from scedsim.inference.between import T_CLOSED_MIN, _t_lbeta, _t_sf, _t_tail

    ts = np.concatenate([np.linspace(-12, 12, 481), [0.0, 1e-12, -1e-12, 1e3, -1e3, 1e8]])
    for df in (1, 2, 3, 4, 5, 6, 7, 10, 15, 30, 199, 200):
        lb = _t_lbeta(float(df))
        for t in ts:
            old = _t_sf(t, float(df), lb)
            new = _t_tail(t, float(df), lb)
            assert new == pytest.approx(old, rel=1e-12, abs=0), (df, t)
    # The closed form itself (below the switch it is never used) at a tail of ~1e-3.
    from scipy import stats

    t = stats.t.isf(T_CLOSED_MIN * 1.01, 5)
    assert _t_tail(t, 5.0, _t_lbeta(5.0)) == pytest.approx(stats.t.sf(t, 5), rel=1e-12)


def _brute_int(v, alternative):
    """Exact sign-flip p-values of integer-valued rows (integer arithmetic, all 2^k patterns)."""
    v = np.asarray(v, dtype=np.int64)
    k = v.shape[1]
    signs = 1 - 2 * ((np.arange(2 ** k)[:, None] >> np.arange(k)) & 1)
    sums = v @ signs.T
    obs = v.sum(axis=1)[:, None]
    ge = (sums >= obs).sum(axis=1) / 2 ** k
    le = (sums <= obs).sum(axis=1) / 2 ** k
    return {"greater": ge, "less": le, "two-sided": np.minimum(1.0, 2 * np.minimum(ge, le))}[alternative]


@pytest.mark.parametrize("k", [2, 3, 4, 6, 7, 9])
def test_sign_flip_and_wilcoxon_counts_equal_brute_force(k):
    """The subset-sum counts (k <= 6 directly, k > 6 with a Gray-code walk over the
    rest) equal the exact enumeration in integer arithmetic, ties and zeros included;
    Wilcoxon equals the sign flips of its signed ranks."""
    from scedsim.inference import between as B

    rng = np.random.default_rng(100 + k)
    tenths = np.concatenate([np.round(rng.normal(2, 10.0, (200, k))), rng.integers(-2, 3, (200, k)) * 5.0])
    data = tenths / 10.0    # one decimal: sums that tie exactly are common
    for alt in ("greater", "less", "two-sided"):
        got = between_person_test(data, method="sign_flip", alternative=alt, max_exact=16)
        np.testing.assert_array_equal(got.pvalue, _brute_int(tenths, alt))
        ranks = np.empty_like(data)
        B._signed_ranks(data, ranks)
        w = between_person_test(data, method="wilcoxon", alternative=alt, max_exact=16)
        np.testing.assert_array_equal(w.pvalue, _brute_int(2 * ranks, alt))
