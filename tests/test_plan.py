"""The design planner (scedsim.plan, ``scedsim plan``): exact facts, agreement with
independently computed exact-test powers, seeds, pruning, Type I constraints, CLI."""
import json
import math
import pathlib
import sys
from fractions import Fraction
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scedsim
from scedsim import cli
import importlib
planmod = importlib.import_module("scedsim.plan")
from scedsim.plan import design_text, detectable_effect, exact_facts, plan, spec_for_label

ROOT = pathlib.Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- an independent reference
# The exact NAP permutation test on m + n exchangeable continuous values rejects at
# level alpha when U = #{(a, b): b > a} is so large that P0(U >= u) <= alpha, with
# P0 the Mann-Whitney null distribution (every one of the C(m + n, m) arrangements
# equally likely).  Its power for N(0, 1) baseline and N(d, 1) treatment points is
# estimated here by a plain numpy Monte Carlo with far more replications, written
# without the simulator.

@lru_cache(maxsize=None)
def _mw_counts(m, n):
    """Number of arrangements of m A's and n B's with each value of U (0..mn)."""
    if m == 0 or n == 0:
        return (1,) + (0,) * (m * n)
    out = [0] * (m * n + 1)
    # The largest value is an A (no B above it from this A: U unchanged) or a B
    # (above all m A's: U + m).
    for u, c in enumerate(_mw_counts(m - 1, n)):
        out[u] += c
    for u, c in enumerate(_mw_counts(m, n - 1)):
        out[u + m] += c
    return tuple(out)


def _critical_u(m, n, alpha):
    counts = _mw_counts(m, n)
    total = math.comb(m + n, m)
    tail = 0
    for u in range(m * n, -1, -1):
        if Fraction(tail + counts[u], total) > Fraction(alpha).limit_denominator(10 ** 6):
            return u + 1
        tail += counts[u]
    return 0


def reference_power(m, n, d, alpha=0.05, reps=200_000, seed=12345):
    rng = np.random.default_rng([seed, m, n, int(d * 1000)])
    a = rng.standard_normal((reps, m, 1))
    b = rng.standard_normal((reps, 1, n)) + d
    u = (b > a).sum(axis=(1, 2))
    p = float(np.mean(u >= _critical_u(m, n, alpha)))
    return p, math.sqrt(p * (1 - p) / reps)


def test_reference_is_exact_under_the_null():
    # Sanity of the reference itself: the exact size at 3 + 3 is 1/20 and at 3 + 4 is 1/35.
    assert sum(_mw_counts(3, 4)) == 35 and _critical_u(3, 4, 0.05) == 12
    assert Fraction(_mw_counts(3, 3)[9], 20) == Fraction(1, 20)


# --------------------------------------------------------------------------- exact facts

@pytest.mark.parametrize("label, fam, m, n, k, n_assign, min_p", [
    ("p_perm_nap", "AB", 3, 4, 1, 35, Fraction(1, 35)),
    ("p_perm_nap", "AB", 3, 3, 1, 20, Fraction(1, 20)),
    ("p_perm_nap", "ABAB", 2, 2, 1, 70, Fraction(1, 70)),            # C(8, 4): pooled A vs B
    ("p_rand_mean_diff[min_phase=3]", "AB", 3, 4, 1, 2, Fraction(1, 2)),  # starts 3 and 4 only
    ("p_rand_mean_diff", "AB", 3, 4, 1, 4, Fraction(1, 4)),          # min_phase 2: starts 2..5
    ("p_between_nap[method=sign_flip]", "AB", 3, 4, 5, 32, Fraction(1, 32)),
])
def test_exact_facts(label, fam, m, n, k, n_assign, min_p):
    facts = exact_facts(fam, m, n, k, spec_for_label(label))
    assert facts["n_assignments"] == n_assign
    assert Fraction(facts["min_p"]).limit_denominator(10 ** 6) == min_p


