"""The ``scedsim`` command line: argument parsing and printing only."""
from __future__ import annotations

import argparse
import sys

import numpy as np

EXAMPLES = """\
examples:
  scedsim demo
      a synthetic burnout study: effect sizes per participant, across-case summary, figure
  scedsim ab --a "20 20 26 25 22 23" --b "28 25 24 27 30 30 29"
      every effect size for one AB series
  scedsim ab --a "30 28 31" --b "24 22 20 21" --decrease
      the same for an outcome that improves by decreasing (e.g. burnout)
  scedsim es data.csv --case participant --session occasion --phase phase --outcome EE,DP,PA --decrease EE,DP
      every effect size for every participant and outcome of a table (CSV, TSV or Excel)
  scedsim plot data.csv --case participant --session occasion --outcome EE --trend --out figure.png
      the standard single-case graph, one panel per participant
  scedsim bcsmd mb.csv --case id --session day --phase cond --outcome score --method both
      the design-comparable (between-case) SMD of a multiple-baseline study, HPS and REML
  scedsim simulate simulations/null_3x4.toml --n-jobs 2
      a Monte Carlo study with a progress bar (finish an interrupted run with --resume)
  scedsim report simulations/null_3x4
      Markdown tables and figures from a finished study
"""

def ab_rows():
    """(label, metric entry, options) for every row of ``scedsim ab``: each registered
    metric with its default options, then its listed variants."""
    from .registry import metrics

    rows = []
    for m in metrics().values():
        rows.append((m.title, m, {}))
        rows.extend((label, m, dict(opts)) for label, opts in m.variants)
    return rows


def _fmt(x: float) -> str:
    return "" if x != x else f"{x:8.4f}"


def effect_size_table(a, b, improvement: str = "increase") -> str:
    """Every effect size for one AB series, as an aligned text table."""
    lines = [f"{'metric':26s} {'estimate':>9s} {'SE':>9s} {'95% CI':>21s}"]
    for label, entry, kw in ab_rows():
        missing = [k for k in entry.required if k not in kw]
        if missing:
            # e.g. PoGO's goal: there is no default to show.
            lines.append(f"{label:26s}  not computed: needs {', '.join(f'{k}=' for k in missing)}")
            continue
        try:
            r = entry.func(a, b, improvement=improvement, **kw)
        except ValueError as exc:
            lines.append(f"{label:26s}  not defined here: {exc}")
            continue
        ci = f"[{_fmt(r.ci_lower)}, {_fmt(r.ci_upper)}]" if r.ci_lower == r.ci_lower else ""
        lines.append(f"{label:26s} {_fmt(r.estimate):>9s} {_fmt(r.se):>9s} {ci:>21s}")
    return "\n".join(lines)


def _parse_values(text: str, label: str):
    try:
        x = np.array([float(v) for v in text.replace(",", " ").split()])
    except ValueError:
        raise ValueError(f"phase {label} must be numbers separated by spaces or commas, got {text!r}") from None
    # Refused here, once, rather than as one "not defined here" line per metric.
    if not x.size:
        raise ValueError(f"phase {label} is empty: give its values, e.g. --{label.lower()} \"1 2 3\"")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"phase {label} contains NaN or an infinite value ({text!r}); "
                         "remove or impute missing values")
    return x


def _cmd_ab(args) -> int:
    a = _parse_values(args.a, "A")
    b = _parse_values(args.b, "B")
    imp = "decrease" if args.decrease else "increase"
    print(f"A = {args.a}\nB = {args.b}\nimprovement = {imp}\n")
    print(effect_size_table(a, b, imp))
    return 0


# ----------------------------------------------------------------- study tables

def _label(name: str) -> str:
    """Column header of a metric: its registry label."""
    from .registry import metrics

    m = metrics().get(name)
    return m.label if m is not None else name


def _num(x: float, width: int = 7) -> str:
    return f"{'NA':>{width}s}" if x != x else f"{x:{width}.3f}"


