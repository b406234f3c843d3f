"""The seven-point study, second edition (simulations/seven_point, issue 13): README's
numbers are the committed results, and the runner features it needs."""
import math
import pathlib
import re

import numpy as np
import pandas as pd
import pytest

from scedsim.simulate import Study, run

ROOT = pathlib.Path(__file__).resolve().parents[2]
STUDY = ROOT / "simulations/seven_point"


def test_across_tests_skip_conditions_with_too_few_cases():
    """Stacked grids may mix one-person and six-person conditions: a between-person test
    runs where there are enough people and leaves no rows elsewhere; a test no condition
    can run is still an error."""
    study = Study(grid=[{"n_cases": [1]}, {"n_cases": [4]}], n_reps=200, estimands=False, block_size=100,
                  metrics=["nap", {"name": "between_test", "statistic": "mean_diff", "method": "sign_flip",
                                   "label": "p_sf"}], rules=["p_sf <= 0.0625"])
    s = run(study, quiet=True).summary
    rej = s[(s.metric == "p_sf") & (s.measure == "rejection_rate")]
    assert list(rej.n_cases) == [4]
    assert set(s[s.metric == "nap"].n_cases) == {1, 4}
    with pytest.raises(ValueError, match="needs at least 2 cases"):
        Study(n_cases=1, n_reps=10, metrics=[{"name": "between_test", "statistic": "mean_diff"}])


