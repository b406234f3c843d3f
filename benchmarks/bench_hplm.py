#!/usr/bin/env python
"""Throughput of hplm fits (multilevel piecewise model, random intercept) on many data sets.

Six cases x seven occasions (baselines 2, 2, 3, 3, 4, 4), the simulator's case:
``scedsim.multilevel.hplm_batch`` (ML and REML; AR(1) on fewer sets) against a
straightforward numpy/scipy baseline in the same process (per set: dense GLS
per case, ``scipy.optimize.minimize_scalar`` over log(tau^2 / s2), then the
boundary tau = 0).  Target: >= 5,000 sets/s for the default model on 2 cores.
The baseline's level estimates are compared with the batch's.

Run from the project root::

    python benchmarks/bench_hplm.py [--sets N] [--baseline-sets N] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import platform
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _timing import best  # noqa: E402

import scedsim as ss  # noqa: E402
from scedsim.multilevel import _design, hplm_batch  # noqa: E402

LENGTHS = [2, 2, 3, 3, 4, 4]
N_TIME = 7


def baseline_fit(y, X_cases):
    """ML random-intercept fit of one set with numpy and scipy: the obvious code."""
    from scipy.optimize import minimize_scalar

    n = sum(x.shape[0] for x in X_cases)
    p = X_cases[0].shape[1]

    def profile(lam):
        A, b, yy, ld = np.zeros((p, p)), np.zeros(p), 0.0, 0.0
        for X, yc in zip(X_cases, y):
            W = np.eye(X.shape[0]) + lam
            Wi = np.linalg.inv(W)
            A += X.T @ Wi @ X
            b += X.T @ Wi @ yc
            yy += yc @ Wi @ yc
            ld += np.linalg.slogdet(W)[1]
        beta = np.linalg.solve(A, b)
        rss = yy - b @ beta
        return -0.5 * n * (math.log(2 * math.pi * rss / n) + 1) - 0.5 * ld, beta

    r = minimize_scalar(lambda x: -profile(math.exp(x))[0], bounds=(-14, 10), method="bounded",
                        options={"xatol": 1e-8})
    ll, beta = profile(math.exp(r.x))
    ll0, beta0 = profile(0.0)
    return beta0 if ll0 >= ll else beta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=20_000)
    ap.add_argument("--ar-sets", type=int, default=1_000)
    ap.add_argument("--baseline-sets", type=int, default=200)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(1)
    k = len(LENGTHS)
    y = (rng.normal(size=(args.sets, k, N_TIME)) + rng.normal(size=(args.sets, k, 1))
         + 1.0 * (np.arange(N_TIME)[None, None, :] >= np.array(LENGTHS)[None, :, None]))
    out = {"machine": f"{platform.machine()} {platform.system()}, Python {platform.python_version()}",
           "threads": ss.get_num_threads(), "design": f"{k} cases x {N_TIME} occasions, baselines {LENGTHS}"}
    rows = []
    for label, kw, n in (("ML", {}, args.sets), ("REML", {"method": "REML"}, args.sets),
                         ("ML, ar=1", {"ar": 1}, args.ar_sets)):
        for threads in sorted({1, out["threads"]}):
            ss.set_num_threads(threads)
            t = best(lambda: hplm_batch(y[:n], LENGTHS, **kw), repeats=3)
            rows.append((f"hplm_batch {label}, {threads} thread(s)", n / t))
    ss.set_num_threads(out["threads"])
    t1 = np.arange(1.0, N_TIME + 1)
    X_cases = [_design(t1, (np.arange(N_TIME) >= m).astype(float), "W") for m in LENGTHS]
    nb = args.baseline_sets
    t = best(lambda: [baseline_fit(y[s], X_cases) for s in range(nb)], repeats=1)
    rows.append(("numpy/scipy baseline ML, 1 thread", nb / t))
    ref = np.array([baseline_fit(y[s], X_cases)[2] for s in range(nb)])
    got = hplm_batch(y[:nb], LENGTHS).estimate[:, 2]
    out["baseline_max_abs_level_diff"] = float(np.max(np.abs(ref - got)))
    base = rows[-1][1]
    print(f"{out['design']}; {out['machine']}; up to {out['threads']} threads")
    for name, rate in rows:
        print(f"  {name:<44s} {rate:>12,.0f} sets/s   x{rate / base:,.0f} baseline")
    print(f"  level estimate, batch vs baseline: max |diff| = {out['baseline_max_abs_level_diff']:.2e}")
    out["sets_per_second"] = dict(rows)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