def _names(text):
    """Comma-separated names from the command line, or None."""
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ValueError(f"expected comma-separated names, got {text!r}")
    return names


def format_cases(table) -> str:
    """Per-case estimates as text: one block per contrast, one row per outcome x case."""
    metrics = list(dict.fromkeys(table["metric"]))
    cw = max(4, *(len(str(c)) for c in table["case"]))
    ow = max(7, *(len(str(o)) for o in table["outcome"]))
    lines = []
    for contrast, t in table.groupby("contrast", sort=False):
        base, comp = contrast.split(":", 1)
        if lines:
            lines.append("")
        lines.append(f"Effect sizes, phase {base} vs {' and '.join(comp.split('+'))}"
                     f"{' (pooled)' if '+' in comp else ''}; better = the direction of improvement")
        lines.append(f"{'case':{cw}s}  {'outcome':{ow}s}  {'better':6s}"
                     + "".join(f"{_label(m):>7s}" for m in metrics))
        est = t.pivot_table(index=["outcome", "case"], columns="metric", values="estimate",
                            sort=False, dropna=False)
        imp = t.drop_duplicates(["outcome", "case"]).set_index(["outcome", "case"])["improvement"]
        for (o, c) in imp.index:
            better = "lower" if imp[(o, c)] == "decrease" else "higher"
            lines.append(f"{str(c):{cw}s}  {str(o):{ow}s}  {better:6s}"
                         + "".join(_num(est.loc[(o, c), m]) for m in metrics))
    notes = table[table["notes"] != ""]
    if len(notes):
        lines.append("")
        lines.append("notes:")
        for text, g in notes.groupby("notes", sort=False):
            where = ", ".join(dict.fromkeys(f"{c} {o} {k}" for c, o, k in
                                            zip(g["case"], g["outcome"], g["contrast"])))
            lines.append(f"  {text} [{where}; {', '.join(dict.fromkeys(_label(m) for m in g['metric']))}]")
    return "\n".join(lines)


def format_summary(summary, n_cases=None, confidence: float = 0.95) -> str:
    """Across-case summary as text: one row per contrast x outcome x metric.

    ``confidence`` is the level the summary was computed at; it heads the
    weighted mean's interval column.
    """
    ci_head = f"weighted [{100 * confidence:.10g}% CI]"
    lines = []
    ow = max(7, *(len(str(o)) for o in summary["outcome"]))
    for contrast, s in summary.groupby("contrast", sort=False):
        base, comp = contrast.split(":", 1)
        if lines:
            lines.append("")
        lines.append(f"Across cases, phase {base} vs {' and '.join(comp.split('+'))}")
        lines.append(f"{'outcome':{ow}s}  {'metric':7s}{'mean':>7s}{'median':>8s}"
                     f"  {ci_head:23s}{'pooled':>7s}{'cases':>7s}")
        for (o, m), g in s.groupby(["outcome", "metric"], sort=False):
            by = g.set_index("method")
            w = ""
            weighted = [meth for meth in by.index if str(meth).startswith("random effects")]
            if weighted:
                r = by.loc[weighted[0]]
                w = "NA" if r["estimate"] != r["estimate"] else \
                    f"{r['estimate']:.3f} [{r['ci_lower']:.3f}, {r['ci_upper']:.3f}]"
            pooled = _num(by.loc["pooled counts", "estimate"]) if "pooled counts" in by.index else ""
            lines.append(f"{str(o):{ow}s}  {_label(m):7s}{_num(by.loc['mean', 'estimate'])}"
                         f"{_num(by.loc['median', 'estimate'], 8)}  {w:23s}{pooled:>7s}"
                         f"{int(by.loc['mean', 'n_cases']):7d}")
    lines.append("")
    methods = [str(x) for x in summary["method"].unique()]
    reml = any(x.startswith("random effects (REML") for x in methods)
    kh = any("Knapp-Hartung" in x for x in methods)
    lines.append(f"weighted: random-effects mean of NAP or Tau ({'REML' if reml else 'DerSimonian-Laird'} "
                 f"tau^2, weights")
    lines.append(f"1/(SE^2 + tau^2)), {'Knapp-Hartung t' if kh else 'Wald'} CI; pooled: robust IRD of the "
                 "PAND counts summed over cases.")
    extra = [x for x in methods if x.startswith("weighted mean (")]
    if extra:
        lines.append(f"The summary file also holds: {', '.join(extra)}.")
    return "\n".join(lines)


