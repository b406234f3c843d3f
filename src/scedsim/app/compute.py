"""What the app's pages compute, without the web framework.

Every function here takes plain values (text the user typed, a DataFrame, the
column mapping), calls the library exactly as a user would, and returns plain
dicts for the templates, together with the equivalent Python code and
``scedsim`` command (the "Reproduce" boxes).  The request handlers in
:mod:`scedsim.app.server` only parse forms and render; the tests can therefore
check these functions, the handlers and the pages against each other.
"""
from __future__ import annotations

import base64
import io
import math
import shlex
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd

__all__ = ["parse_values", "single_series", "null_distribution", "guess_mapping", "study_analysis",
           "study_tests", "plan_study", "plan_question", "figure_bytes", "FIGURE_TYPES"]

#: Enumerate the null distribution up to this many arrangements C(m + n, m).
MAX_NULL_ARRANGEMENTS = 5000
FIGURE_TYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}


def parse_values(text: str, label: str) -> np.ndarray:
    """Numbers separated by spaces, commas, semicolons or new lines; a clear error otherwise."""
    parts = text.replace(",", " ").replace(";", " ").split()
    if not parts:
        raise ValueError(f"phase {label} is empty: type its values, e.g. 20 20 26")
    out = []
    for p in parts:
        if p.lower() in ("na", "nan", "."):
            raise ValueError(f"phase {label} has a missing value ({p!r}); remove it or fill it in")
        try:
            v = float(p)
        except ValueError:
            raise ValueError(f"phase {label}: {p!r} is not a number") from None
        if not math.isfinite(v):
            raise ValueError(f"phase {label}: {p!r} is not a finite number")
        out.append(v)
    return np.array(out)


def _num_text(x: float) -> str:
    """A value as typed: 20 rather than 20.0."""
    return f"{x:g}" if float(x) == float(f"{x:g}") else repr(float(x))


def _fraction(v: float, limit: int = 10_000) -> str:
    """``v`` as a fraction when it is one (1/8, 17/24), else empty."""
    if v != v:
        return ""
    f = Fraction(v).limit_denominator(limit)
    if abs(float(f) - v) > 1e-10 or f.denominator == 1:
        return ""
    return f"{f.numerator}/{f.denominator}"


def _rows():
    from ..cli import ab_rows

    return ab_rows()


def _call_text(entry, kw: dict, improvement: str) -> str:
    import scedsim as ss

    args = ", ".join(["a", "b", f"improvement={improvement!r}"] + [f"{k}={v!r}" for k, v in kw.items()])
    if getattr(ss, entry.name, None) is entry.func:
        return f"ss.{entry.name}({args})"
    return f"ss.get_metric({entry.name!r}).func({args})"


def null_distribution(entry, kw: dict, a: np.ndarray, b: np.ndarray, improvement: str, observed: float):
    """The metric's exact distribution under no effect for this m and n.

    Under exchangeability each of the C(m + n, m) ways of assigning the
    observed points to the phases is equally likely (Edgington & Onghena
    2007): this is the metric's permutation distribution.  For a rank-based
    metric and values without ties it is the same for every series of these
    lengths (for 3 + 4 points IRD takes 1/8, 5/12, 17/24 and 1 in 14, 14, 6
    and 1 of the 35 arrangements).

    Returns a dict with ``basis``, ``total``, ``values`` (value, fraction,
    count, observed flag) and ``p_ge`` (share of arrangements at least as
    large as the observed value), or ``note`` when not enumerated.

    References
    ----------
    Edgington, E. S., & Onghena, P. (2007). *Randomization tests* (4th ed.).
    Chapman & Hall/CRC.

    Parker, R. I., Vannest, K. J., & Brown, L. (2009). The improvement rate
    difference for single-case research. *Exceptional Children*, 75(2), 135-150.
    """
    from ..inference import arrangements

    m, n = len(a), len(b)
    total = math.comb(m + n, m)
    if total > MAX_NULL_ARRANGEMENTS:
        return {"note": f"C({m + n}, {m}) = {total} arrangements: too many to list here", "total": total}
    idx_a, idx_b = arrangements(m + n, m)
    pooled = np.concatenate([a, b])
    if entry.rank and np.unique(pooled).size == pooled.size:
        basis = f"every A{m} B{n} series without ties (a rank metric: the same for all of them)"
    else:
        basis = "your values, reassigned to the phases"
    try:
        with warnings.catch_warnings():
            # Degenerate arrangements (a perfect fit) warn; the table shows their values anyway.
            warnings.simplefilter("ignore")
            est = np.asarray(entry.func(pooled[idx_a], pooled[idx_b], improvement=improvement, **kw).estimate,
                             dtype=float)
    except (ValueError, ZeroDivisionError) as exc:
        return {"note": f"not enumerated: {exc}", "total": total}
    finite = est[np.isfinite(est)]
    n_undefined = int(est.size - finite.size)
    # Values equal in exact arithmetic must count together whatever rounding does.
    keys, first, counts = np.unique(np.round(finite, 9), return_index=True, return_counts=True)
    uniq = finite[first]
    values = [{"value": float(u), "fraction": _fraction(float(u)), "count": int(c),
               "observed": observed == observed and abs(float(u) - observed) <= 1e-9 * max(1.0, abs(observed))}
              for u, c in zip(uniq, counts)]
    p_ge = None
    if observed == observed:
        p_ge = int(np.sum(finite >= observed - 1e-9 * max(1.0, abs(observed))))
    return {"basis": basis, "total": total, "values": values, "p_ge": p_ge, "undefined": n_undefined,
            "p_ge_fraction": f"{p_ge}/{total}" if p_ge is not None else ""}


