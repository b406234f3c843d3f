"""CDC / DC (Fisher, Kelley & Lomas 2003): worked examples, split-middle groups, the table
of required counts, exact ties, errors, properties, twins and batches, tidy table, CLI, simulator."""
import importlib
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import scedsim as ss
from scedsim import registry
from scedsim.testing import ab_series, exact_cdc

# The module (``scedsim.effect_sizes.cdc`` as an attribute is the function).
C = importlib.import_module("scedsim.effect_sizes.cdc")
TRENDS = ("ols", "bisplit", "trisplit")


def _binom_sf(k, n):
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n


# --------------------------------------------------------------------------- worked examples (METRICS_NEW.md)

@pytest.mark.parametrize("shift", [0, 0.25, 0.5])  # "every c" of the reference rows
def test_worked_example_ols(shift):
    a, b = [18, 20], [19, 18, 20, 19, 18]
    up = ss.cdc(a, b, shift=shift)
    assert (up.count, up.n_b, up.pvalue, up.decision, up.estimate) == (0, 5, 1.0, False, 0.0)
    down = ss.cdc(a, b, improvement="decrease", shift=shift)
    assert (down.count, down.pvalue, down.decision, down.estimate) == (2, 26 / 32, False, 0.4)


def test_worked_example_split():
    a, b = [30, 29, 28, 30, 30, 28], [31, 31, 28, 28, 31, 30, 29]
    bi = ss.cdc(a, b, trend="bisplit")
    tri = ss.cdc(a, b, trend="trisplit")
    assert (bi.count, bi.pvalue) == (1, 0.9921875)
    assert (tri.count, tri.pvalue, tri.decision) == (4, 0.5, False)


def test_worked_tie_is_not_beyond():
    # T = 48 - (t - 2)/3: T(11) = 45 exactly, and B at t = 11 is 45.  R reports 2 (p = .96484375).
    a, b = [48, 47, 49, 47, 49, 46], [48, 48, 45, 48, 45, 46, 46, 45]
    r = ss.cdc(a, b, improvement="decrease", trend="bisplit", shift=0)
    assert (r.count, r.pvalue) == (1, 0.99609375)
    assert exact_cdc(a, b, "decrease", "bisplit", 0) == (1, 2)
    # Decimals standing for the same numbers, and a shift that makes c s rational, tie too.
    r = ss.cdc(np.array(a) / 10, np.array(b) / 10, improvement="decrease", trend="bisplit", shift=0)
    assert r.count == 1


def test_shift_ties_with_rational_sd():
    # A = 0 4 8: mean 4, SD 4, OLS T(t) = 4t - 4; c = .25 adds c s = 1: the trend threshold at t = 4 is 13.
    assert ss.cdc([0, 4, 8], [13, 17.5], shift=0.25).count == 1          # 13 is on the line; 17.5 > 17
    # A = 8 0 4: mean 4, SD 4, falling trend: the mean threshold 5 decides.
    assert ss.cdc([8, 0, 4], [5, 5.0000001, 6], shift=0.25).count == 2    # 5 is on the mean line
    # Decimal shifts are taken as decimals: A = 20 10 0 (mean 10, SD 10, falling trend).
    for trend in TRENDS:
        assert ss.cdc([20, 10, 0], [11, 11.0000001], shift=0.1, trend=trend).count == 1   # 10 + 1
        # 0.3 as a double is just under 3/10; the decimal it stands for puts 13 on the line.
        assert ss.cdc([20, 10, 0], [13, 13.0001], shift=0.3, trend=trend).count == 1
        assert ss.cdc([20, 10, 0], [13], shift=0.3, trend=trend).pvalue == 1.0


def test_constant_baseline():
    r = ss.cdc([3, 3, 3], [3, 4, 2, 5], shift=0.5)
    assert r.count == 2  # SD 0: both lines at 3, the shift moves nothing
    assert ss.cdc([3, 3, 3], [3, 4, 2, 5], improvement="decrease").count == 1


# --------------------------------------------------------------------------- split-middle groups