def _add_table_arguments(p) -> None:
    """Arguments shared by the commands that read a study table."""
    p.add_argument("data", help="study table: .csv, .tsv/.tab, or .xlsx/.xls (needs openpyxl/xlrd)")
    p.add_argument("--case", default="case", help="column naming the case (default: case)")
    p.add_argument("--session", default="session",
                   help="column with the session number giving the time order (default: session)")
    p.add_argument("--phase", default="phase", help="column with each session's phase label (default: phase)")
    p.add_argument("--outcome", metavar="NAMES",
                   help="comma-separated outcomes: score columns of a wide table (one column per outcome), "
                        "or names in --outcome-column of a long table (default: all outcomes of a long table)")
    p.add_argument("--outcome-column", default="outcome",
                   help="long table: column naming the outcome (default: outcome)")
    p.add_argument("--value", default="value", help="long table: column with the score (default: value)")
    p.add_argument("--missing", choices=("error", "drop"), default="error",
                   help="a missing score is an error (default) or is dropped and reported")


def _table_kwargs(args) -> dict:
    return dict(case=args.case, session=args.session, phase=args.phase, outcome=args.outcome_column,
                value=args.value, outcomes=_names(args.outcome), missing=args.missing)


def _text_columns(args) -> tuple:
    # Labels are text: phase "01" must not be read as the number 1.
    return (args.case, args.phase, args.outcome_column)