@given(m=st.integers(2, 9), n=st.integers(2, 9), min_phase=st.integers(1, 4), k=st.integers(1, 8))
def test_exact_facts_follow_the_counting_formulas(m, n, min_phase, k):
    perm = exact_facts("AB", m, n, 1, spec_for_label("p_perm_nap"))
    assert perm["n_assignments"] == math.comb(m + n, m)
    assert Fraction(perm["min_p"]).limit_denominator(10 ** 6) == Fraction(1, math.comb(m + n, m))
    if m + n >= 2 * min_phase:
        rand = exact_facts("AB", m, n, 1, spec_for_label(f"p_rand_mean_diff[min_phase={min_phase}]"))
        assert rand["n_assignments"] == m + n - 2 * min_phase + 1          # start points min_phase..T-min_phase
        assert rand["min_p"] == pytest.approx(1 / rand["n_assignments"], rel=1e-12)
    if k >= 2:
        flip = exact_facts("AB", m, n, k, spec_for_label("p_between_nap[method=sign_flip]"))
        assert flip["n_assignments"] == 2 ** k and flip["min_p"] == 2.0 ** -k
    abab = exact_facts("ABAB", m, n, 1, spec_for_label("p_perm_nap"))
    assert abab["n_assignments"] == math.comb(2 * m + 2 * n, 2 * m)


def test_several_people_with_a_per_person_test_are_judged_by_edgingtons_sum():
    # Two people at their smallest p = 1/20 each: sum 1/10, P(U1 + U2 <= 1/10) = 1/200.
    assert planmod._edgington_min(0.05, 2) == pytest.approx(1 / 200, rel=1e-12)
    res = plan("AB", "normal_ar1", {}, effect=2.0, rules="p_perm_nap <= 0.05", power=0.5, m=3, n=3, cases="1-2",
               max_occasions=6, reps=100, max_reps=100, type1_reps=100)
    assert res.candidates.status.ne("pruned").all()
    res = plan("AB", "normal_ar1", {}, effect=2.0, rules="p_rand_mean_diff[min_phase=3] <= 0.05", power=0.5,
               m=3, n=4, cases="2", max_occasions=7, reps=100, max_reps=100, type1_reps=100)
    assert res.candidates.reason.iloc[0].startswith("smallest attainable p = 0.5 > 0.05")   # (2 * 1/2)^2 / 2


def test_design_texts():
    assert design_text("AB", 3, 4, 2) == "A3 B4"
    assert design_text("ABAB", 3, 4, 1) == "A3 B4 A3 B4"
    assert design_text("MB", 3, 4, 3) == "A3 B6 | A4 B5 | A5 B4"   # same 9 occasions, staggered starts
    assert design_text("MB", 3, 4, 2, stagger=2) == "A3 B6 | A5 B4"


# --------------------------------------------------------------------------- against exact powers

def test_powers_agree_with_the_exact_test_including_the_drop_from_3_3_to_3_4():
    res = plan("AB", "normal_ar1", {"phi": 0.0}, effect=2.0, rules="p_perm_nap <= 0.05", power=0.5,
               max_occasions=7, reps=6000, max_reps=6000, type1_reps=200, seed=7)
    got = {(r["m"], r["n"]): r for r in res.candidates.to_dict("records")}
    assert set(got) == {(3, 3), (3, 4), (4, 3)}
    ref = {k: reference_power(*k, 2.0) for k in got}
    # The numbers: .62 with 3 + 3 but .56 with 3 + 4.
    assert round(ref[(3, 3)][0], 2) == 0.62 and round(ref[(3, 4)][0], 2) == 0.56
    for k, r in got.items():
        assert abs(r["power"] - ref[k][0]) <= 4 * math.hypot(r["mcse"], ref[k][1]), k
        # Exchangeable data: the exact Type I rate from the test's null distribution.
        assert r["type1_exact"] and Fraction(r["type1"]).limit_denominator(1000) == \
            Fraction(1, 20 if k == (3, 3) else 35)
    drop = got[(3, 3)]["power"] - got[(3, 4)]["power"]
    assert drop > 3 * math.hypot(got[(3, 3)]["mcse"], got[(3, 4)]["mcse"])
    assert (res.best["m"], res.best["n"]) == (3, 3)   # 6 occasions: the cheapest, and it reaches .5


def test_choice_agrees_with_the_exact_answer():
    target = 0.75
    res = plan("AB", "normal_ar1", {"phi": 0.0}, effect=2.0, rules="p_perm_nap <= 0.05", power=target,
               max_occasions=9, reps=1000, max_reps=8000, type1_reps=100, seed=3)
    df = res.candidates
    best = res.best
    assert best is not None
    ref_best, se_best = reference_power(best["m"], best["n"], 2.0)
    assert ref_best >= target - 4 * math.hypot(best["mcse"], se_best)
    assert abs(best["power"] - ref_best) <= 4 * math.hypot(best["mcse"], se_best)
    # No cheaper design truly reaches the target (the exact answer is 9 occasions:
    # 8 occasions give at most .71).
    for r in df[df.cost < best["cost"]].to_dict("records"):
        ref, se = reference_power(r["m"], r["n"], 2.0)
        assert ref < target + 4 * math.hypot(r["mcse"], se), (r["m"], r["n"])
        assert r["status"] in ("below", "tied")
    assert best["occasions"] == 9


