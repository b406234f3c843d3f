"""Effect sizes for every case, outcome and phase contrast of a study table.

:func:`effect_sizes` reads a long (or wide) table, splits it into series, and
calls the public metric functions once per group of series that share their
phase lengths (the batched kernels); :func:`summarize` combines the cases.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import registry
from ._validation import IMPROVEMENTS, check_choice, z_for
from .io import phase_runs, to_long
from .inference.between import METHODS, between_person_test, null_centre
from .synthesis import TAU2_METHODS, WEIGHTINGS, random_effects, weighted_mean, weighting_name

__all__ = ["effect_sizes", "summarize", "EffectSizeTables"]

# Which metrics exist, their labels and properties: :mod:`scedsim.registry`.
COLUMNS = ["case", "outcome", "contrast", "metric", "estimate", "se", "ci_lower", "ci_upper",
           "n_a", "n_b", "improvement", "notes"]
SUMMARY_COLUMNS = ["contrast", "outcome", "metric", "method", "estimate", "se", "ci_lower",
                   "ci_upper", "pvalue", "n_cases", "improvement", "notes"]


class EffectSizeTables(NamedTuple):
    """What ``effect_sizes(..., summary=True)`` returns: ``(cases, summary)``."""

    cases: pd.DataFrame
    summary: pd.DataFrame


# --------------------------------------------------------------------------- options

# The baseline is one phase (or every phase with one label): the nonoverlap and
# trend metrics compare later points with one baseline, and a pooled baseline
# would mix pre- and post-treatment levels in an ABAB design.
_POOLED_BASELINE = ("contrast {item!r}: pooling ('+') is allowed on the comparison side only, e.g. 'A:B+C'; "
                    "the baseline is one phase label (a label such as 'A' takes every phase with that label)")


def _parse_contrasts(contrast, baseline, treatment):
    """Return a list of (name, baseline labels, comparison labels)."""
    if contrast is None:
        comp = tuple(treatment) if isinstance(treatment, (tuple, list)) else (treatment,)
        specs = [((str(baseline),), tuple(str(c) for c in comp))]
    else:
        items = [contrast] if isinstance(contrast, str) else list(contrast)
        if not items:
            raise ValueError("contrast is empty; give e.g. 'A:B'")
        specs = []
        for item in items:
            if not isinstance(item, str) or item.count(":") != 1:
                raise ValueError(f"contrast {item!r} must look like 'A:B' (baseline:comparison), "
                                 "'A:C' or 'A:B+C' (B and C pooled)")
            base, comp = item.split(":")
            if "+" in base:
                raise ValueError(_POOLED_BASELINE.format(item=item))
            specs.append(((base.strip(),), tuple(c.strip() for c in comp.split("+"))))
    out = []
    for base, comp in specs:
        if any(not lab for lab in base + comp):
            raise ValueError(f"contrast {':'.join(base)}:{'+'.join(comp)} has an empty phase label")
        overlap = set(base) & set(comp)
        if overlap:
            raise ValueError(f"phase {sorted(overlap)[0]!r} is both baseline and comparison")
        if len(set(comp)) != len(comp):
            raise ValueError(f"contrast {':'.join(base)}:{'+'.join(comp)} names a phase twice")
        name = f"{'+'.join(base)}:{'+'.join(comp)}"
        if name not in [n for n, _, _ in out]:
            out.append((name, base, comp))
    return out


def _parse_metrics(metrics, given=lambda name, option: False):
    """The metric names asked for; ``"all"`` leaves out those missing an option
    they cannot run without (``given(name, option)`` says whether it was given)."""
    if metrics is None:
        metrics = list(registry.default_metrics())
    elif isinstance(metrics, str):
        metrics = [n for n, m in registry.metrics().items()
                   if all(given(n, k) for k in m.required)] if metrics == "all" else [metrics]
    metrics = [str(m).strip().lower() for m in metrics]
    if not metrics:
        raise ValueError("metrics is empty; name at least one, e.g. metrics=['nap']")
    for m in metrics:
        registry.get_metric(m)  # an unknown name is a one-line error
    return list(dict.fromkeys(metrics))


def _directions(improvement, outcomes):
    if isinstance(improvement, str):
        check_choice("improvement", improvement, IMPROVEMENTS)
        return {o: improvement for o in outcomes}
    if not isinstance(improvement, Mapping):
        raise ValueError("improvement must be 'increase', 'decrease' or a mapping from outcome "
                         f"to one of them; got {type(improvement).__name__}")
    extra = [k for k in improvement if k not in outcomes]
    if extra:
        raise ValueError(f"improvement names outcome {extra[0]!r}, which is not in the data; "
                         f"outcomes: {', '.join(map(str, outcomes))}")
    missing = [o for o in outcomes if o not in improvement]
    if missing:
        raise ValueError(f"improvement gives no direction for outcome {missing[0]!r}")
    for o in outcomes:
        check_choice(f"improvement for {o!r}", improvement[o], IMPROVEMENTS)
    return dict(improvement)


def _check_options(metrics, options, confidence, columns=()):
    """Per-metric keyword arguments, tried once on a small series so that a bad
    option is an error now rather than a NaN in every row.

    An option a metric cannot run without (its registry entry's ``required``)
    may be one value for every outcome or a mapping from outcome to value
    (resolved per outcome by :func:`_per_outcome`); ``columns`` names the
    options read from a column of the table instead.
    """
    options = dict(options or {})
    known = registry.metrics()
    for name in options:
        if name not in known:
            raise registry.unknown_name("metric", name, tuple(known))
    kwargs = {}
    for m in metrics:
        entry = known[m]
        kw = dict(options.get(m, {}))
        if "improvement" in kw:
            raise ValueError("give improvement as an argument of effect_sizes, not in options")
        if entry.takes_confidence:
            kw.setdefault("confidence", confidence)
        trials = [{}]
        for opt, example in entry.required.items():
            if opt in kw and opt in columns:
                raise ValueError(f"{m}'s {opt} is given twice: in options and as a column; give one")
            if opt in columns:
                trials = [dict(t, **{opt: example}) for t in trials]
            elif opt not in kw:
                raise ValueError(f"{m} needs {opt}=...: e.g. options={{{m!r}: {{{opt!r}: {example!r}}}}} "
                                 f"for every outcome, or {{{opt!r}: {{outcome: value, ...}}}} per outcome")
            elif isinstance(kw[opt], Mapping):
                if not kw[opt]:
                    raise ValueError(f"{m}'s {opt} is an empty mapping; give a value per outcome")
                trials = [dict(t, **{opt: v}) for t in trials for v in kw[opt].values()]
        for trial in trials:
            try:
                entry.func([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], **dict(kw, **trial))
            except TypeError as exc:
                raise ValueError(f"bad option for {m}: {exc}") from None
            except ValueError as exc:
                raise ValueError(f"bad option for {m}: {exc}") from None
        kwargs[m] = kw
    return kwargs


def _per_outcome(kwargs, outcomes):
    """``{outcome: {metric: kwargs}}``: each required option given as a mapping
    replaced by the value for that outcome.  A mapping must name every outcome
    it is used for, and only outcomes of the data."""
    entries = registry.metrics()
    out = {o: {m: dict(kw) for m, kw in kwargs.items()} for o in outcomes}
    for m, kw in kwargs.items():
        for opt in entries[m].required:
            value = kw.get(opt)
            if not isinstance(value, Mapping):
                continue
            extra = [k for k in value if k not in outcomes]
            if extra:
                raise ValueError(f"{m}'s {opt} names outcome {extra[0]!r}, which is not in the data; "
                                 f"outcomes: {', '.join(map(str, outcomes))}")
            missing = [o for o in outcomes if o not in value]
            if missing:
                raise ValueError(f"{m}'s {opt} gives no value for outcome {missing[0]!r}; name every "
                                 f"outcome ({', '.join(map(str, outcomes))}) or give one value for all")
            for o in outcomes:
                out[o][m][opt] = value[o]
    return out


def _column_goals(df, goal_column, read, series):
    """``{(case, outcome): goal}`` from ``goal_column``, read like the scores (one
    value per case and outcome of a long table, per case of a wide one)."""
    from .io import _reads_as_wide

    if goal_column not in df.columns:
        raise ValueError(f"goal_column {goal_column!r} is not a column of the table; it has: "
                         f"{', '.join(map(str, df.columns))}")
    wide = _reads_as_wide(df, read["case"], read["session"], read["outcome"], read["value"], read["outcomes"])
    try:
        if wide:
            goals = to_long(df, **dict(read, outcomes=[goal_column]))
        else:
            goals = to_long(df, **dict(read, value=goal_column))
    except ValueError as exc:
        raise ValueError(f"goal_column {goal_column!r}: {exc}") from None
    found = {}
    for g in goals:
        vals = np.unique(g.values)
        if len(vals) > 1:
            where = f"case {g.case!r}" + ("" if wide else f", outcome {g.outcome!r}")
            raise ValueError(f"goal_column {goal_column!r} holds {len(vals)} different goals for {where} "
                             f"({', '.join(f'{v:g}' for v in vals[:3])}); give one goal per "
                             f"{'case' if wide else 'case and outcome'}")
        if len(vals):
            found[(g.case, g.outcome)] = float(vals[0])
    out = {}
    for s in series:
        key = (s.case, goal_column if wide else s.outcome)
        if key in found:
            out[(s.case, s.outcome)] = found[key]
    return out


# --------------------------------------------------------------------------- series

def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


# How the comparison phase lies in time relative to the baseline (from _split).
ADJACENT, LATER, BEFORE = "adjacent", "later", "before"


def _among(phases, labels):
    """``np.isin(phases, labels)`` for a few labels: one comparison per label, which
    for a short series is many times quicker than isin's sort (it runs per series)."""
    out = phases == labels[0]
    for lab in labels[1:]:
        out = out | (phases == lab)
    return out


def _split(series, base, comp):
    """Phase values for one contrast, or a reason why there are none.

    Returns ``(a, b, reason, order)``: ``order`` is :data:`ADJACENT` when the
    comparison follows the baseline directly, :data:`LATER` when other sessions
    lie between them, and :data:`BEFORE` when some comparison session precedes
    the baseline (then time-ordered metrics are not defined).
    """
    if not len(series.values):
        reason = "every value is missing" if series.dropped else "no data for this outcome"
        return None, None, reason, None
    runs = phase_runs(list(series.phases))
    for lab in base + comp:
        mine = [r for r in runs if r[0] == lab]
        if not mine:
            return None, None, f"no phase {lab!r} for this case", None
        if len(mine) > 1:
            spans = " and ".join(f"{_plain(series.sessions[r[1]])}-{_plain(series.sessions[r[2]])}"
                                 for r in mine)
            return None, None, (f"phase {lab!r} occurs in {len(mine)} separate runs (sessions {spans}); "
                                "label the runs apart (e.g. A1, A2) to compare them"), None
    in_a = _among(series.phases, base)
    in_b = _among(series.phases, comp)
    ia, ib = np.flatnonzero(in_a), np.flatnonzero(in_b)
    if ib[0] < ia[-1]:
        order = BEFORE
    elif np.all(np.diff(ib) == 1) and ib[0] == ia[-1] + 1:
        order = ADJACENT
    else:
        order = LATER
    return series.values[in_a], series.values[in_b], "", order


def _session_times(series, labels):
    """The session values of the points of ``labels``, in time order, as numbers (dates as days)."""
    ts = series.sessions[_among(series.phases, labels)]
    if np.issubdtype(ts.dtype, np.datetime64):
        return (ts - ts[0]) / np.timedelta64(1, "D")
    return ts.astype(np.float64)


SE_NOTE = registry.ONE_POINT_SE_NOTE


def _run_group(metric, fn, A, B, kw, rows_kw=None):
    """Fields for a group of series of equal phase lengths, with per-row notes.

    One batched call; if it raises (a phase too short for the metric), each
    series is tried alone so that every row gets its own reason.  With a
    phase shorter than a metric's ``se_min_points`` (NAP, Tau and Tau-BC with
    the unbiased SE, LRR) the fields that need a variance are NaN, and the
    note (the registry entry's ``short_note``) says why.  ``rows_kw`` holds
    options with one entry per series (session times, goals).
    """
    rows_kw = rows_kw or {}
    k = A.shape[0]
    note = ""
    entry = registry.get_metric(metric)
    if min(A.shape[1], B.shape[1]) < entry.se_min_points and entry.short_note is not None:
        note = entry.short_note(kw)
    try:
        r = fn(A, B, **kw, **rows_kw)
        return (np.asarray(r.estimate, float), np.asarray(r.se, float), np.asarray(r.ci_lower, float),
                np.asarray(r.ci_upper, float), [note] * k)
    except ValueError:
        pass
    fields = np.full((4, k), np.nan)
    notes = []
    for i in range(k):
        one = dict(kw, **{k: v[i] for k, v in rows_kw.items()})
        try:
            r = fn(A[i], B[i], **one)
            fields[:, i] = (r.estimate, r.se, r.ci_lower, r.ci_upper)
            notes.append(note)
        except ValueError as exc:
            notes.append(str(exc))
    return fields[0], fields[1], fields[2], fields[3], notes


# --------------------------------------------------------------------------- main

def effect_sizes(df, *, case: str = "case", phase: str = "phase", session: str = "session",
                 outcome: str = "outcome", value: str = "value", outcomes=None,
                 baseline: str = "A", treatment="B", contrast=None,
                 metrics=None, improvement="increase", options=None,
                 confidence: float = 0.95, missing: str = "error", summary: bool = False,
                 times: str = "position", goal_column: str | None = None):
    """Every effect size for every case, outcome and phase contrast of a study table.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per measurement.  **Long** layout: one row per case x session x
        outcome, with a column naming the outcome (``outcome``) and one holding
        the score (``value``).  **Wide** layout: one row per case x session and
        one score column per outcome, listed in ``outcomes``.  Every row carries
        the phase label of its session.  Sessions are sorted within each case
        before the phases are split, so row order does not matter.
    case, phase, session : str
        Column names.  ``session`` must hold numbers (or dates) giving the time
        order; phase labels are compared as text.
    outcome, value : str
        Long layout: the column naming the outcome and the score column.
    outcomes : list of str, optional
        Wide layout: the score columns.  Long layout: which outcomes to keep,
        in this order (default: all, in order of appearance).  The table is
        read as wide when every name in ``outcomes`` is one of its columns.
    baseline, treatment : str
        Labels of the baseline phase and the comparison phase; ``treatment``
        may be a tuple of labels, pooled in time order.  Ignored when
        ``contrast`` is given.
    contrast : str or list of str, optional
        One or more contrasts ``"baseline:comparison"``: ``"A:B"`` (the default,
        from ``baseline`` and ``treatment``), ``"A:C"`` (A against a follow-up
        C), or ``"A:B+C"`` (B and C pooled as one comparison phase, in time
        order).  Pooling is allowed on the comparison side only: the baseline
        is one label (``"A1+A2:B"`` is refused; a label takes every phase so
        labelled).  Any labels are allowed; a label must not contain ``:`` or
        ``+`` (use ``baseline``/``treatment`` for such labels).
    metrics : sequence of str or "all", optional
        Names of registered metrics (:func:`scedsim.registry.metric_names`:
        ``nap, tau, pnd, pem, pand, ird, pet, tau_u, tau_bc, smd, lrr, lor, lrm,
        pogo`` and any registered with :func:`scedsim.register_metric`).
        Default: the registry's defaults.  ``"all"`` is every metric that can
        run with the options given: ``pogo`` only with a goal.
    improvement : str or mapping
        ``"increase"`` or ``"decrease"`` for every outcome, or a mapping from
        every outcome to its direction, e.g. ``{"EE": "decrease", "PA":
        "increase"}``.  A mapping must name each outcome, and only those.
    options : mapping, optional
        Keyword arguments per metric, e.g. ``{"tau_u": {"method": "complete"},
        "nap": {"se": "hanley"}}``.  They are checked before anything runs.
        An option a metric cannot run without (PoGO's ``goal``) is one value
        for every outcome, ``{"pogo": {"goal": 10}}``, or a mapping that names
        every outcome, ``{"pogo": {"goal": {"EE": 10, "PA": 40}}}``.
    confidence : float
        Confidence level of every interval (and of the summary).
    missing : {"error", "drop"}
        A missing score is a ValueError naming the case, session and outcome;
        with ``"drop"`` it is left out, a warning is issued, and the rows of
        that case and outcome say so in ``notes``.
    summary : bool or mapping
        Also return the across-case summary (:func:`summarize`); a mapping
        passes its options, e.g. ``{"weighting": ["nA", "1/V"], "tau2": "REML"}``.
    times : {"position", "session"}
        The time axis of the trend-based metrics (``pet``, ``tau_bc``,
        ``tau_u``): the positions 1..m+n (default, as SingleCaseES and the
        single-series functions), or the values of the ``session`` column
        (whole numbers, or dates as days), as scan uses them.  They differ when
        sessions are irregular or missing values were dropped.
    goal_column : str, optional
        A column holding PoGO's goal, instead of ``options={"pogo": {"goal":
        ...}}``: one value per case and outcome in a long table (per case in a
        wide one), repeated on its rows; a case whose rows disagree is an
        error.

    Returns
    -------
    pandas.DataFrame or EffectSizeTables
        One row per contrast x outcome x case x metric (in that nesting order)
        with the columns ``case, outcome, contrast, metric, estimate, se,
        ci_lower, ci_upper, n_a, n_b, improvement, notes``.  ``metric`` is the
        name asked for (``"nap"``, ...); ``n_a``, ``n_b`` count the points of the
        baseline and comparison phases; fields a metric does not define are
        NaN.  With ``summary=True``, a named tuple ``(cases, summary)``.

    Raises
    ------
    ValueError
        For a problem with the table or the arguments: a missing column, text
        in a score column, a duplicated session, a missing value (unless
        ``missing="drop"``), a phase label no case has, an unknown metric or
        option, an improvement mapping that does not match the outcomes.

    Notes
    -----
    **Per-row reasons, not errors.**  A case without the baseline or a
    comparison phase, a phase label that occurs in separate runs within a case
    (as in an ABAB design; label the runs apart), or a phase too short for a
    metric (e.g. PET's baseline trend needs 2 points) gives NaN with the
    reason in ``notes``; the rest of the table is computed.

    **Batching.**  Series of one outcome and contrast that share their phase
    lengths go to each metric function in one 2-D call, so the whole table
    costs a handful of kernel calls.  The values equal the single-series calls
    ``ss.<metric>(a, b, improvement=...)``.

    **Trend-based metrics** (``pet``, ``tau_u``, ``tau_bc``) place the baseline
    at times 1..m and the comparison at m+1..m+n, as the single-series
    functions do, unless ``times="session"``.  When other sessions lie between
    them (A vs a follow-up C, with B between), or the sessions are irregular
    (gaps, dropped missing values), the rows say so in ``notes``.  When the
    comparison phase (or part of a pooled one) precedes the baseline, these metrics are NaN
    with the note "comparison phase precedes the baseline"; the order-free
    metrics are still computed.

    **Gaps are rows, not omissions.**  A case with no score for an outcome
    (in a long table, no row for it) gets NaN rows for every metric and
    contrast with the note "no data for this outcome"; :func:`summarize`
    leaves such cases out and names them.

    **Short phases and SEs.**  NAP, Tau and Tau-BC with the default
    ``se="unbiased"`` need 2 points per phase for the SE only; with one
    point the estimate and its score interval are kept, the SE is NaN, and
    the note says "SE needs 2 points per phase".

    Examples
    --------
    >>> import scedsim as ss
    >>> df = ss.datasets.load_burnout_example()
    >>> t = ss.effect_sizes(df, metrics=["nap", "ird"], contrast=["A:B", "A:C"],
    ...                     improvement={"EE": "decrease", "DP": "decrease", "PA": "increase",
    ...                                  "Climate": "increase", "QoL": "increase"})
    >>> t.shape
    (120, 12)
    >>> print(t.head(3).round(4).to_string())
      case outcome contrast metric  estimate      se  ci_lower  ci_upper  n_a  n_b improvement notes
    0   P1      EE      A:B    nap       1.0  0.1954    0.4389       1.0    3    2    decrease
    1   P1      EE      A:B    ird       1.0     NaN       NaN       NaN    3    2    decrease
    2   P2      EE      A:B    nap       1.0  0.1954    0.4389       1.0    3    2    decrease
    """
    z_for(confidence)
    check_choice("times", times, ("position", "session"))
    specs = _parse_contrasts(contrast, baseline, treatment)
    # Options read from a column of the table, one value per series.
    columns = () if goal_column is None else ("goal",)
    names = _parse_metrics(metrics, lambda n, k: k in columns or (
        isinstance(options, Mapping) and isinstance(options.get(n), Mapping) and k in options[n]))
    entries = registry.metrics()
    if columns and not any("goal" in entries[m].required for m in names):
        raise ValueError(f"goal_column is given, but none of the metrics ({', '.join(names)}) takes a goal")
    kwargs = _check_options(names, options, confidence, columns)
    read = dict(case=case, session=session, phase=phase, outcome=outcome, value=value, outcomes=outcomes,
                missing=missing)
    series = to_long(df, **read)
    outcome_order = list(dict.fromkeys(s.outcome for s in series))
    directions = _directions(improvement, outcome_order)
    kwargs = _per_outcome(kwargs, outcome_order)
    goals = _column_goals(df, goal_column, read, series) if columns else {}

    labels = set()
    for s in series:
        labels.update(s.phases)
    for cname, base, comp in specs:
        for lab in base + comp:
            if lab not in labels:
                have = ", ".join(sorted(labels)) or "(none)"
                raise ValueError(f"unknown phase label {lab!r} in contrast {cname!r}; "
                                 f"column {phase!r} holds: {have}")

    records = []          # one dict per output row
    groups = {}           # (outcome, contrast, n_a, n_b) -> [(slot, a, b)]
    for cname, base, comp in specs:
        for o in outcome_order:
            for s in (s for s in series if s.outcome == o):
                a, b, reason, order = _split(s, base, comp)
                n_a = 0 if a is None else len(a)
                n_b = 0 if b is None else len(b)
                if a is None:
                    n_a = int(np.isin(s.phases, base).sum())
                    n_b = int(np.isin(s.phases, comp).sum())
                common = []
                drops = [str(_plain(ses)) for ses, ph in s.dropped if ph in base + comp]
                if drops:
                    common.append(f"missing value dropped at session {', '.join(drops)}")
                slot = len(records)
                ts = _session_times(s, base + comp) if a is not None else None
                irregular = ts is not None and len(ts) > 2 and np.any(np.diff(ts) != ts[1] - ts[0])
                for m in names:
                    notes = list(common)
                    if reason:
                        notes.append(reason)
                    elif entries[m].time_ordered and order == BEFORE:
                        notes.append(f"comparison phase precedes the baseline ({'+'.join(comp)} before "
                                     f"{'+'.join(base)}); {m} needs the comparison after the baseline")
                    elif entries[m].time_ordered and order == LATER and times == "position":
                        notes.append(f"other sessions lie between {'+'.join(base)} and {'+'.join(comp)}; "
                                     "the trend treats the comparison as following the baseline directly")
                    elif entries[m].spaced and irregular and times == "position":
                        notes.append(f"irregular sessions (gaps); {m} uses the positions 1..{n_a + n_b}, "
                                     "not the session numbers (times='session' uses them)")
                    records.append(dict(case=s.case, outcome=o, contrast=cname, metric=m,
                                        estimate=np.nan, se=np.nan, ci_lower=np.nan, ci_upper=np.nan,
                                        n_a=n_a, n_b=n_b, improvement=directions[o], notes=notes))
                if a is not None:
                    groups.setdefault((o, cname, n_a, n_b), []).append((slot, a, b, order == BEFORE, ts))

    for (o, cname, n_a, n_b), members in groups.items():
        for j, m in enumerate(names):
            # A trend read from A into a comparison that came first means nothing:
            # those rows keep NaN and the note set above.
            use = [mem for mem in members if not (entries[m].time_ordered and mem[3])]
            if not use:
                continue
            A = np.vstack([mem[1] for mem in use])
            B = np.vstack([mem[2] for mem in use])
            kw = dict(kwargs[o][m], improvement=directions[o])
            rows_kw = {}
            if entries[m].time_ordered and times == "session":
                rows_kw["times"] = np.vstack([mem[4] for mem in use])
            if columns and "goal" in entries[m].required:
                rows_kw["goal"] = np.array([goals.get((records[mem[0]]["case"], o), np.nan) for mem in use])
            est, se, lo, hi, notes = _run_group(m, entries[m].func, A, B, kw, rows_kw)
            for i, (slot, *_) in enumerate(use):
                rec = records[slot + j]
                rec.update(estimate=float(est[i]), se=float(se[i]), ci_lower=float(lo[i]),
                           ci_upper=float(hi[i]))
                if notes[i]:
                    rec["notes"].append(notes[i])
                elif est[i] != est[i]:
                    rec["notes"].append(entries[m].undefined)

    for rec in records:
        rec["notes"] = "; ".join(rec["notes"])
    table = pd.DataFrame.from_records(records, columns=COLUMNS)
    table = table.astype({"n_a": "int64", "n_b": "int64"})
    if summary is not False and summary is not None:
        opts = dict(summary) if isinstance(summary, Mapping) else {}
        if not isinstance(summary, (bool, Mapping)):
            raise ValueError(f"summary must be True, False or a mapping of summarize options; got {summary!r}")
        if "confidence" in opts:
            raise ValueError("set the summary's confidence with effect_sizes(confidence=...)")
        return EffectSizeTables(table, summarize(table, confidence=confidence, **opts))
    return table


# --------------------------------------------------------------------------- summary

def _between_row(add, key, method, metric, est, n_a, n_b, note):
    """The between-person test row of one metric (skipped where it has no null centre)."""
    try:
        centres = np.array([null_centre(metric, int(m), int(n)) for m, n in zip(n_a, n_b)])
    except ValueError:
        return  # no known value under no effect (e.g. PET): no test to report
    d = est - centres
    r = between_person_test(d, method=method, alternative="greater")
    distinct = sorted({round(float(c), 6) for c in centres})
    centre_text = "null centre " + ", ".join(f"{c:g}" for c in distinct)
    add(key, f"between-person {method.replace('_', '-')}{'-test' if method == 't' else ' test'}",
        float(d.mean()), n=int(d.size), pvalue=float(r.pvalue),
        notes="; ".join(filter(None, [f"{centre_text}; estimate = mean excess over it, one-sided p", note])))


def _weighted_row(add, key, scheme, g, est, ok, note, entry, confidence):
    """One SingleCaseES weighted-mean row (``summarize(weighting=...)``)."""
    method = f"weighted mean ({scheme})"
    se = g["se"].to_numpy(float)
    use = ok & np.isfinite(se) & (se > 0) if scheme == "1/V" else ok
    if scheme == "1/V":
        out = list(g["case"][ok & ~use])
        note = "; ".join(filter(None, [note, f"left out (SE missing or 0): {', '.join(map(str, out))}"
                                       if out else ""]))
    if not use.any():
        add(key, method, notes=note or "no case has an SE")
        return
    r = weighted_mean(est[use], se[use], g["n_a"].to_numpy(float)[use], g["n_b"].to_numpy(float)[use],
                      weighting=scheme, confidence=confidence)
    lo_, hi_ = (entry.bounds if entry is not None and entry.bounds else (-np.inf, np.inf))
    lo, hi = (max(lo_, r.ci_lower), min(hi_, r.ci_upper)) if np.isfinite(r.se) else (np.nan, np.nan)
    add(key, method, r.estimate, r.se, lo, hi, r.k, note)


def summarize(table: pd.DataFrame, *, confidence: float = 0.95, tau2: str = "DL",
              knapp_hartung: bool = False, between: str | None = "t", weighting=None) -> pd.DataFrame:
    """Combine the cases of an :func:`effect_sizes` table, per contrast, outcome and metric.

    Methods (named in the ``method`` column):

    ``"mean"``, ``"median"``
        Of the cases' estimates, for every metric.  No SE or interval.
    ``"random effects (DL)"`` (or ``"(REML)"``, with ``", Knapp-Hartung"``)
        Metrics whose registry entry is ``weighted`` (NAP, Tau): the
        random-effects mean of :func:`scedsim.synthesis.random_effects`, with
        weights 1/(SE^2 + tau^2), tau^2 the between-case variance (``tau2``:
        DerSimonian-Laird or REML; its value is in ``notes``); Wald interval
        (or Knapp-Hartung's t interval), cut to the metric's range.  The
        default across-case summary: unlike the fixed-effect mean, it does not
        lean on the cases whose SE happens to be small (NAP near 0 or 1).
    ``"inverse-variance (fixed effect)"``
        The same metrics: the mean weighted by 1/SE^2 with each case's SE (the
        ``se`` type chosen for the table; the unbiased SE by default), SE =
        1/sqrt(sum of weights) and the Wald interval estimate +- z SE, cut to
        the metric's range ([0, 1] for NAP, [-1, 1] for Tau).  A fixed-effect
        (common-effect) summary: it assumes one true value for all cases and
        does not widen for heterogeneity between them.  NAP's SEs depend on the
        estimate, so in very short series the weights favour some cases over
        others for their values, not their precision; compare the median, or
        weight by the null SE (``options={"nap": {"se": "null"}}``), which
        depends only on the phase lengths.
    ``"between-person t-test"`` (or ``"sign_flip"``, ``"wilcoxon"``; ``between``)
        Every metric with a known value under no effect: each case's
        estimate minus that null centre (1/2 for NAP, 11/30 for robust IRD
        with 3 + 4 points, 0 for a mean difference; see
        :func:`scedsim.inference.null_centre`), tested across the cases
        (:func:`scedsim.inference.between_person_test`, one-sided towards
        improvement).  ``estimate`` is the mean excess over the centre and
        ``pvalue`` the test's p-value.
    ``"weighted mean (nA)"`` and the other ``weighting`` schemes
        SingleCaseES's aggregation of every metric
        (:func:`scedsim.synthesis.weighted_mean`): weights 1, n_A, n_B,
        n_A n_B, 1/(1/n_A + 1/n_B) or 1/SE^2; SE sqrt(sum w^2 SE^2)/sum w (NaN
        when a case has no SE; 1/sqrt(sum w) for 1/V) and interval estimate
        +- z SE, cut to the metric's range.  Only when asked for.
    ``"pooled counts"``
        Robust IRD only: the PAND removals r_i of the cases (recovered from
        each case's IRD = 1 - (m_i + n_i) r_i / (2 m_i n_i)) and the phase
        lengths are summed, R = sum r_i, M = sum m_i, N = sum n_i, and the
        robust IRD formula is applied to the pooled table: IR_B = 1 - R/(2N),
        IR_A = R/(2M), IRD = IR_B - IR_A = 1 - (M + N) R / (2 M N).  This is
        the pooled improvement-rate table of Parker, Vannest & Brown (2009),
        as described for scan's multiple-case ``ird()``; the mean of the
        cases' IRDs is the ``"mean"`` row.

    Cases whose estimate is NaN are left out and named in ``notes``; so are
    cases whose SE is NaN or 0 for the weighted mean.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`effect_sizes`.
    confidence : float
        Level of the weighted means' intervals.
    tau2 : {"DL", "REML"}
        Estimator of the between-case variance for the random-effects mean.
    knapp_hartung : bool
        Knapp-Hartung SE and t interval for the random-effects mean.
    between : {"t", "sign_flip", "wilcoxon"} or None
        The between-person test of each metric against its null centre
        (None: no test rows).
    weighting : str, sequence of str or None
        SingleCaseES weighting schemes to add as rows: ``"equal", "nA", "nB",
        "nAnB", "1/nA+1/nB", "1/V"`` (or ``"all"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``contrast, outcome, metric, method, estimate, se, ci_lower,
        ci_upper, pvalue, n_cases, improvement, notes``.
    """
    z = z_for(confidence)
    check_choice("tau2", tau2, TAU2_METHODS)
    if weighting is None:
        schemes = []
    elif isinstance(weighting, str):
        schemes = list(WEIGHTINGS) if weighting == "all" else [weighting_name(weighting)]
    else:
        schemes = [weighting_name(w) for w in weighting]
    schemes = list(dict.fromkeys(schemes))
    if between is not None:
        check_choice("between", between, METHODS)
    need = ["case", "outcome", "contrast", "metric", "estimate", "se", "n_a", "n_b", "improvement"]
    miss = [c for c in need if c not in table.columns]
    if miss:
        raise ValueError(f"summarize needs the table from effect_sizes; column {miss[0]!r} is missing")
    rows = []

    def add(key, method, est=np.nan, se=np.nan, lo=np.nan, hi=np.nan, n=0, notes="", pvalue=np.nan):
        cname, o, m, imp = key
        rows.append(dict(contrast=cname, outcome=o, metric=m, method=method, estimate=est, se=se,
                         ci_lower=lo, ci_upper=hi, pvalue=pvalue, n_cases=n, improvement=imp, notes=notes))

    for (cname, o, m), g in table.groupby(["contrast", "outcome", "metric"], sort=False):
        key = (cname, o, m, g["improvement"].iloc[0])
        est = g["estimate"].to_numpy(float)
        ok = np.isfinite(est)
        left = list(g["case"][~ok])
        note = f"left out (no estimate): {', '.join(map(str, left))}" if left else ""
        k = int(ok.sum())
        if k:
            add(key, "mean", float(np.mean(est[ok])), n=k, notes=note)
            add(key, "median", float(np.median(est[ok])), n=k, notes=note)
        else:
            add(key, "mean", notes=note)
            add(key, "median", notes=note)
        entry = registry.metrics().get(m)
        if entry is not None and entry.weighted:
            se = g["se"].to_numpy(float)
            w_ok = ok & np.isfinite(se) & (se > 0)
            out = list(g["case"][ok & ~w_ok])
            wnote = "; ".join(filter(None, [note, f"left out (SE missing or 0): {', '.join(map(str, out))}"
                                            if out else ""]))
            lo_, hi_ = entry.bounds or (-np.inf, np.inf)
            re_method = f"random effects ({tau2}{', Knapp-Hartung' if knapp_hartung else ''})"
            if w_ok.any() and (w_ok.sum() > 1 or not knapp_hartung):
                r = random_effects(est[w_ok], se[w_ok], method=tau2, knapp_hartung=knapp_hartung,
                                   confidence=confidence)
                add(key, re_method, r.estimate, r.se, max(lo_, r.ci_lower), min(hi_, r.ci_upper),
                    int(w_ok.sum()), "; ".join(filter(None, [f"tau^2 = {r.tau2:.4g}", wnote])))
            else:
                add(key, re_method, notes=wnote or "no case has an SE")
            if w_ok.any():
                w = 1.0 / se[w_ok] ** 2
                mean = float(np.sum(w * est[w_ok]) / np.sum(w))
                s = float(np.sqrt(1.0 / np.sum(w)))
                add(key, "inverse-variance (fixed effect)", mean, s, max(lo_, mean - z * s),
                    min(hi_, mean + z * s), int(w_ok.sum()), wnote)
            else:
                add(key, "inverse-variance (fixed effect)", notes=wnote or "no case has an SE")
        for scheme in schemes:
            _weighted_row(add, key, scheme, g, est, ok, note, entry, confidence)
        if between is not None and entry is not None and k >= 2:
            _between_row(add, key, between, m, est[ok], g["n_a"].to_numpy(int)[ok], g["n_b"].to_numpy(int)[ok],
                         note)
        if entry is not None and entry.pool is not None:
            if k:
                n_a = g["n_a"].to_numpy(float)[ok]
                n_b = g["n_b"].to_numpy(float)[ok]
                pooled = float(entry.pool(est[ok], n_a, n_b))
                detail = entry.pool_detail(est[ok], n_a, n_b) if entry.pool_detail else ""
                add(key, "pooled counts", pooled, n=k, notes="; ".join(filter(None, [detail, note])))
            else:
                add(key, "pooled counts", notes=note)
    out = pd.DataFrame.from_records(rows, columns=SUMMARY_COLUMNS)
    return out.astype({"n_cases": "int64"})