def _warned(fn, *a, **kw):
    """Run fn, printing its warnings as one-line messages on stderr."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*a, **kw)
    for w in caught:
        print(f"scedsim: warning: {w.message}", file=sys.stderr)
    return out


def _weighting_arg(text):
    if text is None:
        return None
    if text.strip() == "all":
        return "all"
    # "1/nA+1/nB" holds no comma, so a comma separates schemes.
    return [w for w in (x.strip() for x in text.split(",")) if w]


def _cmd_es(args) -> int:
    import json
    import pathlib

    import pandas as pd

    import scedsim as ss
    from .io import read_table

    df = read_table(args.data, text=_text_columns(args))
    out_paths = _es_out_paths(args)
    kw = _table_kwargs(args)
    outcomes = kw["outcomes"]
    if outcomes is None:
        if kw["outcome"] not in df.columns:
            raise ValueError(f"no column {kw['outcome']!r} naming the outcome; for a wide table list its "
                             "score columns with --outcome (e.g. --outcome EE,DP), for a long table name "
                             "the outcome column with --outcome-column")
        # Stripped as effect_sizes strips them, so that --decrease EE matches "EE ".
        outcomes = list(dict.fromkeys(str(o).strip() for o in pd.unique(df[kw["outcome"]].dropna())))
    decrease = _names(args.decrease) or []
    if outcomes is None:
        improvement = "decrease" if decrease else "increase"
    else:
        unknown = [d for d in decrease if d not in outcomes]
        if unknown:
            raise ValueError(f"--decrease names {unknown[0]!r}, which is not an outcome; "
                             f"outcomes: {', '.join(outcomes)}")
        improvement = {o: "decrease" if o in decrease else "increase" for o in outcomes}
    metrics = "all" if args.metrics == "all" else _names(args.metrics)
    options = _goal_options(args, metrics, outcomes)
    res = _warned(ss.effect_sizes, df, **kw, contrast=_names(args.contrast), metrics=metrics,
                  improvement=improvement, confidence=args.confidence,
                  summary={"tau2": args.tau2, "weighting": _weighting_arg(args.weighting)},
                  times=args.times, options=options, goal_column=args.goal_column)
    if args.json and not args.out:
        print(json.dumps(_as_json(res), indent=1))
        return 0
    written = []
    if out_paths:
        out, summary_path, json_path = out_paths
        res.cases.to_csv(out, index=False)
        res.summary.to_csv(summary_path, index=False)
        written = [f"{out} ({len(res.cases)} rows)", f"{summary_path} ({len(res.summary)} rows)"]
        if json_path is not None:
            json_path.write_text(json.dumps(_as_json(res), indent=1))
            written.append(str(json_path))
    print(format_cases(res.cases))
    print()
    print(format_summary(res.summary, confidence=args.confidence))
    if written:
        print(f"\nwrote {', '.join(written)}")
    return 0


def _parse_goal(text: str, outcomes):
    """``--goal``: one number for every outcome, or NAME=NUMBER pairs naming every outcome."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    goals = {}
    for part in (t.strip() for t in text.split(",")):
        name, sep, num = part.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            goals[name.strip()] = float(num)
        except ValueError:
            raise ValueError(f"--goal takes one number or NAME=NUMBER pairs (e.g. --goal EE=10,PA=40); "
                             f"got {part!r}") from None
    if outcomes is not None:
        unknown = [g for g in goals if g not in outcomes]
        if unknown:
            raise ValueError(f"--goal names {unknown[0]!r}, which is not an outcome; "
                             f"outcomes: {', '.join(outcomes)}")
        missing = [o for o in outcomes if o not in goals]
        if missing:
            raise ValueError(f"--goal gives no goal for outcome {missing[0]!r}; name every outcome "
                             f"({', '.join(outcomes)}) or give one number for all")
    return goals


def _goal_options(args, metrics, outcomes):
    """``options`` for the metrics that take a goal (PoGO), from ``--goal``."""
    from .registry import default_metrics, metrics as registered

    asked = list(registered()) if metrics == "all" else (metrics or default_metrics())
    names = [n for n in asked if n in registered() and "goal" in registered()[n].required]
    given = args.goal is not None or args.goal_column is not None
    if args.goal is not None and args.goal_column is not None:
        raise ValueError("give --goal or --goal-column, not both")
    if names and not given and metrics != "all":
        raise ValueError(f"--metrics {names[0]} needs a goal: --goal EE=10,PA=40 (one per outcome), "
                         "--goal 10 (every outcome) or --goal-column NAME")
    if given and not names:
        raise ValueError("--goal and --goal-column are for --metrics pogo; no metric asked for takes a goal")
    if args.goal is None:
        return None
    goal = _parse_goal(args.goal, outcomes)
    return {n: {"goal": goal} for n in names}


def _same_file(p, q) -> bool:
    import os

    if p.exists() and q.exists():
        return os.path.samefile(p, q)
    return p.resolve() == q.resolve()


def _es_out_paths(args):
    """The files ``es --out`` writes, checked before any work: (cases, summary, json or None)."""
    import pathlib

    if not args.out:
        return None
    out = pathlib.Path(args.out)
    if out.suffix.lower() != ".csv":
        raise ValueError(f"--out must name a .csv file, got {args.out!r}")
    paths = (out, out.with_name(out.stem + "_summary.csv"), out.with_suffix(".json") if args.json else None)
    data = pathlib.Path(args.data)
    for role, path in zip(("--out", "the summary of --out", "the JSON of --out"), paths):
        # Writing the results over the study table would destroy the data.
        if path is not None and _same_file(path, data):
            via = "" if str(path) == str(data) else f" (as {str(path)!r})"
            raise ValueError(f"{role} would overwrite the input file {args.data!r}{via}; "
                             "choose another --out")
    return paths


