"""The seven-point question, planned: for phi in {0, .3, .6} and d in {1, 2}, the
smallest AB design that reaches 80% power at alpha = .05 with one person
(exact NAP permutation test), and the number of people the seven-point design
(3 + 4 occasions) needs with a between-person test (exact sign-flip test of
the people's NAPs around 1/2).

Run from the project root (about a minute per question on 2 cores):
    python simulations/planner/seven_point_plan.py > simulations/planner/seven_point_plan.md
The table is the README's "Planning a study" table; tests/test_plan.py reruns
one row and compares.
"""
from __future__ import annotations

import sys
import time

from scedsim.plan import plan

PHIS = (0.0, 0.3, 0.6)
EFFECTS = (1.0, 2.0)
SEED = 2026
ONE = dict(design="AB", rules="p_perm_nap <= 0.05", power=0.8, cases=1, max_occasions=20, seed=SEED)
PEOPLE = dict(design="AB", rules="p_between_nap[method=sign_flip] <= 0.05", power=0.8, m=3, n=4, cases="2-12",
              max_occasions=7, seed=SEED)


def _fmt(res, people: bool) -> str:
    best = res.best
    if best is None:
        df = res.candidates
        liberal = df[(df.status == "type1") & (df.power - 2 * df.mcse > res.settings["power"])]
        grid = f"{max(res.settings['cases'])} people" if people else f"{res.settings['max_occasions']} occasions"
        return f"none up to {grid}" + (f" ({len(liberal)} reach the power but exceed the Type I level)"
                                       if len(liberal) else "")
    what = f"{best['cases']} people" if people else f"{best['m']} + {best['n']}"
    tied = res.tied[res.settings["rules"][0]]
    tie = "; tied within 2 MCSE: " + ", ".join(f"{t['cases']} people" if people else f"{t['m']} + {t['n']}"
                                               for t in tied) if tied else ""
    return f"{what} ({best['power']:.3f} ± {best['mcse']:.3f}, Type I {best['type1']:.3f}{tie})"


def row(phi: float, d: float, m=None, n=None) -> str:
    """One table row: the single-person design and the number of people.  ``m`` and
    ``n`` restrict the one-person grid (a candidate's result does not depend on the
    others, so a test can rerun only the chosen design)."""
    one = plan(model="normal_ar1", params={"phi": phi}, effect=d, **ONE, m=m, n=n)
    many = plan(model="normal_ar1", params={"phi": phi}, effect=d, **PEOPLE)
    return f"| {phi:g} | {d:g} | {_fmt(one, False)} | {_fmt(many, True)} |"


def main() -> int:
    print("| phi | d | one person: smallest A + B (power ± MCSE, Type I) "
          "| 3 + 4 occasions: people (power ± MCSE, Type I) |")
    print("|---|---|---|---|")
    for phi in PHIS:
        for d in EFFECTS:
            t = time.perf_counter()
            print(row(phi, d), flush=True)
            print(f"phi={phi} d={d}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