@pytest.mark.parametrize("m,bi,tri", [
    (2, ([1], [2]), ([1], [2])),
    (3, ([1], [3]), ([1], [3])),
    (4, ([1, 2], [3, 4]), ([1], [4])),
    (5, ([1, 2], [4, 5]), ([1], [5])),
    (6, ([1, 2, 3], [4, 5, 6]), ([1, 2], [5, 6])),
    (7, ([1, 2, 3], [5, 6, 7]), ([1, 2], [6, 7])),
    (9, ([1, 2, 3, 4], [6, 7, 8, 9]), ([1, 2, 3], [7, 8, 9])),
])
def test_split_groups(m, bi, tri):
    for k, want in ((2, bi), (3, tri)):
        g1, s2 = C._split_groups(m, k)
        got = (list(range(1, g1 + 1)), list(range(s2 + 1, m + 1)))
        assert got == (list(want[0]), list(want[1]))
        assert want[0] and want[1] and max(want[0]) < min(want[1])
        if m >= 3 or k == 2:  # the formula's own groups (trisplit at m = 2 would leave both empty)
            assert len(want[0]) == m // k and min(want[1]) == math.ceil(m * (k - 1) / k + 1)


def _line(points, t):
    (t1, y1), (t2, y2) = points
    return y1 + (y2 - y1) * (t - t1) / (t2 - t1)


