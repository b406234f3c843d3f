"""PoGO: the worked example, goals per series and per outcome, edge cases, tidy table and CLI."""
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import scedsim as ss
from scedsim import registry
from scedsim._threads import get_num_threads, set_num_threads
from scedsim.datasets import load_burnout_example
from scedsim.registry import NormalShift

A, B = [18, 20], [19, 18, 20, 19, 18]


@pytest.mark.parametrize("goal,est,se,lo,hi", [
    (23, -0.05, 0.267219, -0.573741, 0.473741),
    (20, -0.2, 1.086278, None, None),
    (15, 0.05, 0.267219, None, None),
])
def test_worked_example(goal, est, se, lo, hi):
    r = ss.pogo(A, B, goal=goal)
    assert r.estimate == pytest.approx(est, abs=1e-12)
    assert r.se == pytest.approx(se, abs=5e-7)
    if lo is not None:
        assert (r.ci_lower, r.ci_upper) == pytest.approx((lo, hi), abs=5e-7)


def test_formula_against_plain_numpy():
    rng = np.random.default_rng(5)
    a, b = rng.normal(10, 2, (30, 4)), rng.normal(13, 2, (30, 6))
    goal = rng.uniform(14, 20, 30)
    r = ss.pogo(a, b, goal=goal, confidence=0.9)
    ma, mb = a.mean(1), b.mean(1)
    va, vb = a.var(1, ddof=1), b.var(1, ddof=1)
    est = (mb - ma) / (goal - ma)
    se = np.sqrt((va / 4 + vb / 6 + est ** 2 * va / 4) / (goal - ma) ** 2)
    np.testing.assert_allclose(r.estimate, est, rtol=1e-13)
    np.testing.assert_allclose(r.se, se, rtol=1e-13)
    np.testing.assert_allclose(r.ci_upper - r.estimate, 1.6448536269514722 * se, rtol=1e-12)


def test_goal_per_row_or_shared():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 9, (7, 3)).astype(float), rng.integers(0, 9, (7, 4)).astype(float)
    goals = np.arange(20.0, 27.0)
    per_row = ss.pogo(a, b, goal=goals)
    shared = ss.pogo(a, b, goal=12.5)
    for i in range(7):
        one = ss.pogo(a[i], b[i], goal=goals[i])
        assert per_row.estimate[i] == one.estimate and per_row.se[i] == one.se
        assert shared.estimate[i] == ss.pogo(a[i], b[i], goal=12.5).estimate
    assert ss.pogo(a, b, goal=[12.5]).estimate.tolist() == shared.estimate.tolist()


def test_large_batches_split_over_threads_keep_each_rows_goal():
    # run_rows splits big batches into row blocks; each block must get its own goals.
    rows = 70_000
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(rows, 3)), rng.normal(1, 1, (rows, 4))
    goal = rng.uniform(2, 5, rows)
    old = get_num_threads()
    try:
        set_num_threads(2)
        split = ss.pogo(a, b, goal=goal).estimate
        set_num_threads(1)
        whole = ss.pogo(a, b, goal=goal).estimate
    finally:
        set_num_threads(old)
    np.testing.assert_array_equal(split, whole)
    np.testing.assert_allclose(whole, (b.mean(1) - a.mean(1)) / (goal - a.mean(1)), rtol=1e-12)


def test_improvement_is_accepted_and_ignored():
    up, down = ss.pogo(A, B, goal=15), ss.pogo(A, B, goal=15, improvement="decrease")
    assert (up.estimate, up.se) == (down.estimate, down.se)
    with pytest.raises(ValueError, match="unknown improvement"):
        ss.pogo(A, B, goal=15, improvement="down")


@pytest.mark.parametrize("goal,match", [
    ("10", "must be a number"), (True, "must be a number"), (math.nan, "must be finite"),
    (math.inf, "must be finite"), ([1.0, 2.0], "one number;"), ([[1.0]], "one number;"),
])
def test_bad_goals(goal, match):
    with pytest.raises(ValueError, match=match):
        ss.pogo(A, B, goal=goal)


def test_bad_goal_shape_in_a_batch():
    with pytest.raises(ValueError, match=r"one per series \(2\)"):
        ss.pogo(np.ones((2, 3)), np.ones((2, 3)), goal=[1.0, 2.0, 3.0])


def test_goal_is_required():
    with pytest.raises(TypeError, match="goal"):
        ss.pogo(A, B)


