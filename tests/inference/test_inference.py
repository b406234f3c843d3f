"""Exact tests: brute-force agreement, exact facts, scan's reference rows, combinations."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scedsim.inference import (combine_pvalues, k_of_n, multiple_baseline_test, permutation_test,
                               randomization_test)
from scedsim.inference.permutation import _perm_u_2d, _u_tables, arrangements
from scedsim.testing import ab_series, reference_cases


def brute_force_p(a, b, stat):
    """Plain-Python exact permutation p-value (greater), exact arithmetic."""
    pooled = [Fraction(v) for v in list(a) + list(b)]
    m = len(a)
    obs = stat(pooled[:m], pooled[m:])
    count = total = 0
    for idx in itertools.combinations(range(len(pooled)), m):
        aa = [pooled[i] for i in idx]
        bb = [pooled[i] for i in range(len(pooled)) if i not in idx]
        count += stat(aa, bb) >= obs
        total += 1
    return count / total


def nap_exact(a, b):
    return Fraction(sum(2 * (y > x) + (y == x) for x in a for y in b), 2 * len(a) * len(b))


def mean_diff_exact(a, b):
    return sum(b) / len(b) - sum(a) / len(a)


@settings(max_examples=150, deadline=None)
@given(ab=ab_series(min_a=1, max_a=5, min_b=1, max_b=5, high=6))
def test_exact_nap_pvalue_equals_brute_force(ab):
    a, b = ab
    assert permutation_test(a, b).pvalue == pytest.approx(brute_force_p(a, b, nap_exact), abs=1e-12)
    r = permutation_test(a, b, improvement="decrease")
    assert r.pvalue == pytest.approx(brute_force_p(-a, -b, nap_exact), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(ab=ab_series(min_a=1, max_a=4, min_b=1, max_b=4, high=6))
def test_exact_generic_statistic_equals_brute_force(ab):
    a, b = ab
    r = permutation_test(a, b, statistic="mean_diff")
    assert r.pvalue == pytest.approx(brute_force_p(a, b, mean_diff_exact), abs=1e-12)


def test_batch_equals_single_and_kernel_equals_twin():
    rng = np.random.default_rng(4)
    a = rng.integers(0, 6, (300, 3)).astype(float)
    b = rng.integers(0, 6, (300, 4)).astype(float)
    a[:100] = rng.normal(size=(100, 3))  # some rows without ties use the table
    b[:100] = rng.normal(size=(100, 4))
    batch = permutation_test(a, b, alternative="two-sided")
    for i in range(0, 300, 37):
        assert batch.pvalue[i] == permutation_test(a[i], b[i], alternative="two-sided").pvalue
    idx_a, idx_b = arrangements(7, 3)
    ge, le = _u_tables(3, 4)
    for alt in (0, 1, 2):
        o1, o2 = np.empty((2, 300)), np.empty((2, 300))
        _perm_u_2d(a, b, idx_a, idx_b, ge, le, alt, alt == 1, o1)
        _perm_u_2d.twin(a, b, idx_a, idx_b, ge, le, alt, alt == 1, o2)
        np.testing.assert_array_equal(o1, o2)


def test_exact_facts_3_plus_4():
    """35 arrangements; the smallest one-sided p is 1/35, reached only by complete separation."""
    idx_a, _ = arrangements(7, 3)
    assert idx_a.shape == (35, 3)
    rows = [(list(c), [i for i in range(7) if i not in c]) for c in itertools.combinations(range(7), 3)]
    a = np.array([r[0] for r in rows], float)
    b = np.array([r[1] for r in rows], float)
    for stat in ("nap", "tau", "ird", "pnd", "mean_diff"):
        p = permutation_test(a, b, statistic=stat).pvalue
        assert p.min() == pytest.approx(1 / 35)
        assert np.flatnonzero(np.isclose(p, 1 / 35)).tolist() == [0]  # A = {0, 1, 2}: complete separation
    # With ties the minimum is larger.
    assert permutation_test([1, 2, 3], [3, 5, 6, 7]).pvalue > 1 / 35


def test_single_series_randomization_floor():
    """One 7-point AB series with min_phase=2: 4 admissible start points, p >= 1/4."""
    r = randomization_test([1, 2, 3], [9, 8, 7, 6], statistic="nap", min_phase=2)
    assert r.n_arrangements == 4 and r.min_pvalue == 0.25 and r.pvalue >= 0.25
    with pytest.raises(ValueError, match="not admissible"):
        randomization_test([1], [2, 3, 4, 5, 6], min_phase=2)


def test_monte_carlo_is_reproducible_and_close_to_exact():
    a, b = [3, 1, 4, 1, 5, 9], [2, 6, 5, 3, 5, 8, 9, 7]
    r1 = permutation_test(a, b, method="monte_carlo", n_resamples=20_000, rng=42)
    r2 = permutation_test(a, b, method="monte_carlo", n_resamples=20_000, rng=42)
    assert r1.pvalue == r2.pvalue and r1.method == "monte_carlo"
    exact = permutation_test(a, b).pvalue
    assert abs(r1.pvalue - exact) <= 4 * math.sqrt(exact * (1 - exact) / 20_000) + 1 / 20_001


STAT = {"Mean B-A": "mean_diff", "Mean A-B": "mean_diff", "Median B-A": "median_diff",
        "Median A-B": "median_diff", "NAP": "nap", "NAP decreasing": "nap"}


def _direction(stat):
    return "decrease" if stat in ("Mean A-B", "Median A-B", "NAP decreasing") else "increase"


def test_scan_rand_test_rows():
    """Every rand_test_p row of the reference data: distribution and p-value."""
    ref = reference_cases("nonoverlap")
    rows = ref[ref.metric == "rand_test_p"]
    assert len(rows) == 1068
    for row in rows.itertuples(index=False):
        opt = dict(p.split("=", 1) for p in row.option.split(";"))
        note = dict(p.split("=", 1) for p in row.note.split(";"))
        res = randomization_test(np.array(row.A.split(), float), np.array(row.B.split(), float),
                                 statistic=STAT[opt["statistic"]], improvement=_direction(opt["statistic"]),
                                 min_phase=int(opt["limit"]), exclude_equal=opt["exclude.equal"] == "TRUE",
                                 return_distribution=True)
        scale = 100 if opt["statistic"].startswith("NAP") else 1
        np.testing.assert_allclose(res.null_distribution * scale, np.array(note["distribution"].split(), float),
                                   atol=1e-9)
        assert res.pvalue == pytest.approx(row.p_value, abs=1e-12)


def _mbd_cases(text):
    out = []
    for c in text.split(";"):
        a, b = c.split("|")
        out.append((np.array(a[2:].split(), float), np.array(b[2:].split(), float)))
    return out


def _exact_mbd_p(cases, stat, exclude_equal):
    """Marascuilo-Busk p in exact rational arithmetic (mean, or median of medians)."""
    def med(v):
        v = sorted(v)
        k = len(v)
        return v[k // 2] if k % 2 else (v[k // 2 - 1] + v[k // 2]) / 2
    sign = -1 if _direction(stat) == "decrease" else 1
    f = {"mean_diff": mean_diff_exact, "median_diff": lambda a, b: med(b) - med(a), "nap": nap_exact}[STAT[stat]]
    agg = med if STAT[stat] == "median_diff" else (lambda v: sum(v) / len(v))
    per, obs = [], []
    for a, b in cases:
        y = [sign * Fraction(v) for v in list(a) + list(b)]
        per.append([f(y[:s], y[s:]) for s in range(2, len(y) - 1)])
        obs.append(f(y[:len(a)], y[len(a):]))
    o = agg(obs)
    vals = [agg(list(c)) for c in itertools.product(*per)]
    return sum((v > o) if exclude_equal else (v >= o) for v in vals) / len(vals)


def test_scan_multiple_baseline_rows():
    """scan's complete Marascuilo-Busk enumeration: the number of combinations and the
    observed statistic always agree; the p-value agrees, or scan split an exact tie
    in floating point (checked against exact rational arithmetic)."""
    ref = reference_cases("mbd")
    split_ties = 0
    for row in ref.itertuples(index=False):
        cases = _mbd_cases(row.cases)
        res = multiple_baseline_test(cases, statistic=STAT[row.statistic], improvement=_direction(row.statistic),
                                     min_phase=2, exclude_equal=bool(row.exclude_equal))
        assert res.n_arrangements == row.n_combinations
        scale = 100 if row.statistic.startswith("NAP") else 1
        assert res.statistic * scale == pytest.approx(row.observed, abs=1e-9)
        if abs(res.pvalue - row.p_value) > 1e-12:
            split_ties += 1
            assert res.pvalue == pytest.approx(float(_exact_mbd_p(cases, row.statistic, bool(row.exclude_equal))),
                                               abs=1e-12)
    assert split_ties <= 0.05 * len(ref)


def test_other_multiple_baseline_schemes():
    cases = [([1, 2, 1], [5, 6, 5, 6]), ([2, 1, 2, 1], [6, 5, 6]), ([1, 1, 2, 2, 1], [7, 6])]
    ww = multiple_baseline_test(cases, scheme="wampold_worsham")
    assert ww.n_arrangements == 6 and ww.pvalue == pytest.approx(1 / 6)
    kl = multiple_baseline_test(cases, scheme="koehler_levin", tier_starts=[[3, 4], [4, 5], [5]])
    assert kl.n_arrangements == 6 * 2 * 2 * 1 and 0 < kl.pvalue <= 1
    with pytest.raises(ValueError, match="needs tier_starts"):
        multiple_baseline_test(cases, scheme="koehler_levin")
    big = [([1, 2, 1, 2, 1], [5, 6, 5, 6, 5, 6, 5])] * 8  # 7^8 combinations: Monte Carlo
    r = multiple_baseline_test(big, max_arrangements=10_000, n_resamples=999, rng=1)
    assert r.method == "monte_carlo" and r.n_arrangements == 1000


def test_combinations_and_counting():
    assert combine_pvalues([0.5]) == pytest.approx(0.5)
    assert combine_pvalues([0.5], "stouffer") == pytest.approx(0.5)
    assert combine_pvalues([0.3, 0.4], "edgington") == pytest.approx(0.7 ** 2 / 2)
    # Fisher: -2 sum ln p against chi-square(2k), by hand for k = 2: sf(x) = exp(-x/2)(1 + x/2).
    x = -2 * (math.log(0.1) + math.log(0.2))
    assert combine_pvalues([0.1, 0.2]) == pytest.approx(math.exp(-x / 2) * (1 + x / 2))
    batch = combine_pvalues(np.array([[0.1, 0.2], [0.5, 0.5]]), "stouffer")
    assert batch.shape == (2,) and batch[1] == pytest.approx(0.5)
    assert k_of_n(1, 6, 1 / 35) == pytest.approx(1 - (34 / 35) ** 6)
    assert k_of_n(0, 6, 0.3) == 1.0
    assert combine_pvalues([0.0, 0.5], "edgington") == pytest.approx(0.125)  # P(U1 + U2 <= .5)
    assert combine_pvalues([0.0, 0.5]) == 0.0  # Fisher: one p of 0 decides
    # Irwin-Hall tails stay accurate for many cases (symmetry and exact arithmetic).
    assert combine_pvalues([0.5] * 40, "edgington") == pytest.approx(0.5, abs=1e-12)
    assert combine_pvalues([0.85] * 40, "edgington") == pytest.approx(1.0, abs=1e-6)
    for bad in ([-0.1, 0.5], [np.nan], [1.5]):
        with pytest.raises(ValueError, match="p-values"):
            combine_pvalues(bad)
    with pytest.raises(ValueError, match="unknown method"):
        combine_pvalues([0.5], "tippett")


def test_arrangements_cache_keeps_a_planner_grid_of_small_designs():
    """A planner visits many (m, n); a count-bounded cache of 64 kept evicting
    them.  The cache is bounded by bytes: every small design stays, a large one is
    still cached, and the arrays are the ones enumerated first."""
    from scedsim.inference.permutation import arrangements

    first = arrangements(7, 3)
    grid = [(t, m) for t in range(4, 17) for m in range(2, t - 1)]
    assert len(grid) > 64  # the old cache's size
    for t, m in grid:
        arrangements(t, m)
    assert arrangements(7, 3) is first
    big = arrangements(20, 10)
    assert big[0].shape == (184756, 10) and arrangements(20, 10) is big
