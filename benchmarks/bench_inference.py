#!/usr/bin/env python
"""Throughput of exact permutation p-values, measured in the same run as the NAP kernel.

10^6 series of 3 + 4 points:

* integer data (values 0..9, so most series have ties): every tied series
  enumerates its 35 arrangements in a numba kernel.  Target >= 10^6 series/s.
* continuous data (no ties): the p-value is a lookup in the null table of the
  Mann-Whitney U for (3, 4).  Target >= 40% of the NAP kernel's throughput.
* between-person tests (t, exact sign flip, Wilcoxon) of six people's NAP per
  replication: each must cost less than computing those six NAPs (issue 11).
* the same in the simulator's setting (``--sim-reps`` replications x 6 cases x
  7 occasions, A3 B4): the rule's per-case part (six NAPs, or six mean
  differences, centred) against its test part, in one call and in the
  runner's blocks of 1,000 replications.

Run from the project root::

    python benchmarks/bench_inference.py [--rows N] [--sim-reps N] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _timing import best  # noqa: E402

import scedsim as ss
from scedsim.inference import between_person_test, permutation_test

HERE = pathlib.Path(__file__).resolve().parent




def simulator_setting(reps: int, block: int = 1000) -> dict:
    """The simulator rule ``between_test`` on (reps, 6, 7) data: the time of its
    per-case statistics (``_between_values``) against that of its test
    (``_between_from_values``), on the whole array and in blocks of ``block``."""
    from scedsim.inference.between import _between_from_values, _between_values

    rng = np.random.default_rng(2)
    y = rng.normal(size=(reps, 6, 7))
    y[:, :, 3:] += 0.5
    lengths = [3] * 6
    seeds = (y, np.asarray(lengths, dtype=np.float64))
    blocks = [y[i:i + block] for i in range(0, reps, block)]
    res = {"replications": reps, "block": block}
    print(f"\nsimulator rule between_test, {reps:,} replications x 6 cases x A3 B4:")
    for statistic in ("nap", "mean_diff"):
        d = _between_values(y, lengths, statistic=statistic)
        db = [_between_values(b, lengths, statistic=statistic) for b in blocks]
        t_whole = best(lambda: _between_values(y, lengths, statistic=statistic))
        t_blocks = best(lambda: [_between_values(b, lengths, statistic=statistic) for b in blocks])
        row = {"per_case_s": t_whole, "per_case_blocks_s": t_blocks}
        print(f"  six {statistic:9s} per replication: {t_whole * 1e3:7.1f} ms whole, "
              f"{t_blocks * 1e3:7.1f} ms in blocks of {block}")
        for method in ("t", "sign_flip", "wilcoxon"):
            t_w = best(lambda: _between_from_values(d, seeds, method=method))
            t_b = best(lambda: [_between_from_values(x, seeds, method=method) for x in db])
            row[method] = {"s": t_w, "blocks_s": t_b, "share": t_w / t_whole, "blocks_share": t_b / t_blocks}
            print(f"    {method:9s} test {t_w * 1e3:7.1f} ms whole = {t_w / t_whole:.2f} of the per-case part, "
                  f"{t_b * 1e3:7.1f} ms in blocks = {t_b / t_blocks:.2f}   (target < 1)")
        res[statistic] = row
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--sim-reps", type=int, default=100_000)
    ap.add_argument("--json", default=str(HERE / "results_inference.json"))
    args = ap.parse_args(argv)
    rng = np.random.default_rng(1)
    rows = args.rows
    ai = rng.integers(0, 10, (rows, 3)).astype(float)
    bi = rng.integers(0, 10, (rows, 4)).astype(float)
    ac = rng.normal(size=(rows, 3))
    bc = rng.normal(size=(rows, 4))
    tied = float(np.mean([len(set(r)) < 7 for r in np.concatenate([ai[:20000], bi[:20000]], axis=1)]))
    res = {"rows": rows, "cpus": os.cpu_count(), "share_of_integer_rows_with_ties": tied}
    t_nap = best(lambda: ss.nap(ac, bc, se="none"))
    t_int = best(lambda: permutation_test(ai, bi))
    t_con = best(lambda: permutation_test(ac, bc))
    res.update(nap_series_per_s=rows / t_nap, perm_integer_series_per_s=rows / t_int,
               perm_continuous_series_per_s=rows / t_con, continuous_share_of_nap=t_nap / t_con)
    print(f"{rows:,} series of 3 + 4 points, {os.cpu_count()} core(s)")
    print(f"  NAP kernel (estimate + score CI)            {rows / t_nap / 1e6:7.2f} M series/s")
    print(f"  exact permutation p, integer data ({tied:.0%} tied) {rows / t_int / 1e6:7.2f} M series/s"
          f"   target >= 1.00")
    print(f"  exact permutation p, continuous data        {rows / t_con / 1e6:7.2f} M series/s"
          f"   = {t_nap / t_con:.2f} of NAP (target >= 0.40)")
    # Six people per replication: rows/6 replications of six NAPs, then one test each.
    reps = rows // 6
    nap6 = ss.nap(ac[:reps * 6], bc[:reps * 6], se="none").estimate.reshape(reps, 6)
    t_nap6 = best(lambda: ss.nap(ac[:reps * 6], bc[:reps * 6], se="none"))
    res["between"] = {"replications": reps, "nap_of_six_s": t_nap6}
    print(f"  six people per replication, {reps:,} replications: six NAPs take {t_nap6 * 1e3:.1f} ms")
    for method in ("t", "sign_flip", "wilcoxon"):
        t_b = best(lambda: between_person_test(nap6, centre=0.5, method=method))
        res["between"][method] = {"s": t_b, "share_of_nap": t_b / t_nap6}
        print(f"  between-person {method:9s} test              {reps / t_b / 1e6:7.2f} M replications/s"
              f"   = {t_b / t_nap6:.2f} of the six NAPs' time (target < 1)")
    res["simulator"] = simulator_setting(args.sim_reps)
    pathlib.Path(args.json).write_text(json.dumps(res, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
