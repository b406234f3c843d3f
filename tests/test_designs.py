"""Randomized designs: exact counts against brute force, enumeration, uniform draws,
the generic randomization test against the existing AB / ABAB / multiple-baseline
tests and against p-values computed by hand."""
import itertools
import json
import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import scedsim as ss
from scedsim import designs as D
from scedsim.inference import abab_test, multiple_baseline_test, randomization_test


def runs(seq):
    return [(k, len(list(g))) for k, g in itertools.groupby(seq)]


# ----------------------------------------------------------------- brute force, independent of the module

def brute_phase(n, phases, min_phase):
    labels = list(dict.fromkeys(phases))
    want = [labels.index(c) for c in phases]
    out = set()
    for seq in itertools.product(range(len(labels)), repeat=n):
        r = runs(seq)
        if [k for k, _ in r] == want and min(m for _, m in r) >= min_phase:
            out.add(seq)
    return out


def brute_atd(n, k, counts, max_run):
    out = set()
    for seq in itertools.product(range(k), repeat=n):
        if tuple(seq.count(c) for c in range(k)) != tuple(counts):
            continue
        if max_run is not None and max(m for _, m in runs(seq)) > max_run:
            continue
        out.add(seq)
    return out


def brute_rbd(n_blocks, k):
    out = set()
    for seq in itertools.product(range(k), repeat=n_blocks * k):
        if all(sorted(seq[b * k:(b + 1) * k]) == list(range(k)) for b in range(n_blocks)):
            out.add(seq)
    return out


def brute_mb(n_time, sets, permute):
    """Multiset of per-case start vectors over every equally likely draw."""
    draws = Counter()
    orders = itertools.permutations(range(len(sets))) if permute else [tuple(range(len(sets)))]
    for order in orders:
        for combo in itertools.product(*sets):
            m = [None] * len(sets)
            for tier, case in enumerate(order):
                m[case] = combo[tier]
            draws[tuple(m)] += 1
    return draws


def as_set(design):
    a = design.assignments()
    return {tuple(x.ravel().tolist()) for x in a}, len(a)


@pytest.mark.parametrize("n,phases,k", [(7, "AB", 3), (7, "AB", 2), (10, "AB", 1), (9, "ABA", 2),
                                         (10, "ABAB", 2), (9, "ABAB", 1), (10, "ABC", 3), (8, "ABAB", 2)])
def test_phase_design_count_and_set_match_brute_force(n, phases, k):
    d = D.PhaseDesign(n, phases, k)
    want = brute_phase(n, phases, k)
    got, size = as_set(d)
    assert d.n_assignments() == len(want) == size and got == want


@pytest.mark.parametrize("n,conds,counts,max_run", [(8, "AB", (4, 4), 2), (8, "AB", (4, 4), 1),
                                                    (9, "AB", (4, 5), 2), (9, "ABC", (3, 3, 3), 1),
                                                    (9, "ABC", (3, 3, 3), 2), (8, "AB", (3, 5), None),
                                                    (10, "AB", (5, 5), 3)])
def test_atd_and_crd_count_and_set_match_brute_force(n, conds, counts, max_run):
    d = D.AlternatingTreatments(n, conds, max_run, counts) if max_run else \
        D.CompletelyRandomized(n, conds, counts)
    want = brute_atd(n, len(conds), counts, max_run)
    got, size = as_set(d)
    assert d.n_assignments() == len(want) == size and got == want


@pytest.mark.parametrize("blocks,conds", [(4, "AB"), (2, "ABC"), (1, "ABCD")])
def test_rbd_count_and_set_match_brute_force(blocks, conds):
    d = D.RandomizedBlock(blocks, conds)
    want = brute_rbd(blocks, len(conds))
    got, size = as_set(d)
    assert d.n_assignments() == len(want) == size == math.factorial(len(conds)) ** blocks and got == want


@pytest.mark.parametrize("sets,scheme", [([[2, 3, 4]] * 3, "marascuilo_busk"),
                                         ([[2, 3], [4, 5], [6]], "koehler_levin"),
                                         ([[2, 3], [3, 4], [4, 5]], "koehler_levin"),
                                         ([[2], [4], [6]], "wampold_worsham"),
                                         ([[2, 3], [5]], "marascuilo_busk")])
def test_mb_count_set_and_min_p_match_brute_force(sets, scheme):
    d = D.MultipleBaseline(8, sets, scheme=scheme)
    draws = brute_mb(8, sets, scheme != "marascuilo_busk")
    assert d.n_assignments() == sum(draws.values())
    got = Counter(tuple(int((row == 0).sum()) for row in a) for a in d.assignments())
    assert got == draws
    assert d.min_p() == min(draws.values()) / sum(draws.values())


