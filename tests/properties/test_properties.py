"""Hypothesis properties of every metric, on integer data where ties are common."""
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import scedsim as ss
from scedsim import registry
from scedsim.testing import ab_batches, ab_series, metric_properties

# Every built-in metric, from the registry: a new metric is tested without edits here.
ALL = [n for n, m in registry.metrics().items() if not m.user]
PROPS = {n: metric_properties(n) for n in ALL}


def call(name, a, b, **kw):
    """The metric's estimate, or None where the input is too short for it."""
    m = registry.get_metric(name)
    try:
        return m.func(a, b, **{**m.required, **kw})
    except ValueError:
        return None


def same(x, y, tol=1e-12):
    x, y = np.asarray(x, float), np.asarray(y, float)
    return np.allclose(x, y, rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("name", [n for n in ALL if PROPS[n]["bounds"]])
@given(ab=ab_series())
def test_bounds(name, ab):
    r = call(name, *ab)
    assume(r is not None)
    lo, hi = PROPS[name]["bounds"]
    assert lo <= r.estimate <= hi
    if not math.isnan(r.ci_lower) and name in ("nap", "tau", "tau_bc"):
        assert lo <= r.ci_lower <= r.estimate <= r.ci_upper <= hi


@given(ab=ab_series(min_a=2))
def test_tau_u_parker_range(ab):
    a, b = ab
    m, n = len(a), len(b)
    v = ss.tau_u(a, b).estimate
    assert abs(v) <= (2 * n + m - 1) / (2 * n) + 1e-12
    for method in ("complete", "tarlow"):
        for contrast in ("ab", "ab_plus_trend_b", "ab_plus_trend_b_minus_trend_a"):
            w = ss.tau_u(a, b, method=method, contrast=contrast).estimate
            assert math.isnan(w) or abs(w) <= 1 + 1e-12


@pytest.mark.parametrize("name", ALL)
@given(ab=ab_series())
def test_decrease_equals_negated_data(name, ab):
    a, b = ab
    if not registry.get_metric(name).directed:  # the direction is in its options (a goal)
        r1, r2 = call(name, a, b, improvement="decrease"), call(name, a, b)
        assume(r1 is not None)
        for f in ("estimate", "se", "ci_lower", "ci_upper"):
            assert same(getattr(r1, f), getattr(r2, f)), f
        return
    if not registry.get_metric(name).oriented:  # a ratio of raw values: decrease flips the sign instead
        r1, r2 = call(name, a, b, improvement="decrease"), call(name, a, b)
        assume(r1 is not None)
        assert same(r1.estimate, -r2.estimate)
        return
    r1 = call(name, a, b, improvement="decrease")
    r2 = call(name, -a, -b)
    assume(r1 is not None)
    for f in ("estimate", "se", "ci_lower", "ci_upper"):
        assert same(getattr(r1, f), getattr(r2, f)), f


@given(ab=ab_series())
def test_swap_phases(ab):
    a, b = ab
    assert same(ss.nap(b, a, se="hanley").estimate, 1 - ss.nap(a, b, se="hanley").estimate)
    assert same(ss.tau(b, a, se="hanley").estimate, -ss.tau(a, b, se="hanley").estimate)
    for name in ("nap", "tau", "pand", "ird"):
        kw = {"se": "hanley"} if name in ("nap", "tau") else {}
        r1 = registry.get_metric(name).func(a, b, **kw)
        r2 = registry.get_metric(name).func(b, a, improvement="decrease", **kw)
        assert same(r1.estimate, r2.estimate), name
    # The score interval mirrors: CI(1 - NAP) with roles swapped = 1 - CI(NAP).
    r1, r2 = ss.nap(a, b, se="none"), ss.nap(b, a, se="none")
    assert same(r1.ci_lower, 1 - r2.ci_upper, 1e-9) and same(r1.ci_upper, 1 - r2.ci_lower, 1e-9)


@given(ab=ab_series(min_a=2, min_b=2))
def test_smd_swap_pooled(ab):
    a, b = ab
    r1 = ss.smd(a, b, std_dev="pool", bias_correct=False)
    r2 = ss.smd(b, a, std_dev="pool", bias_correct=False)
    assert same(r1.estimate, -r2.estimate, 1e-9)


def _transform(x):
    return np.exp(x / 4.0) + x ** 3  # strictly increasing on the reals


@pytest.mark.parametrize("name", [n for n in ALL if PROPS[n]["rank"]])
@given(ab=ab_series())
def test_invariant_to_increasing_transforms(name, ab):
    a, b = ab
    r1, r2 = call(name, a, b), call(name, _transform(a), _transform(b))
    assume(r1 is not None)
    assert same(r1.estimate, r2.estimate)


@given(ab=ab_series(), contrast=st.sampled_from(["ab", "trend_a", "trend_b", "ab_minus_trend_a",
                                                    "ab_plus_trend_b", "ab_plus_trend_b_minus_trend_a"]),
       method=st.sampled_from(["parker", "complete", "tarlow"]))
def test_tau_u_rank_invariance_all_variants(ab, contrast, method):
    a, b = ab
    r1 = call("tau_u", a, b, contrast=contrast, method=method)
    assume(r1 is not None)
    assert same(r1.estimate, ss.tau_u(_transform(a), _transform(b), contrast=contrast, method=method).estimate)


@given(ab=ab_series(min_a=3, max_a=9).filter(lambda t: len(t[0]) % 2 == 1))
def test_pem_median_rank_invariance_odd_baseline(ab):
    # With an odd baseline the median is a data value, so PEM depends on ranks only.
    a, b = ab
    assert same(ss.pem(a, b).estimate, ss.pem(_transform(a), _transform(b)).estimate)


@pytest.mark.parametrize("name", ["tau_bc", "pet", "smd"])
@given(ab=ab_series(min_a=3), scale=st.sampled_from([0.5, 2.0, 3.0, 10.0]),
       shift=st.sampled_from([-7.0, 0.0, 2.5, 100.0]))
def test_affine_invariance(name, ab, scale, shift):
    a, b = ab
    r1, r2 = call(name, a, b), call(name, scale * a + shift, scale * b + shift)
    assume(r1 is not None)
    assert same(r1.estimate, r2.estimate, 1e-9)


@given(ab=ab_series(min_a=2, min_b=2), scale=st.sampled_from([2.0, 7.0]))
def test_lrr_scale_invariance(ab, scale):
    # Away from the floors (mean >= 1/(2n), variance >= 1/n^3) the ratio is scale-free:
    # positive counts, and an extra point that makes each phase vary.
    a = np.r_[ab[0], ab[0][0] + 1] + 1
    b = np.r_[ab[1], ab[1][0] + 1] + 1
    r1, r2 = ss.lrr(a, b, bias_correct=False), ss.lrr(scale * a, scale * b, bias_correct=False)
    assert same(r1.estimate, r2.estimate, 1e-9) and same(r1.se, r2.se, 1e-9)


@pytest.mark.parametrize("name", [n for n in ALL if PROPS[n]["order_free"]])
@given(ab=ab_series(), data=st.data())
def test_order_within_phase_ignored(name, ab, data):
    a, b = ab
    pa = data.draw(st.permutations(list(range(len(a)))))
    pb = data.draw(st.permutations(list(range(len(b)))))
    r1, r2 = call(name, a, b), call(name, a[pa], b[pb])
    assume(r1 is not None)
    for f in ("estimate", "se", "ci_lower", "ci_upper"):
        assert same(getattr(r1, f), getattr(r2, f), 1e-9), f


@given(ab=ab_series(), se=st.sampled_from(["unbiased", "hanley", "null", "none"]))
def test_tau_is_2nap_minus_1(ab, se):
    r1, r2 = call("nap", *ab, se=se), call("tau", *ab, se=se)
    assume(r1 is not None)
    assert same(r2.estimate, 2 * r1.estimate - 1)
    assert same(r2.se, 2 * r1.se)
    assert same(r2.ci_lower, 2 * r1.ci_lower - 1) and same(r2.ci_upper, 2 * r1.ci_upper - 1)


def test_ird_floor_is_one_eighth_for_3_plus_4():
    # Complete overlap of 3 + 4 points removes r = 3: IRD = 1 - 7*3/24 = 1/8.
    assert ss.ird([5, 5, 5], [5, 5, 5, 5]).estimate == pytest.approx(1 / 8)


KWARGS = {
    "nap": [{}, {"se": "hanley"}, {"se": "null"}],
    "tau": [{}, {"se": "hanley"}],
    "pem": [{}, {"ties": "strict", "center": "mean"}],
    "tau_u": [{"method": m, "contrast": c} for m in ("parker", "complete", "tarlow")
              for c in ("ab", "ab_minus_trend_a", "ab_plus_trend_b_minus_trend_a")],
    "tau_bc": [{}, {"kendall": True}, {"pretest_alpha": 0.1}],
    "smd": [{}, {"std_dev": "pool", "bias_correct": False}],
    "lrr": [{}, {"kind": "lrrd"}],
}


@pytest.mark.parametrize("name", ALL)
@given(batch=ab_batches(), data=st.data())
def test_batch_equals_loop(name, batch, data):
    a, b = batch
    kw = data.draw(st.sampled_from(KWARGS.get(name, [{}])))
    imp = data.draw(st.sampled_from(["increase", "decrease"]))
    r = call(name, a, b, improvement=imp, **kw)
    assume(r is not None)
    fields = ["estimate", "se", "ci_lower", "ci_upper"] + (
        ["slope", "intercept", "pretest_pvalue", "corrected"] if name == "tau_bc" else [])
    for i in range(a.shape[0]):
        one = call(name, a[i], b[i], improvement=imp, **kw)
        for f in fields:
            # Batches use a tabulated score interval, single calls solve it directly.
            assert same(getattr(r, f)[i], getattr(one, f), 1e-12), (f, i)