@pytest.mark.parametrize("m", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("trend", ["bisplit", "trisplit"])
def test_split_line_by_hand(m, trend):
    """B points are placed above / below the hand-made line, none below the mean line."""
    rng = np.random.default_rng(m)
    a = rng.integers(0, 20, m).astype(float)
    g1, s2 = C._split_groups(m, 2 if trend == "bisplit" else 3)
    t = np.arange(1, m + 1)
    pts = ((np.median(t[:g1]), np.median(a[:g1])), (np.median(t[s2:]), np.median(a[s2:])))
    fit = np.array([_line(pts, m + 1 + j) for j in range(6)])
    b = np.maximum(fit, a.mean()) + np.array([0.5, -0.5, 0.5, -0.5, 0.125, -0.25])
    expect = int(np.sum((b > fit) & (b > a.mean())))
    assert ss.cdc(a, b, trend=trend, shift=0).count == expect == exact_cdc(a, b, "increase", trend, 0)[0]


def test_short_split_trends_differ_from_ols():
    # m = 3, A = 1 5 3: bi-split through (1, 1) and (3, 3), T(4) = 4; OLS slope 1 through (2, 3), T(4) = 5.
    assert ss.cdc([1, 5, 3], [4.5, 4.9], trend="bisplit", shift=0).count == 1
    assert ss.cdc([1, 5, 3], [4.5, 4.9], trend="ols", shift=0).count == 0
    # m = 4: tri-split through (1, 0) and (4, 3), T(5) = 4; bi-split through (1.5, 4.5), (3.5, -3).
    a = [0, 9, -9, 3]
    assert ss.cdc(a, [4.5], trend="trisplit", shift=0).count == 1
    assert ss.cdc(a, [4.0], trend="trisplit", shift=0).count == 0   # on the line
    # m = 2: both split trends are the line through the two points.
    for b in ([21, 23, 25, 22], [19.5, 24, 26.5]):
        assert ss.cdc([18, 20], b, trend="trisplit", shift=0).count == ss.cdc([18, 20], b, trend="bisplit",
                                                                                 shift=0).count


# --------------------------------------------------------------------------- decision rules

def test_required_count_table():
    want = {1: None, 2: None, 3: None, 4: None, 5: 5, 6: 6, 7: 7, 8: 7, 9: 8, 10: 9, 11: 9, 12: 10, 13: 10,
            14: 11, 15: 12, 16: 12, 17: 13, 18: 13, 19: 14, 20: 15}
    assert {n: C.cdc_required_count(n) for n in want} == want
    for n in range(1, 60):
        k = C.cdc_required_count(n)
        if k is None:
            assert _binom_sf(n, n) >= 0.05
        else:
            assert _binom_sf(k, n) < 0.05 <= _binom_sf(k - 1, n)
    assert C.cdc_required_count(10, alpha=0.1) == 8
    with pytest.raises(ValueError):
        C.cdc_required_count(0)


def test_fisher_table_and_how_it_differs_from_the_binomial_test():
    """Fisher, Kelley & Lomas's (2003) counts, as given by an independent implementation
    (Spink's CDC-Calculator, 5-23 B points) and matching the counts remembered from the
    paper at 7 and 10 points: one fewer than the exact binomial test at .05 at exactly
    nine lengths, where the accepted count's binomial tail is .055 to .105."""
    published = {5: 5, 6: 6, 7: 6, 8: 7, 9: 8, 10: 8, 11: 9, 12: 9, 13: 10, 14: 11, 15: 12, 16: 12, 17: 12,
                 18: 13, 19: 13, 20: 14, 21: 14, 22: 15, 23: 15}
    assert {n: C.cdc_table_count(n) for n in published} == published == C.FISHER_TABLE
    assert C.cdc_table_count(4) is None and C.cdc_table_count(1) is None
    with pytest.raises(ValueError, match="5 to 23 B points"):
        C.cdc_table_count(24)
    looser = {n for n, k in published.items() if k != C.cdc_required_count(n)}
    assert looser == {7, 10, 12, 17, 19, 20, 21, 22, 23}
    for n in looser:
        k = published[n]
        assert k == C.cdc_required_count(n) - 1
        assert 0.054 < _binom_sf(k, n) < 0.106    # above .05: the binomial test would not accept k
    assert _binom_sf(6, 7) == 8 / 128 and _binom_sf(8, 10) == 56 / 1024


def test_table_decision():
    rng = np.random.default_rng(2)
    for n in (3, 5, 7, 8, 10, 12):
        a = rng.normal(size=(300, 4))
        b = rng.normal(1.5, 1, size=(300, n))
        t = ss.cdc(a, b, decision="table")
        p = ss.cdc(a, b)
        np.testing.assert_array_equal(t.pvalue, p.pvalue)
        need = C.cdc_table_count(n)
        np.testing.assert_array_equal(t.decision, t.count >= (n + 1 if need is None else need))
        if n < 5:
            assert not t.decision.any()
        if n in (5, 8):   # the table and the binomial test agree here
            np.testing.assert_array_equal(t.decision, p.decision)
    # 6 of 7 B points beyond both lines: "systematic change" by the table, not by the binomial test.
    a, b = [1.0, 2.0, 1.5], [9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 0.0]
    t, p = ss.cdc(a, b, decision="table"), ss.cdc(a, b)
    assert t.count == p.count == 6 and t.decision and not p.decision and p.pvalue == 8 / 128
    assert ss.cdc([1, 2, 3], [9, 9, 9, 9, 9], decision="table").decision
    assert not ss.cdc([1, 2, 3], [9, 9, 9, 9], decision="table").decision  # 4 points: none suffices
    with pytest.raises(ValueError, match="alpha = .05"):
        ss.cdc([1, 2, 3], [9, 9, 9, 9, 9], decision="table", alpha=0.1)
    with pytest.raises(ValueError, match="5 to 23 B points"):
        ss.cdc([1, 2, 3], [9.0] * 24, decision="table")


def test_alpha():
    r = ss.cdc([1, 2, 3], [9, 9, 9, 9], alpha=0.1)
    assert r.pvalue == 1 / 16 and r.decision
    assert not ss.cdc([1, 2, 3], [9, 9, 9, 9]).decision


def test_pvalues_are_the_binomial_tail():
    for n in range(1, 25):
        sf = C._binom_sf(n)
        for k in range(n + 1):
            assert sf[k] == _binom_sf(k, n)


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("kw,msg", [
    (dict(trend="split"), "unknown trend"),
    (dict(decision="tables"), "unknown decision"),
    (dict(shift=-0.25), "shift"),
    (dict(shift=float("nan")), "shift"),
    (dict(shift="0.25"), "shift"),
    (dict(alpha=0), "alpha"),
    (dict(alpha=1.5), "alpha"),
    (dict(improvement="up"), "unknown improvement"),
])
def test_bad_options(kw, msg):
    with pytest.raises(ValueError, match=msg):
        ss.cdc([1, 2, 3], [4, 5], **kw)


def test_bad_data():
    with pytest.raises(ValueError, match="at least 2 points in phase A"):
        ss.cdc([1], [4, 5])
    for trend in TRENDS:
        with pytest.raises(ValueError, match="at least 2 points in phase A"):
            ss.cdc([1], [4, 5], trend=trend, shift=0)
    with pytest.raises(ValueError, match="NaN"):
        ss.cdc([1, np.nan, 3], [4, 5])
    with pytest.raises(ValueError, match="NaN"):
        ss.cdc([1, 2, 3], [4, np.nan])
    with pytest.raises(ValueError, match="phase B is empty"):
        ss.cdc([1, 2, 3], [])
    with pytest.raises(ValueError, match="phase A is empty"):
        ss.cdc([], [1, 2])
    with pytest.raises(ValueError, match="too long"):
        ss.cdc(np.zeros(3000), np.ones(10))


# --------------------------------------------------------------------------- exactness

def _decimal_batch(rng, rows, m, n, places):
    a = np.round(rng.integers(-6, 7, (rows, m)) / 10 ** places, places)
    b = np.round(rng.integers(-6, 7, (rows, n)) / 10 ** places, places)
    return a, b


@pytest.mark.parametrize("trend", TRENDS)
@pytest.mark.parametrize("shift", [0, 0.25, 0.5, 0.1, 0.3, 1.0])
def test_counts_equal_exact_arithmetic(trend, shift):
    """Tie-heavy integer and decimal data: the count is the exact strict count, rows and batch alike."""
    rng = np.random.default_rng(11)
    for m, n, places in ((2, 5, 0), (3, 4, 0), (4, 6, 1), (5, 5, 0), (6, 8, 2), (3, 3, 1)):
        a, b = _decimal_batch(rng, 120, m, n, places)
        for imp in ("increase", "decrease"):
            got = ss.cdc(a, b, improvement=imp, trend=trend, shift=shift)
            want = [exact_cdc(a[i], b[i], imp, trend, shift)[0] for i in range(a.shape[0])]
            np.testing.assert_array_equal(got.count, want)


def test_ties_do_occur_in_the_exactness_test():
    # The exactness test above must meet ties (else it would prove little).
    rng = np.random.default_rng(11)
    ties = 0
    for trend in TRENDS:
        for shift in (0, 0.25, 0.5):
            a, b = _decimal_batch(rng, 200, 3, 4, 0)
            ties += sum(lo != hi for lo, hi in (exact_cdc(a[i], b[i], "increase", trend, shift) for i in range(200)))
    assert ties > 50


def test_near_ties_off_the_decimals():
    # A hair above the line counts; on it does not (also far from 0).
    eps = 2.0 ** -40
    assert ss.cdc([0, 1, 2], [3 + eps, 4 - eps], shift=0).count == 1
    assert ss.cdc([0, 1, 2], [3, 4], shift=0).count == 0
    assert ss.cdc([1e9, 1e9 + 1, 1e9 + 2], [1e9 + 3, 1e9 + 4 + 1e-6], shift=0).count == 1


# --------------------------------------------------------------------------- properties

def _oriented(a, b):
    return np.asarray(a, float), np.asarray(b, float)


@settings(max_examples=150, deadline=None)
@given(ab=ab_series(min_a=2, max_a=8, min_b=1, max_b=10), trend=st.sampled_from(TRENDS),
       shift=st.sampled_from([0.0, 0.25, 0.5, 1.0, 0.1]), imp=st.sampled_from(["increase", "decrease"]))
def test_properties(ab, trend, shift, imp):
    a, b = _oriented(*ab)
    r = ss.cdc(a, b, improvement=imp, trend=trend, shift=shift)
    assert 0 <= r.count <= len(b) and r.n_b == len(b)
    assert r.estimate == r.count / len(b)
    assert r.pvalue == _binom_sf(r.count, len(b)) and r.decision == (r.pvalue < 0.05)
    assert math.isnan(r.se) and math.isnan(r.ci_lower) and math.isnan(r.ci_upper)
    # Monotone in the shift.
    assert ss.cdc(a, b, improvement=imp, trend=trend, shift=shift + 0.25).count <= r.count
    # Decrease is increase on negated data.
    other = "decrease" if imp == "increase" else "increase"
    assert ss.cdc(-a, -b, improvement=other, trend=trend, shift=shift).count == r.count
    # Adding a constant and positive scaling (exact on these integers) change nothing.
    assert ss.cdc(a + 7, b + 7, improvement=imp, trend=trend, shift=shift).count == r.count
    for k in (3.0, 0.5):
        assert ss.cdc(a * k, b * k, improvement=imp, trend=trend, shift=shift).count == r.count
    # Tenths (the doubles nearest k/10, read as those decimals).
    assert ss.cdc(a / 10, b / 10, improvement=imp, trend=trend, shift=shift).count == r.count
    assert r.count == exact_cdc(a, b, imp, trend, shift)[0]


@settings(max_examples=60, deadline=None)
@given(ab=ab_series(min_a=2, max_a=7, min_b=1, max_b=8), trend=st.sampled_from(TRENDS))
def test_dc_counts_at_least_cdc(ab, trend):
    a, b = _oriented(*ab)
    assume(np.std(a) > 0)
    assert ss.cdc(a, b, trend=trend, shift=0).count >= ss.cdc(a, b, trend=trend).count


# --------------------------------------------------------------------------- kernel, twin, batches

@pytest.mark.parametrize("trend", TRENDS)
@pytest.mark.parametrize("shift", [0.0, 0.25, 0.3])
def test_kernel_equals_twin_and_batch_equals_rows(trend, shift):
    rng = np.random.default_rng(4)
    for m, n in ((2, 3), (3, 4), (5, 5), (8, 2)):
        a, b = _decimal_batch(rng, 60, m, n, 1)
        a[:10] = rng.normal(size=(10, m))
        b[:10] = rng.normal(size=(10, n))
        kc, pc = C._decimal(shift)
        k1, k2 = np.full((1, 60), -9.0), np.full((1, 60), -9.0)
        args = (C.TREND_CODES[trend], shift, kc, pc)
        C._cdc_2d(a, b, *args, k1)
        C._cdc_2d.twin(a, b, *args, k2)
        np.testing.assert_array_equal(k1, k2)
        batch = ss.cdc(a, b, trend=trend, shift=shift)
        np.testing.assert_array_equal(batch.estimate, k1[0])
        np.testing.assert_array_equal(batch.count / n, k1[0])
        np.testing.assert_array_equal(batch.pvalue, C._binom_sf(n)[batch.count])
        np.testing.assert_array_equal(batch.decision, batch.pvalue < 0.05)
        for i in range(0, 60, 7):
            one = ss.cdc(a[i], b[i], trend=trend, shift=shift)
            assert (one.count, one.pvalue, one.decision, one.estimate) == (
                batch.count[i], batch.pvalue[i], batch.decision[i], batch.estimate[i])
            assert isinstance(one.count, int) and isinstance(one.decision, bool)


def test_batch_results_are_read_only_arrays():
    r = ss.cdc(np.zeros((3, 3)), np.ones((3, 4)))
    assert r.count.tolist() == [4, 4, 4] and r.count.dtype.kind == "i"
    for v in (r.count, r.pvalue, r.decision, r.estimate):
        assert not v.flags.writeable
    assert "batch of 3" in repr(r)


def test_large_batches_split_over_threads_agree():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 6, (70_000, 3)).astype(float)
    b = rng.integers(0, 6, (70_000, 4)).astype(float)
    from scedsim._threads import get_num_threads, set_num_threads

    old = get_num_threads()
    try:
        set_num_threads(1)
        one = ss.cdc(a, b).count
        set_num_threads(4)
        np.testing.assert_array_equal(ss.cdc(a, b).count, one)
    finally:
        set_num_threads(old)


