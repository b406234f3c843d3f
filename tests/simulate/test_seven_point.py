"""The flagship study's quick variant: same grid, fewer replications.  The report builds
and its null rows agree with the exact small-sample facts within 4 MCSE."""
import os
import pathlib
import subprocess
import sys

import pandas as pd

import scedsim
from scedsim.simulate.report import exact_fact_checks

ROOT = pathlib.Path(__file__).resolve().parents[2]
SRC = str(pathlib.Path(scedsim.__file__).resolve().parents[1])


def test_quick_seven_point_study(tmp_path):
    env = dict(os.environ, PYTHONPATH=SRC, SCEDSIM_CACHE_DIR=str(tmp_path / "cache"))
    out = tmp_path / "quick"
    cli = [sys.executable, "-m", "scedsim.cli"]
    r = subprocess.run(cli + ["simulate", str(ROOT / "simulations/seven_point/study_quick.toml"), "--out", str(out),
                              "--quiet"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(cli + ["report", str(out)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    report = (out / "report.md").read_text()
    assert "## Type I error (no effect)" in report and "## Checks against exact small-sample facts" in report
    conds = pd.read_csv(out / "conditions.csv")
    assert len(conds) == 111 and set(conds.status) == {"ok"}
    checks = exact_fact_checks(pd.read_csv(out / "summary.csv", low_memory=False))
    assert len(checks) >= 16
    failed = [c for c in checks if not c["agrees"]]
    assert not failed, failed
