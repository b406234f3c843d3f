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
  scedsim plan --design AB --phi 0 --effect 2 --rule "p_perm_nap <= 0.05" --power 0.85 --json plan.json
      the cheapest design (phase lengths, people) that reaches the target power
  scedsim schedule --design "AB n_time=20 min_phase=5" --seed 2024 --out schedule.json
      draw the random schedule of a randomized design (AB, ABAB, ATD, CRD, RBD, MB) and record it
  scedsim test data.csv --schedule schedule.json --outcome score
      the randomization test of data collected on that schedule, with the assignment really drawn
  scedsim baseline data.csv --outcome score --json
      a normal AR(1) model (phi, trend, level, SD, with intervals) from your own baseline data
  scedsim app
      the same in a point-and-click app in the browser (local; needs the app extra)
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


def format_cases(table, max_rows=None, path=None) -> str:
    """Per-case estimates as text: one block per contrast, one row per outcome x case.

    ``max_rows`` caps the rows shown per contrast (None: all); a cut block ends
    with the count of rows left out and, when given, the ``path`` holding them.
    Linear in the number of rows: one reshape per contrast, no per-cell lookup.
    """
    import pandas as pd

    metrics = list(dict.fromkeys(table["metric"]))
    cases = table["case"].astype(str)
    cw = max(4, int(cases.str.len().max()) if len(cases) else 0)
    ow = max(7, int(table["outcome"].astype(str).str.len().max()) if len(table) else 0)
    lines = []
    left_out = 0
    for contrast, t in table.groupby("contrast", sort=False):
        base, comp = contrast.split(":", 1)
        if lines:
            lines.append("")
        lines.append(f"Effect sizes, phase {base} vs {' and '.join(comp.split('+'))}"
                     f"{' (pooled)' if '+' in comp else ''}; better = the direction of improvement")
        lines.append(f"{'case':{cw}s}  {'outcome':{ow}s}  {'better':6s}"
                     + "".join(f"{_label(m):>7s}" for m in metrics))
        keys = t.drop_duplicates(["outcome", "case"])
        n_rows = len(keys)
        if max_rows is not None and n_rows > max_rows:
            keys = keys.iloc[:max_rows]
        # One reindex for the shown rows (a .loc per cell rebuilds the MultiIndex
        # engine every time: quadratic in the number of cases).
        est = t.set_index(["outcome", "case", "metric"])["estimate"]
        est = est[~est.index.duplicated()].unstack("metric")
        est = est.reindex(pd.MultiIndex.from_arrays([keys["outcome"], keys["case"]]))
        est = est.reindex(columns=metrics).to_numpy(dtype=float)
        for o, c, imp, row in zip(keys["outcome"], keys["case"], keys["improvement"], est):
            better = "lower" if imp == "decrease" else "higher"
            lines.append(f"{str(c):{cw}s}  {str(o):{ow}s}  {better:6s}" + "".join(_num(v) for v in row))
        if n_rows > len(keys):
            left_out += n_rows - len(keys)
            where = f"; all rows in {path}" if path else "; --out FILE.csv writes them all"
            lines.append(f"... {n_rows - len(keys)} more row(s) of {n_rows} not shown{where}")
    notes = table[table["notes"] != ""]
    if len(notes):
        lines.append("")
        lines.append("notes:")
        for text, g in notes.groupby("notes", sort=False):
            where = list(dict.fromkeys(f"{c} {o} {k}" for c, o, k in
                                       zip(g["case"], g["outcome"], g["contrast"])))
            if max_rows is not None and len(where) > _NOTE_PLACES:
                where = where[:_NOTE_PLACES] + [f"and {len(where) - _NOTE_PLACES} more"]
            lines.append(f"  {text} [{', '.join(where)}; "
                         f"{', '.join(dict.fromkeys(_label(m) for m in g['metric']))}]")
    return "\n".join(lines)