# --------------------------------------------------------------------------- pruning, seeds, constraints

def test_impossible_designs_are_pruned_and_never_simulated(monkeypatch):
    seen = []
    real = planmod._simulate

    def spy(rows, *a, **kw):
        seen.extend((r["design"], r["n_cases"]) for r in rows)
        return real(rows, *a, **kw)

    monkeypatch.setattr(planmod, "_simulate", spy)
    res = plan("AB", "normal_ar1", {"phi": 0.0}, effect=2.0, rules="p_between_nap[method=sign_flip] <= 0.05",
               m=3, n=4, cases="1-6", max_occasions=7, power=0.5, reps=100, max_reps=200, type1_reps=100, seed=1)
    df = res.candidates.set_index("cases")
    assert "needs at least 2 people" in df.loc[1, "reason"]
    for k in (2, 3, 4):   # 2^-k > .05
        assert df.loc[k, "status"] == "pruned"
        assert f"smallest attainable p = {2.0 ** -k:.4g}" in df.loc[k, "reason"]
        assert f"({2 ** k} admissible assignments)" in df.loc[k, "reason"]
    assert {k for _, k in seen} == {5, 6}
    # An AB randomization test with at least 3 points per phase has 2 start points in 7 occasions.
    res = plan("AB", "normal_ar1", {}, effect=2.0, rules="p_rand_mean_diff[min_phase=3] <= 0.05",
               max_occasions=7, reps=100, max_reps=100, type1_reps=100)
    assert (res.candidates.status == "pruned").all() and res.best is None
    reasons = res.candidates.set_index(["m", "n"]).reason
    assert reasons[(3, 4)] == "smallest attainable p = 0.5 > 0.05 (2 admissible assignments)"
    assert reasons[(3, 3)] == "smallest attainable p = 1 > 0.05 (1 admissible assignments)"


def test_results_depend_on_the_seed_and_the_candidate_only():
    kw = dict(model="normal_ar1", params={"phi": 0.3}, effect=1.5, rules="p_perm_nap <= 0.05", power=0.9,
              m=3, max_occasions=12, reps=200, max_reps=200, type1_reps=200, seed=11)
    small = plan(n="3-4", **kw).candidates.set_index("n")
    large = plan(n="3-6", **kw).candidates.set_index("n")
    again = plan(n="3-4", **kw).candidates.set_index("n")
    for n in (3, 4):
        assert small.loc[n, "power"] == large.loc[n, "power"] == again.loc[n, "power"]
        assert small.loc[n, "type1"] == large.loc[n, "type1"]
    other = plan(n="3-4", **{**kw, "seed": 12}).candidates.set_index("n")
    assert other.loc[3, "power"] != small.loc[3, "power"]


def test_type1_constraints():
    # With phi = .6 the exact test is liberal (the data are not exchangeable).
    kw = dict(model="normal_ar1", params={"phi": 0.6}, effect=2.0, rules="p_perm_nap <= 0.05", power=0.5,
              m=6, n=6, max_occasions=12, reps=200, max_reps=200, type1_reps=1000, seed=2)
    nominal = plan(type1="nominal", **kw)
    r = nominal.candidates.iloc[0]
    assert not r.type1_exact and r.type1 - 2 * r.type1_mcse > 0.075
    assert r.status == "type1" and "above alpha = 0.05" in r.reason and nominal.best is None
    assert "1 design(s) reach it but fail the Type I constraint (nominal)" in nominal.message
    assert plan(type1="bradley", **kw).candidates.iloc[0].status == "type1"
    assert plan(type1="none", **kw).best is not None


def test_tied_designs_are_reported():
    # Target set at the exact power of 3 + 3 (.62): the planner cannot tell, so it says tied.
    res = plan("AB", "normal_ar1", {}, effect=2.0, rules="p_perm_nap <= 0.05", power=0.62, m=3, n=3,
               max_occasions=6, reps=200, max_reps=400, type1_reps=100, seed=5)
    assert res.best is None
    assert [(t["m"], t["n"]) for t in res.tied["p_perm_nap <= 0.05"]] == [(3, 3)]
    assert "tied with the target" in res.message


