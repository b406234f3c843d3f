"""The standard single-case graph: one panel per case, stacked on a shared time axis.

matplotlib is imported only when a figure is drawn, and only its object API is
used (no pyplot), so drawing works without a display and leaves no global state.
"""
from __future__ import annotations

import numpy as np

import pandas as pd

from .io import case_ids, phase_runs, to_long

__all__ = ["sced_plot", "theil_sen"]

# gid values of the drawn lines, so callers (and tests) can find them.
GID_DATA, GID_PHASE, GID_TREND = "data", "phase-change", "trend"


def theil_sen(x, y):
    """Theil-Sen line: the median of the pairwise slopes and the median intercept.

    Parameters
    ----------
    x, y : array_like
        At least two points with distinct ``x``.

    Returns
    -------
    (slope, intercept) : tuple of float
        ``intercept`` is the median of ``y - slope * x``.  With ``x`` = 1..m this
        is the baseline fit of :func:`scedsim.tau_bc`.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    keep = dx != 0
    if not keep.any():
        raise ValueError("a Theil-Sen line needs at least two points at different times")
    slope = float(np.median((y[j] - y[i])[keep] / dx[keep]))
    return slope, float(np.median(y - slope * x))


def _scale_range(limits, outcome, values):
    """(low, high) of an outcome's scale for :func:`sced_plot`; None where not known."""
    if isinstance(limits, dict):
        limits = limits.get(outcome, "auto")
    if limits is None:
        return None, None
    if isinstance(limits, str):
        if limits != "auto":
            raise ValueError(f"limits must be 'auto', None, (low, high) or a mapping of outcome to "
                             f"(low, high); got {limits!r}")
        vals = [v for v in values if len(v)]
        return (0.0 if vals and min(float(np.min(v)) for v in vals) >= 0 else None), None
    try:
        lo, hi = limits
        lo = None if lo is None else float(lo)
        hi = None if hi is None else float(hi)
    except (TypeError, ValueError):
        raise ValueError(f"limits for {outcome!r} must be (low, high), either may be None; "
                         f"got {limits!r}") from None
    if lo is not None and hi is not None and not lo < hi:
        raise ValueError(f"limits for {outcome!r} must have low < high; got {limits!r}")
    return lo, hi


def _within(slope, icpt, x0, x1, lo, hi):
    """The part [a, b] of [x0, x1] where the line stays within [lo, hi], or None."""
    a, b = float(x0), float(x1)
    for bound, keep_above in ((lo, True), (hi, False)):
        if bound is None:
            continue
        if slope == 0:
            if (icpt < bound) if keep_above else (icpt > bound):
                return None
            continue
        cross = (bound - icpt) / slope
        # Rising lines stay above a floor after crossing it; falling ones before.
        if (slope > 0) == keep_above:
            a = max(a, cross)
        else:
            b = min(b, cross)
    return np.array([a, b]) if a < b else None


def _style(ax):
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(direction="out", length=3, width=0.8, labelsize=8)
    for side in ("left", "bottom"):
        ax.spines[side].set_linewidth(0.8)
    ax.grid(False)