def test_decimal_helper():
    assert C._decimal(0.25) == (25.0, 100.0)
    assert C._decimal(0.0) == (0.0, 1.0)
    assert C._decimal(0.3) == (3.0, 10.0)
    assert C._decimal(1 / 3) == (1 / 3, 1.0)


# --------------------------------------------------------------------------- registry, tidy, CLI, simulator

def test_registry_entries():
    m = registry.get_metric("cdc")
    assert m.func is ss.cdc and m.bounds == (0.0, 1.0) and m.discrete and m.time_ordered and m.min_a == 2
    assert not m.default  # not in the default tables
    assert {r.metric for r in m.references} == {"cdc_exceeding", "cdc_decision"}
    t = registry.get_test("cdc_test")
    assert t.prefix == "p_cdc" and t.min_pvalue({}, 3, 5, 1) == 1 / 32
    a = np.array([[1.0, 2, 3], [3, 2, 1]])
    b = np.array([[9.0, 9, 9, 9, 9], [-9, -9, -9, -9, -9]])
    np.testing.assert_array_equal(t.pvalues(a, b, "increase"), [1 / 32, 1.0])
    np.testing.assert_array_equal(t.pvalues(a, b, "decrease", shift=0), [1.0, 1 / 32])
    t.check({"trend": "bisplit", "shift": 0}, "increase")
    with pytest.raises(ValueError):
        t.check({"trend": "median"}, "increase")
    with pytest.raises(ValueError):
        t.check({"statistic": "nap"}, "increase")