def _png_data_uri(fig, dpi: int = 100) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def single_series(a_text: str, b_text: str, improvement: str = "increase", with_null: bool = True) -> dict:
    """Every effect size of one AB series, with its null distribution, graph and reproduction.

    The metrics are the registry's, with the options and variants ``scedsim
    ab`` lists (:func:`scedsim.cli.ab_rows`); each is defined in its own
    module with its paper (e.g. NAP: Parker & Vannest 2009).

    Returns a dict: ``a``, ``b`` (arrays), ``rows`` (label, name, estimate, se,
    ci_lower, ci_upper, message, null), ``figure`` (PNG data URI), ``python``
    and ``cli`` (code giving the same numbers).
    """
    from ..plotting import sced_plot

    if improvement not in ("increase", "decrease"):
        raise ValueError(f"direction must be 'increase' or 'decrease', got {improvement!r}")
    a = parse_values(a_text, "A")
    b = parse_values(b_text, "B")
    rows, code, notes = [], [], []
    for label, entry, kw in _rows():
        row = {"label": label, "name": entry.name, "options": kw, "estimate": float("nan"), "se": float("nan"),
               "ci_lower": float("nan"), "ci_upper": float("nan"), "message": "", "null": None}
        missing = [k for k in entry.required if k not in kw]
        if missing:
            row["message"] = f"not computed: needs {', '.join(missing)} (see the Study table page)"
            rows.append(row)
            continue
        code.append(f"    {label!r}: {_call_text(entry, kw, improvement)},")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                r = entry.func(a, b, improvement=improvement, **kw)
        except ValueError as exc:
            row["message"] = f"not defined here: {exc}"
            rows.append(row)
            continue
        notes.extend(f"{label}: {w.message}" for w in caught)
        row.update(estimate=float(r.estimate), se=float(r.se), ci_lower=float(r.ci_lower),
                   ci_upper=float(r.ci_upper))
        if with_null:
            row["null"] = null_distribution(entry, kw, a, b, improvement, row["estimate"])
        rows.append(row)
    a_str = " ".join(_num_text(v) for v in a)
    b_str = " ".join(_num_text(v) for v in b)
    python = "\n".join([
        "import scedsim as ss",
        "",
        f"a = [{', '.join(_num_text(v) for v in a)}]",
        f"b = [{', '.join(_num_text(v) for v in b)}]",
        "results = {",
        *code,
        "}",
        "for label, r in results.items():",
        "    print(f\"{label:28s} {r.estimate:.4f}  SE {r.se:.4f}  CI [{r.ci_lower:.4f}, {r.ci_upper:.4f}]\")",
    ])
    cli = f"scedsim ab --a {shlex.quote(a_str)} --b {shlex.quote(b_str)}"
    if improvement == "decrease":
        cli += " --decrease"
    df = pd.DataFrame({"case": "series", "session": np.arange(1, len(a) + len(b) + 1),
                       "phase": ["A"] * len(a) + ["B"] * len(b), "outcome": "value",
                       "value": np.concatenate([a, b])})
    fig = sced_plot(df, figsize=(6.0, 2.6))
    notes = list(dict.fromkeys(notes))
    if len(a) < 3 or len(b) < 3:
        notes.append(f"Very short series (A has {len(a)}, B has {len(b)} points): with so few points "
                     "several metrics are undefined or can take only a few values; see the null "
                     "distributions below.")
    total = math.comb(len(a) + len(b), len(a))
    return {"a": a, "b": b, "rows": rows, "figure": _png_data_uri(fig), "python": python, "cli": cli,
            "improvement": improvement, "notes": notes, "n_arrangements": total,
            "min_p": Fraction(1, total)}


# ------------------------------------------------------------------ study tables

