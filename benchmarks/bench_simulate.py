#!/usr/bin/env python
"""End-to-end throughput of the simulation engine on the motivating study's shape.

Six cases x ``A3 B4``, normal AR(1) errors (phi = .3, level = .5), every
nonoverlap metric (NAP, Tau, IRD, PND, PEM, PAND, PET, Tau-U, Tau-BC) with the
per-replication summaries and all performance measures.  Reported in
case-series per second, with two baselines from the same process:

* ``kernels``: the public metric functions on pre-generated data (one batched
  call per metric over every series);
* ``generation``: the data-generating model alone.

Target: the whole pipeline at >= 50% of the kernels-alone throughput.  Also
times a 48-condition x 10,000-replication study on all cores (target < 1 min),
with a cold and a warm estimand cache.

Run from the project root::

    python benchmarks/bench_simulate.py            # full
    python benchmarks/bench_simulate.py --quick    # smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import platform
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _timing import best  # noqa: E402

import scedsim as ss
from scedsim.simulate import Design, Study, get_model, run

HERE = pathlib.Path(__file__).resolve().parent
METRICS = ["nap", "tau", "ird", "pnd", "pem", "pand", "pet", "tau_u", "tau_bc"]




def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=50_000, help="replications (x 6 cases) for the throughput runs")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=str(HERE / "results_simulate.json"))
    args = ap.parse_args(argv)
    reps = 5_000 if args.quick else args.reps
    n_series = reps * 6
    cores = os.cpu_count() or 1
    out = {"machine": dict(platform=platform.platform(), cpus=cores, numpy=np.__version__,
                           scedsim=ss.__version__), "reps": reps, "cases": 6}

    design = Design.parse("A3 B4", n_cases=6)
    model = get_model("normal_ar1")
    params = {"phi": 0.3, "level": 0.5}
    gen = best(lambda: model.generate(design, params, np.random.default_rng(1), reps))
    y = model.generate(design, params, np.random.default_rng(1), reps)
    a = np.ascontiguousarray(y[:, :, :3]).reshape(-1, 3)
    b = np.ascontiguousarray(y[:, :, 3:]).reshape(-1, 4)
    rows = 6 * 1000  # the simulator's default block: 1000 replications x 6 cases
    rates = {"generation": n_series / gen}
    for threads in (1, cores):
        ss.set_num_threads(threads)
        whole = best(lambda: [getattr(ss, m)(a, b) for m in METRICS])
        blocks = best(lambda: [getattr(ss, m)(a[i:i + rows], b[i:i + rows])
                               for i in range(0, n_series, rows) for m in METRICS])
        rates[f"kernels_whole_{threads}t"] = n_series / whole
        rates[f"kernels_blocks_{threads}t"] = n_series / blocks
    ss.set_num_threads(cores)
    rates["kernels"] = rates["kernels_whole_1t"]
    print(f"{n_series:,} case-series (6 cases x A3 B4), {len(METRICS)} metrics, {cores} core(s)")
    print(f"  generation alone                         {rates['generation'] / 1e6:7.2f} M case-series/s")
    for threads in (1, cores):
        print(f"  kernels alone, one call per metric, {threads} thread(s)   "
              f"{rates[f'kernels_whole_{threads}t'] / 1e6:7.2f} M case-series/s")
        print(f"  kernels alone, 6000-row blocks, {threads} thread(s)       "
              f"{rates[f'kernels_blocks_{threads}t'] / 1e6:7.2f} M case-series/s")
    for n_jobs in (1, 2):
        study = Study(design="A3 B4", grid={"phi": [0.3], "level": [0.5]}, metrics=METRICS, n_cases=6,
                      n_reps=reps, seed=1, estimands=False, chunk_size=max(1000, reps // 8))
        t = best(lambda: run(study, n_jobs=n_jobs, quiet=True), repeats=2)
        rates[f"pipeline_n_jobs_{n_jobs}"] = n_series / t
        # Compare like with like: n_jobs workers against the kernels on as many threads.
        base = rates[f"kernels_whole_{min(n_jobs, cores)}t"]
        share = rates[f"pipeline_n_jobs_{n_jobs}"] / base
        print(f"  pipeline, n_jobs={n_jobs}                      {n_series / t / 1e6:7.2f} M case-series/s  "
              f"({share:.2f} of kernels alone on {min(n_jobs, cores)} thread(s); target >= 0.50)")
        out[f"share_n_jobs_{n_jobs}"] = share
    out["rates"] = rates

    # The 48-condition study.
    grid = {"phi": [0.0, 0.2, 0.4, 0.6], "level": [0.0, 0.25, 0.5, 1.0, 1.5, 2.0], "trend": [0.0, 0.1]}
    n48 = 1_000 if args.quick else 10_000
    with tempfile.TemporaryDirectory() as cache:
        os.environ["SCEDSIM_CACHE_DIR"] = cache
        study = Study(design="A3 B4", grid=grid, metrics=METRICS, n_cases=6, n_reps=n48, seed=2)
        timings = {}
        for label in ("cold estimand cache", "warm estimand cache"):
            t0 = time.perf_counter()
            run(study, n_jobs=cores, quiet=True)
            timings[label] = time.perf_counter() - t0
        study = Study(design="A3 B4", grid=grid, metrics=METRICS, n_cases=6, n_reps=n48, seed=2, estimands=False)
        t0 = time.perf_counter()
        run(study, n_jobs=cores, quiet=True)
        timings["no estimands"] = time.perf_counter() - t0
    out["study_48"] = {"conditions": 48, "reps": n48, "n_jobs": cores, "seconds": timings}
    print(f"\n48 conditions x {n48:,} replications x 6 cases, n_jobs={cores}:")
    for k, v in timings.items():
        print(f"  {k:22s} {v:6.1f} s   (target < 60 s)")
    pathlib.Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