@pytest.mark.parametrize("kwargs, message", [
    (dict(design="ATD", rules="p_rand_mean_diff <= 0.05"), "does not fit an alternating treatments design"),
    (dict(design="MB-random", cases=2, scheme="wampold"), "unknown scheme"),
    (dict(design="XYZ"), "unknown design family"),
    (dict(design="MB", cases=1), "at least 2 people"),
    (dict(rules="p_nope_nap <= 0.05"), "p_nope_nap"),
    (dict(power=1.2), "power must lie strictly between 0 and 1"),
    (dict(type1="strict"), "unknown type1 constraint"),
    (dict(params={"level": 1.0}), "give the effect as effect="),
    (dict(params={"rho": 1.0}), "has no parameter"),
    (dict(max_occasions=5), "must allow two phases"),
    (dict(cost_occasion=1.0), "give both cost_occasion and cost_person"),
    (dict(cases="two"), "cannot read cases 'two'"),
])
def test_bad_questions_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plan(**{"effect": 1.0, **kwargs})


def test_other_families_and_costs():
    res = plan("ABAB", "normal_ar1", {}, effect=2.0, rules="p_perm_nap <= 0.05", power=0.5, min_phase=2,
               max_occasions=8, reps=100, max_reps=100, type1_reps=100)
    assert res.candidates.design.tolist() == ["A2 B2 A2 B2"] and res.best["occasions"] == 8
    mb = plan("MB", "normal_ar1", {}, effect=2.0, rules="p_between_nap[method=sign_flip] <= 0.05", power=0.5,
              cases="5-6", m=3, n=3, max_occasions=10, reps=100, max_reps=100, type1_reps=100)
    # 5 people need 3 + 3 + 4 = 10 occasions each, 6 people 11: only the first fits.
    assert mb.candidates.design.tolist() == ["A3 B7 | A4 B6 | A5 B5 | A6 B4 | A7 B3"]
    # Costs: lexicographic (occasions, then people) by default, else the user's.
    kw = dict(model="normal_ar1", params={}, effect=4.0, rules="count(p_perm_nap <= 0.05) >= 1", power=0.5,
              cases="1-2", m=3, n="3-4", max_occasions=7, reps=100, max_reps=100, type1_reps=100, alpha=0.1)
    lex = plan("AB", **kw).candidates
    assert (lex.cost == lex.occasions * 1000 + lex.cases).all()
    user = plan("AB", cost_occasion=2.0, cost_person=5.0, **kw)
    assert (user.candidates.cost == 2.0 * user.candidates.occasions * user.candidates.cases
            + 5.0 * user.candidates.cases).all()
    assert (user.best["m"], user.best["n"], user.best["cases"], user.best["cost"]) == (3, 3, 1, 17.0)


def test_a_model_that_carries_the_direction_gets_it():
    # bounded_scale with improvement "decrease": a positive effect lowers the scores,
    # and the test looks for lower scores, so the power is high (not zero).
    res = plan("AB", "bounded_scale", {"phi": 0.0}, effect=3.0, improvement="decrease",
               rules="p_perm_nap <= 0.05", power=0.5, m=5, n=5, max_occasions=10, reps=200, max_reps=200,
               type1_reps=100)
    assert res.candidates.power.iloc[0] > 0.8
    assert res.settings["params"]["improvement"] == "decrease"
    with pytest.raises(ValueError, match="contradicts"):
        plan("AB", "bounded_scale", {"improvement": "increase"}, effect=1.0, improvement="decrease")


def test_ab_with_a_random_start_point():
    assert design_text("AB_RANDOM", 3, 9, 2) == "MB n_time=12 starts=3-9"
    res = plan("AB-random", "normal_ar1", {}, effect=2.0, rules="p_rand_mean_diff[min_phase=3] <= 0.05",
               power=0.3, max_occasions=27, reps=100, max_reps=100, type1_reps=100, seed=1)
    df = res.candidates.set_index("occasions")
    # T occasions, at least 3 per phase: T - 5 start points, so p <= .05 needs T >= 25.
    for t in range(6, 25):
        assert df.loc[t, "reason"] == (f"smallest attainable p = {1 / (t - 5):.4g} > 0.05 "
                                       f"({t - 5} admissible assignments)")
    assert (df.loc[25:, "status"] != "pruned").all() and not df.type1_exact.any()
    with pytest.raises(ValueError, match=r"write min_phase=3 in the rule"):
        plan("AB-random", effect=1.0, rules="p_rand_mean_diff <= 0.05")
    with pytest.raises(ValueError, match="searched by their number of occasions"):
        plan("AB-random", effect=1.0, rules="p_rand_mean_diff[min_phase=3] <= 0.05", m=4)