def test_published_and_stated_counts():
    # The seven-point study of issue 12: AB with >= 3 points per phase has 2 start points;
    # the 3 + 4 exact test cannot go below 1/35.
    assert D.AB(7, min_phase=3).n_assignments() == 2
    assert D.CompletelyRandomized(7, n_per_condition=[3, 4]).min_p() == 1 / 35
    # Onghena's (1992) ABAB count, as in abab_test's docstring: 12 occasions, >= 2 per phase.
    assert D.ABAB(12, min_phase=2).n_assignments() == 35
    # The closed form C(n - 4k + 3, 3) at n = 24, k = 4.
    assert D.ABAB(24, min_phase=4).n_assignments() == math.comb(11, 3) == 165
    # multiple_baseline_test's reference sets (its docstring): 6^3, 3!, 3! 2^3.
    assert D.MultipleBaseline(9, n_cases=3, min_phase=2).n_assignments() == 216
    assert D.MultipleBaseline(9, [[3], [4], [5]], scheme="wampold_worsham").n_assignments() == 6
    assert D.MultipleBaseline(9, [[3, 4], [4, 5], [5, 6]], scheme="koehler_levin").n_assignments() == 48
    assert D.count("CRD", n_time=12) == 924 and D.count("RBD", n_blocks=5) == 32
    assert D.AB(20, min_phase=5).min_p("two-sided") == 2 / 11