def test_tidy_table(burnout):
    t = ss.effect_sizes(burnout, outcomes=["EE"], improvement="decrease", metrics=["nap", "cdc"],
                        options={"cdc": {"shift": 0, "trend": "bisplit"}})
    c = t[t.metric == "cdc"]
    assert len(c) == burnout[burnout.outcome == "EE"].case.nunique()
    for row in c.itertuples(index=False):
        d = burnout[(burnout.case == row.case) & (burnout.outcome == "EE")].sort_values("session")
        a = d[d.phase == "A"].value.to_numpy()
        b = d[d.phase == "B"].value.to_numpy()
        assert row.estimate == ss.cdc(a, b, improvement="decrease", shift=0, trend="bisplit").estimate
        assert math.isnan(row.se)


@pytest.fixture
def burnout():
    return ss.datasets.load_burnout_example()


def test_cli_es(tmp_path, burnout):
    burnout.to_csv(tmp_path / "d.csv", index=False)
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(ss.__file__).resolve().parents[1]))
    r = subprocess.run([sys.executable, "-m", "scedsim.cli", "es", "d.csv", "--outcome", "EE", "--metrics", "nap,cdc",
                        "--out", "out.csv"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    assert set(out.metric) == {"nap", "cdc"}
    assert out[out.metric == "cdc"].estimate.between(0, 1).all()


def test_study_with_cdc_and_its_test(tmp_path, monkeypatch):
    from scedsim.simulate import Study, run

    monkeypatch.setenv("SCEDSIM_CACHE_DIR", str(tmp_path / "cache"))
    s = Study(design="A3 B5", grid={"level": [0.0, 3.0]},
              metrics=["nap", "cdc", {"name": "cdc_test"}, {"name": "cdc_test", "shift": 0}],
              n_cases=2, n_reps=300, seed=3, block_size=100, n_design=1000,
              rules=["p_cdc < 0.05", "p_cdc[shift=0] < 0.05"])
    res = run(s, quiet=True)
    rate = res.summary[(res.summary.measure == "rejection_rate") & (res.summary.scope == "case")]
    got = {(r.level, r.metric): r.value for r in rate.itertuples(index=False)}
    # Under no effect the binomial test with 5 B points rejects only at count 5 (p = 1/32);
    # with an effect, DC rejects at least as often as CDC.
    assert got[(0.0, "p_cdc")] < 0.1 and got[(0.0, "p_cdc[shift=0]")] < 0.15
    assert got[(3.0, "p_cdc[shift=0]")] >= got[(3.0, "p_cdc")] > 0.5
    mins = res.summary[res.summary.measure == "min_pvalue"]
    assert set(mins.value) == {1 / 32}
    assert "cdc" in set(res.summary.metric)