def read_upload(path, sheet=None, text=("case", "phase", "outcome")):
    """Read an uploaded table: the library's reader, with a sheet choice for workbooks.

    Returns ``(df, sheets)``; ``sheets`` lists a workbook's sheet names (empty for text files).
    """
    import pathlib

    from ..io import read_table

    p = pathlib.Path(path)
    if p.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        try:
            book = pd.ExcelFile(p)
        except ImportError:
            raise ValueError("reading Excel files needs openpyxl: pip install openpyxl") from None
        except Exception as exc:  # a corrupt workbook: zipfile, XML or openpyxl errors
            raise ValueError(f"cannot read {p.name} as an Excel workbook ({type(exc).__name__})") from None
        sheets = [str(s) for s in book.sheet_names]
        if sheet not in (None, "") and sheet not in sheets:
            raise ValueError(f"the workbook has no sheet {sheet!r}; sheets: {', '.join(sheets)}")
        name = sheet if sheet not in (None, "") else sheets[0]
        head = pd.read_excel(book, sheet_name=name, nrows=0)
        df = pd.read_excel(book, sheet_name=name, dtype={c: str for c in text if c in head.columns})
        return df, sheets
    df = read_table(p, text=text)
    if df.shape[1] < 2 or len(df) == 0:
        raise ValueError(f"{p.name} has no table (one row per session with named columns was expected)")
    return df, []


def guess_mapping(df: pd.DataFrame) -> dict:
    """Column roles guessed from the names (case/participant, session/occasion, ...)."""
    cols = [str(c) for c in df.columns]
    low = {c.lower(): c for c in cols}

    def pick(*names):
        for nm in names:
            if nm in low:
                return low[nm]
        return ""

    g = {"case": pick("case", "participant", "id", "subject", "person", "student"),
         "session": pick("session", "occasion", "time", "day", "week", "measurement"),
         "phase": pick("phase", "condition", "cond"),
         "outcome_column": pick("outcome", "scale", "variable", "measure"),
         "value": pick("value", "score", "y")}
    g["layout"] = "long" if g["outcome_column"] and g["value"] else "wide"
    used = {g["case"], g["session"], g["phase"]}
    g["wide_outcomes"] = [c for c in cols if c not in used and pd.api.types.is_numeric_dtype(df[c])]
    return g


def outcome_names(df: pd.DataFrame, mapping: dict) -> list:
    """The outcomes the mapping names: the values of the outcome column, or the chosen score columns."""
    if mapping.get("layout") == "long":
        col = mapping.get("outcome_column")
        if col not in df.columns:
            return []
        return list(dict.fromkeys(str(o).strip() for o in df[col].dropna()))
    return list(mapping.get("outcomes") or [])


def _effect_kwargs(mapping: dict) -> dict:
    kw = dict(case=mapping["case"], session=mapping["session"], phase=mapping["phase"])
    if mapping.get("layout") == "long":
        kw.update(outcome=mapping["outcome_column"], value=mapping["value"])
    else:
        if not mapping.get("outcomes"):
            raise ValueError("choose at least one outcome column")
        kw.update(outcomes=list(mapping["outcomes"]))
    if mapping.get("missing", "error") != "error":
        kw["missing"] = mapping["missing"]
    return kw


def _check_columns(df: pd.DataFrame, mapping: dict) -> None:
    need = [("case", mapping.get("case")), ("session", mapping.get("session")), ("phase", mapping.get("phase"))]
    if mapping.get("layout") == "long":
        need += [("outcome", mapping.get("outcome_column")), ("value", mapping.get("value"))]
    for role, col in need:
        if not col:
            raise ValueError(f"choose the column that holds the {role}")
        if col not in df.columns:
            raise ValueError(f"the table has no column {col!r} (for the {role}); columns: "
                             f"{', '.join(map(str, df.columns))}")


def _text_cols(mapping: dict) -> tuple:
    cols = [mapping.get("case"), mapping.get("phase")]
    if mapping.get("layout") == "long":
        cols.append(mapping.get("outcome_column"))
    return tuple(c for c in cols if c)