def sced_plot(df, *, case: str = "case", session: str = "session", phase: str = "phase",
              outcome: str = "outcome", value: str = "value", outcomes=None, trend: bool = False,
              baseline: str = "A", missing: str = "error", title=None, xlabel=None, ylabel=None,
              figsize=None, limits="auto"):
    """Draw the standard single-case graph.

    One panel per case, stacked, sharing the time axis (and, within an outcome,
    the score axis); one column of panels per outcome.  Points are connected
    within a phase but not across a phase change; a dashed vertical line marks
    each change, midway between the last session of one phase and the first of
    the next, and the phase labels stand above the top panel (above every
    panel when the cases change phase at different sessions, as in a multiple
    baseline design).  Journal style: black markers and lines, no top or right
    spine, no grid.

    Parameters
    ----------
    df : pandas.DataFrame
        A long or wide study table, as for :func:`scedsim.effect_sizes`.
    case, session, phase, outcome, value, outcomes, missing
        As for :func:`scedsim.effect_sizes`; sessions must be numbers here.
    trend : bool
        Draw the Theil-Sen line of the baseline phase (:func:`theil_sen` of
        score on session), extended through the later phases (dotted, grey).
        When the baseline label occurs in several runs (ABAB), the line is fit
        to the first run only and projected from there to the last session.
        Cases with fewer than two points in that run get none.
    baseline : str
        Label of the baseline phase, for ``trend``; a label no case has is a
        ValueError.
    title, xlabel, ylabel : str, optional
        Figure title; axis labels (defaults: the session column's name, and the
        outcome's name, beside each column of panels and above it when there
        are several).
    figsize : (float, float), optional
        Inches; default 3.4 wide per outcome and 1.35 high per case.
    limits : "auto", None, (low, high), or a mapping of outcome to (low, high)
        The range of the outcome's scale, where known: the score axis starts at
        ``low`` and ends at ``high`` (either may be None), and a
        trend line stops where it leaves the range instead of projecting
        impossible scores.  ``"auto"`` (default): 0 to unbounded when every
        score of the outcome is >= 0 (counts, percentages, most rating
        scales), else the data's own range; None: the data's range, trend
        lines unclipped.  Graphing guidance for single-case designs asks for
        the axis to start at the scale's floor (Kratochwill et al., 2010, WWC
        single-case design technical documentation).

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes`` holds the panels row by row (case, in the table's order),
        column by column (outcome); a case without data for an outcome gets a
        panel saying "no data".  Lines carry a ``gid``: ``"data"``, ``"phase-change"`` or
        ``"trend"``.  Save it with ``fig.savefig("figure.png", dpi=200)``.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import blended_transform_factory

    series = to_long(df, case=case, session=session, phase=phase, outcome=outcome, value=value,
                     outcomes=outcomes, missing=missing)
    if not series:
        raise ValueError("nothing to plot: the table has no rows")
    for s in series:
        if len(s.sessions) and not np.issubdtype(np.asarray(s.sessions).dtype, np.number):
            raise ValueError(f"column {session!r} must hold numbers to be plotted")
    outs = list(dict.fromkeys(s.outcome for s in series))
    # Rows in the table's case order; a case missing an outcome keeps its place.
    cases = list(pd.unique(case_ids(df, case)))
    baseline = str(baseline).strip()
    if trend:
        labels = sorted({lab for s in series for lab in s.phases})
        if baseline not in labels:
            raise ValueError(f"baseline phase {baseline!r} (for the trend) not found in column "
                             f"{phase!r}; it holds: {', '.join(labels) or '(none)'}")
    by = {(s.case, s.outcome): s for s in series}
    ranges = {o: _scale_range(limits, o, [s.values for s in series if s.outcome == o]) for o in outs}
    nrow, ncol = len(cases), len(outs)
    if figsize is None:
        figsize = (0.6 + 3.4 * ncol, 0.7 + 1.35 * nrow)
    fig = Figure(figsize=figsize)
    # Fixed margins in inches: quicker and steadier than a layout engine on many panels.
    w, h = fig.get_size_inches()
    top = 0.3 + (0.25 if ncol > 1 else 0.0) + (0.3 if title else 0.0)
    fig.subplots_adjust(left=min(0.45, 0.75 / w), right=1 - min(0.3, 0.45 / w),
                        bottom=min(0.3, 0.5 / h), top=1 - min(0.3, top / h),
                        hspace=0.35, wspace=0.22)
    axes = fig.subplots(nrow, ncol, sharex=True, sharey="col", squeeze=False)

    # Do all cases change phase at the same sessions?  Then label the phases once.
    def changes(s):
        return tuple((r[0], s.sessions[r[1]]) for r in phase_runs(list(s.phases)))
    same = len({changes(s) for s in series if len(s.sessions)}) <= 1

    for col, o in enumerate(outs):
        for row, c in enumerate(cases):
            ax = axes[row, col]
            _style(ax)
            s = by.get((c, o))
            if s is None or not len(s.sessions):
                ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center",
                        fontsize=8, color="0.4")
                continue
            x = np.asarray(s.sessions, dtype=float)
            y = s.values
            runs = phase_runs(list(s.phases))
            for lab, i, j in runs:
                ax.plot(x[i:j + 1], y[i:j + 1], color="black", lw=1.0, marker="o", ms=3.8,
                        mfc="black", mec="black", gid=GID_DATA, clip_on=False)
            for (_, _, j), (_, i, _) in zip(runs[:-1], runs[1:]):
                ax.axvline((x[j] + x[i]) / 2.0, color="black", lw=0.8, ls=(0, (4, 3)), gid=GID_PHASE)
            if trend:
                # Only the first baseline run: in an ABAB design a line through both A
                # runs would mix the return to baseline into the trend.
                first = next(((i, j) for lab, i, j in runs if lab == baseline), None)
                if first is not None and len(np.unique(x[first[0]:first[1] + 1])) >= 2:
                    i, j = first
                    slope, icpt = theil_sen(x[i:j + 1], y[i:j + 1])
                    xs = _within(slope, icpt, x[i], x[-1], *ranges[o])
                    if xs is not None:
                        ax.plot(xs, icpt + slope * xs, color="0.45", lw=1.0, ls=(0, (1, 1.5)),
                                gid=GID_TREND)
            if row == 0 or not same:
                tr = blended_transform_factory(ax.transData, ax.transAxes)
                for lab, i, j in runs:
                    ax.text((x[i] + x[j]) / 2.0, 1.0, lab, transform=tr, ha="center", va="bottom",
                            fontsize=9)
            if col == ncol - 1:
                ax.text(1.02, 0.5, str(c), transform=ax.transAxes, ha="left", va="center", fontsize=9)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        axes[-1, col].set_xlabel(xlabel if xlabel is not None else session, fontsize=9)
        lo, hi = ranges[o]
        if lo is not None:
            axes[0, col].set_ylim(bottom=lo)
        if hi is not None:
            axes[0, col].set_ylim(top=hi)
        if ncol > 1:
            # Several outcomes: name each column above its phase labels.
            axes[0, col].set_title(o, fontsize=10, pad=16)
            if ylabel is None:
                axes[nrow // 2, col].set_ylabel(o, fontsize=9)
    if ylabel is not None or ncol == 1:
        fig.supylabel(ylabel if ylabel is not None else outs[0], fontsize=9, x=0.15 / w)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.08 / h, va="top")
    return fig
