"""Issue 16, first half: no silent wrong answers, clear messages and exit codes.

Each test below failed before its fix (exact values where there are any).
"""
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

import scedsim as ss
from scedsim.cli import main
from scedsim.effect_sizes import _kernels as K
from scedsim.inference import admissible_starts, permutation_test, randomization_test
from scedsim.simulate.design import Contrast
from scedsim.simulate.runner import Study, run

A = np.array([20, 20, 26, 25, 22, 23.0])
B = np.array([28, 25, 24, 27, 30, 30, 29.0])


# --------------------------------------------------------------------------- scedsim ab

@pytest.mark.parametrize("a, b, what", [("1 2 3", "", "phase B is empty"),
                                        ("1 2 nan", "3 4 5", "phase A contains NaN"),
                                        ("1 2 3", "4 inf", "phase B contains NaN or an infinite")])
def test_ab_refuses_empty_or_missing_values_once_with_exit_2(capsys, a, b, what):
    assert main(["ab", "--a", a, "--b", b]) == 2
    out, err = capsys.readouterr()
    assert "not defined here" not in out
    assert err.count("\n") == 1 and what in err


def test_broken_pipe_exits_quietly(tmp_path):
    # The reader closes the pipe before scedsim writes: no "[Errno 32] Broken pipe", no traceback.
    code = "import sys; from scedsim.cli import main; sys.exit(main())"
    p = subprocess.Popen([sys.executable, "-c", code, "ab", "--a", "1 2 3", "--b", "4 5 6"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**__import__("os").environ,
                                                                               "PYTHONPATH": ss.__path__[0] + "/.."})
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141
    assert "Broken pipe" not in err and "Traceback" not in err and "Exception ignored" not in err, err


# --------------------------------------------------------------------------- contrasts

def test_pooled_baseline_is_refused_with_the_rule():
    rows = [("p", t, ph, v) for t, (ph, v) in enumerate(
        [("A1", 1), ("A1", 2), ("B1", 5), ("B1", 6), ("A2", 2), ("A2", 1), ("B2", 6), ("B2", 7)], 1)]
    df = pd.DataFrame(rows, columns=["case", "session", "phase", "score"])
    with pytest.raises(ValueError, match=r"comparison side only, e\.g\. 'A:B\+C'"):
        ss.effect_sizes(df, contrast="A1+A2:B1+B2", metrics=["nap"], outcomes=["score"])
    with pytest.raises(ValueError, match="comparison side only"):
        Contrast.parse("A1+A2:B1+B2")
    # The comparison side still pools.
    t = ss.effect_sizes(df, contrast="A1:B1+B2", metrics=["nap"], outcomes=["score"])
    assert t.estimate.iloc[0] == 1.0


# --------------------------------------------------------------------------- study grids and model parameters

def test_empty_grid_list_is_refused():
    with pytest.raises(ValueError, match="grid key 'phi' is an empty list"):
        Study(design="A3 B4", grid={"phi": [], "level": [0.0]}, metrics=["nap"], n_reps=10)


@pytest.mark.parametrize("phi", [1.0, -1.5])
def test_invalid_phi_is_refused_before_running(phi):
    with pytest.raises(ValueError, match=r"condition phi = .*phi must lie strictly between -1 and 1"):
        Study(design="A3 B4", grid={"phi": [0.0, phi]}, metrics=["nap"], n_reps=10)


@pytest.mark.parametrize("grid, what", [({"sd": [-1.0]}, "sd must be non-negative"),
                                        ({"level": ["big"]}, "level must be a finite number"),
                                        ({"model": ["poisson"], "rate": [0.0]}, "rate must be positive"),
                                        ({"scale": ["log"]}, "unknown scale")])
def test_other_invalid_model_parameters_are_refused(grid, what):
    with pytest.raises(ValueError, match=what):
        Study(design="A3 B4", grid=grid, metrics=["nap"], n_reps=10)