def _py_args(kw: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


#: The bundled examples: the name the server gives them (no upload can have it,
#: see server._safe_name) -> (file name in the shown command, loader in scedsim.datasets).
EXAMPLES = {"<example:burnout>": ("burnout_example.csv", "load_burnout_example"),
            "<example:pvd2011>": ("pvd2011.csv", "load_pvd2011")}


def _read_code(filename: str, mapping: dict, sheet) -> str:
    text = _text_cols(mapping)
    if filename in EXAMPLES:
        return f"df = ss.datasets.{EXAMPLES[filename][1]}()"
    if sheet:
        return (f"import pandas as pd\ndf = pd.read_excel({filename!r}, sheet_name={sheet!r}, "
                f"dtype={{c: str for c in {list(text)!r}}})")
    return f"df = ss.io.read_table({filename!r}, text={text!r})"


def study_analysis(df: pd.DataFrame, mapping: dict, filename: str = "data.csv", sheet=None) -> dict:
    """Per-case effect sizes, the across-case summary and the figure of a study table.

    ``mapping`` holds the columns (case, session, phase; layout "long" with
    outcome_column and value, or "wide" with outcomes), ``decrease`` (outcomes
    where lower is better), ``contrasts``, ``metrics``, ``tau2``, ``weighting``,
    ``confidence``, ``trend`` and ``missing``.
    """
    import warnings

    import scedsim as ss
    from ..plotting import sced_plot

    _check_columns(df, mapping)
    kw = _effect_kwargs(mapping)
    outcomes = outcome_names(df, mapping)
    if not outcomes:
        raise ValueError("no outcomes: the outcome column is empty, or no score column was chosen")
    decrease = [o for o in mapping.get("decrease", []) if o in outcomes]
    improvement = {o: ("decrease" if o in decrease else "increase") for o in outcomes}
    contrasts = list(mapping.get("contrasts") or ["A:B"])
    metrics = list(mapping.get("metrics") or ss.registry.default_metrics())
    confidence = float(mapping.get("confidence", 0.95))
    summary = {"tau2": mapping.get("tau2", "DL"), "weighting": mapping.get("weighting") or None}
    call = dict(kw, contrast=contrasts, metrics=metrics, improvement=improvement, confidence=confidence,
                summary=summary)
    goal_text = (mapping.get("goal") or "").strip()
    needs_goal = [n for n in metrics if n in ss.registry.metrics() and "goal" in ss.registry.metrics()[n].required]
    if needs_goal and not goal_text:
        raise ValueError(f"{ss.registry.metrics()[needs_goal[0]].label} needs a goal per outcome: "
                         "type e.g. EE=10,PA=40 (every outcome) or one number for all")
    if goal_text and needs_goal:
        from ..cli import _parse_goal

        goal = _parse_goal(goal_text, outcomes)
        call["options"] = {n: {"goal": goal} for n in needs_goal}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = ss.effect_sizes(df, **call)
        plot_kw = dict(kw, trend=bool(mapping.get("trend")), baseline=contrasts[0].split(":", 1)[0])
        fig = sced_plot(df, **plot_kw)
    messages = list(dict.fromkeys(str(w.message) for w in caught))
    python = "\n".join([
        "import scedsim as ss",
        _read_code(filename, mapping, sheet),
        f"res = ss.effect_sizes(df, {_py_args(call)})",
        "res.cases.to_csv('results.csv', index=False)",
        "res.summary.to_csv('results_summary.csv', index=False)",
        "from scedsim.plotting import sced_plot",
        f"sced_plot(df, {_py_args(plot_kw)})"
        ".savefig('figure.png', dpi=200)",
    ])
    cli = ["scedsim es", shlex.quote(EXAMPLES.get(filename, (filename,))[0]), "--case", shlex.quote(kw["case"]), "--session",
           shlex.quote(kw["session"]), "--phase", shlex.quote(kw["phase"])]
    if mapping.get("layout") == "long":
        cli += ["--outcome-column", shlex.quote(kw["outcome"]), "--value", shlex.quote(kw["value"])]
    else:
        cli += ["--outcome", shlex.quote(",".join(kw["outcomes"]))]
    if decrease:
        cli += ["--decrease", shlex.quote(",".join(decrease))]
    cli += ["--metrics", ",".join(metrics), "--contrast", ",".join(contrasts)]
    if confidence != 0.95:
        cli += ["--confidence", f"{confidence:g}"]
    if summary["tau2"] != "DL":
        cli += ["--tau2", summary["tau2"]]
    if summary["weighting"]:
        cli += ["--weighting", shlex.quote(",".join(summary["weighting"]))]
    if kw.get("missing"):
        cli += ["--missing", kw["missing"]]
    if "options" in call:
        cli += ["--goal", shlex.quote(goal_text.replace(" ", ""))]
    cli += ["--out", "results.csv"]
    cli_note = ""
    if sheet:
        cli_note = "(the command line reads a workbook's first sheet: save this sheet as CSV first)"
    if filename in EXAMPLES:
        name, loader = EXAMPLES[filename]
        cli_note = (f"(save the example first: python -c \"import scedsim as ss; "
                    f"ss.datasets.{loader}().to_csv('{name}', index=False)\")")
    return {"cases": res.cases, "summary": res.summary, "figure_obj": fig, "figure": _png_data_uri(fig, 90),
            "python": python, "cli": " ".join(cli), "cli_note": cli_note, "messages": messages,
            "outcomes": outcomes, "improvement": improvement}


def figure_bytes(fig, fmt: str) -> bytes:
    if fmt not in FIGURE_TYPES:
        raise ValueError(f"figure format must be one of {', '.join(FIGURE_TYPES)}")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=200)
    return buf.getvalue()


