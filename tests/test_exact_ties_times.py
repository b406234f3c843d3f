"""Exact ties (PET, Tau-BC), the times option, one-point phases and text labels."""
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scedsim as ss
from scedsim.effect_sizes import _kernels as K
from scedsim.effect_sizes._score import ci_table as _ci_table
from scedsim.testing import exact_pet, exact_tau_bc

Z = 1.959963984540054
NEAR = [59.9337748344409, 59.933774834441, 59.9337748344411]


# ----------------------------------------------------------------------------- exact oracles

def _fr(x):
    return Fraction(repr(float(x)))  # the decimal the double stands for


def _median(xs):
    xs = sorted(xs)
    k = len(xs)
    return xs[k // 2] if k % 2 else (xs[k // 2 - 1] + xs[k // 2]) / 2


def oracle_pet(a, b, times):
    a, b, t = [_fr(v) for v in a], [_fr(v) for v in b], [Fraction(int(v)) for v in times]
    m = len(a)
    tbar = sum(t[:m]) / m
    mean = sum(a) / m
    slope = sum((t[i] - tbar) * (a[i] - mean) for i in range(m)) / sum((t[i] - tbar) ** 2 for i in range(m))
    return sum(y > mean + slope * (t[m + j] - tbar) for j, y in enumerate(b)) / len(b)


def oracle_tau_bc(a, b, times, kendall=False):
    a, b, t = [_fr(v) for v in a], [_fr(v) for v in b], [Fraction(int(v)) for v in times]
    m, n = len(a), len(b)
    slope = _median([(a[k] - a[i]) / (t[k] - t[i]) for i in range(m) for k in range(i + 1, m)])
    res = [y - slope * t[i] for i, y in enumerate(a + b)]
    s = sum((y > x) - (y < x) for x in res[:m] for y in res[m:])
    if not kendall:
        return s / (m * n)
    big = m + n
    ties = sum(res[i] == res[j] for i in range(big) for j in range(i + 1, big))
    n0 = big * (big - 1) // 2
    den = math.sqrt((n0 - m * (m - 1) // 2 - n * (n - 1) // 2) * (n0 - ties))
    return s / den if den else 0.0


# Digitized-like values: near-ties a few units in the 13th decimal apart, exact
# decimals on lines, and small integers.
def _values():
    near = st.sampled_from(NEAR + [59.9, 60.0, 0.1, 0.2, 0.3, 0.4])
    return st.one_of(near, st.integers(0, 6).map(float), st.integers(0, 40).map(lambda k: k / 10))


@st.composite
def _series(draw, min_a=2):
    m = draw(st.integers(min_a, 7))
    n = draw(st.integers(1, 7))
    a = draw(st.lists(_values(), min_size=m, max_size=m))
    b = draw(st.lists(_values(), min_size=n, max_size=n))
    gaps = draw(st.lists(st.integers(1, 4), min_size=m + n, max_size=m + n))
    times = np.cumsum(gaps).astype(float) + draw(st.integers(-3, 100))
    return np.array(a), np.array(b), times


@settings(max_examples=300, deadline=None)
@given(_series())
def test_pet_is_exact(case):
    a, b, times = case
    assert ss.pet(a, b, times=times).estimate == oracle_pet(a, b, times)
    pos = np.arange(1.0, len(a) + len(b) + 1)
    assert ss.pet(a, b).estimate == oracle_pet(a, b, pos) == exact_pet(a, b)


@settings(max_examples=300, deadline=None)
@given(_series(), st.booleans())
def test_tau_bc_is_exact(case, kendall):
    a, b, times = case
    got = ss.tau_bc(a, b, times=times, kendall=kendall, se="none").estimate
    assert got == pytest.approx(float(oracle_tau_bc(a, b, times, kendall)), abs=1e-15)
    pos = np.arange(1.0, len(a) + len(b) + 1)
    got = ss.tau_bc(a, b, kendall=kendall, se="none").estimate
    assert got == pytest.approx(float(oracle_tau_bc(a, b, pos, kendall)), abs=1e-15)
    assert got == pytest.approx(exact_tau_bc(a, b, kendall=kendall, se="none")[0], abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(_series(min_a=3))
def test_uncorrected_tau_bc_is_tau(case):
    """Without a correction Tau-BC is Tau on the raw data, ties and all (Rodgers' "Brett"
    in scan's data gave .5128 against tau's .4872 under the old tolerance rule)."""
    a, b, times = case
    for t in (None, times):
        r = ss.tau_bc(a, b, pretest_alpha=0.05, times=t, se="hanley")
        if not r.corrected:
            want = ss.tau(a, b, se="hanley")
            assert (r.estimate, r.se) == (want.estimate, want.se)


def test_near_ties_are_not_ties():
    """Distinct stored decimals are distinct: uncorrected Tau-BC equals tau()."""
    a = [NEAR[0], NEAR[2], 50.0, NEAR[1]]
    b = [NEAR[1], NEAR[2], 70.0]
    tau = ss.tau(a, b).estimate
    r = ss.tau_bc(a, b, pretest_alpha=0.05)
    assert not r.corrected and r.estimate == tau
    # 59.9337748344411 > 59.933774834441 > 59.9337748344409: two wins, one loss, no tie.
    assert ss.tau([NEAR[1]], [NEAR[2], NEAR[0]]).estimate == 0.0
    assert ss.nap([NEAR[0]], [NEAR[1]]).estimate == 1.0
    # A flat baseline has slope 0: the residuals compare as the raw values.
    flat = ss.tau_bc([NEAR[1]] * 3, [NEAR[2], NEAR[0]])
    assert flat.slope == 0.0 and flat.estimate == 0.0


def test_decimal_lines_are_exact():
    """0.1, 0.2, 0.3 lie on a line as decimals (not as doubles): B on it ties, B off it does not."""
    assert ss.pet([0.1, 0.2, 0.3], [0.4, 0.5]).estimate == 0.0
    assert ss.pet([0.1, 0.2, 0.3], [0.4, 0.5000000000001]).estimate == 0.5
    assert ss.tau_bc([0.1, 0.2, 0.3], [0.4, 0.5, 0.7]).estimate == pytest.approx(1 / 3, abs=1e-15)
    # Integer data: the exact ties of METRICS.md.
    assert ss.pet([30, 29, 31], [31, 35]).estimate == 0.5


# ----------------------------------------------------------------------------- times

def test_times_change_the_line():
    a, b = [1.0, 2.0, 3.0], [5.0, 6.0]
    assert ss.pet(a, b).estimate == 1.0
    assert ss.pet(a, b, times=[1, 2, 3, 7, 8]).estimate == 0.0
    assert ss.pet(a, b, times=([1, 2, 3], [7, 8])).estimate == 0.0
    # Shifting the axis changes nothing; positions are times 1..m+n.
    assert ss.pet(a, b, times=[101, 102, 103, 104, 105]).estimate == 1.0
    r = ss.tau_bc(a, b, times=[2, 4, 6, 8, 10])
    assert r.slope == 0.5 and r.intercept == 0.0 and r.estimate == ss.tau_bc(a, b).estimate
    assert ss.tau_bc(a, b, times=[1, 2, 3, 7, 8]).estimate == -1.0


def test_tau_u_depends_on_the_order_of_times_only():
    rng = np.random.default_rng(5)
    for _ in range(50):
        a, b = rng.integers(0, 5, 4).astype(float), rng.integers(0, 5, 5).astype(float)
        times = np.cumsum(rng.integers(1, 5, 9))
        for c in K.CONTRAST_CODES:
            for meth in K.METHOD_CODES:
                x = ss.tau_u(a, b, contrast=c, method=meth).estimate
                y = ss.tau_u(a, b, contrast=c, method=meth, times=times).estimate
                assert (x == y) or (math.isnan(x) and math.isnan(y))


def test_times_per_row_in_a_batch():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 9, (40, 4)).astype(float)
    b = rng.integers(0, 9, (40, 3)).astype(float)
    times = np.cumsum(rng.integers(1, 4, (40, 7)), axis=1).astype(float)
    for fn in (ss.pet, ss.tau_bc):
        batch = fn(a, b, times=times).estimate
        one = [fn(a[i], b[i], times=times[i]).estimate for i in range(40)]
        np.testing.assert_array_equal(batch, one)


def test_times_per_row_in_a_batch_split_over_threads():
    # Above 2 x 32768 rows the batch runs in row blocks; each block needs its own rows of times.
    from scedsim._threads import get_num_threads, set_num_threads

    rows = 70_000
    rng = np.random.default_rng(4)
    a = rng.integers(0, 9, (rows, 4)).astype(float)
    b = rng.integers(0, 9, (rows, 5)).astype(float)
    times = np.tile(np.arange(1.0, 10.0), (rows, 1))
    times[rows // 2:, 4:] += 7.0  # a gap before B in the second half only
    old = get_num_threads()
    try:
        for fn in (ss.pet, ss.tau_bc):
            set_num_threads(2)
            split = fn(a, b, times=times).estimate
            set_num_threads(1)
            np.testing.assert_array_equal(split, fn(a, b, times=times).estimate)
    finally:
        set_num_threads(old)


@pytest.mark.parametrize("times,match", [
    ([1, 2, 3, 4], "one time per point"),
    ([1, 2, 2, 4, 5], "strictly increasing"),
    ([1, 2, 3, 5, 4], "strictly increasing"),
    ([1, 2.5, 3, 4, 5], "whole numbers"),
    ([1, 2, np.nan, 4, 5], "NaN"),
    (["a", "b", "c", "d", "e"], "must be numbers"),
    ([1, 2, 3, 4, 1e9], "too long"),
])
def test_bad_times(times, match):
    # Tau-U uses only the order of the times, so no span is too long for it.
    for fn in (ss.pet, ss.tau_bc) + (() if match == "too long" else (ss.tau_u,)):
        with pytest.raises(ValueError, match=match):
            fn([1, 2, 3], [4, 5], times=times)


CASES = [
    ("pet", K._pet_times_2d, 1, lambda m, n: ()),
    ("tau-bc", K._tau_bc_times_2d, 8, lambda m, n: (False, -1.0, K.SE_UNBIASED, _ci_table(m, n, Z, 1.2e-4), Z)),
    ("tau-bc-kendall-pretest", K._tau_bc_times_2d, 8, lambda m, n: (True, 0.05, K.SE_HANLEY, np.empty((2, 0)), Z)),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(1, 6), st.integers(1, 5), st.booleans(), st.integers(0, 2**31))
def test_times_kernels_equal_twins(case, m, n, rows, shared, seed):
    _, kern, fields, args = case
    rng = np.random.default_rng(seed)
    a = rng.choice(NEAR + [0.1, 0.2, 3.0], (rows, m))
    b = rng.choice(NEAR + [0.1, 0.2, 3.0], (rows, n))
    times = np.cumsum(rng.integers(1, 4, (1 if shared else rows, m + n)), axis=1).astype(float)
    out_k = np.full((fields, rows), -99.0)
    out_p = np.full((fields, rows), -99.0)
    kern(a, b, times, *args(m, n), out_k)
    kern.twin(a, b, times, *args(m, n), out_p)
    np.testing.assert_array_equal(out_k, out_p)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=9),
       st.lists(st.integers(-1000, 1000), min_size=9, max_size=9))
def test_exact_dot_sign(xs, cs):
    k = len(xs)
    c = np.array(cs[:k], float)
    x = np.array(xs, float)
    exact = sum(Fraction(int(ci)) * Fraction(xi) for ci, xi in zip(c, x))
    want = (exact > 0) - (exact < 0)
    terms, h = np.empty(2 * k), np.empty(2 * k)
    assert K._dot_sign(c, x, k, terms, h) == want == K._dot_sign.twin(c, x, k, terms, h)


# ----------------------------------------------------------------------------- one-point phases

def test_one_point_phases_give_the_estimate():
    for fn in (ss.nap, ss.tau):
        r = fn([1.0, 3.0, 2.0], [4.0])
        assert r.estimate == (1.0 if fn is ss.nap else 1.0) and math.isnan(r.se)
        assert r.ci_lower < r.ci_upper
        assert math.isfinite(fn([1.0, 3.0, 2.0], [4.0], se="hanley").se)
        r = fn([2.0], [1.0, 3.0])
        assert r.estimate == (0.5 if fn is ss.nap else 0.0) and math.isnan(r.se)
    r = ss.tau_bc([1.0, 3.0, 2.0], [4.0])
    assert math.isfinite(r.estimate) and math.isnan(r.se) and r.ci_lower < r.ci_upper
    # The estimate itself needs 2 baseline points for the Theil-Sen slope.
    with pytest.raises(ValueError, match="at least 2 points in phase A"):
        ss.tau_bc([1.0], [2.0, 3.0])


def test_lrr_one_point_phase_is_nan():
    r = ss.lrr([1.0, 2.0, 3.0], [4.0])
    assert math.isnan(r.estimate) and math.isnan(r.se)
    r = ss.lrr([1.0, 2.0, 3.0], [4.0], bias_correct=False)
    assert r.estimate == pytest.approx(math.log(2.0)) and math.isnan(r.se)
    assert math.isfinite(ss.lrr([1.0, 2.0, 3.0], [4.0, 6.0]).se)


def test_tidy_notes_for_one_point_phases_and_gaps():
    df = pd.DataFrame({"case": ["x"] * 6, "session": [1, 2, 3, 4, 7, 8],
                       "phase": ["A", "A", "A", "A", "B", "B"], "outcome": "y",
                       "value": [1.0, 2.0, 3.0, 4.0, 6.0, 7.0]})
    t = ss.effect_sizes(df, metrics=["pet", "tau_bc", "tau_u"])
    notes = dict(zip(t.metric, t.notes))
    assert "irregular sessions" in notes["pet"] and "irregular sessions" in notes["tau_bc"]
    assert notes["tau_u"] == ""
    s = ss.effect_sizes(df, metrics=["pet", "tau_bc"], times="session")
    assert (s.notes == "").all()
    assert s.estimate.tolist() == [ss.pet([1, 2, 3, 4], [6, 7], times=[1, 2, 3, 4, 7, 8]).estimate,
                                   ss.tau_bc([1, 2, 3, 4], [6, 7], times=[1, 2, 3, 4, 7, 8]).estimate]
    assert t.estimate.tolist()[0] == ss.pet([1, 2, 3, 4], [6, 7]).estimate
    with pytest.raises(ValueError, match="unknown times"):
        ss.effect_sizes(df, times="sessions")
    one = df.iloc[:5]
    t = ss.effect_sizes(one, metrics=["nap", "tau_bc", "lrr"])
    row = t.set_index("metric")
    assert row.loc["nap", "estimate"] == 1.0 and math.isnan(row.loc["nap", "se"])
    assert "SE needs 2 points per phase" in row.loc["nap", "notes"]
    assert "SE needs 2 points per phase" in row.loc["tau_bc", "notes"]
    assert math.isnan(row.loc["lrr", "estimate"]) and "LRR's variance needs 2 points" in row.loc["lrr", "notes"]


# ----------------------------------------------------------------------------- labels as text

def test_phase_and_case_labels_are_text(tmp_path):
    from scedsim import cli
    from scedsim.io import read_table

    p = tmp_path / "labels.csv"
    p.write_text("case,session,phase,outcome,value\n"
                 "01,1,1,y,1\n01,2,1,y,2\n01,3,01,y,5\n01,4,01,y,6\n01,5,1.0,y,7\n01,6,1.0,y,8\n")
    df = read_table(p)
    assert df.phase.tolist() == ["1", "1", "01", "01", "1.0", "1.0"] and df.case[0] == "01"
    t = ss.effect_sizes(df, contrast=["1:01", "1:1.0"], metrics=["nap"])
    assert t.contrast.tolist() == ["1:01", "1:1.0"] and t.case.tolist() == ["01", "01"]
    assert t.n_a.tolist() == [2, 2] and t.n_b.tolist() == [2, 2]
    out = tmp_path / "out.csv"
    assert cli.main(["es", str(p), "--contrast", "1:01", "--metrics", "nap,pet", "--times", "session",
                     "--out", str(out)]) == 0
    res = pd.read_csv(out, dtype={"case": str})
    assert res.case.tolist() == ["01", "01"] and res.contrast.tolist() == ["1:01", "1:01"]