# Rows of the per-case table printed per contrast by `scedsim es`: a terminal
# table of thousands of cases is unreadable, and the CSV holds them all.
MAX_ROWS = 100
# Places listed per note when the table is cut: the rest are counted.
_NOTE_PLACES = 10


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

    if args.max_rows < 0:
        raise ValueError(f"--max-rows must be 0 (every row) or a positive number, got {args.max_rows}")
    if args.quiet and not args.out:
        raise ValueError("--quiet prints no table, so it needs --out FILE.csv to write the results")
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
    if not args.quiet:
        max_rows = args.max_rows if args.max_rows > 0 else None
        print(format_cases(res.cases, max_rows=max_rows, path=out_paths[0] if out_paths else None))
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
    p.add_argument("--max-rows", type=int, default=MAX_ROWS, metavar="N",
                   help=f"rows shown per contrast; the rest are counted, and --out has them all "
                        f"(default {MAX_ROWS}; 0: every row)")
    p.add_argument("--quiet", action="store_true",
                   help="print no table, only the files written (needs --out)")
    p.set_defaults(func=_cmd_es)


FIGURE_TYPES = (".png", ".svg", ".pdf")
# Panels per figure of `scedsim plot`: 30 stacked panels are a long page already,
# and a figure of hundreds takes minutes to draw and is too tall to read.
MAX_PANELS = 30


def _save(fig, out: str, dpi: int) -> None:
    import pathlib

    path = pathlib.Path(out)
    if path.suffix.lower() not in FIGURE_TYPES:
        raise ValueError(f"--out must end in {', '.join(FIGURE_TYPES)}; got {out!r}")
    fig.savefig(path, dpi=dpi)


def _parse_limits(text):
    """``--limits``: "auto", "none", or LOW,HIGH with either side empty."""
    t = text.strip().lower()
    if t in ("auto", "none"):
        return None if t == "none" else "auto"
    lo, sep, hi = t.partition(",")
    try:
        if not sep:
            raise ValueError
        return tuple(float(v) if v.strip() else None for v in (lo, hi))
    except ValueError:
        raise ValueError(f"--limits takes LOW,HIGH (e.g. 1,5 or 0,), auto or none; got {text!r}") from None