def results_xlsx(cases: pd.DataFrame, summary: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    try:
        with pd.ExcelWriter(buf, engine="openpyxl") as xw:
            cases.to_excel(xw, sheet_name="cases", index=False)
            summary.to_excel(xw, sheet_name="summary", index=False)
    except ImportError:
        raise ValueError("writing Excel files needs openpyxl: pip install openpyxl") from None
    return buf.getvalue()


# ------------------------------------------------------------------------ tests

# The tests page runs exactly this code (with the user's choices filled in), so
# the shown code and the page cannot drift apart.
_TESTS_CODE = """\
import numpy as np
import scedsim as ss
from scedsim.inference import (permutation_test, randomization_test, abab_test,
                               multiple_baseline_test, between_cases)
from scedsim.io import to_long
{read}
series = [s for s in to_long(df, {kw}) if s.outcome == {outcome!r}]
opts = {opts!r}
results, pairs, ab_pairs = {{}}, [], []
for s in series:
    ph, y = np.asarray(s.phases).astype(str), np.asarray(s.values, dtype=float)
    a, b = y[ph == 'A'], y[ph == 'B']
    if len(a) == 0 or len(b) == 0:
        continue
    pairs.append((a, b))
    results[(s.case, 'exact permutation')] = permutation_test(a, b, **opts)
    cuts = [0] + [i for i in range(1, len(ph)) if ph[i] != ph[i - 1]] + [len(ph)]
    runs = [ph[i] for i in cuts[:-1]]
    if runs[:2] == ['A', 'B'] and runs.count('A') == runs.count('B') == 1:  # AB, then maybe C
        ab_pairs.append((a, b))
        results[(s.case, 'randomization AB')] = randomization_test(a, b, min_phase={min_phase}, **opts)
    if runs == ['A', 'B', 'A', 'B']:
        results[(s.case, 'randomization ABAB')] = abab_test(
            [y[i:j] for i, j in zip(cuts, cuts[1:])], min_phase={min_phase}, **opts)
if len(ab_pairs) >= 2 and len(ab_pairs) == len(pairs):  # every case one A then one B
    results[('all cases', 'multiple baseline')] = multiple_baseline_test(ab_pairs, min_phase={min_phase}, **opts)
if len(pairs) >= 2:
    for method in ('t', 'sign_flip', 'wilcoxon'):
        results[('between persons', method)] = between_cases(
            [a for a, b in pairs], [b for a, b in pairs], method=method, **opts)
for key, r in results.items():
    print(key, 'smallest attainable p', r.min_pvalue, 'p', r.pvalue)
"""


def study_tests(df: pd.DataFrame, mapping: dict, outcome: str, statistic: str = "nap",
                alternative: str = "greater", min_phase: int = 2, filename: str = "data.csv",
                sheet=None) -> dict:
    """Exact permutation, randomization (AB, ABAB, multiple baseline) and between-person tests
    of one outcome of a study table, baseline A against B.

    Each case gets an exact permutation test (Edgington & Onghena 2007), an
    AB randomization test where its A phase is followed by its B phase (later
    phases such as a follow-up C left out; Edgington 1975) and an ABAB test
    where its phases are ABAB (Onghena 1992); two or more cases get the
    between-person tests, and the multiple-baseline randomization test
    (Marascuilo & Busk 1988) where every case is such an AB series.  The smallest
    p-value each test can attain for the design comes first: with 3 + 4 points
    no rank test can go below 1/35.

    Returns a dict with ``results`` ({(who, test): TestResult}), the shown
    ``python`` code (which, executed, computes the same ``results``) and the
    choices.  A test that does not apply to the data's design is left out;
    a ValueError (a phase shorter than ``min_phase``) becomes the page's message.

    References
    ----------
    Edgington, E. S. (1975). Randomization tests for one-subject operant
    experiments. *Journal of Psychology*, 90(1), 57-68.

    Edgington, E. S., & Onghena, P. (2007). *Randomization tests* (4th ed.).
    Chapman & Hall/CRC.

    Marascuilo, L. A., & Busk, P. L. (1988). Combining statistics for
    multiple-baseline AB and replicated ABAB designs across subjects.
    *Behavioral Assessment*, 10(1), 1-28.

    Onghena, P. (1992). Randomization tests for extensions and variations of
    ABAB single-case experimental designs: A rejoinder. *Behavioral
    Assessment*, 14(2), 153-171.
    """
    import scedsim as ss

    _check_columns(df, mapping)
    kw = _effect_kwargs(mapping)
    outcomes = outcome_names(df, mapping)
    if outcome not in outcomes:
        raise ValueError(f"no outcome {outcome!r}; outcomes: {', '.join(outcomes)}")
    if statistic not in ("mean_diff", "median_diff") and statistic not in ss.registry.metrics():
        raise ValueError(f"unknown statistic {statistic!r}")
    if alternative not in ("greater", "less", "two-sided"):
        raise ValueError(f"alternative must be greater, less or two-sided, got {alternative!r}")
    min_phase = int(min_phase)
    if min_phase < 1:
        raise ValueError(f"the minimum phase length must be at least 1, got {min_phase}")
    improvement = "decrease" if outcome in mapping.get("decrease", []) else "increase"
    opts = dict(statistic=statistic, improvement=improvement, alternative=alternative)
    code = _TESTS_CODE.format(read=_read_code(filename, mapping, sheet), kw=_py_args(kw), outcome=outcome,
                              opts=opts, min_phase=min_phase)
    body = code.split("\nfor key, r in results.items():")[0]
    # The data frame is the uploaded one; the read line is replaced by it.
    body = body.replace(_read_code(filename, mapping, sheet) + "\n", "")
    ns = {"df": df}
    exec(compile(body, "<tests page>", "exec"), ns)  # our own template, filled with repr()s
    return {"results": ns["results"], "python": code, "outcome": outcome, "improvement": improvement,
            "statistic": statistic, "alternative": alternative, "min_phase": min_phase,
            "n_cases": len(ns["pairs"])}


# ------------------------------------------------------------------------- plan

#: The plan form's defaults: small, so that a question takes seconds on 2 cores.
PLAN_DEFAULTS = {"design": "AB", "model": "normal_ar1", "phi": "0", "params": "", "effect": "2",
                 "scale": "marginal", "rules": ["p_perm_nap <= 0.05"], "rules_text": "", "power": "0.8",
                 "type1": "nominal", "cases": "1", "max_occasions": "12", "min_phase": "3", "reps": "200",
                 "max_reps": "800", "type1_reps": "200", "seed": "1", "sensitivity": False, "sens_m": "5",
                 "sens_n": "5", "alpha": "", "stagger": "1", "cost_occasion": "", "cost_person": "",
                 "max_run": "2", "scheme": "marascuilo_busk"}
PLAN_DESIGNS = (("AB", "AB (one person, or replicated AB with k people)"), ("ABAB", "ABAB"),
                ("MB", "multiple baseline across people (staggered starts)"),
                ("AB-random", "AB with a random start point per person"),
                ("MB-random", "multiple baseline with random start points per person"),
                ("ATD", "alternating treatments (a random sequence per person)"))

# One example rule per registered test (the rule syntax is the simulator's; see
# README "Monte Carlo studies"); a registered test not listed here is offered
# with the statistic NAP where it takes one.
_RULE_EXAMPLES = {
    "perm_test": [("p_perm_nap <= 0.05", "exact permutation test of NAP, per person"),
                  ("p_perm_mean_diff <= 0.05", "exact permutation test of the mean difference, per person")],
    "rand_test": [("p_rand_mean_diff[min_phase=3] <= 0.05",
                   "AB randomization test (random start point, phases of 3 or more), per person")],
    "mbd_test": [("p_mbd_mean_diff <= 0.05", "multiple-baseline randomization test across people"),
                 ("p_mbd_mean_diff[tier_starts=design] <= 0.05",
                  "multiple-baseline randomization test over the design's own random starts (MB-random)")],
    "atd_test": [("p_atd_mean_diff <= 0.05", "alternating treatments randomization test, per person (ATD)")],
    "between_test": [("p_between_nap[method=sign_flip] <= 0.05", "between-person sign-flip test of NAP"),
                     ("p_between_nap <= 0.05", "between-person t-test of NAP")],
    "cdc_test": [("p_cdc <= 0.05", "conservative dual criterion (CDC), per person")],
    "plm_test": [("p_plm_level <= 0.05", "piecewise linear model, level change, per person")],
    "hplm_test": [("p_hplm_level <= 0.05", "multilevel piecewise model across people, level change")],
}


def plan_rule_choices() -> list:
    """(rule text, description) for the registry's tests, then a k-of-N rule.

    With several people a per-person test is judged on Edgington's combined
    p-value; ``count(...) >= k`` asks for k of the N people instead.
    """
    from ..registry import tests

    known = tests()
    out = [c for name, choices in _RULE_EXAMPLES.items() if name in known for c in choices]
    for name, t in known.items():
        if name in _RULE_EXAMPLES:
            continue
        if not t.needs:
            out.append((f"{t.prefix} <= 0.05", f"{name} (registered test)"))
        elif t.needs == ("statistic",):
            out.append((f"{t.prefix}_nap <= 0.05", f"{name} of NAP (registered test)"))
    out.append(("count(p_perm_nap <= 0.05) >= 2", "k of N: at least 2 people's exact NAP tests reject"))
    return out


def plan_form(values, getlist) -> dict:
    """The plan form's raw values (text as typed), for :func:`plan_study` and for redisplay."""
    form = {k: (values.get(k, v) if isinstance(v, str) else v) for k, v in PLAN_DEFAULTS.items()}
    form["rules"] = list(getlist("rule"))
    form["sensitivity"] = bool(values.get("sensitivity"))
    return {k: (v.strip() if isinstance(v, str) else v) for k, v in form.items()}


def _number(form: dict, key: str, label: str, kind=float):
    text = str(form.get(key, "")).strip()
    try:
        v = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ValueError(f"{label} must be {what}, got {text!r}") from None
    if kind is float and not math.isfinite(v):
        raise ValueError(f"{label} must be a finite number, got {text!r}")
    return v


def _plan_params(text: str) -> tuple:
    """``rate=5, dispersion=2`` -> ([("rate", "5"), ...] as typed, {"rate": 5, ...}) read as the CLI's --param."""
    from .._validation import parse_scalar

    typed, params = [], {}
    for item in text.replace(";", ",").replace("\n", ",").split(","):
        if not item.strip():
            continue
        k, eq, v = item.partition("=")
        if not eq or not k.strip() or not v.strip():
            raise ValueError(f"model parameters are key=value, e.g. rate=5, got {item.strip()!r}")
        if k.strip() in ("phi", "level", "scale"):
            raise ValueError(f"give {k.strip()} in its own field, not among the other model parameters")
        typed.append((k.strip(), v.strip()))
        params[k.strip()] = parse_scalar(v.strip())
    return typed, params


def plan_question(form: dict) -> tuple:
    """The form as the arguments of :func:`scedsim.plan` and, where asked, of
    :func:`scedsim.plan.detectable_effect` (as the CLI's ``--sensitivity`` calls it),
    and the equivalent ``scedsim plan`` command."""
    from ..plan import _family
    from ..simulate.models import MODELS

    design = form.get("design", "AB")
    _family(design)  # an unknown family says which exist
    model = form.get("model", "normal_ar1")
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; expected one of {', '.join(MODELS)}")
    typed, params = _plan_params(form.get("params", ""))
    params["phi"] = _number(form, "phi", "phi (the lag-1 autocorrelation)")
    if not -1 < params["phi"] < 1:
        raise ValueError(f"phi must lie strictly between -1 and 1, got {params['phi']:g}")
    effect = _number(form, "effect", "the effect")
    rules = list(dict.fromkeys(list(form.get("rules") or []) +
                               [r.strip() for r in form.get("rules_text", "").splitlines() if r.strip()]))
    if not rules:
        raise ValueError("choose at least one decision rule, or type one, e.g. p_perm_nap <= 0.05")
    call = dict(design=design, model=model, params=params, effect=effect, rules=rules,
                power=_number(form, "power", "the target power"), cases=form.get("cases", "1") or "1",
                max_occasions=_number(form, "max_occasions", "the most occasions per person", int),
                min_phase=_number(form, "min_phase", "the fewest points per phase", int),
                type1=form.get("type1", "nominal"))
    scale = form.get("scale", "marginal")
    if scale not in ("marginal", "innovation"):
        raise ValueError(f"the effect's scale must be marginal or innovation, got {scale!r}")
    if scale == "innovation":
        if model != "normal_ar1":
            raise ValueError("the effect's scale (marginal or innovation SD) is a normal_ar1 setting; "
                             f"{model}'s effect is in its own units")
        call["scale"] = "innovation"
    for k, label in (("reps", "the replications of the first pass"), ("max_reps", "the most replications"),
                     ("type1_reps", "the Type I replications")):
        call[k] = _number(form, k, label, int)
    call["seed"] = _number(form, "seed", "the seed", int)
    # As the CLI's options: given only where they differ from the defaults.
    extra, extra_cli = {}, []
    if str(form.get("alpha", "")).strip():
        call["alpha"] = _number(form, "alpha", "alpha (the Type I level)")
        extra_cli += ["--alpha", _num_text(call["alpha"])]
    stagger = _number(form, "stagger", "the stagger (extra baseline points per tier)", int)
    if stagger != 1:
        extra["stagger"] = stagger
        extra_cli += ["--stagger", str(stagger)]
    co, cp = str(form.get("cost_occasion", "")).strip(), str(form.get("cost_person", "")).strip()
    if co or cp:
        call["cost_occasion"] = _number(form, "cost_occasion", "the cost per occasion") if co else 0.0
        call["cost_person"] = _number(form, "cost_person", "the cost per person") if cp else 0.0
        extra_cli += ["--cost-occasion", _num_text(call["cost_occasion"]), "--cost-person",
                      _num_text(call["cost_person"])]
    fam = _family(design)
    if fam == "ATD":
        extra["max_run"] = str(form.get("max_run", "2")).strip() or "2"
        extra_cli += ["--max-run", shlex.quote(extra["max_run"])]
    if fam == "MB_RANDOM":
        extra["scheme"] = form.get("scheme", "marascuilo_busk")
        extra_cli += ["--scheme", shlex.quote(extra["scheme"])]
    call.update(extra)
    sens = None
    if form.get("sensitivity"):
        sm = _number(form, "sens_m", "the sensitivity analysis's baseline length m", int)
        sn = _number(form, "sens_n", "the sensitivity analysis's treatment length n", int)
        try:
            k = int(str(call["cases"]).replace("-", ",").split(",")[0])
        except ValueError:
            raise ValueError(f"cannot read cases {call['cases']!r}; write e.g. 3, 2-8 or 2,4,6") from None
        # As `scedsim plan --sensitivity M,N` calls it: the first rule, the first number of people.
        sens = dict(design=design, m=sm, n=sn, cases=k, model=model, params=params, rule=rules[0],
                    power=call["power"], seed=call["seed"], **extra)
        if "scale" in call:
            sens["scale"] = call["scale"]
    cli = ["scedsim plan", "--design", shlex.quote(design), "--model", model]
    cli += [f"--param {shlex.quote(f'{k}={v}')}" for k, v in typed]
    cli += ["--phi", _num_text(params["phi"]), "--effect", _num_text(effect)]
    if "scale" in call:
        cli += ["--scale", "innovation"]
    cli += [f"--rule {shlex.quote(r)}" for r in rules]
    cli += ["--power", _num_text(call["power"]), "--type1", shlex.quote(call["type1"]), "--cases",
            shlex.quote(str(call["cases"])), "--max-occasions", str(call["max_occasions"]), "--min-phase",
            str(call["min_phase"]), "--reps", str(call["reps"]), "--max-reps", str(call["max_reps"]),
            "--type1-reps", str(call["type1_reps"]), "--seed", str(call["seed"])] + extra_cli
    if sens:
        cli += ["--sensitivity", f"{sens['m']},{sens['n']}"]
    cli += ["--json", "plan.json", "--figure", "plan_power_curve.png"]
    return call, sens, " ".join(cli)


def plan_json_text(res) -> str:
    """The plan as ``scedsim plan --json`` writes it."""
    import json

    return json.dumps(res.to_json(), indent=1, default=str)


def plan_study(form: dict) -> dict:
    """Answer the plan form's question with :func:`scedsim.plan` (Bradley 1978 for the
    liberal Type I band; Chalmers 2024 for the sensitivity analysis's stochastic
    root-finding).

    Returns a dict: ``res`` (the :class:`~scedsim.plan.PlanResult`), ``rules``
    (per rule: text, best, tied, candidate rows, message, figure data URI),
    ``figures`` (matplotlib figures, per rule), ``json`` (the ``--json`` text),
    ``python`` and ``cli`` (code giving the same numbers).

    References
    ----------
    Bradley, J. V. (1978). Robustness? *British Journal of Mathematical and
    Statistical Psychology*, 31(2), 144-152.

    Chalmers, R. P. (2024). Solving variables with Monte Carlo simulation
    experiments: A stochastic root-solving approach. *Psychological Methods*.
    https://doi.org/10.1037/met0000689
    """
    import matplotlib.pyplot as plt

    import scedsim as ss
    from ..plan import detectable_effect

    call, sens, cli = plan_question(form)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = ss.plan(**call)
        sens_error = ""
        if sens:
            try:
                res.detectable = detectable_effect(**sens)
            except ValueError as exc:  # the plan still stands; say why this part is missing
                sens_error = f"Sensitivity analysis not done: {' '.join(str(exc).split())}"
    messages = list(dict.fromkeys(str(w.message) for w in caught)) + ([sens_error] if sens_error else [])
    rules, figures = [], []
    for i, rule in enumerate(res.settings["rules"]):
        g = res.candidates[res.candidates.rule == rule]
        # Simulated designs cheapest first, then the pruned ones with their reasons.
        sim = g[g.status != "pruned"].sort_values(["cost", "m", "n"])
        pruned = g[g.status == "pruned"].sort_values(["cost", "m", "n"])
        rows = [r for r in pd.concat([sim, pruned]).to_dict("records")]
        fig = res.figure(rule)
        plt.close(fig)  # kept for the downloads, not in pyplot's list of open figures
        figures.append(fig)
        line = next((m for m in res.message.splitlines() if m.startswith(rule + ":")), "")
        rules.append({"index": i, "text": rule, "best": res.by_rule[rule], "tied": res.tied[rule], "rows": rows,
                      "message": line, "figure": _png_data_uri(fig, 90),
                      "n_pruned": len(pruned), "n_simulated": len(sim)})
    python = ["import scedsim as ss", "", f"res = ss.plan({_py_args(call)})"]
    if sens:
        python += ["from scedsim.plan import detectable_effect",
                   f"res.detectable = detectable_effect({_py_args(sens)})",
                   "print(res.detectable)"]
    python += ["print(res.table())", "print(res.message)",
               "res.figure().savefig('plan_power_curve.png', dpi=150)"]
    return {"res": res, "rules": rules, "figures": figures, "json": plan_json_text(res),
            "detectable": res.detectable, "settings": res.settings, "python": "\n".join(python), "cli": cli,
            "messages": messages}
