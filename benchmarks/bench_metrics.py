#!/usr/bin/env python
"""Throughput benchmark for scedsim's batched effect sizes.

For every public metric, at (m, n) = (3, 4) and (10, 15), this measures the
series per second of the public batched call (2-D float64 input, one series per
row, default options) and compares it with

1. the NumPy read roofline: ``a.sum(); b.sum()`` over the same arrays;
2. the kernel's plain-Python twin (``_x_2d.twin``, pure Python all the way down) on a small sample;
3. the peer packages ``scia`` and ``singlecase`` (if installed), one call per
   series on a small sample, with a value sanity check against scedsim;
4. a cold single call (``import scedsim`` + one 1-D call) in a fresh subprocess, and the
   first batched NAP, LOR and PoGO call there (which loads their fixed-shape kernels
   from numba's disk cache).

Run from the project root::

    .venv/bin/python benchmarks/bench_metrics.py            # full: 10^6 rows
    .venv/bin/python benchmarks/bench_metrics.py --quick    # smoke run

Results go to stdout (a table and the targets) and to ``benchmarks/results.json``.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import re
import subprocess
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path

import functools

import numpy as np

import scedsim as ss

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Every built-in metric, with the options its registry entry gives for benchmarks.
METRICS = [n for n, m in ss.registry.metrics().items() if not m.user]
SIZES = [(3, 4), (10, 15)]
SEED = 20240601

# Targets at (3, 4) as a share of the read roofline.
SHARE_TARGETS = {"nap": 0.40, "tau": 0.40, "pnd": 0.30, "pem": 0.30,
                 "pand": 0.15, "ird": 0.15, "tau_u": 0.15, "tau_bc": 0.03, "cdc": 0.15, "plm": 0.10,
                 "lor": 0.15, "pogo": 0.15}
# Variants timed besides the default calls, with targets in series/s at (3, 4).
RATE_VARIANTS = {"plm_ar1": (lambda a, b: ss.plm(a, b, ar=1), 1e6)}
PEER_TARGET = 1000.0
COLD_TARGET_S = 2.0


# --------------------------------------------------------------------------- timing

def best_time(fn, repeats, budget_s):
    """Best wall time of ``fn()`` over up to ``repeats`` runs (at least 2, or fewer
    if the time budget is exhausted after the first); the caller warms up first."""
    times = []
    start = time.perf_counter()
    for k in range(max(repeats, 1)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if k >= 1 and time.perf_counter() - start > budget_s:
            break
    return min(times), times


def make_data(rows, m, n, seed):
    rng = np.random.default_rng(seed)
    a = np.ascontiguousarray(rng.integers(0, 20, size=(rows, m)).astype(np.float64))
    b = np.ascontiguousarray(rng.integers(0, 20, size=(rows, n)).astype(np.float64))
    return a, b


# --------------------------------------------------------------------------- plain-Python twins

def twin_runner(metric, m, n):
    """Return ``f(A, B) -> estimate array`` calling the plain-Python twin of the
    metric's default kernel call (the first ``KernelCase`` of its registry entry)."""
    k = ss.get_metric(metric).kernels[0]
    args = k.args(m, n)

    def run(A, B):
        out = np.empty((k.fields, A.shape[0]))
        with np.errstate(all="ignore"):  # log-based metrics meet zeros in the benchmark data
            k.kernel.twin(A / k.units, B / k.units, *args, out)
        return out[0]

    return run

def _pct(x):
    """A percentage, possibly a string like '57.14%', as a proportion."""
    if isinstance(x, str):
        x = x.strip().rstrip("%")
    return float(x) / 100.0


class Peer:
    """A peer package: its version and a mapping metric -> PeerMetric."""

    def __init__(self, name):
        self.name = name
        self.version = None
        self.module = None
        self.error = None
        self.metrics = {}


