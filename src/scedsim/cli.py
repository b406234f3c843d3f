"""The ``scedsim`` command line: argument parsing and printing only."""
from __future__ import annotations

import argparse
import sys

import numpy as np

EXAMPLES = """\
examples:
  scedsim simulate simulations/null_3x4.toml --n-jobs 2
      a Monte Carlo study (resumable with --resume); then: scedsim report simulations/null_3x4
  scedsim demo
      every effect size for the worked example of Parker, Vannest & Davis (2011)
  scedsim ab --a "20 20 26 25 22 23" --b "28 25 24 27 30 30 29"
      every effect size for one AB series
  scedsim ab --a "30 28 31" --b "24 22 20 21" --decrease
      the same for an outcome that improves by decreasing (e.g. burnout)
"""

# (label, function name, keyword arguments)
TABLE = [
    ("NAP", "nap", {}),
    ("Tau", "tau", {}),
    ("PND", "pnd", {}),
    ("PEM", "pem", {}),
    ("PAND", "pand", {}),
    ("IRD (robust)", "ird", {}),
    ("PET", "pet", {}),
    ("Tau-U (A vs B - trend A)", "tau_u", {}),
    ("Tau-BC", "tau_bc", {}),
    ("Tau-BC (pretest .05)", "tau_bc", {"pretest_alpha": 0.05}),
    ("SMD (baseline SD)", "smd", {}),
    ("LRRi", "lrr", {}),
]


def _fmt(x: float) -> str:
    return "" if x != x else f"{x:8.4f}"


def effect_size_table(a, b, improvement: str = "increase") -> str:
    """Every effect size for one AB series, as an aligned text table."""
    import scedsim as ss

    lines = [f"{'metric':26s} {'estimate':>9s} {'SE':>9s} {'95% CI':>21s}"]
    for label, name, kw in TABLE:
        try:
            r = getattr(ss, name)(a, b, improvement=improvement, **kw)
        except ValueError as exc:
            lines.append(f"{label:26s}  not defined here: {exc}")
            continue
        ci = f"[{_fmt(r.ci_lower)}, {_fmt(r.ci_upper)}]" if r.ci_lower == r.ci_lower else ""
        lines.append(f"{label:26s} {_fmt(r.estimate):>9s} {_fmt(r.se):>9s} {ci:>21s}")
    return "\n".join(lines)


def _parse_values(text: str, label: str):
    try:
        return np.array([float(v) for v in text.replace(",", " ").split()])
    except ValueError:
        raise ValueError(f"phase {label} must be numbers separated by spaces or commas, got {text!r}") from None


def _cmd_ab(args) -> int:
    a = _parse_values(args.a, "A")
    b = _parse_values(args.b, "B")
    imp = "decrease" if args.decrease else "increase"
    print(f"A = {args.a}\nB = {args.b}\nimprovement = {imp}\n")
    print(effect_size_table(a, b, imp))
    return 0


def _cmd_demo(args) -> int:
    import scedsim as ss

    a = [20, 20, 26, 25, 22, 23]
    b = [28, 25, 24, 27, 30, 30, 29]
    print("Worked example of Parker, Vannest & Davis (2011), Behavior Modification 35(4)")
    print(f"A = {a}\nB = {b}\n")
    print(effect_size_table(np.array(a, float), np.array(b, float)))
    # The motivating design: 3 baseline and 4 treatment points, no effect.
    from itertools import combinations

    idx = list(combinations(range(7), 3))
    A = np.array([[float(i) for i in c] for c in idx])
    B = np.array([[float(i) for i in range(7) if i not in c] for c in idx])
    ird = ss.ird(A, B).estimate
    vals, counts = np.unique(np.round(ird, 12), return_counts=True)
    print("\nRobust IRD with 3 + 4 points under no effect (all 35 rank arrangements):")
    for v, c in zip(vals, counts):
        print(f"  IRD = {v:.4f} in {c:2d} of 35")
    print(f"  mean = {ird.mean():.4f} (= 11/30), not 0")
    return 0


def _add_demo(sub) -> None:
    d = sub.add_parser("demo", help="effect sizes for a published worked example",
                       description="Every effect size for the worked example of Parker, Vannest & Davis (2011).",
                       epilog="example:\n  scedsim demo", formatter_class=argparse.RawDescriptionHelpFormatter)
    d.set_defaults(func=_cmd_demo)


def _add_ab(sub) -> None:
    ab = sub.add_parser("ab", help="effect sizes for one AB series given on the command line",
                        epilog='example:\n  scedsim ab --a "3 4 3" --b "6 7 5 8"',
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ab.add_argument("--a", required=True, help="baseline values, e.g. \"3 4 3\"")
    ab.add_argument("--b", required=True, help="treatment values, e.g. \"6 7 5 8\"")
    ab.add_argument("--decrease", action="store_true", help="lower values are better")
    ab.set_defaults(func=_cmd_ab)


def _cmd_simulate(args) -> int:
    import pathlib

    from .simulate import run
    from .simulate.studyfile import load_study

    study, opts = load_study(args.study)
    out = pathlib.Path(args.out) if args.out else pathlib.Path(args.study).with_suffix("")
    n_jobs = args.n_jobs if args.n_jobs is not None else int(opts.get("n_jobs", 1))
    res = run(study, n_jobs=n_jobs, out=out, resume=args.resume, backend=args.backend or opts.get("backend"),
              quiet=args.quiet)
    if not args.quiet:
        s = res.summary
        show = s[(s.scope == "case") & (s.measure.isin(["mean", "bias"])) & (s.estimand.isin(["", "limit"])
                                                                                 | s.estimand.isna())]
        cols = [c for c in res.conditions.columns if c not in ("n_blocks", "n_errors", "status")]
        table = show.pivot_table(index=cols + ["contrast", "metric"], columns="measure", values="value",
                                 sort=False)
        print(table.round(4).to_string())
        failed = int((res.conditions.status == "failed").sum())
        print(f"\n{len(res.conditions)} condition(s), {int(res.conditions.n_errors.sum())} failed block(s), "
              f"{failed} failed condition(s); results in {out}/ (summary.csv, errors.csv, seeds.csv, estimands.csv)")
    return 0


def _add_simulate(sub) -> None:
    p = sub.add_parser("simulate", help="run a Monte Carlo study from a TOML file (resumable)",
                       description="Run a Monte Carlo study described by a TOML study file.",
                       epilog="example:\n  scedsim simulate simulations/null_3x4.toml --out results/null --n-jobs 2\n"
                              "  scedsim simulate simulations/null_3x4.toml --out results/null --resume",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", help="TOML study file")
    p.add_argument("--out", help="results directory (default: the study file's path without .toml)")
    p.add_argument("--n-jobs", type=int, default=None, help="parallel workers (default: the file's n_jobs, or 1)")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
    p.add_argument("--backend", default=None, help="joblib backend (loky, threading, multiprocessing, dask)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or table")
    p.set_defaults(func=_cmd_simulate)


def _cmd_report(args) -> int:
    from .simulate.report import write_report

    path = write_report(args.results)
    print(f"wrote {path}")
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="Markdown summary and figures from a finished study",
                       epilog="example:\n  scedsim report results/null",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", help="results directory written by scedsim simulate")
    p.set_defaults(func=_cmd_report)


# Each subcommand registers itself here; keep one line per subcommand.
SUBCOMMANDS = [
    _add_demo,
    _add_ab,
    _add_simulate,
    _add_report,
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scedsim", description="Effect sizes and simulation for single-case experimental designs.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="command")
    for add in SUBCOMMANDS:
        add(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"scedsim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