def _tables():
    import importlib.util

    spec = importlib.util.spec_from_file_location("readme_tables", STUDY / "readme_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _readme_tables(text):
    """README's tables, each after its ``<!-- table: name -->`` marker."""
    return dict(re.findall(r"<!-- table: (\w+) -->\n((?:\|[^\n]*\n?)+)", text))


def test_readme_tables_are_the_committed_results():
    """Every README table is rebuilt from results/summary.csv and must match digit for digit."""
    mod = _tables()
    built = mod.all_tables()
    found = _readme_tables((STUDY / "README.md").read_text())
    assert set(found) == set(built), set(built) ^ set(found)
    for name, table in built.items():
        assert found[name].strip() == table.strip(), name


def test_acceptance_t_test_size_and_the_shared_shock():
    """Issue 13's acceptance: the t-test's Type I error at phi = .6 is within 4 MCSE of .05
    (it is exact under this model), and under a shock shared at occasion 4 every
    six-person analysis of the A3 B4 design rejects far more than .05 (it cannot tell the
    shock from an effect), while the multiple-baseline randomization test of the
    staggered design (study_mb.toml) keeps its exact size 36/729."""
    mod = _tables()
    s = mod.load()
    for phi in (-0.3, 0.0, 0.3, 0.6):
        v, se = mod.value(s, dict(phi=phi), "p_t", "replication", "rejection_rate", "p_t <= 0.05")
        assert abs(v - 0.05) <= 4 * se, (phi, v, se)
        assert se <= 0.0034   # 5,000 replications: sqrt(.06 x .94 / 5000)
    for label, metric, scope, rule in mod.SIX:
        v, se = mod.value(s, dict(shock=1.0), metric, scope, "rejection_rate", rule)
        if "CDC" in label or "DC" in label:
            # With 4 treatment points CDC/DC's smallest p is 1/16 > .05: they never reject.
            assert v == 0.0
            continue
        assert v > 0.075 + 4 * se, (label, v)
    mb = pd.read_csv(STUDY / "results_mb/summary.csv")
    r = mb[(mb.metric == "p_mbd") & (mb.measure == "rejection_rate") & (mb.level == 0)]
    assert len(r) == 6 and set(r.shock.fillna(0)) == {0.0, 0.5, 1.0}
    assert (abs(r.value - 36 / 729) <= 4 * r.mcse).all()
    t = mb[(mb.metric == "p_t") & (mb.measure == "rejection_rate") & (mb.shock == 1.0)]
    assert (t.value > 0.075 + 4 * t.mcse).all()


def test_tau_bc_with_the_pretest_is_plain_tau_here():
    """With 3 baseline points the Mann-Kendall pretest can never reach p <= .05, so
    Tarlow's Tau-BC is plain Tau in every A3 B4 condition (same estimates, same means)."""
    s = _tables().load()
    m = s[(s.measure == "mean") & (s.scope == "case") & (s.design == "A3 B4")]
    tau, pre = m[m.metric == "tau"], m[m.metric == "tau_bc_pre"]
    # One row each per condition, in the same condition order.
    cond = [c for c in m.columns if c not in ("metric", "scope", "measure", "estimand", "at", "rule", "value",
                                              "mcse", "status")]
    assert len(tau) == len(pre) > 50
    assert (tau[cond].fillna(-1).to_numpy() == pre[cond].fillna(-1).to_numpy()).all()
    assert np.abs(tau.value.to_numpy() - pre.value.to_numpy()).max() < 1e-12


def test_study_json_run_time_is_quoted():
    import json

    meta = json.loads((STUDY / "results/study.json").read_text())
    text = (STUDY / "README.md").read_text()
    assert f"{meta['last_run_seconds']:.0f} s" in text
    assert len(pd.read_csv(STUDY / "results/conditions.csv")) == 177


def test_small_multiple_baseline_run_reproduces_the_exact_facts(tmp_path):
    """study_mb.toml with 300 replications: the randomization test's size is 36/729 with
    and without the shared shock, and its smallest p is 1/729."""
    import os
    import subprocess
    import sys

    import scedsim
    from scedsim.simulate.checks import run_checks
    from scedsim.simulate.studyfile import load_study

    text = (STUDY / "study_mb.toml").read_text()
    assert "n_reps = 5000 " in text and "n_design = 5000\n" in text
    toml = tmp_path / "mb_ci.toml"
    toml.write_text(text.replace("n_reps = 5000 ", "n_reps = 300 ").replace("n_design = 5000\n", "n_design = 300\n"))
    src = str(pathlib.Path(scedsim.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=src, SCEDSIM_CACHE_DIR=str(tmp_path / "cache"))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "scedsim.cli", "simulate", str(toml), "--out", str(out), "--quiet"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    study, _ = load_study(toml)
    checks = run_checks(pd.read_csv(out / "summary.csv", low_memory=False), study.checks)
    assert len(study.checks) == 2 and len(checks) == 10 + 6
    failed = [c for c in checks if not c["agrees"]]
    assert not failed, failed


def test_report_gives_error_quantiles_not_rmse_for_the_smd():
    """The committed report: no RMSE row for the SMD (its variance is infinite with a
    3-point baseline SD); median absolute error and IQR of the error instead."""
    text = (STUDY / "results/report.md").read_text()
    rmse = text.split("## RMSE against the large-sample limit")[1].split("\n## ")[0]
    assert "| smd |" not in rmse and "| nap |" in rmse
    for title in ("## Median absolute error against the large-sample limit",
                  "## IQR of the error against the large-sample limit"):
        part = text.split(title)[1].split("\n## ")[0]
        assert "| smd |" in part and "| nap |" not in part


def test_bcsmd_targets_in_the_committed_results():
    """The design-comparable SMD's target in results_bcsmd/estimands.csv: d in marginal
    units, d sqrt(1 - phi^2) in innovation units (the unit is the innovation SD, the
    denominator the marginal SD), none where the untreated level is not stationary or
    the model is not normal; every replication of a normal condition has an estimate."""
    conds = pd.read_csv(STUDY / "results_bcsmd/conditions.csv", low_memory=False)
    est = pd.read_csv(STUDY / "results_bcsmd/estimands.csv", low_memory=False)
    b = est[est.metric.isin(["bcsmd_hps", "bcsmd_reml"])]
    assert len(b) == 2 * len(conds)
    assert set(b.scope) == {"replication"} and set(b.n_cases) == {6, 12}
    # A shared shock is a threat, not an effect: its condition's target is the plain one.
    plain = b[(b.model == "normal_ar1") & b.trend.isna()]
    assert len(plain) == 2 * 40 and (plain.limit_kind == "analytic").all()
    assert (plain[plain.shock.notna()].limit == 0.0).all() and plain.shock.notna().sum() == 2
    innov = plain.scale == "innovation"
    want = np.where(innov, plain.level * np.sqrt(1 - plain.phi ** 2), plain.level)
    np.testing.assert_allclose(plain.limit, want, rtol=1e-14, atol=0)
    rest = b.drop(plain.index)
    assert rest.limit.isna().all() and rest.limit_kind.str.startswith("none:").all()
    assert len(rest) == 2 * 2 and set(rest.model) == {"normal_ar1", "poisson"}
    s = pd.read_csv(STUDY / "results_bcsmd/summary.csv", low_memory=False)
    v = s[s.metric.isin(["bcsmd_hps", "bcsmd_reml"]) & (s.measure == "valid_share") & (s.model == "normal_ar1")]
    assert len(v) == 2 * 41 and (v.value == 1.0).all()


def test_bcsmd_study_reuses_the_main_studys_series():
    """study_bcsmd.toml has study.toml's seed and replications, and each of its
    conditions is one of study.toml's with the same parameters (seeds depend on the
    parameters only, so the series are the same); the main study no longer fits it."""
    import tomllib

    main = tomllib.loads((STUDY / "study.toml").read_text())
    bc = tomllib.loads((STUDY / "study_bcsmd.toml").read_text())
    assert (bc["seed"], bc["n_reps"]) == (main["seed"], main["n_reps"])
    assert not any(isinstance(m, dict) and m.get("name") == "bcsmd" for m in main["metrics"])
    meta = {"n_blocks", "n_errors", "status"}
    mine = pd.read_csv(STUDY / "results_bcsmd/conditions.csv", low_memory=False)
    theirs = pd.read_csv(STUDY / "results/conditions.csv", low_memory=False)
    params = [c for c in mine.columns if c not in meta]
    others = [c for c in theirs.columns if c not in meta and c not in params]
    theirs = theirs[theirs[others].isna().all(axis=1)]  # parameters the BC-SMD file never sets

    def rows(df):
        return {tuple(None if pd.isna(v) else v for v in r) for r in df[params].itertuples(index=False)}

    assert len(mine) == 42 and rows(mine) <= rows(theirs)
