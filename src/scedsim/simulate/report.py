"""A Markdown report with figures from a finished study directory."""
from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import pandas as pd

from .runner import load_result

__all__ = ["write_report"]


def _fmt(v, se=None, digits=3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    s = f"{v:.{digits}f}"
    if se is not None and se == se and se > 0:
        s += f" ({se:.{digits}f})"
    return s


def _axes_params(conds: pd.DataFrame):
    """The grid parameters to plot: x = 'level' if varied, else the first varied numeric one;
    lines = 'phi' if varied, else the next varied one."""
    varied = [c for c in conds.columns if c not in ("n_blocks", "n_errors", "status")
              and conds[c].nunique() > 1 and pd.api.types.is_numeric_dtype(conds[c])]
    x = "level" if "level" in varied else (varied[0] if varied else None)
    rest = [c for c in varied if c != x]
    line = "phi" if "phi" in rest else (rest[0] if rest else None)
    return x, line, [c for c in rest if c != line]


def _md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join("" if (isinstance(v, float) and math.isnan(v)) else str(v) for v in row) + " |")
    return "\n".join(lines)


def write_report(out) -> pathlib.Path:
    """Write ``report.md`` and figures (PNG) into a finished study directory.

    Figures: the mean of each metric against the effect size (the first varied
    grid parameter, ``level`` when present), one line per ``phi`` (or the next
    varied parameter), with +-2 MCSE bars and the large-sample limit dashed;
    rejection rates likewise; and the distribution of robust IRD per condition.
    Returns the report's path.
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
    x, line, others = _axes_params(conds)
    cond_cols = [c for c in conds.columns if c not in ("n_blocks", "n_errors", "status")]
    figs = []
    lines = [f"# Study report: {meta.get('name', out.name)}", "",
             f"- design: `{study['design']}` × {study['n_cases']} case(s); model `{study['model']}`",
             f"- {len(conds)} condition(s) × {study['n_reps']} replications; seed {study['seed']}; "
             f"block size {study['block_size']}",
             f"- metrics: {', '.join(m[2] for m in study['metrics'])}",
             f"- fingerprint `{meta['fingerprint']}`; last run {meta.get('last_run_seconds', '?')} s",
             f"- failed conditions: {int((conds.status == 'failed').sum())}; failed blocks: {int(conds.n_errors.sum())}",
             "", "Values are Monte Carlo estimates with their MCSE in parentheses.", ""]

    case = s[s.scope == "case"]
    mean = case[case.measure == "mean"]
    lim = case[(case.measure == "estimand") & (case.estimand == "limit")]
    des = case[(case.measure == "estimand") & (case.estimand == "design")]
    bias = case[(case.measure == "bias") & (case.estimand == "limit")]
    table = mean[cond_cols + ["contrast", "metric", "value", "mcse"]].rename(columns={"value": "mean", "mcse": "mcse_mean"})
    keys = cond_cols + ["contrast", "metric"]
    for df, name in ((lim, "limit"), (des, "design"), (bias, "bias_limit")):
        table = table.merge(df[keys + ["value", "mcse"]].rename(columns={"value": name, "mcse": f"mcse_{name}"}),
                            on=keys, how="left")
    if len(table):
        show = table[keys].copy()
        show["mean"] = [_fmt(v, e) for v, e in zip(table["mean"], table["mcse_mean"])]
        if "limit" in table:
            show["limit"] = [_fmt(v) for v in table["limit"]]
            show["E at design"] = [_fmt(v, e) for v, e in zip(table["design"], table["mcse_design"])]
            show["bias vs limit"] = [_fmt(v, e) for v, e in zip(table["bias_limit"], table["mcse_bias_limit"])]
        lines += ["## Means, estimands and bias (per case-series)", "", _md_table(show), ""]

    rej = s[s.measure == "rejection_rate"]
    if len(rej):
        show = rej[cond_cols + ["contrast", "scope", "rule"]].copy()
        show["rate"] = [_fmt(v, e) for v, e in zip(rej.value, rej.mcse)]
        lines += ["## Rejection rates", "", _md_table(show), ""]

    def panel(df, ylabel, fname, title, ref=None):
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
            ax.spines[["top", "right"]].set_visible(False)
        for row in axes:
            row[0].set_ylabel(ylabel)
        if line:
            axes[0][0].legend(fontsize=7, frameon=False)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=120)
        plt.close(fig)
        figs.append(fname)
        lines.extend([f"![{title}]({fname})", ""])

    first = sorted(set(mean.contrast))[:1]

    def sel(df):
        # One contrast, and the first value of any further varied parameter.
        df = df[df.contrast.isin(first)]
        for o in others:
            df = df[df[o] == conds[o].iloc[0]]
        return df

    if x is not None and len(mean):
        lines += ["## Figures", ""]
        panel(sel(mean), "mean", "means.png",
              f"Mean per case-series against {x} (±2 MCSE; dashed: large-sample limit)", ref=sel(lim))
        panel(sel(bias), "bias vs limit", "bias.png", f"Bias against the large-sample limit, by {x}")
        for k, rule in enumerate(dict.fromkeys(rej[rej.scope == "case"].rule), start=1):
            r = rej[(rej.scope == "case") & (rej.rule == rule)]
            panel(sel(r).assign(metric=rule), "rejection rate", f"rejection_{k}.png",
                  f"Rejection rate of '{rule}' by {x}")

    dist = case[(case.measure == "probability") & (case.metric == "ird")]
    if len(dist):
        groups = list(dist.groupby(cond_cols + ["contrast"], sort=True))[:12]
        cols = min(4, len(groups))
        rows_ = math.ceil(len(groups) / cols)
        fig, axes = plt.subplots(rows_, cols, figsize=(2.8 * cols, 2.2 * rows_), squeeze=False)
        for ax, (g, d) in zip(axes.ravel(), groups):
            ax.bar(np.arange(len(d)), d.value, yerr=2 * d.mcse, color="0.4", capsize=2)
            ax.set_xticks(np.arange(len(d)), [f"{v:.3g}" for v in d["at"]], fontsize=6, rotation=90)
            g = g if isinstance(g, tuple) else (g,)
            ax.set_title(", ".join(f"{k}={v}" for k, v in zip(cond_cols + ["contrast"], g)), fontsize=7)
            ax.spines[["top", "right"]].set_visible(False)
        for ax in axes.ravel()[len(groups):]:
            ax.axis("off")
        fig.suptitle("Distribution of robust IRD per case-series (±2 MCSE)", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / "ird_distribution.png", dpi=120)
        plt.close(fig)
        figs.append("ird_distribution.png")
        lines.extend(["![IRD distribution](ird_distribution.png)", ""])

    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