def _cmd_plot(args) -> int:
    import math
    import pathlib

    import pandas as pd

    from .io import case_ids, read_table
    from .plotting import sced_plot

    # None means "not given"; 0 is a size, and a bad one.
    if (args.width is None) != (args.height is None):
        raise ValueError("give both --width and --height, or neither")
    figsize = None
    if args.width is not None:
        for name, v in (("--width", args.width), ("--height", args.height)):
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number of inches, got {v:g}")
        figsize = (args.width, args.height)
    if args.max_panels < 1:
        raise ValueError(f"--max-panels must be a positive number, got {args.max_panels}")
    out = pathlib.Path(args.out)
    if out.suffix.lower() not in FIGURE_TYPES:
        raise ValueError(f"--out must end in {', '.join(FIGURE_TYPES)}; got {args.out!r}")
    if not out.parent.is_dir():
        # Before drawing, which can take minutes.
        raise ValueError(f"folder {str(out.parent)!r} of --out does not exist")
    limits = _parse_limits(args.limits)
    df = read_table(args.data, text=_text_columns(args))
    kw = _table_kwargs(args)
    if args.case not in df.columns:
        raise ValueError(f"column {args.case!r} (case) not found; the table has: "
                         f"{', '.join(map(str, df.columns))}")
    ids = case_ids(df, args.case)
    cases = list(pd.unique(ids))
    if args.cases is not None:
        wanted = _names(args.cases)
        known = {str(c): c for c in cases}
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise ValueError(f"--cases names {unknown[0]!r}, which is not a case in column {args.case!r}; "
                             f"cases: {', '.join(list(known)[:10])}{', ...' if len(known) > 10 else ''}")
        cases = [known[c] for c in wanted]
    if kw["outcomes"]:
        n_out = len(kw["outcomes"])
    elif args.outcome_column in df.columns:
        n_out = max(1, df[args.outcome_column].nunique())
    else:
        n_out = 1
    # Panels are cases x outcomes; a page holds whole rows (cases).
    per_page = max(1, args.max_panels // n_out)
    pages = [cases[k:k + per_page] for k in range(0, len(cases), per_page)]
    paths = [out] if len(pages) == 1 else \
        [out.with_name(f"{out.stem}_p{k + 1:0{max(2, len(str(len(pages))))}d}{out.suffix}")
         for k in range(len(pages))]
    if len(pages) > 1:
        print(f"scedsim: warning: {len(cases)} cases x {n_out} outcome(s) is more than --max-panels "
              f"{args.max_panels} panels: drawing {len(pages)} figures of at most {per_page} case(s), "
              f"{paths[0].name} to {paths[-1].name} (choose cases with --cases, or raise --max-panels)",
              file=sys.stderr)
    for page, path in zip(pages, paths):
        # The page's cases, in the order asked for (the graph follows the table's order).
        pos = ids.map({c: k for k, c in enumerate(page)})
        keep = pos.notna().to_numpy()
        part = df[keep].iloc[np.argsort(pos[keep].to_numpy(), kind="stable")]
        fig = _warned(sced_plot, part, **kw, trend=args.trend, baseline=args.baseline,
                      title=args.title, figsize=figsize, limits=limits)
        _save(fig, str(path), args.dpi)
        print(f"wrote {path} ({len(fig.axes)} panels)")
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
    p.add_argument("--limits", default="auto", metavar="LOW,HIGH",
                   help="the outcome scale's range, e.g. 1,5 for a 1-5 rating or 0, for counts: the axis "
                        "spans it and trend lines stop at its ends (default auto: from 0 when every score "
                        "is >= 0; none: the data's range)")
    p.add_argument("--cases", metavar="IDS", default=None,
                   help="comma-separated cases to draw, in this order (default: every case)")
    p.add_argument("--max-panels", type=int, default=MAX_PANELS, metavar="N",
                   help=f"panels (cases x outcomes) per figure; more cases are drawn in several "
                        f"figures FILE_p01, FILE_p02, ... (default {MAX_PANELS})")
    p.set_defaults(func=_cmd_plot)


# ------------------------------------------------------------------------- demo

DEMO_OUTCOMES = {"EE": "decrease", "DP": "decrease", "PA": "increase", "Climate": "increase",
                 "QoL": "increase"}


def demo_figure_path() -> str:
    """Where ``scedsim demo`` draws its figure by default: the temporary folder, not
    the current one (after README's install that is the checkout)."""
    import os
    import tempfile

    return os.path.join(tempfile.gettempdir(), "scedsim_demo.png")


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
    out = args.out if args.out is not None else demo_figure_path()
    _save(fig, out, 110)
    print()
    print(f"figure: {out} (EE, DP and PA; dotted: baseline Theil-Sen trend)")
    print("your own data: scedsim es --help, scedsim plot --help")
    return 0


def _add_demo(sub) -> None:
    d = sub.add_parser("demo", help="effect sizes, summary and figure for a synthetic example study",
                       description="Runs scedsim on the bundled SYNTHETIC burnout example "
                                   "(scedsim.datasets.load_burnout_example): every participant's effect "
                                   "sizes, the summary across participants, and the single-case graph.",
                       epilog="example:\n  scedsim demo\n  scedsim demo --out demo.svg",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--out", default=None,
                   help="figure file, .png, .svg or .pdf (default: scedsim_demo.png in the temporary "
                        "folder, e.g. /tmp/scedsim_demo.png; the path is printed)")
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
    try:
        res = run(study, n_jobs=n_jobs, out=out, resume=args.resume,
                  backend=args.backend or opts.get("backend"), quiet=args.quiet)
    except KeyboardInterrupt:
        # Every finished chunk is already on disk: say so, and how to go on, in one line.
        from .simulate.runner import finished_chunks

        done = finished_chunks(out, -(-study.n_blocks // study.blocks_per_chunk))
        print(f"\nscedsim: interrupted; {done} finished chunk(s) kept in {out}/; continue with: "
              f"scedsim simulate {args.study} --out {out} --resume", file=sys.stderr)
        return 130
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


def _study_keys_epilog() -> str:
    """The study file's keys and their meanings, from the code that reads the file."""
    import textwrap

    from .simulate.studyfile import key_help

    lines = ["study file keys (TOML; see scedsim.simulate.Study):"]
    for key, text in key_help():
        body = textwrap.wrap(text, 100 - 20)
        lines.append(f"  {key:16s}  {body[0]}")
        lines.extend(f"  {'':16s}  {t}" for t in body[1:])
    return "\n".join(lines)


def _add_simulate(sub) -> None:
    p = sub.add_parser("simulate", help="run a Monte Carlo study from a TOML file (resumable)",
                       description="Run a Monte Carlo study described by a TOML study file. It says its size "
                                   "first and, after the first chunks, about how long it will take; Ctrl-C "
                                   "keeps every finished chunk for --resume.",
                       epilog="example:\n  scedsim simulate simulations/null_3x4.toml --out results/null --n-jobs 2\n"
                              "  scedsim simulate simulations/null_3x4.toml --out results/null --resume",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    # The keys are listed when the help is shown: reading them imports the simulation
    # package, which every other command would otherwise pay for at start-up.
    plain = p.format_help

    def format_help():
        if "study file keys" not in p.epilog:
            p.epilog += "\n\n" + _study_keys_epilog()
        return plain()

    p.format_help = format_help
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


def _cmd_plan(args) -> int:
    import json

    from ._validation import parse_scalar
    from .plan import detectable_effect, plan

    params = {}
    for item in args.param or ():
        k, eq, v = item.partition("=")
        if not eq:
            raise ValueError(f"--param takes key=value, got {item!r}")
        params[k.strip()] = parse_scalar(v.strip())
    if args.phi is not None:
        params["phi"] = args.phi
    rules = args.rule or ["p_perm_nap <= 0.05"]
    costs = {}
    if args.cost_occasion is not None or args.cost_person is not None:
        costs = dict(cost_occasion=args.cost_occasion if args.cost_occasion is not None else 0.0,
                     cost_person=args.cost_person if args.cost_person is not None else 0.0)
    if args.sensitivity:
        try:
            m, n = (int(x) for x in args.sensitivity.split(","))
        except ValueError:
            raise ValueError(f"--sensitivity takes m,n (e.g. 3,4), got {args.sensitivity!r}") from None
        k = int(str(args.cases).replace("-", ",").split(",")[0])
    res = plan(design=args.design, model=args.model, params=params, effect=args.effect, rules=rules,
               power=args.power, cases=args.cases, max_occasions=args.max_occasions, min_phase=args.min_phase,
               alpha=args.alpha, type1=args.type1, scale=args.scale, m=args.m, n=args.n, stagger=args.stagger,
               reps=args.reps, max_reps=args.max_reps, type1_reps=args.type1_reps, z=args.z, seed=args.seed,
               n_jobs=args.n_jobs, improvement=args.improvement, max_run=args.max_run, scheme=args.scheme, **costs)
    if args.sensitivity:
        res.detectable = detectable_effect(args.design, m, n, k, model=args.model, params=params, rule=rules[0],
                                           power=args.power, scale=args.scale, stagger=args.stagger,
                                           seed=args.seed, n_jobs=args.n_jobs, improvement=args.improvement,
                                           max_run=args.max_run, scheme=args.scheme)
    print(res.table(max_rows=args.rows))
    print()
    print(res.message)
    if res.detectable is not None:
        d = res.detectable
        print(f"smallest detectable effect with {d.design} x{d.cases} at power {d.target:g}: {d.effect:.3f} "
              f"[95% CI {d.ci_lower:.3f}, {d.ci_upper:.3f}]; power there {d.power_at_effect:.3f} "
              f"(MCSE {d.mcse:.3f})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res.to_json(), fh, indent=1, default=str)
        print(f"wrote {args.json}")
    if args.figure:
        import matplotlib
        matplotlib.use("Agg")
        _save(res.figure(), args.figure, 150)
        print(f"figure: {args.figure}")
    return 0


def _add_plan(sub) -> None:
    p = sub.add_parser(
        "plan", help="the cheapest design (occasions, people) that reaches a target power",
        description="Search the designs of a family for the cheapest one whose decision rule reaches the target "
                    "power under a simulation model: exact pruning first (smallest attainable p), then "
                    "simulation with adaptive replications; every candidate with its power, MCSE and Type I rate.",
        epilog="examples:\n  scedsim plan --design AB --model normal_ar1 --phi 0 --effect 2 "
               "--rule \"p_perm_nap <= 0.05\" --power 0.85 --cases 1 --max-occasions 20 --seed 1 --json plan.json\n"
               "  scedsim plan --design AB --phi 0.3 --effect 1 --cases 2-10 --max-occasions 7 "
               "--rule \"p_between_nap[method=sign_flip] <= 0.05\" --power 0.8\n"
               "  scedsim plan --design ATD --phi 0.3 --effect 1.5 --rule \"p_atd_mean_diff <= 0.05\" "
               "--max-run 2-3 --max-occasions 16\n"
               "  scedsim plan --design MB-random --cases 3-4 --effect 1.5 "
               "--rule \"p_mbd_mean_diff[tier_starts=design] <= 0.05\" --max-occasions 14",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--design", default="AB", help="design family: AB (replicated with --cases > 1), ABAB, MB "
                                                   "(multiple baseline, staggered starts), AB-random (a random "
                                                   "start point per person), MB-random (multiple baseline with "
                                                   "random start points), ATD (alternating treatments); default AB")
    p.add_argument("--model", default="normal_ar1",
                   help="simulation model (normal_ar1, poisson, negbin, bounded_scale)")
    p.add_argument("--phi", type=float, default=None, help="lag-1 autocorrelation of the errors")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="another model parameter (repeatable)")
    p.add_argument("--effect", type=float, required=True, help="level change (marginal SDs for normal_ar1)")
    p.add_argument("--scale", choices=("marginal", "innovation"), default=None,
                   help="units of --effect for normal_ar1 (default marginal SD)")
    p.add_argument("--rule", action="append", help="decision rule (repeatable; default 'p_perm_nap <= 0.05')")
    p.add_argument("--power", type=float, default=0.8, help="target power (default 0.8)")
    p.add_argument("--alpha", type=float, default=None, help="Type I level (default: the rule's p threshold, or 0.05)")
    p.add_argument("--type1", choices=("nominal", "bradley", "none"), default="nominal",
                   help="Type I constraint: at most alpha, Bradley's band .5-1.5 alpha, or only reported")
    p.add_argument("--cases", default="1", help="people: 1, 2-8 or 2,4,6 (default 1)")
    p.add_argument("--max-occasions", type=int, default=20, help="most occasions per person (default 20)")
    p.add_argument("--min-phase", type=int, default=3, help="fewest points per phase (default 3)")
    p.add_argument("--m", default=None, help="baseline lengths to consider (e.g. 3-6)")
    p.add_argument("--n", default=None, help="treatment lengths to consider")
    p.add_argument("--stagger", type=int, default=1, help="MB: extra baseline points per tier (default 1)")
    p.add_argument("--max-run", default="2", help="ATD: longest run of one condition; several as 2-3 or 2,none "
                                                  "(default 2)")
    p.add_argument("--scheme", choices=("marascuilo_busk", "koehler_levin"), default="marascuilo_busk",
                   help="MB-random: independent starts per person, or staggered tiers with the people assigned "
                        "at random (default marascuilo_busk)")
    p.add_argument("--cost-occasion", type=float, default=None, help="cost of one occasion of one person")
    p.add_argument("--cost-person", type=float, default=None, help="cost of one more person")
    p.add_argument("--improvement", choices=("increase", "decrease"), default=None)
    p.add_argument("--reps", type=int, default=500, help="replications of the coarse pass (default 500)")
    p.add_argument("--max-reps", type=int, default=8000, help="most replications of a design (default 8000)")
    p.add_argument("--type1-reps", type=int, default=2000, help="replications of each Type I estimate")
    p.add_argument("--z", type=float, default=2.0, help="MCSEs by which power must clear the target (default 2)")
    p.add_argument("--sensitivity", default=None, metavar="M,N",
                   help="also the smallest detectable effect of the design with M + N points")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--rows", type=int, default=30, help="simulated designs shown per rule (default 30)")
    p.add_argument("--json", default=None, help="write the plan as JSON")
    p.add_argument("--figure", default=None, help="write the power curves (PNG, PDF, SVG)")
    p.set_defaults(func=_cmd_plan)
# ------------------------------------------------------------- randomized designs

def _cmd_schedule(args) -> int:
    import pathlib

    from . import designs

    design = designs.parse(args.design)
    names = _names(args.cases)
    if names is not None and len(names) != design.n_cases:
        raise ValueError(f"--cases names {len(names)} case(s) but the design {design.describe()!r} has "
                         f"{design.n_cases}")
    for path in (args.out, args.template):
        if path is not None and pathlib.Path(path).exists() and not args.force:
            raise ValueError(f"{path} exists; a drawn schedule is not overwritten (use --force)")
    sched = design.schedule(args.seed, case_names=names)
    print(sched.text())
    written = []
    if args.out:
        sched.write(args.out)
        written.append(f"{args.out} (the schedule; scedsim test --schedule reads it)")
    if args.template:
        t = sched.table()
        t[args.outcome] = ""
        t.to_csv(args.template, index=False)
        written.append(f"{args.template} (a data sheet: fill in the {args.outcome} column)")
    if written:
        print("\nwrote " + "; ".join(written))
    return 0


def _add_schedule(sub) -> None:
    p = sub.add_parser(
        "schedule", help="draw the random schedule of a randomized design from a seed",
        description="Draw the assignment of conditions to occasions for a randomized single-case design, "
                    "print it, and record it in a JSON file that `scedsim test --schedule` reads back, so "
                    "that the randomization test uses the assignment that was really drawn. The file holds "
                    "the design (family and parameters), the seed, the labels, and per case the condition "
                    "of every occasion (occasion 1 first).",
        epilog="designs (family, then key=value):\n"
               "  AB n_time=20 min_phase=5             AB with a random start point\n"
               "  ABAB n_time=24 min_phase=4           random phase changes (also ABA, ABC, ...)\n"
               "  ATD n_time=12 max_run=2              alternating treatments (conditions=ABC, n_per_condition=4/8)\n"
               "  CRD n_time=12                        completely randomized\n"
               "  RBD n_blocks=6 conditions=AB         randomized blocks\n"
               "  MB n_time=15 n_cases=3 starts=4-11   multiple baseline (Marascuilo-Busk)\n"
               "  MB n_time=15 starts=4-5,7-8,10-11 scheme=koehler_levin\n"
               "examples:\n"
               "  scedsim schedule --design \"AB n_time=20 min_phase=5\" --seed 2024 --out schedule.json\n"
               "  scedsim schedule --design \"MB n_time=15 n_cases=3 starts=4-11\" --cases ann,bob,cy \\\n"
               "      --seed 7 --out schedule.json --template data.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--design", required=True, help='the design, e.g. "AB n_time=20 min_phase=5"')
    p.add_argument("--seed", type=int, required=True, help="seed of the draw (record it in the protocol)")
    p.add_argument("--cases", metavar="NAMES", help="comma-separated case names (default case1, case2, ...)")
    p.add_argument("--out", metavar="FILE.json", help="write the schedule here")
    p.add_argument("--template", metavar="FILE.csv",
                   help="also write a data sheet: case, session, phase and an empty score column")
    p.add_argument("--outcome", default="score", help="name of the template's score column (default: score)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=_cmd_schedule)


def schedule_data(df, sched, *, case="case", session="session", phase="phase", outcome="score"):
    """``(n_cases, n_time)`` scores of a table collected on ``sched``, in the schedule's
    case order; the table's phase column (if any) must agree with the schedule."""
    for col in (case, session, outcome):
        if col not in df.columns:
            raise ValueError(f"the data have no column {col!r}; columns: {', '.join(map(str, df.columns))}")
    d = sched.design
    y = np.empty((d.n_cases, d.n_time))
    cases = df[case].astype(str).str.strip()
    for k, name in enumerate(sched.case_names):
        rows = df[cases == name]
        if rows.empty:
            raise ValueError(f"case {name!r} of the schedule is not in the data (cases: "
                             f"{', '.join(sorted(cases.unique()))})")
        try:
            rows = rows.assign(_s=pd_numeric(rows[session])).sort_values("_s")
        except ValueError:
            raise ValueError(f"case {name!r}: the {session!r} column must hold session numbers") from None
        if len(rows) != d.n_time or rows["_s"].duplicated().any():
            raise ValueError(f"case {name!r}: the schedule has {d.n_time} occasions, the data "
                             f"{len(rows)} rows with {rows['_s'].nunique()} different sessions")
        vals = pd_numeric(rows[outcome])
        if vals.isna().any():
            s = rows["_s"][vals.isna()].iloc[0]
            raise ValueError(f"case {name!r}, session {s:g}: missing or non-numeric {outcome!r}; the "
                             "randomization test needs every occasion's score")
        if phase in rows.columns:
            want = [d.labels[int(c)] for c in sched.assignment[k]]
            got = rows[phase].astype(str).str.strip().tolist()
            for t, (g, w) in enumerate(zip(got, want)):
                if g != w:
                    raise ValueError(f"case {name!r}, occasion {t + 1} (session {rows['_s'].iloc[t]:g}): the "
                                     f"data say phase {g!r}, the schedule {w!r}")
        y[k] = vals.to_numpy(dtype=float)
    return y


def pd_numeric(s):
    import pandas as pd

    return pd.to_numeric(s, errors="coerce") if s.dtype == object else s.astype(float)


def _cmd_test(args) -> int:
    import json

    from . import designs
    from .io import read_table

    sched = designs.Schedule.read(args.schedule)
    df = read_table(args.data, text=(args.case, args.phase))
    y = schedule_data(df, sched, case=args.case, session=args.session, phase=args.phase, outcome=args.outcome)
    d = sched.design
    imp = "decrease" if args.decrease else "increase"
    contrast = tuple(args.contrast.split(":")) if args.contrast else None
    r = d.test(y, sched, statistic=args.statistic, contrast=contrast, improvement=imp,
               alternative=args.alternative, n_resamples=args.n_resamples, rng=args.seed)
    base, comp = contrast or d.labels[:2]
    if args.json:
        print(json.dumps({"design": d.spec(), "statistic": args.statistic, "contrast": [base, comp],
                          "improvement": imp, "alternative": args.alternative, "observed": r.statistic,
                          "pvalue": r.pvalue, "n_arrangements": r.n_arrangements, "min_pvalue": r.min_pvalue,
                          "method": r.method}, indent=1))
        return 0
    print(f"randomization test of the drawn schedule {args.schedule}")
    print(f"design: {d.describe()} ({d.n_assignments()} admissible assignments), {d.n_cases} case(s)")
    print(f"statistic: {args.statistic}, {comp} vs {base}{', mean over cases' if d.n_cases > 1 else ''}; "
          f"{'lower' if imp == 'decrease' else 'higher'} is better")
    print(f"observed: {r.statistic:.6g}")
    how = "exact" if r.method == "exact" else f"Monte Carlo, {r.n_arrangements - 1} resamples, seed {args.seed}"
    print(f"p = {r.pvalue:.6g} ({args.alternative}, {how}); smallest attainable p = {r.min_pvalue:.6g}")
    return 0


def _add_test(sub) -> None:
    from .inference._stats import statistic_names

    p = sub.add_parser(
        "test", help="randomization test of data collected on a drawn schedule",
        description="The randomization test of a study run on a schedule drawn by `scedsim schedule`: the "
                    "assignment in the schedule file is the observed one, and the reference set is every "
                    "assignment the design admits. The data table has one row per case x session; its "
                    "phase column, if present, must agree with the schedule.",
        epilog="example:\n  scedsim test data.csv --schedule schedule.json --outcome score --statistic nap",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="CSV, TSV or Excel table, one row per case x session")
    p.add_argument("--schedule", required=True, metavar="FILE.json", help="schedule written by scedsim schedule")
    p.add_argument("--case", default="case", help="case column (default: case)")
    p.add_argument("--session", default="session", help="session column (default: session)")
    p.add_argument("--phase", default="phase", help="phase column, checked against the schedule (default: phase)")
    p.add_argument("--outcome", default="score", help="score column (default: score)")
    p.add_argument("--statistic", default="mean_diff", help=f"one of {', '.join(statistic_names())} "
                                                              "(default: mean_diff)")
    p.add_argument("--contrast", metavar="A:B", help="baseline:treatment conditions (default: the first two)")
    p.add_argument("--decrease", action="store_true", help="lower scores are better")
    p.add_argument("--alternative", choices=("greater", "less", "two-sided"), default="greater",
                   help="greater = in the direction of improvement (default)")
    p.add_argument("--n-resamples", type=int, default=9999,
                   help="Monte Carlo resamples when the design has more than 200000 assignments")
    p.add_argument("--seed", type=int, default=1, help="seed of the Monte Carlo resamples (default 1)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_test)


def _cmd_baseline(args) -> int:
    import json

    from .baseline_model import fit_baseline
    from .io import read_table

    df = read_table(args.data, text=(args.case, args.phase))
    fit = fit_baseline(df, trend=not args.no_trend, confidence=args.confidence, case=args.case,
                       session=args.session, phase=args.phase, value=args.outcome, baseline=args.baseline)
    if args.json:
        print(json.dumps({"model": "normal_ar1", "params": fit.params(), "scenarios": fit.scenarios(),
                          "phi_ci": list(fit.phi_ci), "trend_se": fit.trend_se, "innovation_sd": fit.innovation_sd,
                          "n_cases": fit.n_cases, "n_obs": fit.n_obs, "df": fit.df, "notes": list(fit.notes)},
                         indent=1))
        return 0
    print(fit.summary())
    p = fit.params()
    print("\nnormal_ar1 parameters (trend and case_sd in marginal SDs): "
          + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items()))
    return 0


def _add_baseline(sub) -> None:
    p = sub.add_parser(
        "baseline", help="estimate a normal AR(1) model from your own baseline data (simulate data like mine)",
        description="REML estimates of phi (with a likelihood-ratio interval), a common trend, the levels and "
                    "the SD from the baseline phase of every case of a long table, and the simulator's "
                    "normal_ar1 parameters; --json adds the parameters at both ends of phi's interval.",
        epilog="example:\n  scedsim baseline data.csv --outcome score --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="CSV, TSV or Excel table, one row per case x session")
    p.add_argument("--case", default="case", help="case column (default: case)")
    p.add_argument("--session", default="session", help="session column (default: session)")
    p.add_argument("--phase", default="phase", help="phase column (default: phase)")
    p.add_argument("--baseline", default="A", help="baseline phase label (default: A)")
    p.add_argument("--outcome", default="score", help="score column (default: score)")
    p.add_argument("--no-trend", action="store_true", help="assume no baseline trend")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--json", action="store_true", help="print the parameters as JSON")
    p.set_defaults(func=_cmd_baseline)
def _cmd_app(args) -> int:
    from .app import missing_framework, serve

    hint = missing_framework()
    if hint:
        print(f"scedsim: error: {hint}", file=sys.stderr)
        return 2
    serve(port=args.port, open_browser=not args.no_browser)
    return 0


def _add_app(sub) -> None:
    p = sub.add_parser("app", help="a point-and-click app in the browser (needs the app extra: Flask)",
                       description="Serves the scedsim app on 127.0.0.1 and opens it in the browser: one AB "
                                   "series, a study table (upload, map, effect sizes, graph, downloads), exact "
                                   "tests. Nothing leaves the machine.",
                       epilog="example:\n  scedsim app\n  scedsim app --no-browser --port 8765",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0: any free port)")
    p.add_argument("--no-browser", action="store_true", help="do not open the browser")
    p.set_defaults(func=_cmd_app)


# Each subcommand registers itself here; keep one line per subcommand.
SUBCOMMANDS = [
    _add_demo,
    _add_ab,
    _add_es,
    _add_bcsmd,
    _add_plot,
    _add_simulate,
    _add_report,
    _add_plan,
    _add_schedule,
    _add_test,
    _add_baseline,
    _add_app,
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
    except KeyboardInterrupt:
        # Ctrl-C: one line and the shell's code for SIGINT, not a traceback
        # (simulate says more: what was kept for --resume).
        print("scedsim: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        # One line, no traceback: bad input is the user's to fix, not a crash.
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"scedsim: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