def test_goal_at_the_baseline_mean():
    r = ss.pogo([18, 20], [19, 21], goal=19)
    assert r.estimate == math.inf and math.isnan(r.ci_lower)
    assert ss.pogo([18, 20], [17, 18], goal=19).estimate == -math.inf
    flat = ss.pogo([4, 4, 4], [4, 4], goal=4)  # 0/0: SingleCaseES's NA
    assert math.isnan(flat.estimate) and math.isnan(flat.se)


def test_one_point_phases_keep_the_estimate():
    r = ss.pogo([18], [19, 21], goal=22)
    assert r.estimate == 0.5 and math.isnan(r.se) and math.isnan(r.ci_lower)
    assert math.isnan(ss.pogo([18, 20], [21], goal=23).se)


def test_registry_entry():
    m = registry.get_metric("pogo")
    assert m.required == {"goal": 10.0} and not m.default and not m.directed and not m.statistic
    assert m.references[0].units == 100.0
    assert m.limit(NormalShift(delta=0.5, s=1.0, tau=0.0, pi=0.5), {"goal": 2.0}) == 0.25
    assert m.limit(NormalShift(delta=0.5, s=1.0, tau=0.0, pi=0.5), {}) is None
    # Under the simulator's convention (data negated for "decrease") the raw data come back.
    a, b = np.array([[3.0, 4.0]]), np.array([[6.0, 7.0]])
    assert m.estimates(-a, -b, "decrease", goal=7.5).tolist() == ss.pogo(a, b, goal=7.5).estimate.tolist()


# ------------------------------------------------------------------ tidy table

@pytest.fixture(scope="module")
def burnout():
    return load_burnout_example()


def _direct(df, case, outcome, goal):
    s = df[(df["case"] == case) & (df["outcome"] == outcome)].sort_values("session")
    return ss.pogo(s.loc[s["phase"] == "A", "value"], s.loc[s["phase"] == "B", "value"], goal=goal)


def test_tidy_goal_per_outcome(burnout):
    goals = {"EE": 10, "PA": 40}
    t = ss.effect_sizes(burnout, outcomes=["EE", "PA"], metrics=["nap", "pogo"],
                        options={"pogo": {"goal": goals}})
    p = t[t.metric == "pogo"]
    assert len(p) == 12 and (p.notes == "").all()
    for row in p.itertuples():
        r = _direct(burnout, row.case, row.outcome, goals[row.outcome])
        assert (row.estimate, row.se, row.ci_lower) == (r.estimate, r.se, r.ci_lower)
    one = ss.effect_sizes(burnout, outcomes=["EE", "PA"], metrics=["pogo"], options={"pogo": {"goal": 25}})
    assert one.estimate.tolist() == [_direct(burnout, r.case, r.outcome, 25).estimate for r in one.itertuples()]


@pytest.mark.parametrize("options,match", [
    (None, r"pogo needs goal=\.\.\.: e\.g\. options=\{'pogo': \{'goal': 10\.0\}\}"),
    ({"pogo": {"goal": {"EE": 10}}}, "pogo's goal gives no value for outcome 'PA'"),
    ({"pogo": {"goal": {"EE": 10, "PA": 40, "QoL": 3}}}, "names outcome 'QoL', which is not in the data"),
    ({"pogo": {"goal": {"EE": 10, "PA": "high"}}}, "bad option for pogo: PoGO's goal must be a number"),
    ({"pogo": {"goal": {}}}, "empty mapping"),
])
def test_tidy_goal_errors(burnout, options, match):
    with pytest.raises(ValueError, match=match):
        ss.effect_sizes(burnout, outcomes=["EE", "PA"], metrics=["pogo"], options=options)


def test_all_includes_pogo_only_with_a_goal(burnout):
    without = ss.effect_sizes(burnout, outcomes=["EE"], metrics="all")
    assert "pogo" not in set(without.metric)
    assert "pogo" in set(ss.effect_sizes(burnout, outcomes=["EE"], metrics="all",
                                         options={"pogo": {"goal": 3}}).metric)


