#!/usr/bin/env python
"""Throughput of the between-case SMD (HPS and REML) on batches of 6-case x 7-occasion sets.

Two designs: every case 3 A + 4 B, and a staggered multiple baseline (baselines of
2, 3, 3, 4, 4, 5 occasions).  Data: random case intercepts (ICC .3), AR(1) errors
(phi .3), effect .5 SD.  Targets (2 cores): HPS >= 10^5 sets/s, REML >= 5,000 sets/s.

Measured in the same run against two baselines:

* a straightforward numpy/scipy implementation (dense g x g matrices; REML by
  ``scipy.optimize.minimize`` on (log lambda, atanh phi)), which also checks the
  kernels' answers;
* the kernels' plain-Python twins.

Run from the project root::

    python benchmarks/bench_bcsmd.py [--sets N] [--baseline-sets N] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np
from scipy import linalg, optimize

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _timing import best  # noqa: E402

import scedsim as ss
from scedsim._hps import _hps_mb
from scedsim._reml_ar1 import _reml_bcsmd, _work_size
from scedsim.between_case import _Design

HERE = pathlib.Path(__file__).resolve().parent
K, T = 6, 7
DESIGNS = {"3A+4B": [3] * K, "staggered": [2, 3, 3, 4, 4, 5]}


def make_sets(n_sets, baselines, rng, phi=0.3, icc=0.3, effect=0.5):
    trt = np.arange(T)[None, :] >= np.array(baselines)[:, None]
    e = np.empty((n_sets, K, T))
    e[..., 0] = rng.standard_normal((n_sets, K))
    for t in range(1, T):
        e[..., t] = phi * e[..., t - 1] + np.sqrt(1 - phi ** 2) * rng.standard_normal((n_sets, K))
    u = rng.standard_normal((n_sets, K, 1)) * np.sqrt(icc)
    return u + np.sqrt(1 - icc) * e + effect * trt, trt


# --------------------------------------------------------------------------- plain numpy/scipy baseline

def _J(x):
    return 1 - 3 / (4 * x - 1)


def hps_numpy(y, trt):
    """HPS (2013) with dense matrices, straight from the formulas."""
    k, n = y.shape
    Y = y.ravel()
    D = trt.ravel().astype(float)
    g = Y.size
    case = np.repeat(np.arange(k), n)
    t = np.tile(np.arange(n), k)
    X = np.zeros((g, 2 * k))
    X[np.arange(g), 2 * case + D.astype(int)] = 1.0
    cells = t * 2 + D.astype(int)
    _, cell = np.unique(cells, return_inverse=True)
    C = np.eye(cell.max() + 1)[cell]
    Kc = C.shape[1]
    P = C @ np.linalg.solve(C.T @ C, C.T)
    Dbar = np.mean([y[i, trt[i]].mean() - y[i, ~trt[i]].mean() for i in range(k)])
    S2 = Y @ (np.eye(g) - P) @ Y / (g - Kc)
    e = Y - X @ np.linalg.solve(X.T @ X, X.T @ Y)
    E = e.reshape(k, n)
    a0 = (E ** 2).sum()
    a1 = (E[:, 1:] * E[:, :-1]).sum()
    h = X.sum(0)
    phi = a1 / a0 + ((h - 1) / h).sum() / (g - 2 * k)
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    R = linalg.block_diag(*[phi ** lag] * k)
    XtXi = np.linalg.inv(X.T @ X)
    s2w = a0 / (g - np.trace(XtXi @ X.T @ R @ X))
    rho = max(0.0, 1 - s2w / S2)
    Sig = linalg.block_diag(*[rho + (1 - rho) * phi ** lag] * k)
    A = np.eye(g) - P
    nu = (g - Kc) ** 2 / np.trace(A @ Sig @ A @ Sig)
    V = XtXi @ X.T @ Sig @ X @ XtXi
    theta2 = sum(V[2 * i + 1, 2 * i + 1] + V[2 * i, 2 * i] - 2 * V[2 * i, 2 * i + 1] for i in range(k)) / k ** 2
    J = _J(nu)
    est = J * Dbar / np.sqrt(S2)
    nut = max(nu, 2.001)
    var = J ** 2 * (theta2 * nut / (nut - 2) + est ** 2 * (nut / (nut - 2) - 1 / J ** 2))
    return est, np.sqrt(var)


def reml_numpy(y, trt):
    """Random intercept + AR(1): REML by scipy.optimize on dense matrices, expected information."""
    k, n = y.shape
    Y = y.ravel()
    X = np.column_stack([np.ones(Y.size), trt.ravel().astype(float)])
    g = Y.size
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    ones = np.ones((n, n))

    def crit(p):
        lam, phi = np.exp(p[0]), np.tanh(p[1])
        W = linalg.block_diag(*[lam * ones + phi ** lag] * k)
        Wi = np.linalg.inv(W)
        XWX = X.T @ Wi @ X
        b = np.linalg.solve(XWX, X.T @ Wi @ Y)
        r = Y - X @ b
        return (g - 2) * np.log(r @ Wi @ r) + np.linalg.slogdet(W)[1] + np.linalg.slogdet(XWX)[1]

    starts = [(a, z) for a in (-2.0, 0.0, 2.0) for z in (-0.5, 0.3, 1.0)]
    p0 = min(starts, key=crit)
    fit = optimize.minimize(crit, p0, method="Nelder-Mead", options=dict(xatol=1e-8, fatol=1e-12, maxiter=4000))
    lam, phi = np.exp(fit.x[0]), np.tanh(fit.x[1])
    W = linalg.block_diag(*[lam * ones + phi ** lag] * k)
    Wi = np.linalg.inv(W)
    XWX = X.T @ Wi @ X
    b = np.linalg.solve(XWX, X.T @ Wi @ Y)
    r = Y - X @ b
    s2 = r @ Wi @ r / (g - 2)
    tau2 = lam * s2
    Vi = Wi / s2
    Pm = Vi - Vi @ X @ np.linalg.solve(X.T @ Vi @ X, X.T @ Vi)
    dphi = np.where(lag > 0, lag * phi ** np.maximum(lag - 1, 0), 0.0)
    dV = [linalg.block_diag(*[ones] * k), linalg.block_diag(*[s2 * dphi] * k),
          linalg.block_diag(*[phi ** lag] * k)]
    PdV = [Pm @ d for d in dV]
    I = np.array([[0.5 * np.trace(a @ c) for c in PdV] for a in PdV])
    rv = np.array([1.0, 0.0, 1.0])
    nu = 2 * (tau2 + s2) ** 2 / (rv @ np.linalg.solve(I, rv))
    delta = b[1] / np.sqrt(tau2 + s2)
    kappa2 = np.linalg.inv(XWX)[1, 1] * s2 / (tau2 + s2)
    J = _J(nu)
    est = J * delta
    nut = max(nu, 2.001)
    var = J ** 2 * (kappa2 * nut / (nut - 2) + est ** 2 * (nut / (nut - 2) - 1 / _J(nut) ** 2))
    return est, np.sqrt(var)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=20_000, help="sets per REML batch (HPS: 20x)")
    ap.add_argument("--baseline-sets", type=int, default=40)
    ap.add_argument("--twin-sets", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", default=str(HERE / "results_bcsmd.json"))
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    res = {"cpus": os.cpu_count(), "threads": ss.get_num_threads(), "designs": {}}
    print(f"between-case SMD, {K} cases x {T} occasions, {os.cpu_count()} core(s), "
          f"{ss.get_num_threads()} thread(s)")
    for name, baselines in DESIGNS.items():
        y, trt = make_sets(args.sets * 20, baselines, rng)
        out = {}
        for method, n_sets in (("hps", args.sets * 20), ("reml", args.sets)):
            yy = y[:n_sets]
            t = best(lambda: ss.bcsmd_batch(yy, trt, method=method), repeats=2)
            ours = ss.bcsmd_batch(y[:args.baseline_sets], trt, method=method)
            plain = hps_numpy if method == "hps" else reml_numpy
            t0 = time.perf_counter()
            ref = np.array([plain(y[s], trt) for s in range(args.baseline_sets)])
            t_plain = (time.perf_counter() - t0) / args.baseline_sets
            # Twin: the kernel's plain-Python code on the same layout.
            d = _Design(np.tile(np.arange(1, T + 1), (K, 1)), trt.astype(float), np.full(K, T))
            ys = y[:args.twin_sets]
            t0 = time.perf_counter()
            if method == "hps":
                _hps_mb.twin(ys, d.times, d.trt, d.n, d.cell, d.ncell, d.lagmax,
                             np.zeros(d.lagmax + 1 + d.K + d.K * d.K), np.zeros((11, len(ys))))
            else:
                _reml_bcsmd.twin(ys, d.times, d.trt, d.n, np.zeros(_work_size(K, T)), np.zeros((13, len(ys))))
            t_twin = (time.perf_counter() - t0) / len(ys)
            diff = float(np.nanmax(np.abs(np.c_[ours.estimate, ours.se] - ref)))
            out[method] = dict(sets_per_s=n_sets / t, numpy_sets_per_s=1 / t_plain, twin_sets_per_s=1 / t_twin,
                               speedup_vs_numpy=t_plain * n_sets / t, max_abs_diff_vs_numpy=diff,
                               nan_share=float(np.mean(~np.isfinite(ss.bcsmd_batch(yy[:2000], trt, method=method).estimate))))
            target = 1e5 if method == "hps" else 5e3
            print(f"  {name:10s} {method:4s} {n_sets / t:12,.0f} sets/s (target >= {target:,.0f}); "
                  f"numpy/scipy {1 / t_plain:8,.1f} sets/s (x{t_plain * n_sets / t:,.0f}); "
                  f"twin {1 / t_twin:8,.1f} sets/s; max |diff| vs numpy {diff:.1e}")
        res["designs"][name] = out
    pathlib.Path(args.json).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
