"""The comparator study (simulations/comparators): its README tables are the stored
results, and a small run of the same study file reproduces its exact facts."""
import os
import pathlib
import re
import subprocess
import sys

import pandas as pd

import scedsim
from scedsim.simulate.checks import run_checks
from scedsim.simulate.studyfile import load_study

ROOT = pathlib.Path(__file__).resolve().parents[2]
SRC = str(pathlib.Path(scedsim.__file__).resolve().parents[1])
STUDY = ROOT / "simulations/comparators"
RULES = {"CDC": "p_cdc < 0.05", "DC": "p_dc < 0.05", "exact NAP test": "p_perm_nap <= 0.05",
         "PLM level, OLS": "p_plm_ols <= 0.05", "PLM level, AR(1)": "p_plm_ar1 <= 0.05",
         "PLM level, OLS two-sided": "p_plm_ols_2s <= 0.05", "AB randomization test": "p_rand_mean_diff <= 0.05"}
COLUMNS = [(0.0, -0.3), (0.0, 0.0), (0.0, 0.3), (0.0, 0.6), (1.0, 0.0), (2.0, 0.0), (2.0, 0.6)]


def test_readme_tables_are_the_stored_results():
    s = pd.read_csv(STUDY / "results/summary.csv", low_memory=False)
    r = s[(s.measure == "rejection_rate") & (s.scope == "case") & s.outlier_rate.isna() & s.onset.isna()]
    text = (STUDY / "README.md").read_text()
    n = 0
    for design, table in re.findall(r"\*\*(A\d+ B\d+)\*\*[^\n]*\n\n((?:\|[^\n]*\n)+)", text):
        for line in table.splitlines()[2:]:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rule = RULES[cells[0]]
            for (level, phi), cell in zip(COLUMNS, cells[1:]):
                row = r[(r.design == design) & (r.level == level) & (r.phi == phi) & (r.rule == rule)]
                assert len(row) == 1
                assert f"{row.value.iloc[0]:.3f}".lstrip("0") == cell, (design, cells[0], level, phi)
                n += 1
    assert n == 3 * 7 * 7


def test_small_run_reproduces_the_exact_facts(tmp_path):
    text = (STUDY / "study.toml").read_text()
    assert "n_reps = 10000 " in text and "n_design = 20000\n" in text
    toml = tmp_path / "comparators_ci.toml"
    toml.write_text(text.replace("n_reps = 10000 ", "n_reps = 400 ").replace("n_design = 20000\n",
                                                                             "n_design = 1000\n"))
    env = dict(os.environ, PYTHONPATH=SRC, SCEDSIM_CACHE_DIR=str(tmp_path / "cache"))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "scedsim.cli", "simulate", str(toml), "--out", str(out), "--quiet"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    conds = pd.read_csv(out / "conditions.csv")
    assert len(conds) == 56 and set(conds.status) == {"ok"}
    study, _ = load_study(toml)
    checks = run_checks(pd.read_csv(out / "summary.csv", low_memory=False), study.checks)
    assert len(study.checks) == 7 and len(checks) == 81
    failed = [c for c in checks if not c["agrees"]]
    assert not failed, failed
