"""The flagship study's quick variant, smaller still for CI: the same grid with fewer
replications.  The report builds, and every exact fact the study file declares
([[check]] tables) holds within 4 MCSE."""
import os
import pathlib
import subprocess
import sys

import pandas as pd

import scedsim
from scedsim.simulate.checks import run_checks
from scedsim.simulate.studyfile import load_study

ROOT = pathlib.Path(__file__).resolve().parents[2]
SRC = str(pathlib.Path(scedsim.__file__).resolve().parents[1])


def test_quick_seven_point_study(tmp_path):
    env = dict(os.environ, PYTHONPATH=SRC, SCEDSIM_CACHE_DIR=str(tmp_path / "cache"))
    out = tmp_path / "quick"
    text = (ROOT / "simulations/seven_point/study_quick.toml").read_text()
    # CI: fewer replications than the quick variant (the checks' tolerances follow their MCSEs).
    assert "n_reps = 1000 " in text and "n_design = 5000\n" in text
    toml = tmp_path / "study_ci.toml"
    # No estimands either: the checks are exact facts about means and rejection rates, and the
    # estimands' long-run Tau-BC series (two variants, ~400 occasions each) took 2 of the
    # test's 2.2 minutes.  The estimands themselves are tested in test_runner / test_null_facts.
    assert "\nn_jobs = 2\n" in text and "estimands" not in text.split("[contrasts]")[0]
    toml.write_text(text.replace("n_reps = 1000 ", "n_reps = 400 ").replace("n_design = 5000\n", "n_design = 1000\n")
                    .replace("\nn_jobs = 2\n", "\nn_jobs = 2\nestimands = false\n", 1))
    cli = [sys.executable, "-m", "scedsim.cli"]
    r = subprocess.run(cli + ["simulate", str(toml), "--out", str(out), "--quiet"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(cli + ["report", str(out)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    report = (out / "report.md").read_text()
    assert "## Type I error (no effect)" in report and "## Checks declared by the study" in report
    assert "ird_distribution.png" in report
    conds = pd.read_csv(out / "conditions.csv")
    assert len(conds) == 111 and set(conds.status) == {"ok"}
    study, _ = load_study(toml)
    checks = run_checks(pd.read_csv(out / "summary.csv", low_memory=False), study.checks)
    assert len(checks) >= 16 + 8 + 1 and len(study.checks) == 13
    failed = [c for c in checks if not c["agrees"]]
    assert not failed, failed
