"""The planner's alternating treatments (ATD) and multiple-baseline-with-random-starts
(MB-random) families, and exact Type I rates of count rules: exact facts against the
counting formulas, powers and choices against independent numpy Monte Carlo
simulations written here without the simulator, Type I rates against their exact
values.  Tolerances: 4 Monte Carlo SEs."""
import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scedsim import cli, designs
from scedsim.plan import design_text, exact_facts, plan, spec_for_label

Z = 4.0


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCEDSIM_CACHE_DIR", str(tmp_path / "cache"))


def _ar1(rng, reps, n, phi):
    z = rng.standard_normal((reps, n))
    e = np.empty_like(z)
    e[:, 0] = z[:, 0]
    for t in range(1, n):
        e[:, t] = phi * e[:, t - 1] + math.sqrt(1 - phi * phi) * z[:, t]
    return e


def _atd_sequences(a, b, max_run):
    out = []
    for ones in itertools.combinations(range(a + b), b):
        s = np.zeros(a + b)
        s[list(ones)] = 1
        if max(len(list(g)) for _, g in itertools.groupby(s.tolist())) <= max_run:
            out.append(s)
    return np.array(out)


def atd_power(a, b, max_run, phi, d, alpha, reps=40_000, seed=99):
    """Power of the ATD randomization test (mean difference) by brute force: a
    uniformly drawn admissible sequence, AR(1) errors, the level effect d on B."""
    ref = _atd_sequences(a, b, max_run)
    rng = np.random.default_rng([seed, a, b, max_run])
    seq = ref[rng.integers(0, len(ref), reps)]
    y = _ar1(rng, reps, a + b, phi) + d * seq
    sums = y @ ref.T
    p = (sums >= (y * seq).sum(axis=1)[:, None] - 1e-9).mean(axis=1)
    pw = float((p <= alpha + 1e-12).mean())
    return pw, math.sqrt(pw * (1 - pw) / reps)


def mb_power(n_time, lo, hi, cases, phi, d, alpha, reps=40_000, seed=7):
    """Power of the Marascuilo-Busk test (mean over people of B mean - A mean) when
    every person's baseline length is drawn from lo..hi, by brute force."""
    starts = np.arange(lo, hi + 1)
    rng = np.random.default_rng([seed, n_time, lo, hi, cases])
    m = starts[rng.integers(0, starts.size, (reps, cases))]
    t = np.arange(n_time)
    y = _ar1(rng, reps * cases, n_time, phi).reshape(reps, cases, n_time) + d * (t >= m[:, :, None])
    # Per person and start: B mean - A mean.
    stat = np.stack([y[:, :, s:].mean(axis=2) - y[:, :, :s].mean(axis=2) for s in starts], axis=2)
    obs = np.take_along_axis(stat, (m - lo)[:, :, None], axis=2)[:, :, 0].mean(axis=1)
    combos = np.array(list(itertools.product(range(starts.size), repeat=cases)))
    null = stat[:, np.arange(cases)[None, :], combos].mean(axis=2)     # (reps, K)
    p = (null >= obs[:, None] - 1e-9).mean(axis=1)
    pw = float((p <= alpha + 1e-12).mean())
    return pw, math.sqrt(pw * (1 - pw) / reps)


# --------------------------------------------------------------------------- exact facts

@settings(max_examples=40, deadline=None)
@given(a=st.integers(2, 7), b=st.integers(2, 7), max_run=st.integers(1, 4))
def test_atd_exact_facts_follow_the_counting_formula(a, b, max_run):
    brute = len(_atd_sequences(a, b, max_run))
    spec = spec_for_label("p_atd_mean_diff")
    if brute == 0:
        res = plan("ATD", effect=1.0, rules="p_atd_mean_diff <= 0.05", m=a, n=b, max_run=max_run,
                   max_occasions=a + b, min_phase=2, reps=10, max_reps=10, type1_reps=10)
        r = res.candidates.iloc[0]
        assert r.status == "pruned" and r.reason.startswith("no sequence") and res.best is None
        return
    facts = exact_facts("ATD", a, b, 1, spec, max_run=max_run)
    assert facts["n_assignments"] == brute == designs.count("ATD", n_time=a + b, max_run=max_run,
                                                             n_per_condition=[a, b])
    assert Fraction(facts["min_p"]).limit_denominator(10 ** 7) == Fraction(1, brute)


@pytest.mark.parametrize("scheme, cases, n_time, expected", [
    ("marascuilo_busk", 3, 10, 5 ** 3),                  # starts 3..7 each
    ("koehler_levin", 3, 10, 6 * 1 * 2 * 2),             # tiers 3 | 4-5 | 6-7, people ordered at random
    ("koehler_levin", 2, 12, 2 * 3 * 4),                 # tiers 3-5 | 6-9
])
def test_mb_random_exact_facts_are_the_designs_counts(scheme, cases, n_time, expected):
    text = design_text("MB_RANDOM", 3, n_time - 3, cases, scheme=scheme)
    facts = exact_facts("MB_RANDOM", 3, n_time - 3, cases, spec_for_label("p_mbd_mean_diff[tier_starts=design]"),
                        scheme=scheme)
    tiers = [list(range(3, n_time - 2))] if scheme == "marascuilo_busk" else \
        [[int(v) for v in t.split("-")] for t in text.split("starts=")[1].split()[0].split(",")]
    tiers = [list(range(t[0], t[-1] + 1)) for t in tiers]
    d = designs.MultipleBaseline(n_time, tiers if len(tiers) > 1 else tiers[0], n_cases=cases, scheme=scheme)
    assert facts["n_assignments"] == d.n_assignments() == expected
    assert facts["min_p"] == pytest.approx(1 / expected, rel=1e-12)