def test_detectable_effect_brackets_the_exact_answer():
    d = detectable_effect("AB", 5, 5, params={"phi": 0.0}, power=0.8, rounds=3, reps=200, confirm_reps=2000, seed=4)
    assert d.ci_lower < d.effect < d.ci_upper
    lo, se_lo = reference_power(5, 5, d.ci_lower - 0.1, reps=40_000)
    hi, se_hi = reference_power(5, 5, d.ci_upper + 0.1, reps=40_000)
    assert lo < 0.8 < hi
    ref, se = reference_power(5, 5, d.effect, reps=40_000)
    assert abs(d.power_at_effect - ref) <= 4 * math.hypot(d.mcse, se)
    assert abs(ref - 0.8) < 0.05


# --------------------------------------------------------------------------- command line

def test_cli_plan_writes_the_pinned_json(tmp_path, monkeypatch, capsys):
    out = tmp_path / "plan.json"
    fig = tmp_path / "plan.png"
    rc = cli.main(["plan", "--design", "AB", "--model", "normal_ar1", "--phi", "0", "--effect", "2", "--rule",
                   "p_perm_nap <= 0.05", "--power", "0.5", "--cases", "1", "--max-occasions", "8", "--seed", "1",
                   "--reps", "200", "--max-reps", "400", "--type1-reps", "100", "--json", str(out),
                   "--figure", str(fig)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "A3 B3 with 1 person (6 occasions each)" in text
    data = json.loads(out.read_text())
    keys = {"m", "n", "cases", "power", "mcse", "type1"}
    assert keys <= set(data["best"]) and (data["best"]["m"], data["best"]["n"]) == (3, 3)
    assert len(data["candidates"]) == 6 and all(keys <= set(c) for c in data["candidates"])
    assert fig.stat().st_size > 1000
    assert scedsim.plan is planmod.plan


def test_cli_sensitivity(tmp_path, capsys):
    out = tmp_path / "p.json"
    rc = cli.main(["plan", "--effect", "2", "--power", "0.8", "--max-occasions", "6", "--reps", "100",
                   "--max-reps", "100", "--type1-reps", "100", "--sensitivity", "5,5", "--json", str(out)])
    assert rc == 0
    assert "smallest detectable effect with A5 B5 x1 at power 0.8:" in capsys.readouterr().out
    d = json.loads(out.read_text())["detectable_effect"]
    assert d["ci_lower"] < d["effect"] < d["ci_upper"] and 1.0 < d["effect"] < 3.0
    assert cli.main(["plan", "--effect", "2", "--sensitivity", "5"]) == 2


def test_cli_plan_refuses_a_start_point_test_for_alternating_treatments(capsys):
    assert cli.main(["plan", "--design", "ATD", "--effect", "1", "--rule", "p_rand_mean_diff <= 0.05"]) == 2
    assert "does not fit an alternating treatments design" in capsys.readouterr().err


# --------------------------------------------------------------------------- README

def test_readme_planning_table_row_reruns():
    """The README's row for phi = 0, d = 2, rerun cheaply: the one-person grid cut
    down to the chosen design (its result does not depend on the other candidates)
    and the full people question; the README's cells must come out again."""
    sys.path.insert(0, str(ROOT / "simulations" / "planner"))
    try:
        import seven_point_plan
    finally:
        sys.path.pop(0)
    readme = (ROOT / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith("| 0 | 2 |"))
    cell = line.split("|")[3]
    # The chosen design and the designs tied with it: the only ones the row names.
    pairs = [tuple(int(v) for v in t.split("+")) for t in
             [cell.split("(")[0]] + (cell.split("tied within 2 MCSE:")[1].rstrip(") ").split(",")
                                     if "tied" in cell else [])]
    m, n = sorted({p[0] for p in pairs}), sorted({p[1] for p in pairs})
    assert seven_point_plan.row(0.0, 2.0, m=m, n=n) == line
