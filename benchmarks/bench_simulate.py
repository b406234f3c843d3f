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

The flagship study (issue 15's: the first edition of
``simulations/seven_point/study.toml``, its grids 1-7 with 111 conditions x 10,000
replications, eleven metrics, two tests, eight rules and estimands; ``--edition
second`` for the file as it is) is timed with one and two workers, reporting:

* the study's time with a cold estimand cache, and with a warm one on 1 and 2 workers;
* the pipeline share: the bare batched generate + metric calls over the same
  series (the same blocks and seeds, no bookkeeping) / the study's time on one worker
  (target >= .50), by wall time and by CPU time (steadier on a shared machine);
* the serial fraction: CPU time of the parent process during the 2-worker run
  (sending tasks, receiving and adding results, assembling the tables) / the
  one-worker time (target <= .03, so that 16 workers could give >= 12x);
* the parent's own work for the results of 2 and of 16 workers' tasks, replayed in one
  process (unpickled, added, assembled; joblib's overhead left out): the serial work
  16 workers would leave, measured without a 16-core machine;
* the speed-up at 2 workers, and the time on two quiet cores estimated from CPU times,
  max(parent CPU, workers' CPU / 2) (target <= 10 s);
* one run on a ``dask.distributed.LocalCluster`` with two worker processes, whose
  summary must equal the one-worker summary.

The comparator study (issue 10: "one simulated study with CDC, PLM (AR 0 and 1)
and NAP at 48 conditions x 10^4 replications in under 30 s", 2 cores): the first
grid of ``simulations/comparators/study.toml`` (A3 B4, A5 B5, A10 B10 x four phi x
four levels = 48 conditions, 10,000 replications, one case each; NAP, CDC, PLM, the
exact NAP test, the AB randomization test, CDC and DC tests, PLM level tests by
OLS and AR(1)), run on all cores with a cold estimand cache, then a warm one and
without estimands.  Wall and CPU time (this process and its workers).

Run from the project root::

    python benchmarks/bench_simulate.py            # full
    python benchmarks/bench_simulate.py --quick    # smoke run
    python benchmarks/bench_simulate.py --only flagship --flagship-reps 2000
    python benchmarks/bench_simulate.py --only comparators
"""
from __future__ import annotations

import argparse
import dataclasses
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
ROOT = HERE.parent
METRICS = ["nap", "tau", "ird", "pnd", "pem", "pand", "pet", "tau_u", "tau_bc"]




def _bare(study) -> tuple[float, float]:
    """Wall and CPU seconds for the bare pipeline of ``study``: each block's series
    generated from its own seed and every metric called once per contrast on the whole
    block (the batched calls the simulator makes), without statistics, summaries or
    assembly."""
    from scedsim.simulate.analysis import _call, _take, across_tests, assume_finite
    from scedsim.simulate.runner import _block_seed

    t0, c0 = time.perf_counter(), time.process_time()
    for row in study.conditions.to_dict("records"):
        design = study.design_for(row)
        model, params = study.model_for(row), study.params_for(row)
        improvement = study.improvement_for(row)
        contrasts = study.contrasts_for(design)
        for j in range(study.n_blocks):
            y = model.generate(design, params, np.random.default_rng(_block_seed(study, row, j)), study.block_reps(j))
            with assume_finite():  # as in the simulator, which checks each block once
                for c in contrasts:
                    ia, ib = design.indices(c, 0)
                    a, b = _take(y, ia), _take(y, ib)
                    for spec in study.specs:
                        if not spec.across:
                            _call(spec, a, b, improvement)
            across_tests(y, design, contrasts, study.specs, improvement)
    return time.perf_counter() - t0, time.process_time() - c0


def _parent_work(study, n_workers: int, repeat: int = 3) -> dict:
    """The parent's own work for the tasks of ``n_workers`` workers, replayed in this
    process: the study's tasks as :func:`run` would make them for that many workers
    are run here one after another and their results pickled; then ``run`` is timed
    (CPU, best of ``repeat``) with each result unpickled in turn, as loky's result
    thread would, added and assembled.  What is left out is joblib's own overhead
    (sending tasks, polling for results), so this is the parent's work on a machine
    with that many cores, which a 2-core machine cannot run quietly."""
    import pickle

    from scedsim.simulate import runner

    real_imap, real_workers = runner._imap, runner._n_workers
    stored = []

    def compute(tasks, n_jobs, backend):
        for func, args, kwargs in tasks:
            res = func(*args, **kwargs)
            stored.append(pickle.dumps(res, protocol=pickle.HIGHEST_PROTOCOL))
            yield res

    def replay(tasks, n_jobs, backend):
        for _ in tasks:  # the parent still builds every task
            pass
        for blob in stored:
            yield pickle.loads(blob)

    runner._n_workers = lambda n_jobs, backend: n_workers
    try:
        runner._imap = compute
        ref = run(study, n_jobs=n_workers, quiet=True)
        runner._imap = replay
        cpu = []
        for _ in range(repeat):
            c0 = time.process_time()
            res = run(study, n_jobs=n_workers, quiet=True)
            cpu.append(time.process_time() - c0)
    finally:
        runner._imap, runner._n_workers = real_imap, real_workers
    return dict(tasks=len(stored), megabytes=sum(map(len, stored)) / 1e6, cpu=min(cpu),
                identical=bool(res.summary.equals(ref.summary)))


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's child processes that are alive
    (joblib's worker processes), from /proc; NaN where there is none."""
    me, total, found = os.getpid(), 0.0, False
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for d in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:  # fields[1]: the parent's id
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            found = True
    return total if found else float("nan")


def _timed_run(study, **kw):
    """Wall time of ``run``, the CPU time of this (the parent) process during it and
    that of its worker processes (NaN without /proc)."""
    k0 = _children_cpu()
    w0, c0 = time.perf_counter(), time.process_time()
    res = run(study, quiet=True, **kw)
    w, c = time.perf_counter() - w0, time.process_time() - c0
    return res, w, c, _children_cpu() - k0


def first_edition(study):
    """The first edition of the seven-point study (issue 15's flagship): grids 1-7 of
    ``study.toml`` (111 conditions), its first eleven metrics and two tests, the first
    eight rules and 10,000 replications; the same fingerprint as the first edition's own
    file (``git show 4f617ce:simulations/seven_point/study.toml``)."""
    return dataclasses.replace(study, name="seven_point_first", grid=list(study.grid[:7]),
                               metrics=list(study.metrics[:13]), rules=list(study.rules[:8]), n_reps=10_000,
                               checks=())


def flagship(reps: int | None, quick: bool, dask: bool, cache_dir: str | None = None,
             edition: str = "first") -> dict:
    """Time the seven-point study on 1 and 2 workers (see the module docstring).
    ``cache_dir``: an estimand cache to use (and fill) instead of an empty one;
    ``edition``: ``first`` (issue 15's flagship, 111 conditions x 10,000) or ``second``
    (``study.toml`` as it is)."""
    from scedsim.simulate.studyfile import load_study

    name = "study_quick.toml" if quick else "study.toml"
    study, _ = load_study(ROOT / "simulations" / "seven_point" / name)
    if edition == "first" and not quick:
        study = first_edition(study)
        name = "study.toml, first edition"
    if reps:
        study = dataclasses.replace(study, n_reps=reps)
    n_cond = len(study.conditions)
    print(f"\nflagship study ({name}): {n_cond} conditions x {study.n_reps:,} replications, "
          f"{len(study.specs)} metrics and tests")
    out = {"study": name, "conditions": n_cond, "reps": study.n_reps}
    from scedsim.simulate.runner import _batches

    conds = study.conditions.to_dict("records")
    n_chunks = -(-study.n_blocks // study.blocks_per_chunk)
    chunks = [(i, k) for i in range(n_cond) for k in range(n_chunks)]
    tasks, split = {}, {}
    for w in (2, 16):
        batches = _batches(study, conds, chunks, w)
        tasks[w] = len(batches)
        # Conditions spread over several tasks: the parent adds their chunks.
        split[w] = sum(1 for i in range(n_cond) if len({n for n, b in enumerate(batches) for j, _ in b if j == i}) > 1)
    print(f"  {len(chunks)} chunks in {tasks[2]} tasks for 2 workers, {tasks[16]} for 16 (estimands of a warm "
          f"cache are read in the parent, without tasks); conditions finished in the workers: "
          f"{n_cond - split[2]} of {n_cond} with 2 workers, {n_cond - split[16]} with 16")
    out.update(chunks=len(chunks), tasks_2_workers=tasks[2], tasks_16_workers=tasks[16],
               split_conditions_2_workers=split[2], split_conditions_16_workers=split[16])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory() as tmp:
        cache = cache_dir or tmp
        os.environ["SCEDSIM_CACHE_DIR"] = cache
        small = dataclasses.replace(study, grid=[dict(study.grid[0])], n_reps=10, estimands=False)
        run(small, n_jobs=1, quiet=True)  # compile or load every kernel once
        _, cold, _, _ = _timed_run(study, n_jobs=2)
        print(f"  2 workers, {'given' if cache_dir else 'cold'} estimand cache  {cold:7.1f} s")
        one, t1, c1, _ = _timed_run(study, n_jobs=1)
        print(f"  1 worker, warm estimand cache    {t1:7.1f} s   ({c1:.1f} s CPU)")
        two, t2, parent, workers = _timed_run(study, n_jobs=2)
        # On two cores to itself the run would take at least the longer of the parent's
        # serial work and half the workers' CPU (perfect balance).
        quiet2 = max(parent, workers / 2)
        print(f"  2 workers, warm estimand cache   {t2:7.1f} s   speed-up {t1 / t2:.2f}x; workers' CPU {workers:.1f} s, "
              f"so about {quiet2:.1f} s on two quiet cores (target <= 10 s); load {os.getloadavg()[0]:.1f}")
        same = one.summary.equals(two.summary)
        bare, bare_cpu = _bare(study)
        share = bare / t1
        # On a shared machine wall times swing with the load; CPU times of one process much less.
        print(f"  bare generate + metric calls     {bare:7.1f} s   ({bare_cpu:.1f} s CPU)   pipeline share "
              f"{share:.2f} by wall time, {bare_cpu / c1:.2f} by CPU time (target >= .50)")
        print(f"  parent CPU during the 2-worker run {parent:5.2f} s   serial fraction {parent / t1:.3f} of the "
              f"1-worker wall time, {parent / c1:.3f} of its CPU time (target <= .03)")
        print(f"  1- and 2-worker summaries identical: {same}")
        # No 16-core machine here: the parent's work for 16 workers' results, replayed.
        for w in (2, 16):
            pw = _parent_work(study, w)
            print(f"  parent's work for {w:2d} workers' {pw['tasks']} results ({pw['megabytes']:.1f} MB), replayed: "
                  f"{pw['cpu']:.2f} s CPU = {pw['cpu'] / c1:.3f} of the 1-worker CPU time (without joblib's "
                  f"overhead); summary identical: {pw['identical']}")
            out[f"parent_work_replayed_{w}_workers"] = pw['cpu']
            out[f"parent_work_replayed_{w}_workers_fraction"] = pw['cpu'] / c1
        out.update(cold_2_workers=cold, warm_1_worker=t1, warm_1_worker_cpu=c1, warm_2_workers=t2,
                   workers_cpu_2_workers=workers, quiet_2_cores_estimate=quiet2,
                   speedup_2=t1 / t2, bare=bare, bare_cpu=bare_cpu, pipeline_share=share,
                   pipeline_share_cpu=bare_cpu / c1, parent_cpu_2_workers=parent, serial_fraction=parent / t1,
                   serial_fraction_cpu=parent / c1, identical_1_2=same, load_before=load,
                   load_after=os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"))
        if dask:
            try:
                from dask.distributed import Client, LocalCluster
            except ImportError:
                print("  dask.distributed not installed: no LocalCluster run")
            else:
                # Two worker processes of one thread each, like n_jobs=2.
                with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, Client(cluster):
                    res, td, pd_cpu, _ = _timed_run(study, n_jobs=-1, backend="dask")
                same_d = res.summary.equals(one.summary)
                print(f"  dask LocalCluster, 2 workers     {td:7.1f} s   speed-up {t1 / td:.2f}x, "
                      f"parent CPU {pd_cpu:.2f} s, summary identical to 1 worker: {same_d}")
                out.update(dask_2_workers=td, dask_parent_cpu=pd_cpu, dask_identical=same_d)
    return out


def _cpu_seconds() -> float:
    """CPU time of this process and every live descendant (joblib's reusable
    workers outlive a run, so getrusage's RUSAGE_CHILDREN would miss them), plus
    that of children already waited for.  Linux (/proc); elsewhere this process only."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = kids.ru_utime + kids.ru_stime
    proc = pathlib.Path("/proc")
    if not proc.is_dir():
        own = resource.getrusage(resource.RUSAGE_SELF)
        return total + own.ru_utime + own.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for d in proc.iterdir():
        if d.name.isdigit():
            try:
                f = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(d.name)] = (int(f[1]), (int(f[11]) + int(f[12])) / tick)   # ppid, utime + stime
    tree, grew = {os.getpid()}, True
    while grew:
        new = {p for p, (pp, _) in stats.items() if pp in tree and p not in tree}
        tree |= new
        grew = bool(new)
    return total + sum(stats[p][1] for p in tree if p in stats)


def comparators(quick: bool) -> dict:
    """Issue 10's study: the first grid of ``simulations/comparators/study.toml``
    (48 conditions), 10,000 replications (1,000 with ``quick``), all cores."""
    from scedsim.simulate.studyfile import load_study

    study, _ = load_study(ROOT / "simulations" / "comparators" / "study.toml")
    reps = 1_000 if quick else study.n_reps
    study = dataclasses.replace(study, grid=study.grid[:1], n_reps=reps, checks=())
    n_cond = len(study.conditions)
    cores = os.cpu_count() or 1
    out = {"conditions": n_cond, "reps": reps, "n_jobs": cores, "load_before": os.getloadavg()}
    print(f"comparator study: {n_cond} conditions x {reps:,} replications, n_jobs={cores}, "
          f"load {os.getloadavg()[0]:.1f}")
    runs = {}
    with tempfile.TemporaryDirectory() as cache:
        old = os.environ.get("SCEDSIM_CACHE_DIR")
        os.environ["SCEDSIM_CACHE_DIR"] = cache
        try:
            for label, st, jobs in (("cold estimand cache", study, cores), ("warm estimand cache", study, cores),
                                    ("no estimands", dataclasses.replace(study, estimands=False), cores),
                                    ("warm, 1 worker", study, 1)):
                c0, t0 = _cpu_seconds(), time.perf_counter()
                run(st, n_jobs=jobs, quiet=True)
                wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
                runs[label] = {"wall_s": wall, "cpu_s": cpu}
                print(f"  {label:22s} {wall:6.1f} s wall, {cpu:6.1f} s CPU   (target < 30 s wall)")
        finally:
            if old is None:
                os.environ.pop("SCEDSIM_CACHE_DIR", None)
            else:
                os.environ["SCEDSIM_CACHE_DIR"] = old
    out["runs"] = runs
    out["load_after"] = os.getloadavg()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=50_000, help="replications (x 6 cases) for the throughput runs")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=str(HERE / "results_simulate.json"))
    ap.add_argument("--only", choices=("throughput", "flagship", "comparators"), default=None,
                    help="run only the throughput runs and the 48-condition study, only the flagship study, "
                         "or only the 48-condition comparator study")
    ap.add_argument("--flagship-reps", type=int, default=None,
                    help="replications per condition of the flagship study (default: the study's own)")
    ap.add_argument("--no-dask", action="store_true", help="skip the dask LocalCluster run")
    ap.add_argument("--edition", choices=("first", "second"), default="first",
                    help="flagship: the first edition (issue 15's: 111 conditions x 10,000 replications, "
                         "default) or study.toml as it is (the second edition)")
    ap.add_argument("--estimand-cache", default=None, metavar="DIR",
                    help="flagship: use (and fill) this estimand cache instead of an empty one")
    args = ap.parse_args(argv)
    if args.only == "comparators":
        res = comparators(args.quick)
        pathlib.Path(args.json).write_text(json.dumps({"comparators": res}, indent=1))
        print(f"\nwrote {args.json}")
        return
    if args.only == "flagship":
        res = flagship(args.flagship_reps, args.quick, not args.no_dask, args.estimand_cache,
                       args.edition)
        pathlib.Path(args.json).write_text(json.dumps({"flagship": res}, indent=1))
        print(f"\nwrote {args.json}")
        return
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
    if args.only is None:
        out["flagship"] = flagship(args.flagship_reps, args.quick, not args.no_dask, args.estimand_cache,
                                   args.edition)
    pathlib.Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