def _as_json(res) -> dict:
    def records(df):
        # Full precision; NaN is not JSON, so it becomes null.
        obj = df.astype(object)
        return obj.where(df.notna(), None).to_dict(orient="records")

    return {"effect_sizes": records(res.cases), "summary": records(res.summary)}


def _add_es(sub) -> None:
    p = sub.add_parser(
        "es", help="effect sizes for every case and outcome of a study table",
        description="Every effect size for every case, outcome and phase contrast of a study table, "
                    "and a summary across cases. The table has one row per case x session (wide: one "
                    "column per outcome) or per case x session x outcome (long: an outcome column and "
                    "a value column), and the phase label of each session.",
        epilog="examples:\n"
               "  scedsim es data.csv --case participant --session occasion --phase phase \\\n"
               "      --outcome EE,DP,PA --decrease EE,DP --metrics nap,tau,ird --out results.csv\n"
               "  scedsim es long.csv --outcome-column scale --value score --contrast A:B,A:C,A:B+C --json\n"
               "  scedsim es data.csv --outcome EE,PA --metrics nap,pogo --goal EE=10,PA=40",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_table_arguments(p)
    p.add_argument("--decrease", metavar="NAMES",
                   help="comma-separated outcomes where lower is better (the others: higher is better)")
    from .registry import default_metrics, metric_names

    p.add_argument("--metrics", metavar="NAMES",
                   help=f"comma-separated: {','.join(metric_names())}, or all "
                        f"(default: {','.join(default_metrics())})")
    p.add_argument("--contrast", metavar="LIST", default=None,
                   help="comma-separated contrasts baseline:comparison, e.g. A:B,A:C,A:B+C "
                        "(B+C pools B and C; default A:B)")
    p.add_argument("--goal", metavar="GOALS",
                   help="PoGO's goal per outcome, e.g. EE=10,PA=40 (every outcome named), or one number "
                        "for every outcome")
    p.add_argument("--goal-column", metavar="NAME",
                   help="column holding PoGO's goal (one value per case and outcome), instead of --goal")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--tau2", choices=("DL", "REML"), default="DL",
                   help="between-case variance of the summary's random-effects mean (default DL)")
    p.add_argument("--weighting", metavar="SCHEMES",
                   help="also write SingleCaseES's weighted means in the summary: comma-separated from "
                        "equal, nA, nB, nAnB, 1/nA+1/nB, 1/V, or all")
    p.add_argument("--times", choices=("position", "session"), default="position",
                   help="time axis of PET, Tau-BC and Tau-U: positions 1..m+n (default, as SingleCaseES) "
                        "or the session numbers (as scan)")
    p.add_argument("--out", metavar="FILE.csv",
                   help="write the per-case table here and the summary to FILE_summary.csv")
    p.add_argument("--json", action="store_true",
                   help="also write FILE.json (with --out), or print JSON instead of the tables")
    p.set_defaults(func=_cmd_es)


FIGURE_TYPES = (".png", ".svg", ".pdf")


def _save(fig, out: str, dpi: int) -> None:
    import pathlib

    path = pathlib.Path(out)
    if path.suffix.lower() not in FIGURE_TYPES:
        raise ValueError(f"--out must end in {', '.join(FIGURE_TYPES)}; got {out!r}")
    fig.savefig(path, dpi=dpi)


def _cmd_plot(args) -> int:
    from .io import read_table
    from .plotting import sced_plot

    import math

    # None means "not given"; 0 is a size, and a bad one.
    if (args.width is None) != (args.height is None):
        raise ValueError("give both --width and --height, or neither")
    figsize = None
    if args.width is not None:
        for name, v in (("--width", args.width), ("--height", args.height)):
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number of inches, got {v:g}")
        figsize = (args.width, args.height)
    df = read_table(args.data, text=_text_columns(args))
    fig = _warned(sced_plot, df, **_table_kwargs(args), trend=args.trend, baseline=args.baseline,
                  title=args.title, figsize=figsize)
    _save(fig, args.out, args.dpi)
    print(f"wrote {args.out} ({len(fig.axes)} panels)")
    return 0


