"""A Markdown report with tables and figures from a finished study directory."""
from __future__ import annotations

import json
import math
import pathlib
import re

import numpy as np
import pandas as pd

from .checks import run_checks
from .runner import load_result

__all__ = ["write_report", "exact_fact_checks"]

_META = ("n_blocks", "n_errors", "status")


def _fmt(v, se=None, digits=3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    s = f"{v:.{digits}f}"
    if se is not None and se == se and se > 0:
        s += f" ({se:.{digits}f})"
    return s


def _checks_table(rows) -> str:
    """Markdown table of exact-fact checks: expected, observed (MCSE) and whether they agree."""
    c = pd.DataFrame(rows)
    c["observed"] = [_fmt(v, e, 4) if v == v else "no matching row" for v, e in zip(c.observed, c.mcse)]
    c["expected"] = [f"{v:.4f}" for v in c.expected]
    c["agrees (4 MCSE)"] = np.where(c.agrees, "yes", "NO")
    return _md_table(c[["check", "expected", "observed", "agrees (4 MCSE)"]])


def _md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float) and math.isnan(v):
                cells.append("")
            elif isinstance(v, float):
                cells.append(f"{v:g}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _varied(conds: pd.DataFrame) -> list[str]:
    return [c for c in conds.columns if c not in _META and conds[c].nunique(dropna=False) > 1]


def _pivot(df: pd.DataFrame, rows: list[str], col: str, digits: int = 3) -> pd.DataFrame:
    """Cells 'value (mcse)' with ``col`` across; NaN keys shown as blanks."""
    d = df.copy()
    d["cell"] = [_fmt(v, e, digits) for v, e in zip(d.value, d.mcse)]
    for r in rows:
        d[r] = d[r].astype(object).where(d[r].notna(), "")
    wide = d.pivot_table(index=rows, columns=col, values="cell", aggfunc="first", sort=True)
    wide.columns = [f"{col} = {c:g}" if isinstance(c, float) else f"{col} = {c}" for c in wide.columns]
    return wide.reset_index().fillna("")


def exact_fact_checks(meta: dict, summary: pd.DataFrame) -> list[dict]:
    """The exact small-sample facts the run computed for its own designs
    (:func:`scedsim.simulate.runner.design_facts`, kept in ``study.json``),
    each compared with the matching summary rows by
    :func:`~scedsim.simulate.checks.run_checks`.  A study run before these
    facts were recorded has none."""
    facts = meta.get("facts") or []
    return run_checks(summary, facts) if facts else []


def write_report(out) -> pathlib.Path:
    """Write ``report.md`` and figures (PNG) into a finished study directory.

    Sections: checks of the null rows against exact small-sample facts; Type I
    error of every decision rule (conditions with no effect); power by effect
    size; means, estimands and bias of every metric; figures of means and
    rejection rates against the effect size (one line per ``phi``; one figure
    per setting and contrast; rates on a [0, 1] axis), and of the
    distribution of each discrete metric the study lists in
    ``report.distributions``.  The checks are those the study declares
    (``[[check]]`` tables, see :mod:`scedsim.simulate.checks`).  Every value carries its MCSE.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = pathlib.Path(out)
    res = load_result(out)
    meta = json.loads((out / "study.json").read_text())
    study = meta["study"]
    s = res.summary
    conds = res.conditions
    varied = _varied(conds)
    x = "level" if "level" in varied else None
    line = "phi" if "phi" in varied else None
    others = [c for c in varied if c not in (x, line)]
    if others:
        # One compact 'setting' column instead of a column per parameter that only
        # some stacked grids set.
        def setting(frame):
            parts = []
            for c in others:
                col = frame[c].astype(object)
                parts.append(np.where(col.notna(), c + "=" + col.astype(str), ""))
            return [", ".join(p for p in row if p) for row in zip(*parts)]

        s = s.assign(setting=setting(s))
        group = ["setting"]
    else:
        group = []
    base_rows = group + ([line] if line else [])
    figs: list[str] = []
    model_text = "varied" if "model" in varied else f"`{study['model'].split('(')[0]}`"
    design_text = "varied" if "design" in varied else f"`{study['design']}`"
    lines = [f"# Study report: {meta.get('name', out.name)}", "",
             f"- design: {design_text}; model: {model_text}; varied: {', '.join(varied) or 'nothing'}",
             f"- {len(conds)} condition(s) × {study['n_reps']} replications; seed {study['seed']}; "
             f"block size {study['block_size']}",
             f"- metrics: {', '.join(m[2] for m in study['metrics'])}",
             f"- fingerprint `{meta['fingerprint']}`; last run {meta.get('last_run_seconds', '?')} s",
             f"- failed conditions: {int((conds.status == 'failed').sum())}; failed blocks: {int(conds.n_errors.sum())}",
             "", "Every value is a Monte Carlo estimate with its MCSE in parentheses.", ""]

    facts = exact_fact_checks(meta, s)
    if facts:
        lines += ["## Checks against exact small-sample facts", "",
                  "Computed for each design and contrast at hand (m baseline and n comparison points) from "
                  "the equally likely arrangements of the ranks under no effect, in the conditions with "
                  "exchangeable continuous data (normal errors, phi = 0, no effect, no missing values).", "",
                  _checks_table(facts), ""]

    checks = run_checks(s, meta.get("checks", []))
    if checks:
        lines += ["## Checks declared by the study", "",
                  "Facts the study file states (`[[check]]` tables), each compared with every matching "
                  "row of the summary.", "",
                  _checks_table(checks), ""]

    rej = s[s.measure == "rejection_rate"]
    if len(rej):
        no_effect = pd.Series(True, index=rej.index)
        for col in ("level", "slope", "trend"):
            if col in rej:
                no_effect &= rej[col].isna() | (rej[col] == 0.0)
        null = rej[no_effect]
        if len(null) and line:
            lines += ["## Type I error (no effect)", "",
                      "Share of null case-series (scope `case`) or replications (scope `count`, `edgington`, "
                      "`mean`) for which each rule fires.", "",
                      _md_table(_pivot(null, group + ["contrast", "scope", "rule"], line)), ""]
        if x is not None:
            eff = rej[rej[x].notna()]
            for col in ("slope", "trend"):
                if col in eff:
                    eff = eff[eff[col].isna() | (eff[col] == 0.0)]
            if len(eff):
                lines += [f"## Rejection rates by {x}", "",
                          _md_table(_pivot(eff, base_rows + ["contrast", "scope", "rule"], x)), ""]

    case = s[s.scope == "case"]
    mean = case[case.measure == "mean"]
    if len(mean) and x is not None:
        lines += [f"## Means per case-series by {x}", "",
                  _md_table(_pivot(mean, base_rows + ["contrast", "metric"], x)), ""]
        for name, title in (("limit", "Large-sample limit"), ("design", "Expectation at the design's lengths")):
            e = case[(case.measure == "estimand") & (case.estimand == name)]
            if len(e):
                lines += [f"## {title} by {x}", "", _md_table(_pivot(e, base_rows + ["contrast", "metric"], x)), ""]
        b = case[(case.measure == "bias") & (case.estimand == "limit")]
        if len(b):
            lines += [f"## Bias against the large-sample limit by {x}", "",
                      _md_table(_pivot(b, base_rows + ["contrast", "metric"], x)), ""]
        # Unbounded estimators get error quantiles instead: their variance may be infinite
        # (the SMD with a 3-point baseline SD), and then RMSE is not a finite quantity.
        robust = set(case[case.measure == "median_abs_error"].metric)
        r = case[(case.measure == "rmse") & (case.estimand == "limit") & ~case.metric.isin(robust)]
        if len(r):
            lines += [f"## RMSE against the large-sample limit by {x}", "",
                      _md_table(_pivot(r, base_rows + ["contrast", "metric"], x)), ""]
        for measure, title in (("median_abs_error", "Median absolute error"), ("error_iqr", "IQR of the error")):
            r = case[(case.measure == measure) & (case.estimand == "limit")]
            if len(r):
                lines += [f"## {title} against the large-sample limit by {x}", "",
                          f"For the unbounded metrics ({', '.join(sorted(robust))}), whose variance may be "
                          "infinite (an SD from 3 baseline points has 2 df, and E[1/s^2] is infinite), in "
                          "place of RMSE; MCSEs from the order-statistic (sign-test) interval.", "",
                          _md_table(_pivot(r, base_rows + ["contrast", "metric"], x)), ""]
    elif len(mean):
        show = mean[[c for c in varied] + ["contrast", "metric", "value", "mcse"]]
        lines += ["## Means per case-series", "", _md_table(show), ""]

    # Across-case estimates (the design-comparable SMD): one value per replication.
    rep = s[(s.scope == "replication") & s.metric.isin(set(s[(s.scope == "replication")
                                                              & (s.measure == "mean")].metric))]
    if len(rep) and x is not None:
        for measure, title in (("mean", "Means per replication (across-case estimates)"),
                               ("bias", "Bias of the across-case estimates against their parameter"),
                               ("coverage", "Coverage of the across-case estimates' intervals")):
            r = rep[(rep.measure == measure) & ((rep.estimand == "limit") if measure != "mean" else True)]
            if len(r):
                lines += [f"## {title} by {x}", "", _md_table(_pivot(r, base_rows + ["contrast", "metric"], x)), ""]

    def panel(df, ylabel, fname, title, ref=None, rate=False):
        metrics = list(dict.fromkeys(df.metric))
        if not metrics or x is None:
            return
        ncol = min(4, len(metrics))
        nrow = math.ceil(len(metrics) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.8 * nrow), squeeze=False)
        for ax in axes.ravel()[len(metrics):]:
            ax.axis("off")
        for ax, met in zip(axes.ravel(), metrics):
            d = df[df.metric == met]
            groups = d.groupby(line) if line else [(None, d)]
            for g, dd in groups:
                dd = dd.sort_values(x)
                ax.errorbar(dd[x], dd.value, yerr=2 * dd.mcse.fillna(0), marker="o", ms=3, capsize=2,
                            label=f"{line} = {g}" if line else None)
                if ref is not None:
                    rr = ref[(ref.metric == met) & ((ref[line] == g) if line else True)].sort_values(x)
                    ax.plot(rr[x], rr.value, ls="--", color="grey", lw=1)
            ax.set_title(met, fontsize=9)
            ax.set_xlabel(x)
            if rate:
                # A rate lies in [0, 1]: error bars must not stretch the axis past it.
                lo, hi = ax.get_ylim()
                ax.set_ylim(max(lo, 0.0), min(hi, 1.0))
            ax.spines[["top", "right"]].set_visible(False)
        for row in axes:
            row[0].set_ylabel(ylabel)
        if line:
            axes[0][0].legend(fontsize=7, frameon=False)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=110)
        plt.close(fig)
        figs.append(fname)
        lines.extend([f"![{title}]({fname})", ""])

    if x is not None and len(mean):
        lines += ["## Figures", ""]
        # One figure per combination of the other varied parameters (e.g. model, design, n_cases).
        combos = [((), mean)] if not group else list(mean.groupby(group, dropna=False, sort=True))
        # Every contrast gets its own figures (file names carry it when there are several).
        contrasts = list(dict.fromkeys(mean.contrast))
        lines += ["Figures per setting and contrast:", ""]
        for k, (key, _) in enumerate(combos):
            key = key if isinstance(key, tuple) else (key,)
            where = dict(zip(group, key))
            setting = ", ".join(f"{c} = {v}" for c, v in where.items()
                                if not (isinstance(v, float) and math.isnan(v)))
            for contrast in contrasts:

                def sel(df, where=where, contrast=contrast):
                    for col, v in where.items():
                        df = df[df[col].isna()] if (isinstance(v, float) and math.isnan(v)) else df[df[col] == v]
                    return df[df.contrast == contrast]

                sub = sel(mean)
                if sub[x].nunique() < 2:
                    continue
                label = ", ".join(t for t in (setting, f"contrast {contrast}" if len(contrasts) > 1 else "") if t)
                suffix = (f"_{k + 1}" if group else "") + (
                    "_" + re.sub(r"[^A-Za-z0-9+]+", "-", contrast) if len(contrasts) > 1 else "")
                lines += [f"### {label}" if label else "", ""]
                lim = case[(case.measure == "estimand") & (case.estimand == "limit")]
                panel(sub, "mean", f"means{suffix}.png", f"Means against {x} (±2 MCSE; dashed: limit) {label}",
                      ref=sel(lim))
                rr = sel(rej[rej.scope == "case"]) if len(rej) else rej
                if len(rr):
                    panel(rr.assign(metric=rr.rule), "rejection rate", f"rejections{suffix}.png",
                          f"Rejection rates per case-series against {x} {label}", rate=True)

    for label in meta.get("report", {}).get("distributions", []):
        # The distribution of a discrete metric (or p-value), one panel per condition.
        dist = case[(case.measure == "probability") & (case.metric == label)]
        if not len(dist):
            continue
        keys = group + [c for c in (line, x) if c] + ["contrast"]
        groups = list(dist.groupby(keys, sort=True, dropna=False))[:12]
        cols = min(4, len(groups))
        rows_ = math.ceil(len(groups) / cols)
        fig, axes = plt.subplots(rows_, cols, figsize=(2.8 * cols, 2.2 * rows_), squeeze=False)
        for ax, (g, d) in zip(axes.ravel(), groups):
            ax.bar(np.arange(len(d)), d.value, yerr=2 * d.mcse, color="0.4", capsize=2)
            ax.set_ylim(bottom=0.0)  # probabilities: the error bars must not push the axis below 0
            ax.set_xticks(np.arange(len(d)), [f"{v:.3g}" for v in d["at"]], fontsize=6, rotation=90)
            g = g if isinstance(g, tuple) else (g,)
            ax.set_title(", ".join(f"{k}={v}" for k, v in zip(keys, g) if v == v), fontsize=6)
            ax.spines[["top", "right"]].set_visible(False)
        for ax in axes.ravel()[len(groups):]:
            ax.axis("off")
        fig.suptitle(f"Distribution of {label} per case-series (±2 MCSE)", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / f"{label}_distribution.png", dpi=110)
        plt.close(fig)
        figs.append(f"{label}_distribution.png")
        lines.extend([f"![{label} distribution]({label}_distribution.png)", ""])

    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