def load_peers():
    peers = {}
    # ---- scia (MIT): pandas-based, one DataFrame per case, prints a banner on import.
    p = Peer("scia")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import scia  # noqa: F401
        p.module = scia
        p.version = metadata.version("scia")
    except Exception as exc:  # noqa: BLE001 - any failure means "not installed"
        p.error = f"{type(exc).__name__}: {exc}"
    if p.module is not None:
        sc = p.module
        # metric -> (description, build input, call, extract value, scedsim reference call, tolerance)
        p.metrics = {
            "nap": dict(func="scia.nap(df)['NAP'] / 100",
                        call=lambda df: sc.nap(df), value=lambda r, out: _pct(r["NAP"].iloc[0]),
                        ours=lambda a, b: ss.nap(a, b).estimate, tol=0.00051,
                        note="scia rounds NAP to 0.1 %"),
            "tau": dict(func="scia.nap(df)['NAP Rescaled'] / 100",
                        call=lambda df: sc.nap(df), value=lambda r, out: _pct(r["NAP Rescaled"].iloc[0]),
                        ours=lambda a, b: ss.tau(a, b).estimate, tol=0.00051,
                        note="scia rounds to 0.1 %"),
            "pnd": dict(func="scia.pnd(df)['PND (%)']",
                        call=lambda df: sc.pnd(df), value=lambda r, out: _pct(r["PND (%)"].iloc[0]),
                        ours=lambda a, b: ss.pnd(a, b).estimate, tol=0.000051,
                        note="string rounded to 0.01 %"),
            "pem": dict(func="scia.pem(df)['PEM'] (prints; strict ties)",
                        call=lambda df: sc.pem(df), value=lambda r, out: _pct(r["PEM"].iloc[0]),
                        ours=lambda a, b: ss.pem(a, b, ties="strict").estimate, tol=0.00051,
                        note="scia counts strict exceedances only: compared with ss.pem(ties='strict')"),
            "pand": dict(func="scia.pand(df, method='minimum', return_values=True)['pand']",
                         call=lambda df: sc.pand(df, method="minimum", return_values=True),
                         value=lambda r, out: _pct(r["pand"]),
                         ours=lambda a, b: ss.pand(a, b).estimate, tol=1e-9,
                         note="scia's default method='sort' is a different (randomised) statistic "
                              "and returns None; method='minimum', return_values=True used"),
            "ird": dict(func="scia.ird(df) (returns None; value parsed from its printed 'IRD = x')",
                        call=lambda df: sc.ird(df), value=lambda r, out: float(out),
                        ours=lambda a, b: ss.ird(a, b).estimate, tol=1e-9, printed=r"IRD = (\S+)"),
            "pet": dict(func="scia.pet(df)['PET'] (mt = 1..m+n)",
                        call=lambda df: sc.pet(df), value=lambda r, out: _pct(r["PET"].iloc[0]),
                        ours=lambda a, b: ss.pet(a, b).estimate, tol=0.00051,
                        note="scia rounds PET to 0.1 %"),
            "tau_u": dict(func="scia.tau_u(df, method='parker', meta_analyses=False)"
                               ".loc['A vs. B - Trend A', 'Tau']",
                          call=lambda df: sc.tau_u(df, method="parker", meta_analyses=False),
                          value=lambda r, out: float(r.loc["A vs. B - Trend A", "Tau"]),
                          ours=lambda a, b: ss.tau_u(a, b).estimate, tol=1e-9,
                          note="scia's default method='complete' is tau-b; 'parker' matches scedsim's default"),
            "smd": dict(func="scia.smd(df)[\"Glass' delta\"]",
                        call=lambda df: sc.smd(df), value=lambda r, out: float(r["Glass' delta"].iloc[0]),
                        ours=lambda a, b: ss.smd(a, b, bias_correct=False).estimate, tol=1e-9,
                        note="Glass' delta has no small-sample correction: compared with "
                             "ss.smd(bias_correct=False); a zero baseline SD gives inf there, NaN here"),
        }
    peers["scia"] = p

    # ---- singlecase (BSD-3): a Data object per case; only NAP and PND exist.
    p = Peer("singlecase")
    try:
        import singlecase  # noqa: F401
        from singlecase import effectsize as sce
        p.module = singlecase
        p.version = metadata.version("singlecase")
    except Exception as exc:  # noqa: BLE001
        p.error = f"{type(exc).__name__}: {exc}"
    if p.module is not None:
        p.metrics = {
            "nap": dict(func="singlecase.effectsize.nap(Data)['values']",
                        call=lambda d: sce.nap(d), value=lambda r, out: float(r["values"]),
                        ours=lambda a, b: ss.nap(a, b).estimate, tol=1e-9),
            "pnd": dict(func="singlecase.effectsize.pnd(Data)['values'] / 100",
                        call=lambda d: sce.pnd(d), value=lambda r, out: _pct(r["values"]),
                        ours=lambda a, b: ss.pnd(a, b).estimate, tol=1e-9),
        }
    peers["singlecase"] = p
    return peers