def _add_plot(sub) -> None:
    p = sub.add_parser(
        "plot", help="the standard single-case graph of a study table",
        description="One panel per case, stacked on a shared time axis (one column per outcome), with "
                    "dashed phase-change lines and phase labels; points are connected within a phase only.",
        epilog="example:\n"
               "  scedsim plot data.csv --case participant --session occasion --phase phase \\\n"
               "      --outcome EE --trend --out figure.png",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_table_arguments(p)
    p.add_argument("--out", required=True, metavar="FILE", help="figure file: .png, .svg or .pdf")
    p.add_argument("--trend", action="store_true",
                   help="draw the baseline Theil-Sen trend, projected into the later phases")
    p.add_argument("--baseline", default="A", help="baseline phase label, for --trend (default: A)")
    p.add_argument("--title", default=None, help="figure title")
    p.add_argument("--width", type=float, default=None, help="figure width in inches")
    p.add_argument("--height", type=float, default=None, help="figure height in inches")
    p.add_argument("--dpi", type=int, default=200, help="resolution of a PNG (default 200)")
    p.set_defaults(func=_cmd_plot)


# ------------------------------------------------------------------------- demo

DEMO_OUTCOMES = {"EE": "decrease", "DP": "decrease", "PA": "increase", "Climate": "increase",
                 "QoL": "increase"}


def _cmd_demo(args) -> int:
    import scedsim as ss
    from .datasets import BURNOUT_SEED
    from .plotting import sced_plot

    df = ss.datasets.load_burnout_example()
    print("scedsim demo: SYNTHETIC data shaped like a burnout intervention study. The real")
    print("study's data are not public; these values come from a seeded generator,")
    print(f"scedsim.datasets.make_burnout_example(seed={BURNOUT_SEED}).")
    print("Six participants; occasions 1-3 baseline (A), 4-5 intervention (B), 6-7 follow-up (C).")
    print("EE (emotional exhaustion) and DP (depersonalization): lower is better; PA (personal")
    print("accomplishment), Climate (organizational climate), QoL (quality of life): higher is better.")
    print()
    cases = ss.effect_sizes(df, metrics=["nap", "tau", "pnd", "pem", "pand", "ird", "tau_u"],
                            improvement=DEMO_OUTCOMES)
    print(format_cases(cases))
    print("Tau-U: Parker's A vs B minus baseline trend, which can exceed 1 in short series.")
    print()
    summary = ss.effect_sizes(df, metrics=["nap", "tau", "ird"], improvement=DEMO_OUTCOMES,
                              contrast=["A:B", "A:C"], summary=True).summary
    print(format_summary(summary))
    fig = sced_plot(df, outcomes=["EE", "DP", "PA"], trend=True, xlabel="occasion",
                    title="SYNTHETIC example data shaped like a burnout study (not real data)")
    _save(fig, args.out, 110)
    print()
    print(f"figure: {args.out} (EE, DP and PA; dotted: baseline Theil-Sen trend)")
    print("your own data: scedsim es --help, scedsim plot --help")
    return 0


def _add_demo(sub) -> None:
    d = sub.add_parser("demo", help="effect sizes, summary and figure for a synthetic example study",
                       description="Runs scedsim on the bundled SYNTHETIC burnout example "
                                   "(scedsim.datasets.load_burnout_example): every participant's effect "
                                   "sizes, the summary across participants, and the single-case graph.",
                       epilog="example:\n  scedsim demo\n  scedsim demo --out demo.svg",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--out", default="scedsim_demo.png",
                   help="figure file, .png, .svg or .pdf (default: scedsim_demo.png here)")
    d.set_defaults(func=_cmd_demo)


def _add_ab(sub) -> None:
    ab = sub.add_parser("ab", help="effect sizes for one AB series given on the command line",
                        epilog='example:\n  scedsim ab --a "3 4 3" --b "6 7 5 8"',
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ab.add_argument("--a", required=True, help="baseline values, e.g. \"3 4 3\"")
    ab.add_argument("--b", required=True, help="treatment values, e.g. \"6 7 5 8\"")
    ab.add_argument("--decrease", action="store_true", help="lower values are better")
    ab.set_defaults(func=_cmd_ab)


def _cmd_bcsmd(args) -> int:
    import json

    import scedsim as ss
    from .io import read_table

    df = read_table(args.data, text=(args.case, args.phase))
    methods = ("hps", "reml") if args.method == "both" else (args.method,)
    results = [ss.bcsmd(df, case=args.case, session=args.session, phase=args.phase, outcome=args.outcome,
                        baseline=args.baseline, treatment=args.treatment, design=args.design, method=m,
                        confidence=args.confidence) for m in methods]
    if args.json:
        print(json.dumps([{k: v for k, v in r.as_dict().items()} for r in results], indent=1))
        return 0
    first = results[0]
    print(f"between-case SMD, {first.n_cases} cases, {first.n_obs} observations, design {first.design}")
    ci = f"{args.confidence:.0%} CI"
    print(f"{'method':6s} {'g':>9s} {'SE':>9s} {'df':>8s} {ci:>21s} {'phi':>8s} {'rho':>8s}")
    for r in results:
        print(f"{r.method:6s} {r.estimate:9.4f} {r.se:9.4f} {r.df:8.2f} "
              f"{'[' + format(r.ci_lower, '.4f') + ', ' + format(r.ci_upper, '.4f') + ']':>21s} "
              f"{r.phi:8.4f} {r.rho:8.4f}")
    return 0


def _add_bcsmd(sub) -> None:
    p = sub.add_parser(
        "bcsmd", help="design-comparable (between-case) SMD of a multiple-baseline or reversal study",
        description="Hedges, Pustejovsky & Shadish's design-comparable SMD (g, its SE, df and interval) "
                    "from a long table with one row per case x session.",
        epilog="example:\n  scedsim bcsmd mb.csv --method both",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="CSV, TSV or Excel file, one row per case x session")
    p.add_argument("--case", default="case", help="case column (default: case)")
    p.add_argument("--session", default="session", help="session column, whole numbers (default: session)")
    p.add_argument("--phase", default="phase", help="phase column (default: phase)")
    p.add_argument("--outcome", default="outcome", help="outcome column (default: outcome)")
    p.add_argument("--baseline", default="A", help="baseline phase label (default: A)")
    p.add_argument("--treatment", default="B", help="treatment phase label (default: B)")
    p.add_argument("--method", choices=("hps", "reml", "both"), default="hps", help="estimator (default: hps)")
    p.add_argument("--design", choices=("multiple_baseline", "reversal"), default="multiple_baseline",
                   help="design (default: multiple_baseline; reversal: (AB)^k)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--json", action="store_true", help="print every field as JSON")
    p.set_defaults(func=_cmd_bcsmd)


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
        # Stacked grids leave a parameter blank where a grid does not set it; pivot_table
        # would drop those rows.
        show = show.assign(**{c: show[c].astype(object).where(show[c].notna(), "") for c in cols})
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
    _add_es,
    _add_bcsmd,
    _add_plot,
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
    except BrokenPipeError:
        # The reader went away (``scedsim es ... | head``): stop quietly, as a
        # tool killed by SIGPIPE would.  Point stdout at devnull so that the
        # interpreter's final flush does not raise again.
        import os

        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except (ValueError, OSError) as exc:
        # One line, no traceback: bad input is the user's to fix, not a crash.
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"scedsim: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