# --------------------------------------------------------------------------- ATD: powers and choice

def test_atd_powers_choice_and_exact_type1_against_brute_force():
    """phi = .3, d = 1.5, alpha = .05, target .6: every simulated candidate's power
    against the brute-force simulation, the exact Type I rate floor(alpha K) / K,
    and the choice: the cheapest design that truly clears the target."""
    alpha, target = 0.05, 0.6
    res = plan("ATD", "normal_ar1", {"phi": 0.3}, effect=1.5, rules=f"p_atd_mean_diff <= {alpha}", power=target,
               max_occasions=10, min_phase=3, max_run=2, reps=1500, max_reps=3000, type1_reps=100, seed=4)
    df = res.candidates
    assert set(zip(df.m, df.n)) == {(3, 3), (3, 4), (4, 3), (4, 4), (4, 5), (5, 4), (5, 5)}
    pruned = df[df.status == "pruned"]
    # 14 and 18 sequences: smallest p 1/14, 1/18 > .05
    assert set(zip(pruned.m, pruned.n)) == {(3, 3), (3, 4), (4, 3)}
    assert pruned.set_index(["m", "n"]).reason[(3, 4)] == \
        "smallest attainable p = 0.05556 > 0.05 (18 admissible assignments)"
    for r in df[df.status != "pruned"].to_dict("records"):
        k = len(_atd_sequences(r["m"], r["n"], 2))
        assert r["n_assignments"] == k and r["type1_exact"]
        assert Fraction(r["type1"]).limit_denominator(10 ** 6) == Fraction(math.floor(alpha * k + 1e-9), k)
        ref, se = atd_power(r["m"], r["n"], 2, 0.3, 1.5, alpha)
        assert abs(r["power"] - ref) <= Z * math.hypot(r["mcse"], se), (r["m"], r["n"], r["power"], ref)
    best = res.best
    assert best is not None and best["design"].startswith("ATD n=")
    ref_best, se_best = atd_power(best["m"], best["n"], 2, 0.3, 1.5, alpha)
    assert ref_best > target - Z * math.hypot(best["mcse"], se_best)
    for r in df[(df.cost < best["cost"]) & (df.status != "pruned")].to_dict("records"):
        ref, se = atd_power(r["m"], r["n"], 2, 0.3, 1.5, alpha)
        assert ref < target + Z * math.hypot(r["mcse"], se) and r["status"] in ("below", "tied")


def test_atd_max_run_is_a_candidate_dimension():
    res = plan("ATD", "normal_ar1", {}, effect=2.0, rules="p_atd_mean_diff <= 0.05", power=0.5, m=4, n=4,
               max_occasions=8, max_run="1-2,none", reps=100, max_reps=100, type1_reps=100)
    got = res.candidates.set_index("max_run")
    # 8 occasions: 2 perfectly alternating sequences, 34 with runs of at most 2, C(8, 4) = 70 without a limit.
    assert got.loc[1, "n_assignments"] == 2 and got.loc[1, "status"] == "pruned"
    assert got.loc[2, "n_assignments"] == 34 and got.loc["none", "n_assignments"] == 70
    assert got.loc["none", "design"] == "ATD n=8 max_run=none"
    assert "run" in res.table().splitlines()[1]


# --------------------------------------------------------------------------- MB-random

def test_mb_random_power_and_exact_type1_against_brute_force():
    alpha = 0.15
    res = plan("MB-random", "normal_ar1", {"phi": 0.2}, effect=1.5,
               rules=f"p_mbd_mean_diff[tier_starts=design] <= {alpha}", power=0.5, cases=2, max_occasions=9,
               min_phase=3, reps=2000, max_reps=2000, type1_reps=100, seed=2)
    df = res.candidates.set_index("occasions")
    assert df.loc[6, "status"] == "pruned"                 # one start: p = 1
    assert df.loc[7, "reason"] == "smallest attainable p = 0.25 > 0.15 (4 admissible assignments)"
    for t in (8, 9):
        r = df.loc[t]
        k = (t - 5) ** 2
        assert r.n_assignments == k and r.type1_exact
        assert Fraction(r.type1).limit_denominator(1000) == Fraction(math.floor(alpha * k + 1e-9), k)
        ref, se = mb_power(t, 3, t - 3, 2, 0.2, 1.5, alpha)
        assert abs(r.power - ref) <= Z * math.hypot(r.mcse, se), (t, r.power, ref)


# --------------------------------------------------------------------------- count rules: exact Type I