def test_tidy_goal_column(burnout):
    df = burnout.assign(goal=np.where(burnout.outcome == "EE", 10.0, 40.0) + (burnout.case == "P2"))
    t = ss.effect_sizes(df, outcomes=["EE", "PA"], metrics=["pogo"], goal_column="goal")
    for row in t.itertuples():
        want = (10.0 if row.outcome == "EE" else 40.0) + (row.case == "P2")
        assert row.estimate == _direct(burnout, row.case, row.outcome, want).estimate
    bad = df.copy()
    bad.loc[(bad.case == "P3") & (bad.outcome == "EE") & (bad.session == 2), "goal"] = 11.0
    with pytest.raises(ValueError, match="2 different goals for case 'P3', outcome 'EE'"):
        ss.effect_sizes(bad, outcomes=["EE", "PA"], metrics=["pogo"], goal_column="goal")
    with pytest.raises(ValueError, match="goal_column 'nope' is not a column"):
        ss.effect_sizes(df, metrics=["pogo"], goal_column="nope")
    with pytest.raises(ValueError, match="none of the metrics"):
        ss.effect_sizes(df, metrics=["nap"], goal_column="goal")
    with pytest.raises(ValueError, match="given twice"):
        ss.effect_sizes(df, metrics=["pogo"], goal_column="goal", options={"pogo": {"goal": 3}})


def test_tidy_goal_column_of_a_wide_table(burnout):
    wide = burnout.pivot_table(index=["case", "session", "phase"], columns="outcome", values="value").reset_index()
    wide["goal"] = np.where(wide.case == "P1", 50.0, 45.0)
    t = ss.effect_sizes(wide, outcomes=["PA", "QoL"], metrics=["pogo"], goal_column="goal")
    for row in t.itertuples():
        assert row.estimate == _direct(burnout, row.case, row.outcome, 50.0 if row.case == "P1" else 45.0).estimate


def test_tidy_one_point_phase_note():
    df = pd.DataFrame({"case": "c", "session": [1, 2, 3], "phase": ["A", "B", "B"], "value": [3.0, 5.0, 6.0]})
    t = ss.effect_sizes(df, outcomes=["value"], metrics=["pogo"], options={"pogo": {"goal": 7}})
    assert t.estimate[0] == 0.625 and math.isnan(t.se[0])
    assert "PoGO's variance needs 2 points per phase" in t.notes[0]


# ------------------------------------------------------------------ command line

def _run(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(ss.__file__).resolve().parents[1]))
    return subprocess.run([sys.executable, "-m", "scedsim.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_goal(tmp_path, burnout):
    burnout.assign(target=np.where(burnout.outcome == "EE", 10.0, 40.0)).to_csv(tmp_path / "d.csv", index=False)
    r = _run("es", "d.csv", "--outcome", "EE,PA", "--metrics", "nap,pogo", "--goal", "EE=10,PA=40",
             "--out", "out.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    p = out[out.metric == "pogo"]
    assert [round(v, 12) for v in p.estimate] == [round(_direct(burnout, c, o, 10 if o == "EE" else 40).estimate, 12)
                                                  for c, o in zip(p.case, p.outcome)]
    r2 = _run("es", "d.csv", "--outcome", "EE,PA", "--metrics", "pogo", "--goal-column", "target",
              "--out", "out2.csv", cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "out2.csv").estimate, p.estimate)


@pytest.mark.parametrize("args,msg", [
    (["--metrics", "pogo"], "--metrics pogo needs a goal: --goal EE=10,PA=40"),
    (["--metrics", "pogo", "--goal", "EE=10"], "--goal gives no goal for outcome 'PA'"),
    (["--metrics", "pogo", "--goal", "EE=10,PA=4,XX=1"], "--goal names 'XX', which is not an outcome"),
    (["--metrics", "pogo", "--goal", "EE=ten"], "--goal takes one number or NAME=NUMBER pairs"),
    (["--metrics", "nap", "--goal", "3"], "no metric asked for takes a goal"),
    (["--metrics", "pogo", "--goal", "3", "--goal-column", "g"], "give --goal or --goal-column, not both"),
])
def test_cli_goal_errors_are_one_line(tmp_path, burnout, args, msg):
    burnout.to_csv(tmp_path / "d.csv", index=False)
    r = _run("es", "d.csv", "--outcome", "EE,PA", *args, cwd=tmp_path)
    assert r.returncode == 2 and msg in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_cli_ab_says_pogo_needs_a_goal(tmp_path):
    r = _run("ab", "--a", "1 2 3", "--b", "2 4 5", cwd=tmp_path)
    assert r.returncode == 0 and "not computed: needs goal=" in r.stdout
