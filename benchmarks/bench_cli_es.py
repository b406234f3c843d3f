#!/usr/bin/env python
"""``scedsim es`` end to end on large tables: is the command linear in the cases?

Writes a wide CSV of N cases x 30 occasions (phases A 1-10, B 11-20, C 21-30;
two outcomes) for each N, then times the whole command in a fresh process
(``python -m scedsim.cli es ... --out results.csv``), printing included, with
stdout going to a file as it would to a pager or a log.  Also times the same
with ``--quiet`` (no table) to show what the printing costs.

Acceptance (issue 16): 10x the cases in <= 12x the time.

Run from the project root::

    python benchmarks/bench_cli_es.py                  # 1,000 and 10,000 cases
    python benchmarks/bench_cli_es.py --cases 500,5000 --repeats 1
"""
from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"


def make_table(n: int, path: pathlib.Path, n_time: int = 30) -> None:
    rng = np.random.default_rng(n)
    case = np.repeat(np.arange(n), n_time)
    sess = np.tile(np.arange(1, n_time + 1), n)
    phase = np.where(sess <= 10, "A", np.where(sess <= 20, "B", "C"))
    pd.DataFrame({"case": [f"p{c}" for c in case], "session": sess, "phase": phase,
                  "EE": rng.normal(20, 5, n * n_time).round(1),
                  "DP": rng.normal(10, 3, n * n_time).round(1)}).to_csv(path, index=False)


def time_command(data: pathlib.Path, out: pathlib.Path, extra=()) -> float:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    cmd = [sys.executable, "-m", "scedsim.cli", "es", str(data), "--outcome", "EE,DP", "--decrease", "EE",
           "--out", str(out / "results.csv"), *extra]
    with open(out / "stdout.txt", "w") as sink:
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=sink, check=True, env=env)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="1000,10000", help="comma-separated numbers of cases")
    ap.add_argument("--repeats", type=int, default=2, help="runs per size (the best is kept)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.cases.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        # Warm numba's cache so that the first size does not pay for compiling.
        make_table(50, tmp / "warm.csv")
        time_command(tmp / "warm.csv", tmp)
        rows = []
        for n in sizes:
            data = tmp / f"cases_{n}.csv"
            make_table(n, data)
            full = min(time_command(data, tmp) for _ in range(args.repeats))
            quiet = min(time_command(data, tmp, ["--quiet"]) for _ in range(args.repeats))
            rows.append((n, data.stat().st_size / 1e6, full, quiet))
            print(f"{n:7d} cases ({rows[-1][1]:5.1f} MB): {full:7.2f} s with the table, "
                  f"{quiet:7.2f} s with --quiet", flush=True)
        for (n0, _, t0, _), (n1, _, t1, _) in zip(rows, rows[1:]):
            print(f"{n1 / n0:.0f}x the cases: {t1 / t0:.1f}x the time (acceptance: <= {1.2 * n1 / n0:.0f}x)")


if __name__ == "__main__":
    main()