def test_count_rules_get_their_exact_type1():
    # Exchangeable data, 3 + 3 points per person: P(p <= .05) = 1/20 per person,
    # so P(at least 1 of k) = 1 - (19/20)^k and P(at least 2 of 3) = 3 (1/20)^2 (19/20) + (1/20)^3.
    res = plan("AB", "normal_ar1", {}, effect=3.0, rules=["count(p_perm_nap <= 0.05) >= 1",
                                                          "count(p_perm_nap <= 0.05) >= 2"],
               power=0.5, m=3, n=3, cases="2-3", max_occasions=6, alpha=0.2, reps=100, max_reps=100,
               type1_reps=100)
    got = res.candidates.set_index(["rule", "cases"])
    q = Fraction(1, 20)
    for k in (2, 3):
        r = got.loc[("count(p_perm_nap <= 0.05) >= 1", k)]
        assert r.type1_exact and Fraction(r.type1).limit_denominator(10 ** 6) == 1 - (1 - q) ** k
    r = got.loc[("count(p_perm_nap <= 0.05) >= 2", 3)]
    assert r.type1_exact and Fraction(r.type1).limit_denominator(10 ** 6) == 3 * q ** 2 * (1 - q) + q ** 3
    # Not exchangeable (phi = .5): simulated.
    res = plan("AB", "normal_ar1", {"phi": 0.5}, effect=3.0, rules="count(p_perm_nap <= 0.05) >= 1",
               power=0.5, m=3, n=3, cases=2, max_occasions=6, alpha=0.2, reps=100, max_reps=100, type1_reps=100)
    assert not res.candidates.type1_exact.iloc[0]


# --------------------------------------------------------------------------- command line

def test_cli_plan_atd_writes_json(tmp_path, capsys):
    out = tmp_path / "plan.json"
    rc = cli.main(["plan", "--design", "ATD", "--effect", "2", "--rule", "p_atd_mean_diff <= 0.05", "--power", "0.5",
                   "--max-occasions", "10", "--max-run", "2-3", "--reps", "100", "--max-reps", "100",
                   "--type1-reps", "100", "--json", str(out)])
    assert rc == 0
    assert "ATD n=" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert {c["max_run"] for c in data["candidates"]} == {2, 3} and data["settings"]["max_run"] == [2, 3]
    assert data["best"]["design"].startswith("ATD n=")


# --------------------------------------------------------------------------- several people: Edgington, exactly

def test_edgington_type1_is_exact_and_is_what_the_simulator_does():
    from scedsim.simulate import Study, run

    # Two people, ATD n=10 (84 sequences each): p_i uniform on {1..84}/84 under any null;
    # Edgington's combined p = s^2 / 2 for a sum s <= 1, so it rejects at .05 when
    # i + j <= 26 (84 sqrt(.1) = 26.6): sum_{t=2}^{26} (t - 1) = 325 of 84^2 pairs.
    brute = sum(1 for i in range(1, 85) for j in range(1, 85) if ((i + j) / 84) ** 2 / 2 <= 0.05)
    assert brute == 325
    res = plan("ATD", "normal_ar1", {"phi": 0.4}, effect=1.0, rules="p_atd_mean_diff <= 0.05", power=0.5, m=5, n=5,
               cases=2, max_occasions=10, reps=100, max_reps=100, type1_reps=100)
    r = res.candidates.iloc[0]
    assert r.type1_exact and Fraction(r.type1).limit_denominator(10 ** 6) == Fraction(325, 84 ** 2)
    # The simulator's own Edgington rejection rate, people with autocorrelated series.
    reps = 6000
    study = Study(design="ATD n=10 max_run=2", model="normal_ar1", grid={"phi": [0.4]}, n_cases=2,
                  metrics=[{"name": "atd_test", "statistic": "mean_diff"}], rules=["p_atd_mean_diff <= 0.05"],
                  n_reps=reps, seed=5, estimands=False, name="edg")
    s = run(study, quiet=True).summary
    rate = s[(s.measure == "rejection_rate") & (s.scope == "edgington")].value.iloc[0]
    exact = 325 / 84 ** 2
    assert abs(rate - exact) <= Z * math.sqrt(exact * (1 - exact) / reps), rate
    # Exchangeable data and the exact NAP test (3 + 4 points, 35 arrangements), three people.
    res = plan("AB", "normal_ar1", {}, effect=1.0, rules="p_perm_nap <= 0.05", power=0.5, m=3, n=4, cases=3,
               max_occasions=7, reps=100, max_reps=100, type1_reps=100)
    r = res.candidates.iloc[0]
    study = Study(design="A3 B4", model="normal_ar1", n_cases=3, metrics=[{"name": "perm_test", "statistic": "nap"}],
                  rules=["p_perm_nap <= 0.05"], n_reps=reps, seed=6, estimands=False, name="edg2")
    s = run(study, quiet=True).summary
    rate = s[(s.measure == "rejection_rate") & (s.scope == "edgington")].value.iloc[0]
    assert r.type1_exact and abs(rate - r.type1) <= Z * math.sqrt(r.type1 * (1 - r.type1) / reps), (rate, r.type1)