def peer_inputs(peer, a, b):
    """One input object per series, built outside the timed region (this favours the peer)."""
    import pandas as pd

    m, n = a.shape[1], b.shape[1]
    phase = ["A"] * m + ["B"] * n
    mt = np.arange(1, m + n + 1)
    frames = [pd.DataFrame({"phase": phase, "values": np.r_[a[i], b[i]], "mt": mt, "case": "c1"})
              for i in range(a.shape[0])]
    if peer.name == "singlecase":
        from singlecase import Data
        return [Data(f[["phase", "values"]]) for f in frames]
    return frames


def run_peer_metric(spec, inputs, a, b, repeats, budget_s):
    """Time one call per series; check the values against scedsim."""
    call = spec["call"]
    holder = {}

    def one_pass():
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), _quiet_warnings():
            res = [call(x) for x in inputs]
        holder["res"] = res
        holder["out"] = buf.getvalue()

    one_pass()  # warm-up (imports, caches)
    best, times = best_time(one_pass, repeats, budget_s)
    rows = len(inputs)
    # Values
    printed = None
    if "printed" in spec:
        printed = re.findall(spec["printed"], holder["out"])
        if len(printed) != rows:
            raise RuntimeError(f"expected {rows} printed values, found {len(printed)}")
    theirs = np.array([spec["value"](r, printed[i] if printed else None)
                       for i, r in enumerate(holder["res"])], dtype=float)
    ours = np.asarray(spec["ours"](a, b), dtype=float)
    both_undef = ~np.isfinite(theirs) & ~np.isfinite(ours)
    ok = both_undef | (np.abs(theirs - ours) <= spec["tol"])
    bad = np.flatnonzero(~ok)
    examples = []
    for i in bad[:3]:
        examples.append({"a": a[i].tolist(), "b": b[i].tolist(), "peer": float(theirs[i]),
                         "scedsim": float(ours[i])})
    return {"rows": rows, "best_s": best, "times_s": times, "series_per_s": rows / best,
            "checked": rows, "mismatches": int(bad.size), "undefined_both": int(both_undef.sum()),
            "mismatch_examples": examples}


@contextlib.contextmanager
def _quiet_warnings():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------- cold call

COLD_CODE = ("import time; t0 = time.perf_counter(); import scedsim; "
             "scedsim.{f}([1, 2, 3], [4, 5, 6, 7]); print(time.perf_counter() - t0)")


def cold_call(func, runs=2):
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", COLD_CODE.format(f=func)], cwd=ROOT,
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
        out.append({"wall_s": wall, "import_and_call_s": float(proc.stdout.strip().splitlines()[-1])})
    return {"runs": out, "reported": out[-1]}


# The first batched call in a fresh process: NAP, Tau, LOR and PoGO load their
# fixed-shape kernel (one per phase-length pair) from numba's disk cache then.
COLD_BATCH_CODE = ("import time, numpy as np; import scedsim; "
                   "a = np.arange(3e5).reshape(-1, 3) % 50; b = np.arange(4e5).reshape(-1, 4) % 50; "
                   "t0 = time.perf_counter(); scedsim.{f}(a, b{kw}); t1 = time.perf_counter(); "
                   "scedsim.{f}(a, b{kw}); print(t1 - t0, time.perf_counter() - t1)")
COLD_BATCH = {"nap": "", "lor": "", "pogo": ", goal=10.0"}


def cold_batch_call(func, kw, runs=2):
    out = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", COLD_BATCH_CODE.format(f=func, kw=kw)], cwd=ROOT,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
        first, second = (float(x) for x in proc.stdout.split())
        out.append({"first_s": first, "second_s": second})
    return {"rows": 100_000, "m": 3, "n": 4, "runs": out, "reported": out[-1]}


# --------------------------------------------------------------------------- machine info

def machine_info():
    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scedsim": getattr(ss, "__version__", "?"),
    }
    try:
        import numba
        info["numba"] = numba.__version__
    except Exception:  # noqa: BLE001
        info["numba"] = None
    try:
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


# --------------------------------------------------------------------------- main