@given(st.integers(2, 40), st.integers(2, 5), st.integers(1, 6))
def test_phase_count_formula_matches_its_enumeration(n, p, k):
    phases = "AB" * (p // 2) + "A" * (p % 2)
    if p * k > n:
        with pytest.raises(ValueError, match="cannot hold"):
            D.PhaseDesign(n, phases, k)
        return
    d = D.PhaseDesign(n, phases, k)
    lengths = list(d.lengths())
    if d.n_assignments() <= 20000:
        assert len(lengths) == len(set(lengths)) == d.n_assignments()
        assert all(sum(L) == n and min(L) >= k for L in lengths)


# ----------------------------------------------------------------- draws

@pytest.mark.parametrize("design", [D.AlternatingTreatments(8, max_run=2), D.ABAB(10, min_phase=2),
                                    D.MultipleBaseline(8, [[2, 3], [3, 4], [5]], scheme="koehler_levin"),
                                    D.RandomizedBlock(3), D.CompletelyRandomized(6)],
                         ids=lambda d: d.family)
def test_sample_is_uniform_over_the_admissible_set(design):
    R = 6000
    a = design.sample(np.random.default_rng(7), R)
    assert all(design.contains(x) for x in a[:200])
    keys = Counter(x.tobytes() for x in a)
    allowed = Counter(x.tobytes() for x in design.assignments())
    assert set(keys) <= set(allowed)
    expected = np.array([R * allowed[k] / sum(allowed.values()) for k in allowed])
    observed = np.array([keys.get(k, 0) for k in allowed])
    # A fixed seed: this fails only if the sampler is not uniform (p < 1e-4 for a fair one).
    assert stats.chisquare(observed, expected).pvalue > 1e-4


def test_draw_depends_only_on_the_seed():
    d = D.AlternatingTreatments(16, "ABC" if False else "AB", max_run=2)
    assert (d.draw(5) == d.draw(np.random.default_rng(5))).all()
    s1, s2 = d.schedule(11), d.schedule(11)
    assert (s1.assignment == s2.assignment).all() and s1.seed == 11
    assert not all((d.schedule(s).assignment == s1.assignment).all() for s in range(12, 16))


# ----------------------------------------------------------------- the test

def test_ab_design_test_equals_randomization_test():
    rng = np.random.default_rng(3)
    y = rng.normal(size=11).round(1)
    d = D.AB(11, min_phase=2)
    for m in (2, 5, 9):
        obs = "A" * m + "B" * (11 - m)
        for stat in ("mean_diff", "nap"):
            for alt in ("greater", "two-sided"):
                got = d.test(y, obs, statistic=stat, alternative=alt)
                want = randomization_test(y[:m], y[m:], statistic=stat, min_phase=2, alternative=alt)
                assert got.pvalue == pytest.approx(want.pvalue, abs=1e-12)
                assert got.n_arrangements == want.n_arrangements
                assert got.statistic == pytest.approx(want.statistic)


def test_abab_design_test_equals_abab_test():
    phases = [[2, 3, 2], [6, 7, 6], [3, 2, 3], [7, 8, 7]]
    y = np.concatenate(phases)
    got = D.ABAB(12, min_phase=2).test(y, "AAABBBAAABBB")
    want = abab_test(phases)
    assert got.pvalue == pytest.approx(want.pvalue) and got.pvalue == pytest.approx(1 / 35)
    got = D.ABAB(12, min_phase=2).test(y, "AAABBBAAABBB", statistic="median_diff", improvement="decrease")
    want = abab_test(phases, statistic="median_diff", improvement="decrease")
    assert got.pvalue == pytest.approx(want.pvalue)


@pytest.mark.parametrize("scheme,sets", [("marascuilo_busk", None), ("koehler_levin", [[3, 4], [4, 5], [5, 6]]),
                                         ("wampold_worsham", [[3], [4], [5]])])
def test_mb_design_test_equals_multiple_baseline_test(scheme, sets):
    rng = np.random.default_rng(1)
    y = rng.normal(size=(3, 9)).round(2)
    m = [3, 4, 5]
    cases = [(y[k, :m[k]], y[k, m[k]:]) for k in range(3)]
    d = D.MultipleBaseline(9, sets, n_cases=3, scheme=scheme, min_phase=2)
    obs = [["A"] * mk + ["B"] * (9 - mk) for mk in m]
    got = d.test(y, obs)
    want = multiple_baseline_test(cases, scheme=scheme, tier_starts=sets, min_phase=2)
    assert got.pvalue == pytest.approx(want.pvalue, abs=1e-12)
    assert got.n_arrangements == want.n_arrangements


def test_atd_exact_p_by_hand():
    # 6 occasions, 3 A and 3 B, at most 2 in a row: the admissible sequences by hand.
    d = D.AlternatingTreatments(6, max_run=2)
    hand = [s for s in ("".join(c) for c in itertools.product("AB", repeat=6))
            if s.count("A") == 3 and "AAA" not in s and "BBB" not in s]
    assert d.n_assignments() == len(hand) == 14
    y = np.array([1, 4, 2, 6, 3, 5])
    obs = "ABABAB"
    stat = {s: Fraction(sum(int(v) for v, c in zip(y, s) if c == "B"), 3)
            - Fraction(sum(int(v) for v, c in zip(y, s) if c == "A"), 3) for s in hand}
    p = Fraction(sum(v >= stat[obs] for v in stat.values()), len(hand))
    r = d.test(y, obs)
    assert r.pvalue == pytest.approx(float(p), abs=1e-15) and p == Fraction(1, 14)
    r = d.test(y, obs, alternative="less")
    assert r.pvalue == pytest.approx(float(Fraction(sum(v <= stat[obs] for v in stat.values()), 14)))
    # Decrease: the data's sign flips, so the lower tail of the increase test.
    assert d.test(y, obs, improvement="decrease").pvalue == pytest.approx(1.0)


def test_rbd_three_conditions_contrast_and_custom():
    d = D.RandomizedBlock(2, "ABC")
    y = [1, 2, 9, 9, 1, 2]
    obs = "ABCCAB"
    r = d.test(y, obs, contrast=("A", "C"))
    # C is the highest in both blocks: only orders with C at positions 3 and 4 are as extreme.
    assert r.pvalue == pytest.approx(1 / 36) and r.n_arrangements == 36
    c = D.Custom(["AABB", "ABAB", "ABBA", "BAAB"])
    r = c.test([1, 1, 5, 5], "AABB")
    assert r.pvalue == pytest.approx(1 / 4) and c.min_p() == 0.25


def test_monte_carlo_fallback_is_near_the_exact_p():
    d = D.AlternatingTreatments(16, max_run=3)
    y = np.random.default_rng(2).normal(size=16) + np.array([0, 1] * 8) * 0.6
    obs = d.draw(4)
    exact = d.test(y, obs)
    mc = d.test(y, obs, max_arrangements=100, n_resamples=4000, rng=9)
    assert mc.method == "monte_carlo" and exact.method == "exact"
    se = math.sqrt(exact.pvalue * (1 - exact.pvalue) / 4000)
    assert abs(mc.pvalue - exact.pvalue) < 4 * se + 1 / 4000


def test_validation_messages():
    d = D.AB(8, min_phase=3)
    with pytest.raises(ValueError, match="not admissible"):
        d.test(np.arange(8.0), "AABBBBBB")
    with pytest.raises(ValueError, match="NaN"):
        d.test([1, 2, np.nan, 4, 5, 6, 7, 8], "AAAABBBB")
    with pytest.raises(ValueError, match="unknown condition 'C'"):
        d.test(np.arange(8.0), "AAAACBBB")
    with pytest.raises(ValueError, match="8 occasions"):
        d.test(np.arange(7.0), "AAAABBBB")
    with pytest.raises(ValueError, match="contrast"):
        d.test(np.arange(8.0), "AAAABBBB", contrast=("A", "A"))
    with pytest.raises(ValueError, match="cannot hold"):
        D.ABAB(10, min_phase=3)
    with pytest.raises(ValueError, match="do not split equally"):
        D.AlternatingTreatments(7)
    with pytest.raises(ValueError, match="no sequence"):
        D.AlternatingTreatments(8, max_run=1, n_per_condition=[3, 5])
    with pytest.raises(ValueError, match="max_count"):
        D.CompletelyRandomized(30).assignments()
    with pytest.raises(ValueError, match="unknown design family"):
        D.make("XYZ1")
    with pytest.raises(ValueError, match="twice"):
        D.Custom(["AB", "AB"])
    with pytest.raises(ValueError, match="wampold_worsham"):
        D.MultipleBaseline(9, [[3, 4], [5]], scheme="wampold_worsham")


@pytest.mark.parametrize("text", ["AB n_time=20 min_phase=5", "ABAB n_time=24 min_phase=4",
                                  "ATD n_time=12 conditions=AB max_run=2", "CRD n_time=7 conditions=AB n_per_condition=3/4",
                                  "RBD n_blocks=5 conditions=ABC",
                                  "MB n_time=15 starts=4-5,7-8,10-11 n_cases=3 scheme=koehler_levin",
                                  "MB n_time=15 starts=4-11 n_cases=3 scheme=marascuilo_busk"])
def test_parse_describe_spec_round_trip(text):
    d = D.parse(text)
    assert d.describe() == text
    assert D.from_spec(d.spec()).n_assignments() == d.n_assignments()


def test_schedule_file_round_trip(tmp_path):
    d = D.MultipleBaseline(10, [[3, 4], [5, 6], [7]], scheme="koehler_levin")
    s = d.schedule(2024, case_names=["ann", "bob", "cy"])
    s.write(tmp_path / "s.json")
    back = D.Schedule.read(tmp_path / "s.json")
    assert (back.assignment == s.assignment).all() and back.case_names == ("ann", "bob", "cy")
    assert back.design.describe() == d.describe() and back.seed == 2024
    t = back.table()
    assert list(t.columns) == ["case", "session", "phase"] and len(t) == 30
    assert "ann" in s.text() and ss.designs is D


# ----------------------------------------------------------------- scedsim schedule / scedsim test

def _cli(capsys, *args):
    from scedsim import cli

    rc = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_schedule_round_trip_exact_p_by_hand(tmp_path, capsys):
    """Draw a schedule, collect data on it, test it: the p-value computed here by hand."""
    import pandas as pd

    sched, data = tmp_path / "schedule.json", tmp_path / "data.csv"
    rc, out, _ = _cli(capsys, "schedule", "--design", "AB n_time=9 min_phase=2", "--seed", 3, "--cases", "ann",
                      "--out", sched, "--template", data)
    assert rc == 0 and "6 admissible assignments" in out
    drawn = D.Schedule.read(sched).as_dict()["cases"]["ann"]
    m = drawn.count("A")
    assert drawn == "A" * m + "B" * (9 - m) and 2 <= m <= 7
    assert "ann   " + " ".join(drawn) in out
    # Data collected on the schedule: a drift plus a jump of 2 where B starts, one outlier.
    scores = [Fraction(t, 4) + (2 if t >= m else 0) for t in range(9)]
    scores[1] += 3
    df = pd.read_csv(data)
    assert df["phase"].tolist() == list(drawn) and df["score"].isna().all()
    df["score"] = [float(v) for v in scores]
    df.to_csv(data, index=False)

    def diff(k):  # mean B - mean A with a baseline of k points, exactly
        return sum(scores[k:]) / (9 - k) - sum(scores[:k]) / k

    p = Fraction(sum(diff(k) >= diff(m) for k in range(2, 8)), 6)   # starts 2..7 by hand
    rc, out, _ = _cli(capsys, "test", data, "--schedule", sched, "--json")
    res = json.loads(out)
    assert rc == 0 and res["method"] == "exact" and res["n_arrangements"] == 6
    assert res["pvalue"] == pytest.approx(float(p), abs=1e-15)
    assert res["observed"] == pytest.approx(float(diff(m)))
    rc, out, _ = _cli(capsys, "test", data, "--schedule", sched)
    assert rc == 0 and f"p = {float(p):.6g} (greater, exact)" in out


def test_schedule_multiple_baseline_round_trip_and_checks(tmp_path, capsys):
    import pandas as pd

    sched, data = tmp_path / "s.json", tmp_path / "d.csv"
    design = "MB n_time=8 starts=2-3,4-5,6 scheme=koehler_levin"
    rc, out, _ = _cli(capsys, "schedule", "--design", design, "--seed", 11, "--cases", "x,y,z", "--out", sched,
                      "--template", data)
    assert rc == 0 and "24 admissible assignments" in out
    s = D.Schedule.read(sched)
    df = pd.read_csv(data)
    # Perfectly separated: every B above every A, larger steps where treatment starts later.
    df["score"] = [float(t + 10 * (p == "B")) for t, p in zip(df["session"], df["phase"])]
    df.to_csv(data, index=False)
    got = s.design.test(np.array(df["score"]).reshape(3, 8), s)
    rc, out, _ = _cli(capsys, "test", data, "--schedule", sched, "--json")
    assert rc == 0 and json.loads(out)["pvalue"] == pytest.approx(got.pvalue)
    # The test cannot silently use another assignment: the data's phases must agree.
    bad = df.copy()
    first_b = bad.index[(bad["case"] == "x") & (bad["phase"] == "B")][0]
    bad.loc[first_b, "phase"] = "A"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    rc, _, err = _cli(capsys, "test", tmp_path / "bad.csv", "--schedule", sched)
    assert rc == 2 and "the data say phase 'A', the schedule 'B'" in err
    rc, _, err = _cli(capsys, "test", data, "--schedule", sched, "--outcome", "nope")
    assert rc == 2 and "no column 'nope'" in err
    rc, _, err = _cli(capsys, "schedule", "--design", design, "--seed", 1, "--out", sched)
    assert rc == 2 and "exists" in err
    rc, _, err = _cli(capsys, "schedule", "--design", "AB n_time=5 min_phase=3", "--seed", 1)
    assert rc == 2 and "cannot hold" in err


def test_crd_test_equals_the_permutation_test():
    from scedsim.inference import permutation_test

    a, b = [3, 4, 3.5], [6, 4, 5, 8]
    for stat in ("mean_diff", "nap"):
        got = D.CompletelyRandomized(7, n_per_condition=[3, 4]).test(a + b, "AAABBBB", statistic=stat)
        want = permutation_test(a, b, statistic=stat)
        assert got.pvalue == pytest.approx(want.pvalue, abs=1e-12) and got.n_arrangements == 35


def test_custom_design_with_two_cases():
    d = D.Custom([["AABB", "ABAB"], ["ABAB", "AABB"], ["ABBA", "ABBA"]], n_cases=2)
    assert d.n_cases == 2 and d.n_assignments() == 3 and d.contains(["ABAB", "AABB"])
    r = d.test([[1, 1, 5, 5], [1, 5, 1, 5]], ["AABB", "ABAB"])
    # Mean differences per arrangement: (4 + 4)/2, (0 + 0)/2, (0 + 0)/2: only the observed reaches 4.
    assert r.pvalue == pytest.approx(1 / 3)


def test_simulation_design_draws_the_same_set():
    mb = D.MultipleBaseline(10, [[2, 3], [5, 6], [8]], scheme="koehler_levin")
    sim = mb.simulation_design()
    starts = sim.draw_starts(np.random.default_rng(1), 3000)
    allowed = {tuple(int((row == 0).sum()) for row in a) for a in mb.assignments()}
    assert {tuple(r) for r in starts.tolist()} == allowed
    ww = D.MultipleBaseline(10, [[2], [5], [8]], scheme="wampold_worsham").simulation_design()
    assert len({tuple(r) for r in ww.draw_starts(np.random.default_rng(2), 500).tolist()}) == 6
    ab = D.AB(9, min_phase=3).simulation_design(n_cases=4)
    assert ab.n_cases == 4 and ab.start_distribution(0) == {3: 1 / 4, 4: 1 / 4, 5: 1 / 4, 6: 1 / 4}
    with pytest.raises(ValueError, match="only for AB and multiple-baseline"):
        D.ABAB(12, 2).simulation_design()