def test_cli_simulate_with_phi_1_exits_2_with_one_line(tmp_path, capsys):
    toml = tmp_path / "s.toml"
    toml.write_text('design = "A3 B4"\nmetrics = ["nap"]\nn_reps = 10\n[grid]\nphi = [1.0]\n')
    assert main(["simulate", str(toml), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "phi must lie strictly between -1 and 1" in err
    assert "Empty DataFrame" not in out


# --------------------------------------------------------------------------- argument types

STRINGS = np.array(["1", "2", "3"], dtype=object)


@pytest.mark.parametrize("call", [
    lambda: ss.nap(STRINGS, [4.0, 5.0]),
    lambda: ss.smd([1.0, 2.0, 3.0], STRINGS),
    lambda: ss.tau(pd.Series(["1", "2"], dtype=object), [3.0, 4.0]),
    lambda: ss.pet([1.0, 2.0, 3.0], [4.0, 5.0], times=np.array(["1", "2", "3", "4", "5"], dtype=object)),
])
def test_string_data_are_refused_not_parsed(call):
    with pytest.raises(ValueError, match="non-numeric"):
        call()


def test_object_arrays_of_numbers_are_still_accepted():
    assert ss.nap(np.array([1, 2.0], dtype=object), [3.0, 4.0]).estimate == 1.0


@pytest.mark.parametrize("call", [
    lambda c: ss.smd(A, B, confidence=c), lambda c: ss.nap(A, B, confidence=c),
    lambda c: ss.lrr(A, B, confidence=c), lambda c: ss.plm(A, B, confidence=c),
    lambda c: ss.tau_bc(A, B, confidence=c), lambda c: ss.lrm(A, B, confidence=c),
])
@pytest.mark.parametrize("confidence", ["0.9", True, None, 1.0, 0.0])
def test_confidence_must_be_a_number_in_0_1(call, confidence):
    with pytest.raises(ValueError, match="confidence must be"):
        call(confidence)


@pytest.mark.parametrize("min_phase", [3.5, "3", True])
def test_min_phase_must_be_a_whole_number(min_phase):
    with pytest.raises(ValueError, match="min_phase must be a whole number"):
        randomization_test(A, B, min_phase=min_phase)
    with pytest.raises(ValueError, match="min_phase must be a whole number"):
        admissible_starts(13, min_phase)
    with pytest.raises(ValueError, match="min_phase must be a whole number"):
        ss.inference.abab_test([[1, 2, 3], [4, 5, 6], [1, 2, 3], [4, 5, 6.0]], min_phase=min_phase)


def test_numpy_integer_min_phase_is_accepted():
    assert admissible_starts(7, np.int64(2)).tolist() == [2, 3, 4, 5]


# --------------------------------------------------------------------------- permutation test

def test_permutation_test_12_plus_12_is_exact_and_repeatable():
    a = np.arange(12.0)
    b = np.arange(12.0) + 5.5       # no ties
    r1, r2 = permutation_test(a, b), permutation_test(a, b)
    assert r1.method == "exact" and r1.pvalue == r2.pvalue and r1.n_arrangements == math.comb(24, 12)
    # Exact: the null count of U >= u is the number of 12-subsets of the ranks 1..24 whose
    # sum is at least u + 12 * 13 / 2, counted here independently in integers.
    u = int((b[None, :] > a[:, None]).sum())
    ways = [[0] * (24 * 12 + 1) for _ in range(13)]
    ways[0][0] = 1
    for x in range(1, 25):
        for j in range(12, 0, -1):
            for s in range(24 * 12, x - 1, -1):
                ways[j][s] += ways[j - 1][s - x]
    expected = Fraction(sum(ways[12][u + 78:]), math.comb(24, 12))
    assert r1.pvalue == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
@pytest.mark.parametrize("statistic", ["nap", "tau"])
def test_rank_sum_recursion_equals_enumeration_with_ties(alternative, statistic):
    a = np.array([[1, 2, 2, 3, 5.0], [0, 0, 1, 1, 1], [3, 1, 4, 1, 5]])
    b = np.array([[2, 3, 3, 4.0, 6], [1, 1, 1, 0, 2], [9, 2, 6, 5, 3]])
    e = permutation_test(a, b, statistic=statistic, alternative=alternative)                 # enumerated
    d = permutation_test(a, b, statistic=statistic, alternative=alternative, max_exact=10)   # recursion
    assert e.method == d.method == "exact"
    np.testing.assert_allclose(d.pvalue, e.pvalue, rtol=1e-12, atol=0)
    np.testing.assert_allclose(d.statistic, e.statistic, rtol=0, atol=1e-15)


def test_monte_carlo_without_seed_is_repeatable_and_says_so():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=12), rng.normal(size=12)
    r1 = permutation_test(a, b, statistic="mean_diff", n_resamples=999)
    r2 = permutation_test(a, b, statistic="mean_diff", n_resamples=999)
    assert r1.method == "monte_carlo" and r1.pvalue == r2.pvalue


# --------------------------------------------------------------------------- magnitudes

@pytest.mark.parametrize("exponent", range(-300, 301, 25))
def test_smd_is_scale_free_over_the_double_range(exponent):
    s = 10.0 ** exponent
    for std_dev in ("baseline", "pool"):
        r0, r = ss.smd(A, B, std_dev=std_dev), ss.smd(A * s, B * s, std_dev=std_dev)
        assert r.estimate == pytest.approx(r0.estimate, rel=1e-13)
        assert r.se == pytest.approx(r0.se, rel=1e-13)


def test_smd_power_of_two_scaling_is_bit_identical_and_twin_agrees():
    r0 = ss.smd(A, B)
    assert r0.estimate == ss.smd(A * 2.0 ** 600, B * 2.0 ** 600).estimate == ss.smd(A * 2.0 ** -1000,
                                                                                   B * 2.0 ** -1000).estimate
    out = np.empty((4, 1))
    K._smd_2d_python((A * 1e-170)[None], (B * 1e-170)[None], False, True, 1.96, out)
    assert out[0, 0] == pytest.approx(r0.estimate, rel=1e-13)


@pytest.mark.parametrize("call", [
    lambda s: ss.pogo(A * s, B * s, goal=35 * s), lambda s: ss.plm(A * s, B * s),
    lambda s: ss.lrr(A * s, B * s),
    lambda s: ss.bcsmd_batch(np.array([[[1, 2, 1, 4, 5, 6], [2, 1, 2, 2, 5, 6.0]]]) * s,
                             np.array([[0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1]])),
])
@pytest.mark.parametrize("scale", [1e154, 1e-170])
def test_other_parametric_metrics_refuse_overflowing_magnitudes(call, scale):
    with pytest.raises(ValueError, match="rescale the data"):
        call(scale)


@pytest.mark.parametrize("name", ["tau_bc", "cdc"])
def test_exact_arithmetic_metrics_are_scale_free_in_range_and_refuse_beyond(name):
    # Before: Tau-BC 0.381 at 1e150 and 0.5 at 1e-150 instead of 0.429; CDC 0 at 1e300.
    f = getattr(ss, name)
    a, b = np.array([20, 21, 26, 25, 22, 23.0]), np.array([28, 25, 24, 27, 30, 31, 29.0])
    r0 = f(a, b).estimate
    # Powers of two keep every value (and so every exact tie) exact.
    for k in (-320, -200, -66, 66, 200, 320):
        assert f(a * 2.0 ** k, b * 2.0 ** k).estimate == r0
    for s in (1e150, 1e300, 1e-150, 1e-300):
        with pytest.raises(ValueError, match="rescale the data"):
            f(a * s, b * s)


def test_lrm_keeps_its_value_at_extreme_magnitudes():
    r0 = ss.lrm(A, B)
    for s in (1e-300, 1e300):
        assert ss.lrm(A * s, B * s).estimate == pytest.approx(r0.estimate, rel=1e-12)


# --------------------------------------------------------------------------- log ratios need non-negative data

def test_lrr_refuses_negative_data():
    with pytest.raises(ValueError, match="LRR needs non-negative data.*phase A holds -10"):
        ss.lrr([-10, -20, -30], [-1, -2, -3])
    with pytest.raises(ValueError, match="phase B holds -1 at position 0 of row 1"):
        ss.lrr([[1, 2, 3], [1, 2, 3]], [[1, 2, 3], [-1, 2, 3]])


def test_lrm_refuses_negative_data_even_with_positive_medians():
    # Before: 0.693 (ln of the ratio of the medians 2 and 1) for data with a negative value.
    with pytest.raises(ValueError, match="LRM needs non-negative data.*phase B holds -1"):
        ss.lrm([0, 1, 1, 3], [1, 2, 2, -1])


def test_tidy_lrr_is_nan_with_the_reason_for_negative_data_only():
    rows = [(c, t, "AB"[t > 3], v) for c, ys in {"neg": [-10, -20, -30, -1, -2, -3], "pos": [1, 2, 3, 4, 5, 6]}.items()
            for t, v in enumerate(ys, 1)]
    df = pd.DataFrame(rows, columns=["case", "session", "phase", "score"])
    t = ss.effect_sizes(df, metrics=["lrr", "nap"], outcomes=["score"]).set_index(["case", "metric"])
    assert math.isnan(t.loc[("neg", "lrr"), "estimate"])
    assert "LRR needs non-negative data" in t.loc[("neg", "lrr"), "notes"]
    assert t.loc[("pos", "lrr"), "estimate"] > 0 and t.loc[("neg", "nap"), "estimate"] == 1.0


# --------------------------------------------------------------------------- exact facts for the design at hand

def test_design_facts_follow_the_design():
    from scedsim.simulate.runner import design_facts

    st = Study(design="A4 B4", metrics=["pnd", "ird", "nap", {"name": "perm_test", "statistic": "nap"}],
               rules=["p_perm_nap <= 0.05"], n_cases=1, n_reps=10, n_design=100)
    facts = {(f["metric"], f["measure"]): f for f in design_facts(st)}
    assert facts[("pnd", "mean")]["expected"] == 0.2                      # 1/(m + 1)
    assert facts[("pnd", "probability")]["expected"] == pytest.approx(1 / 70)
    assert facts[("ird", "probability")]["at"] == 1.0
    assert facts[("nap", "mean")]["expected"] == 0.5
    # The exact NAP test rejects at .05 for 2U >= 30 of 32: 1 + 1 of 70 arrangements.
    assert facts[("p_perm_nap", "rejection_rate")]["expected"] == pytest.approx(2 / 70)
    # No facts where the null does not hold exactly (an effect, autocorrelation).
    st2 = Study(design="A4 B4", grid={"phi": [0.3], "level": [0.0]}, metrics=["pnd"], n_reps=10, n_design=100)
    assert design_facts(st2) == []


@pytest.mark.parametrize("threat", [{"shock": [1.0]}, {"shock_sd": [0.5]}, {"select": [1.0]},
                                    {"effect_sd": [0.5]}, {"outlier_rate": [0.1]}, {"trend": [0.1]}])
def test_no_design_facts_under_a_threat(threat):
    """A shared shock, selection on the first score or any other parameter that changes
    the ranks' distribution gives no exact facts (the second-edition study's shock and
    regression-to-the-mean conditions had been checked against the null facts)."""
    from scedsim.simulate.runner import design_facts

    st = Study(design="A3 B4", grid={"level": [0.0], **threat}, metrics=["nap"], n_cases=6, n_reps=10,
               n_design=100)
    assert design_facts(st) == []
    # Settings that leave a case's points exchangeable keep the facts.
    harmless = Study(design="A3 B4", grid={"level": [0.0], "case_sd": [1.0], "shock_at": [2], "onset": [0.5]},
                     metrics=["nap"], n_cases=6, n_reps=10, n_design=100)
    assert [f["expected"] for f in design_facts(harmless)] == [0.5]


def test_report_checks_exact_facts_for_a4b4_and_a3b2c2(tmp_path):
    from scedsim.simulate.report import exact_fact_checks
    import json

    st = Study(design="A4 B4", grid={"design": ["A4 B4", "A3 B2 C2"], "level": [0.0, 1.0]},
               contrasts={"A3 B2 C2": ["A:B", "A:C", "A:B+C"]}, metrics=["pnd", "ird"], n_cases=2, n_reps=600,
               seed=16, n_design=100, estimands=False)
    run(st, out=tmp_path / "out", quiet=True)
    meta = json.loads((tmp_path / "out/study.json").read_text())
    summary = pd.read_csv(tmp_path / "out/summary.csv")
    checks = exact_fact_checks(meta, summary)
    names = [c["check"] for c in checks]
    assert any(n.startswith("E[pnd] = 1/5 (A4 B4") for n in names)
    assert any(n.startswith("E[ird] = 11/30 (A3 B2 C2, A:B+C") for n in names)
    assert any(n.startswith("P(ird = 1) = 1/10 (A3 B2 C2, A:C") for n in names)
    assert len(checks) == 4 * 4 and all(c["agrees"] for c in checks), [c for c in checks if not c["agrees"]]
    from scedsim.simulate.report import write_report
    write_report(tmp_path / "out")
    text = (tmp_path / "out/report.md").read_text()
    assert "## Checks against exact small-sample facts" in text and "| NO |" not in text