def fmt_rate(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.1f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def fmt_ratio(x):
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}x"
    return f"{x:.1f}x"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="series per batch (default 1_000_000)")
    ap.add_argument("--quick", action="store_true", help="small smoke run (20_000 rows, small samples)")
    ap.add_argument("--json", default=str(HERE / "results.json"), help="output JSON path")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement (best is kept)")
    ap.add_argument("--budget", type=float, default=4.0, help="seconds per measurement before stopping repeats")
    ap.add_argument("--twin-rows", type=int, default=2000, help="rows for the plain-Python twin")
    ap.add_argument("--peer-rows", type=int, default=200, help="series for the peer packages")
    ap.add_argument("--no-peers", action="store_true", help="skip peer packages")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-call subprocesses")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--metrics", default="", help="comma-separated metrics to run (default: every built-in one)")
    args = ap.parse_args(argv)
    global METRICS
    if args.metrics:
        chosen = [x.strip() for x in args.metrics.split(",") if x.strip()]
        unknown = [x for x in chosen if x not in METRICS]
        if unknown:
            ap.error(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
        METRICS = chosen
    if args.quick:
        args.rows = min(args.rows, 20_000)
        args.twin_rows = min(args.twin_rows, 200)
        args.peer_rows = min(args.peer_rows, 20)
        args.repeats = min(args.repeats, 3)
        args.budget = min(args.budget, 1.0)

    t_start = time.perf_counter()
    info = machine_info()
    peers = {} if args.no_peers else load_peers()
    info["peers"] = {name: (p.version if p.module is not None else f"not installed ({p.error})")
                     for name, p in peers.items()}
    print(f"scedsim {info['scedsim']} | numpy {info['numpy']} | numba {info['numba']} | "
          f"python {info['python']} | {info.get('cpu_model', info['machine'])} x{info['cpu_count']}")
    for name, v in info["peers"].items():
        print(f"peer {name}: {v}")
    print(f"rows={args.rows:,}  twin rows={args.twin_rows}  peer rows={args.peer_rows}  "
          f"repeats<={args.repeats}  seed={args.seed}\n")

    results = {"config": {"rows": args.rows, "twin_rows": args.twin_rows, "peer_rows": args.peer_rows,
                          "repeats": args.repeats, "budget_s": args.budget, "seed": args.seed,
                          "sizes": SIZES, "data": "rng.integers(0, 20) as float64, C-contiguous",
                          "quick": args.quick},
               "machine": info, "roofline": {}, "metrics": {}, "peer_functions": {}, "notes": []}

    for name, p in peers.items():
        results["peer_functions"][name] = {k: {"function": v["func"], **({"note": v["note"]} if "note" in v else {})}
                                           for k, v in p.metrics.items()}

    for (m, n) in SIZES:
        key = f"{m}x{n}"
        a, b = make_data(args.rows, m, n, args.seed + 1000 * m + n)
        # ---- roofline
        def roof():
            a.sum()
            b.sum()
        roof()
        rbest, rtimes = best_time(roof, args.repeats, args.budget)
        roof_rate = args.rows / rbest
        results["roofline"][key] = {"best_s": rbest, "times_s": rtimes, "series_per_s": roof_rate}
        print(f"[{key}] NumPy read roofline (a.sum(); b.sum()): {fmt_rate(roof_rate)} series/s "
              f"({rbest * 1e3:.2f} ms)")

        # A second yardstick: NumPy's cheapest per-series statistic (one value per row).
        def rowsum():
            a.sum(axis=1)
            b.sum(axis=1)
        rowsum()
        sbest, _ = best_time(rowsum, args.repeats, args.budget)
        results["roofline"][key]["rowsum_series_per_s"] = args.rows / sbest
        print(f"[{key}] NumPy per-series sum (a.sum(axis=1); b.sum(axis=1)): "
              f"{fmt_rate(args.rows / sbest)} series/s ({sbest * 1e3:.2f} ms)")
        # NAP without its SE: the cost of the standard error, separately.
        ss.nap(a, b, se="none")
        vbest, _ = best_time(lambda: ss.nap(a, b, se="none"), args.repeats, args.budget)
        results.setdefault("variants", {})[f"nap_se_none_{key}"] = {
            "series_per_s": args.rows / vbest, "share_of_roofline": rbest / vbest}
        print(f"[{key}] nap(se='none'): {fmt_rate(args.rows / vbest)} series/s, "
              f"share {rbest / vbest:.3f}")
        for vname, (vfn, _) in RATE_VARIANTS.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # boundary fits in random data
                vfn(a, b)
                vbest, _ = best_time(lambda: vfn(a, b), args.repeats, args.budget)
            results["variants"][f"{vname}_{key}"] = {"series_per_s": args.rows / vbest,
                                                     "share_of_roofline": rbest / vbest}
            print(f"[{key}] {vname}: {fmt_rate(args.rows / vbest)} series/s, share {rbest / vbest:.3f}")
        ts = min(args.twin_rows, args.rows)
        ps = min(args.peer_rows, args.rows)
        a_t, b_t = np.ascontiguousarray(a[:ts]), np.ascontiguousarray(b[:ts])
        a_p, b_p = np.ascontiguousarray(a[:ps]), np.ascontiguousarray(b[:ps])
        inputs = {}
        for name, p in peers.items():
            if p.module is not None and p.metrics:
                try:
                    inputs[name] = peer_inputs(p, a_p, b_p)
                except Exception as exc:  # noqa: BLE001
                    results["notes"].append(f"{name}: building inputs failed: {exc!r}")

        # ---- public batched calls, all timed before any peer code runs (peers'
        # BLAS threads can keep spinning on the second core afterwards)
        public = {}
        for metric in METRICS:
            entry_ = ss.get_metric(metric)
            # Options a metric cannot run without take their registry examples.
            fn = functools.partial(entry_.func, **{**entry_.required, **entry_.bench})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # e.g. PLM's perfect fits in integer data
                fn(a, b)  # warm-up: compile or load numba's cache
                public[metric] = best_time(lambda: fn(a, b), args.repeats, args.budget)

        for metric in METRICS:
            entry_ = ss.get_metric(metric)
            fn = functools.partial(entry_.func, **{**entry_.required, **entry_.bench})
            entry = {"m": m, "n": n}
            best, times = public[metric]
            rate = args.rows / best
            entry.update(best_s=best, times_s=times, series_per_s=rate, share_of_roofline=rate / roof_rate)
            # ---- plain-Python twin
            try:
                run = twin_runner(metric, m, n)
                got = run(a_t, b_t)
                tbest, ttimes = best_time(lambda: run(a_t, b_t), 2, args.budget)
                ref = fn(a_t, b_t).estimate
                same = bool(np.allclose(got, ref, rtol=1e-12, atol=1e-12, equal_nan=True))
                trate = ts / tbest
                entry["twin"] = {"rows": ts, "best_s": tbest, "series_per_s": trate,
                                 "speedup": rate / trate, "matches_public": same}
                if not same:
                    results["notes"].append(f"{metric} {key}: twin differs from the public function")
            except Exception as exc:  # noqa: BLE001
                entry["twin"] = {"error": repr(exc)}
            # ---- peers
            entry["peers"] = {}
            for name, p in peers.items():
                spec = p.metrics.get(metric)
                if p.module is None:
                    entry["peers"][name] = {"status": "not installed"}
                    continue
                if spec is None or name not in inputs:
                    entry["peers"][name] = {"status": "no corresponding function"}
                    continue
                try:
                    r = run_peer_metric(spec, inputs[name], a_p, b_p, 2, args.budget)
                    r["status"] = "ok"
                    r["function"] = spec["func"]
                    r["speedup"] = rate / r["series_per_s"]
                    entry["peers"][name] = r
                    if r["mismatches"]:
                        ex = r["mismatch_examples"][0]
                        msg = (f"{name} {metric} {key}: {r['mismatches']}/{r['checked']} values differ from "
                               f"scedsim (e.g. A={ex['a']} B={ex['b']}: {name} {ex['peer']:.6g}, "
                               f"scedsim {ex['scedsim']:.6g})")
                        results["notes"].append(msg)
                except Exception as exc:  # noqa: BLE001
                    entry["peers"][name] = {"status": f"error: {type(exc).__name__}: {exc}"}
                    results["notes"].append(f"{name} {metric} {key}: call failed: {exc!r}")
            results["metrics"].setdefault(metric, {})[key] = entry
            tw = entry["twin"].get("speedup")
            pr = {nm: v.get("speedup") for nm, v in entry["peers"].items()}
            print(f"  {metric:7s} {fmt_rate(rate):>8s}/s  share {rate / roof_rate:5.3f}  twin {fmt_ratio(tw):>8s}  "
                  + "  ".join(f"{nm} {fmt_ratio(v)}" for nm, v in pr.items()), flush=True)
        del a, b
        print()

    # ---- cold single call
    results["cold"] = {}
    if not args.no_cold:
        for func in ("nap", "tau_bc"):
            try:
                results["cold"][func] = cold_call(func)
            except Exception as exc:  # noqa: BLE001
                results["cold"][func] = {"error": repr(exc)}
        results["cold_batch"] = {}
        for func, kw in COLD_BATCH.items():
            try:
                c = results["cold_batch"][func] = cold_batch_call(func, kw)
                print(f"first {func} call on 10^5 rows at (3,4) in a fresh process: "
                      f"{c['reported']['first_s'] * 1e3:.1f} ms (second call {c['reported']['second_s'] * 1e3:.1f} ms)")
            except Exception as exc:  # noqa: BLE001
                results["cold_batch"][func] = {"error": repr(exc)}

    # ---- table
    peer_names = list(peers)
    header = ["metric", "m", "n", "series/s", "share of roofline", "x twin"] + [f"x {p}" for p in peer_names]
    rows_out = []
    for (m, n) in SIZES:
        key = f"{m}x{n}"
        rows_out.append(["(roofline)", m, n, fmt_rate(results["roofline"][key]["series_per_s"]), "1.000", "-"]
                        + ["-"] * len(peer_names))
        for metric in METRICS:
            e = results["metrics"][metric][key]
            cells = [metric, m, n, fmt_rate(e["series_per_s"]), f"{e['share_of_roofline']:.3f}",
                     fmt_ratio(e["twin"].get("speedup"))]
            for pn in peer_names:
                pe = e["peers"].get(pn, {})
                if pe.get("status") == "ok":
                    cells.append(fmt_ratio(pe["speedup"]))
                elif pe.get("status") == "not installed":
                    cells.append("not installed")
                else:
                    cells.append("-")
            rows_out.append(cells)
    widths = [max(len(str(r[i])) for r in rows_out + [header]) for i in range(len(header))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    table = [line, sep] + ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |" for r in rows_out]
    results["table_markdown"] = "\n".join(table)
    print("\n".join(table))

    # ---- targets
    targets = []
    for metric, goal in SHARE_TARGETS.items():
        if metric not in results["metrics"]:
            continue  # not run (--metrics)
        share = results["metrics"][metric]["3x4"]["share_of_roofline"]
        targets.append({"target": f"{metric} share of roofline at (3,4) >= {goal:.2f}",
                        "measured": round(share, 4), "met": share >= goal})
    for vname, (_, goal) in RATE_VARIANTS.items():
        rate = results["variants"][f"{vname}_3x4"]["series_per_s"]
        targets.append({"target": f"{vname} at (3,4) >= {fmt_rate(goal)} series/s",
                        "measured": fmt_rate(rate), "met": rate >= goal})
    for name, p in peers.items():
        if p.module is None:
            targets.append({"target": f">= {PEER_TARGET:.0f}x over {name}", "measured": "not installed",
                            "met": None})
            continue
        ratios = {(mt, key): e["peers"][name]["speedup"] for mt, d in results["metrics"].items()
                  for key, e in d.items() if e["peers"].get(name, {}).get("status") == "ok"}
        if ratios:
            (mt, key), worst = min(ratios.items(), key=lambda kv: kv[1])
            targets.append({"target": f">= {PEER_TARGET:.0f}x over {name} (every mapped metric and size)",
                            "measured": f"min {worst:,.0f}x ({mt} {key})", "met": worst >= PEER_TARGET})
    for func, c in results["cold"].items():
        if "reported" in c:
            w = c["reported"]["wall_s"]
            targets.append({"target": f"cold single call {func} (warm cache) < {COLD_TARGET_S:.0f} s",
                            "measured": f"wall {w:.3f} s, import+call {c['reported']['import_and_call_s']:.3f} s",
                            "met": w < COLD_TARGET_S})
        else:
            targets.append({"target": f"cold single call {func}", "measured": c.get("error"), "met": False})
    results["targets"] = targets
    print("\nTargets:")
    for t in targets:
        status = "n/a" if t["met"] is None else ("MET" if t["met"] else "MISSED")
        print(f"  [{status:6s}] {t['target']}: {t['measured']}")

    print("\nPeer functions:")
    for name, fmap in results["peer_functions"].items():
        for metric, d in fmap.items():
            print(f"  {metric:6s} -> {d['function']}" + (f"  [{d['note']}]" if "note" in d else ""))
    if results["notes"]:
        print("\nNotes:")
        for note in results["notes"]:
            print("  - " + note)

    results["elapsed_s"] = time.perf_counter() - t_start
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(results, fh, indent=1, default=_json_default)
    print(f"\nWrote {path} ({results['elapsed_s']:.0f} s in all)")
    return 0


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, tuple):
        return list(x)
    return str(x)


if __name__ == "__main__":
    sys.exit(main())
