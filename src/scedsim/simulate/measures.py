"""Performance measures from additive per-block statistics, each with its Monte Carlo SE.

A block of replications is reduced to sums (counts, power sums of the values
about a fixed centre, coverage counts, value counts, rule counts).  Sums of
blocks are added in block order, so the result does not depend on how blocks
were grouped into chunks or which worker ran them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .._numba import kernel

__all__ = ["Rule", "parse_rules", "count_values", "block_stats", "add_stats", "measures_from_stats", "measures_table",
           "chunk_stats", "fold_stats", "StatsFolder"]

_RULE = re.compile(r"^\s*(?P<metric>[A-Za-z_][\w]*(\[[^\]]*\])?)(\.(?P<field>estimate|se|ci_lower|ci_upper))?"
                   r"\s*(?P<op>>=|<=|>|<|==|!=)\s*(?P<value>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$")
_COUNT = re.compile(r"^count\((?P<inner>.+)\)\s*(?P<op>>=|<=|>|<|==|!=)\s*(?P<value>\d+)$")
_OPS = {">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less,
        "==": np.equal, "!=": np.not_equal}


def bands() -> dict[str, str]:
    """Published interpretive bands, usable by name as decision rules: every
    registered metric's ``bands`` (e.g. ``"nap_strong": "nap >= 0.93"``)."""
    from ..registry import metrics

    return {name: rule for m in metrics().values() for name, rule in m.bands.items()}


@dataclass(frozen=True)
class Rule:
    """A decision rule such as ``"ird >= 0.7"``, ``"nap.ci_lower > 0.5"``,
    ``"p_perm_nap <= 0.05"`` or ``"count(p_perm_nap <= 0.05) >= 3"``.

    The left side names a metric label (optionally a field of it), the right
    side a number; ``count(<rule>) >= k`` counts a replication's cases that
    satisfy ``<rule>`` ("at least k of N").  The names of :func:`bands` stand
    for the published interpretive bands (``"nap_strong"``, ``"ird_large"``, ...).
    The rejection rate is the share of defined values for which the rule holds
    (``valid_share`` says how many were defined); in a counting rule, a case
    whose value is undefined does not satisfy the inner rule.
    """

    text: str
    metric: str
    field: str
    op: str
    value: float
    inner: "Rule | None" = None
    func: "object | None" = None  # a callable rule: f(results) -> bool array

    @classmethod
    def from_callable(cls, func) -> "Rule":
        name = getattr(func, "__name__", "custom_rule")
        return cls(name, f"rule:{name}", "estimate", "==", 1.0, None, func)

    @classmethod
    def parse(cls, text) -> "Rule":
        if isinstance(text, Rule):
            return text
        text = " ".join(str(text).split())
        named = bands()
        if text in named:
            rule = cls.parse(named[text])
            return cls(f"{text} ({rule.text})", rule.metric, rule.field, rule.op, rule.value, rule.inner)
        m = _COUNT.match(text)
        if m:
            # "count(<rule>) >= k": how many of a replication's cases satisfy <rule>.
            inner = cls.parse(m.group("inner"))
            if inner.inner is not None:
                raise ValueError(f"counting rules cannot be nested: {text!r}")
            return cls(text, f"count({inner.text})", "estimate", m.group("op"), float(m.group("value")), inner)
        m = _RULE.match(text)
        if not m:
            raise ValueError(f"cannot read decision rule {text!r}; write e.g. 'ird >= 0.7', "
                             "'nap.ci_lower > 0.5', 'p_perm_nap <= 0.05' or 'count(p_perm_nap <= 0.05) >= 3'")
        return cls(text, m.group("metric"), m.group("field") or "estimate", m.group("op"), float(m.group("value")))

    def apply(self, x: np.ndarray) -> np.ndarray:
        return _OPS[self.op](x, self.value)


def parse_rules(rules, specs) -> tuple[Rule, ...]:
    """Parse decision rules and check them against the study's metric specs.

    A rule may also be a callable ``f(results) -> bool array``: ``results`` maps
    ``(contrast, metric label)`` to ``{"estimate", "se", "ci_lower", "ci_upper":
    (n_reps, n_cases) arrays}`` (plus replication-level tests under their label),
    and the array has shape ``(n_reps, n_cases)`` (a decision per case) or
    ``(n_reps,)`` (per replication).
    """
    out = tuple(Rule.from_callable(r) if callable(r) and not isinstance(r, Rule) else Rule.parse(r)
                for r in (rules or ()))
    texts = [r.text for r in out]
    dup = sorted({t for t in texts if texts.count(t) > 1})
    if dup:
        raise ValueError(f"decision rules must be distinct; repeated: {', '.join(dup)} (give callables distinct names)")
    by_label = {s.label: s for s in specs}
    for rule in out:
        if rule.func is not None:
            continue
        r = rule.inner or rule
        if r.metric not in by_label:
            raise ValueError(f"rule {rule.text!r} names metric {r.metric!r}, which the study does not compute "
                             f"(it computes {', '.join(by_label)})")
        if r.field != "estimate" and not by_label[r.metric].has_ci:
            raise ValueError(f"rule {rule.text!r} uses {r.field}, but {r.metric} has no standard error or interval")
    return out


def count_values(results: dict, rules) -> dict:
    """Per replication, how many cases satisfy each counting rule's inner rule.

    Returns ``{(contrast, "count(<inner>)", "count"): {"estimate": (n_reps,) array}}``.
    """
    out = {}
    for rule in rules:
        if rule.func is not None:
            dec = np.asarray(rule.func(results))
            n_reps = next(iter(results.values()))["estimate"].shape[0]
            if dec.shape[:1] != (n_reps,) or dec.ndim > 2:
                raise ValueError(f"rule {rule.text!r} returned shape {dec.shape}; expected ({n_reps},) or "
                                 f"({n_reps}, n_cases)")
            scope = "case" if dec.ndim == 2 else "replication"
            out[("", rule.metric, scope)] = {"estimate": dec.astype(np.float64)}
            continue
        if rule.inner is None:
            continue
        for (contrast, label), r in results.items():
            if label != rule.inner.metric:
                continue
            x = r[rule.inner.field]
            hit = np.where(np.isnan(x), False, rule.inner.apply(np.nan_to_num(x)))
            out[(contrast, rule.metric, "count")] = {"estimate": hit.sum(axis=1).astype(np.float64)}
    return out


def _power_sums_python(x, centre, out):
    """Per column of ``x`` (rows x cases): count and sums of (x - centre_c)^k, k = 1..4,
    over the non-NaN entries, in one pass.  ``out`` is ``(5, cases)``."""
    rows, cols = x.shape
    for c in range(cols):
        for k in range(5):
            out[k, c] = 0.0
    for r in range(rows):
        for c in range(cols):
            v = x[r, c]
            if v == v:
                d = v - centre[c]
                d2 = d * d
                out[0, c] += 1.0
                out[1, c] += d
                out[2, c] += d2
                out[3, c] += d2 * d
                out[4, c] += d2 * d2


_power_sums = kernel(_power_sums_python)


def _few_values_python(x, values, counts):
    """Distinct values of ``x`` (rounded to 10 decimals) and their counts, found by a
    linear scan of the values seen so far: fast when they are few, as for discrete
    metrics.  Returns how many there are, or -1 once more than ``len(values)``."""
    k = 0
    for i in range(x.shape[0]):
        v = round(x[i], 10)
        found = False
        for j in range(k):
            if values[j] == v:
                counts[j] += 1
                found = True
                break
        if not found:
            if k == values.shape[0]:
                return -1
            values[k] = v
            counts[k] = 1
            k += 1
    return k


_few_values = kernel(_few_values_python)


def _value_counts(x: np.ndarray) -> dict:
    """Counts of the distinct values of ``x`` (NaN-free); values are rounded to 10
    decimals first, since discrete metrics take rational values up to float noise."""
    values = np.empty(64)
    counts = np.zeros(64, dtype=np.int64)
    k = _few_values(np.ascontiguousarray(x, dtype=np.float64), values, counts)
    if k < 0:
        vals, cnts = np.unique(np.round(x, 10), return_counts=True)
        return dict(zip(vals.tolist(), cnts.tolist()))
    return dict(zip(values[:k].tolist(), counts[:k].tolist()))


def _targets(est: dict, name: str, n_cols: int):
    """Per-case targets of estimand ``name`` (a list per case, or one value), or None."""
    by_case = est.get(f"{name}_by_case")
    if by_case is not None and len(by_case) == n_cols:
        arr = np.asarray(by_case, dtype=np.float64)
    else:
        v = est.get(name)
        if v is None:
            return None
        arr = np.full(n_cols, float(v))
    return arr if np.all(np.isfinite(arr)) else None


# --------------------------------------------------------------------------- error quantiles
# For an estimator whose variance is infinite (the SMD with a 3-point baseline SD: its
# denominator has 2 df and E[1/s^2] is infinite), bias and RMSE are not finite
# quantities.  The median absolute error and the interquartile range of the error
# are, and they reduce by adding: each block keeps a sparse histogram of the error
# x - theta (a count per bin of width ERROR_BIN; blocks add their counts).  A
# quantile read from it is the midpoint of its bin, within ERROR_BIN / 2 of the
# empirical quantile of the values (far below its Monte Carlo SE at 10^3-10^5 values).
ERROR_BIN = 1e-3


def _error_hist(x: np.ndarray, theta: np.ndarray) -> dict:
    """Counts of floor((x - theta_c) / ERROR_BIN) over the non-NaN entries of ``x``
    (rows x cases), as ``{bin: count}``."""
    e = x - theta[None, :]
    e = e[~np.isnan(e)]
    if e.size == 0:
        return {}
    idx = np.floor(e / ERROR_BIN).astype(np.int64)
    bins, counts = np.unique(idx, return_counts=True)
    return dict(zip(bins.tolist(), counts.tolist()))


def _hist_quantile(bins: np.ndarray, cum: np.ndarray, q: float) -> float:
    """The q-quantile (q in [0, 1]) of a histogram with sorted ``bins`` and cumulative
    counts ``cum``: the midpoint of the bin holding the ceil(q n)-th value."""
    n = cum[-1]
    rank = min(max(int(math.ceil(q * n)), 1), int(n))
    j = int(np.searchsorted(cum, rank))
    return (bins[j] + 0.5) * ERROR_BIN


def _quantile_and_mcse(bins, cum, q):
    """A quantile and its MCSE from the distribution-free order-statistic interval:
    the values of rank n q -/+ 1.96 sqrt(n q (1 - q)) bound a 95% interval for the
    q-quantile (the sign-test/binomial interval), so MCSE ~ its width / (2 x 1.96)."""
    n = cum[-1]
    h = 1.96 * math.sqrt(q * (1 - q) / n)
    lo, hi = _hist_quantile(bins, cum, max(q - h, 0.0)), _hist_quantile(bins, cum, min(q + h, 1.0))
    return _hist_quantile(bins, cum, q), (hi - lo) / (2 * 1.96)


def _add_by(inverse: np.ndarray, counts: np.ndarray, size: int) -> np.ndarray:
    """Integer counts added by group (``inverse``): exact, as float sums of integers
    below 2**53 are."""
    return np.bincount(inverse.ravel(), weights=counts, minlength=size).astype(np.int64)


def _hist_arrays(hist) -> tuple[np.ndarray, np.ndarray]:
    """An error histogram ``{bin: count}`` as two int64 arrays (a pair passes through)."""
    if isinstance(hist, tuple):
        return hist
    return (np.fromiter(hist.keys(), dtype=np.int64, count=len(hist)),
            np.fromiter(hist.values(), dtype=np.int64, count=len(hist)))


def error_quantile_rows(hist) -> list[tuple[str, float, float]]:
    """``(measure, value, mcse)`` for ``median_error``, ``median_abs_error`` and
    ``error_iqr`` from an error histogram (see :data:`ERROR_BIN`): ``{bin: count}``,
    or a pair of arrays ``(bins, counts)`` with distinct bins.

    The IQR's MCSE combines the two quartiles' MCSEs s1, s3 with their asymptotic
    correlation, q1 (1 - q3) / sqrt(q1 (1 - q1) q3 (1 - q3)) = 1/3:
    sqrt(s1^2 + s3^2 - 2/3 s1 s3).
    """
    if len(hist) == 0 or (isinstance(hist, tuple) and len(hist[0]) == 0):
        return []
    # As arrays (a histogram has thousands of bins): the same integers, sorted and added.
    keys, vals = _hist_arrays(hist)
    order = np.argsort(keys, kind="stable")
    bins = keys[order]
    cum = np.cumsum(vals[order])
    med, med_se = _quantile_and_mcse(bins, cum, 0.5)
    q1, s1 = _quantile_and_mcse(bins, cum, 0.25)
    q3, s3 = _quantile_and_mcse(bins, cum, 0.75)
    # |error|: bin b >= 0 covers [b, b + 1) bins, bin b < 0 maps to |.| bin -b - 1.  The
    # negative bins, reversed, are sorted too: a stable sort merges the two runs.
    counts = vals[order]
    m = int(np.searchsorted(bins, 0))
    k = np.concatenate([(-bins[:m] - 1)[::-1], bins[m:]])
    c = np.concatenate([counts[:m][::-1], counts[m:]])
    merged = np.argsort(k, kind="stable")
    k, c = k[merged], c[merged]
    starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
    abins = k[starts]
    acum = np.cumsum(np.add.reduceat(c, starts))
    mae, mae_se = _quantile_and_mcse(abins, acum, 0.5)
    iqr_se = math.sqrt(max(s1 * s1 + s3 * s3 - (2.0 / 3.0) * s1 * s3, 0.0))
    return [("median_error", med, med_se), ("median_abs_error", mae, mae_se), ("error_iqr", q3 - q1, iqr_se)]


def block_stats(values: dict, estimands: dict, rules, discrete: set, robust: set = frozenset()) -> dict:
    """Additive statistics of one block.

    ``values`` maps ``(contrast, label, scope)`` to a dict with ``estimate`` (2-D
    reps x cases at case scope, 1-D otherwise) and, at case scope for metrics with
    an interval, ``ci_lower`` and ``ci_upper``.  Power sums are kept per case,
    about the case's own large-sample limit, so that cases with different phase
    lengths (multiple baseline) are judged against their own targets.

    For the labels in ``robust`` (estimators whose variance may be infinite) the
    block also keeps a sparse histogram of the error against the large-sample
    limit, from which the median absolute error and the IQR of the error are read
    (:func:`error_quantile_rows`).
    """
    out = {}
    for key, fields_ in values.items():
        x2 = np.asarray(fields_["estimate"], dtype=np.float64)
        if x2.ndim == 1:
            x2 = x2[:, None]
        x2 = np.ascontiguousarray(x2)
        n_cols = x2.shape[1]
        est = estimands.get(key, {})
        centre = _targets(est, "limit", n_cols)
        centre = centre if centre is not None else np.zeros(n_cols)
        sums = np.empty((5, n_cols))
        _power_sums(x2, centre, sums)
        st = {"n_total": x2.size, "n": sums[0], "centre": centre,
              "s1": sums[1], "s2": sums[2], "s3": sums[3], "s4": sums[4]}
        ok = ~np.isnan(x2)
        if "ci_lower" in fields_:
            lo = np.asarray(fields_["ci_lower"], dtype=np.float64).reshape(x2.shape)
            hi = np.asarray(fields_["ci_upper"], dtype=np.float64).reshape(x2.shape)
            ci_ok = ok & ~(np.isnan(lo) | np.isnan(hi))
            if ci_ok.any():
                w = np.where(ci_ok, hi - lo, 0.0)
                st["n_ci"] = int(ci_ok.sum())
                st["w1"] = float(w.sum())
                st["w2"] = float((w * w).sum())
                for name in ("limit", "design"):
                    theta = _targets(est, name, n_cols)
                    if theta is not None:
                        st[f"cover_{name}"] = int((ci_ok & (lo <= theta) & (theta <= hi)).sum())
        if key[1] in robust and key[2] in ("case", "mean", "replication") and ok.any():
            theta = _targets(est, "limit", n_cols)
            if theta is not None:
                st["ehist"] = _error_hist(x2, theta)
        if (key[1] in discrete and key[2] == "case" or key[2] == "count") and ok.any():
            st["dist"] = _value_counts(x2[ok])
        for r in rules:
            if r.metric != key[1]:
                continue
            col = fields_.get(r.field)
            if col is None:
                continue
            col = np.asarray(col, dtype=np.float64).ravel()
            col_ok = ~np.isnan(col)
            st[f"rule:{r.text}"] = (int(r.apply(col[col_ok]).sum()), int(col_ok.sum()))
        out[key] = st
    return out


def add_stats(total: dict, block: dict, skip=()) -> dict:
    """Add one block's statistics into ``total`` (in place), in a fixed order,
    leaving out the fields named in ``skip``."""
    for key, st in block.items():
        if key not in total:
            total[key] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in st.items() if k not in skip}
            continue
        tot = total[key]
        for k, v in st.items():
            if k == "centre" or k in skip:
                continue
            if k in ("dist", "ehist"):
                dd = tot.setdefault(k, {})
                for val, c in v.items():
                    dd[val] = dd.get(val, 0) + c
            elif k.startswith("rule:"):
                a, b = tot.get(k, (0, 0))
                tot[k] = (a + v[0], b + v[1])
            else:
                tot[k] = tot.get(k, 0) + v
    return total


# Float sums of a block: added across blocks in block order (fold_stats), never regrouped,
# so that a study's numbers do not depend on how its blocks were chunked.
_SUM_ARRAYS = ("s1", "s2", "s3", "s4")
_SUM_SCALARS = ("w1", "w2")
_SUMS = _SUM_ARRAYS + _SUM_SCALARS


# Fields of a compact chunk kept as one vector over its keys (the rest are sparse "extras").
_VECTOR_FIELDS = ("n_total", "n", "centre")


def chunk_stats(blocks, first: int | None = None, end: int | None = None) -> dict:
    """A chunk's statistics, reduced for the trip back to the parent.

    Parameters
    ----------
    blocks : sequence of (int, dict)
        ``(block index, block_stats(...))`` of the chunk's successful blocks.
    first, end : int, optional
        The chunk's range of blocks, ``first <= j < end`` (failed blocks included);
        default the range of ``blocks``.

    Returns
    -------
    dict
        When every block has the same keys (the usual case), a compact form of a few
        arrays, cheap to pickle and to add: ``layout``, the keys and their numbers of
        case columns; ``n_total``, ``n`` and ``centre``, one vector over the keys
        (counts added over the blocks); ``extras``, the sparse counts (coverage,
        value counts, rule counts) by key; ``sums``, one row per block of every key's
        float power sums and interval widths, for :class:`StatsFolder` to add in
        block order.  Otherwise ``counts`` (every count, by key), ``layouts`` (one per
        block) and ``sums`` (a list of rows).  Counts are integers, exact in any order.
    """
    blocks = sorted(blocks, key=lambda t: t[0])
    layouts, rows = [], []
    for _, block in blocks:
        layouts.append(tuple((key, int(np.size(st["n"]))) for key, st in block.items()))
        parts = []
        for st in block.values():
            parts.extend(st[f] for f in _SUM_ARRAYS)
            parts.append([st.get("w1", 0.0), st.get("w2", 0.0)])
        rows.append(np.concatenate(parts) if parts else np.empty(0))
    index = [j for j, _ in blocks]
    first = (index[0] if index else 0) if first is None else first
    end = (index[-1] + 1 if index else first) if end is None else end
    if blocks and all(lay == layouts[0] for lay in layouts):
        extras: dict = {}
        n_total = np.zeros(len(layouts[0]), dtype=np.int64)
        n = None
        for _, block in blocks:
            add_stats(extras, block, skip=_SUMS + _VECTOR_FIELDS)
            n_total += [st["n_total"] for st in block.values()]
            vec = np.concatenate([st["n"] for st in block.values()])
            n = vec if n is None else n + vec  # integer-valued floats: exact in any order
        centre = np.concatenate([st["centre"] for st in blocks[0][1].values()])
        for st in extras.values():
            if "ehist" in st:  # thousands of bins: two arrays pickle far faster than a dict
                st["ehist"] = _hist_arrays(st["ehist"])
        return {"first": first, "end": end, "layout": layouts[0], "n_total": n_total, "n": n, "centre": centre,
                "extras": {key: st for key, st in extras.items() if st}, "sums": np.stack(rows)}
    counts: dict = {}
    for _, block in blocks:
        add_stats(counts, block, skip=_SUMS)
    return {"first": first, "end": end, "counts": counts, "layouts": layouts, "sums": rows}


def _split_compact(layout, n_total, n, centre, extras) -> dict:
    """The per-key counts ``{key: {n_total, n, centre, ...extras}}`` of compact vectors."""
    out, off = {}, 0
    for r, (key, n_cols) in enumerate(layout):
        out[key] = {"n_total": int(n_total[r]), "n": n[off:off + n_cols], "centre": centre[off:off + n_cols],
                    **extras.get(key, {})}
        off += n_cols
    return out


class StatsFolder:
    """Adds one condition's chunks (:func:`chunk_stats`) as they arrive, in any order,
    to the statistics that adding every block's :func:`block_stats` with
    :func:`add_stats` in block order gives, value for value.

    Counts are added at once (integers: exact in any order); while every chunk is
    compact with the same keys, the counts of all keys as one vector.  Float sums
    are added in block order: a chunk that arrives before its predecessors waits,
    so memory holds only the chunks in flight, not one per replication block.
    While every block has the same keys, the sums of all keys are added as one
    vector per block.
    """

    def __init__(self, start: int = 0):
        self.counts: dict = {}
        self.ehist: dict = {}   # error histograms, {key: [(bins, counts), ...]}, added at the end
        self.vec = None         # [layout, n_total, n, centre] of compact chunks with one layout
        self.keyed = False      # counts kept key by key (a chunk of another form arrived)
        self.next = start       # the first block not yet added
        self.pending: dict = {}  # early chunks, by their first block
        self.layout = None
        self.acc = None         # the added vector, while every layout is the same
        self.sums = None        # {key: {field: sum}} once layouts differ

    def _to_keyed(self) -> None:
        """From here on, counts key by key (the vectors split into them)."""
        if self.vec is not None:
            layout, n_total, n, centre = self.vec
            split = _split_compact(layout, n_total, n, centre, {})
            # n_total, n and centre first, as add_stats would have ordered them.
            self.counts = {**{k: {**split[k], **self.counts.get(k, {})} for k in split},
                           **{k: v for k, v in self.counts.items() if k not in split}}
            self.vec = None
        self.keyed = True

    def add(self, chunk: dict) -> None:
        if "layout" in chunk:
            extras = self._take_ehist(chunk["extras"])
            if not self.keyed and (self.vec is None or self.vec[0] == chunk["layout"]):
                add_stats(self.counts, extras)
                if self.vec is None:
                    self.vec = [chunk["layout"], chunk["n_total"], chunk["n"], chunk["centre"]]
                else:
                    self.vec[1] = self.vec[1] + chunk["n_total"]
                    self.vec[2] = self.vec[2] + chunk["n"]
            else:
                self._to_keyed()
                add_stats(self.counts, _split_compact(chunk["layout"], chunk["n_total"], chunk["n"],
                                                      chunk["centre"], extras))
        else:
            self._to_keyed()
            add_stats(self.counts, self._take_ehist(chunk["counts"]))
        self.pending[chunk["first"]] = chunk
        while self.next in self.pending:
            ch = self.pending.pop(self.next)
            if "layout" in ch:
                for row in ch["sums"]:
                    self._fold(ch["layout"], row)
            else:
                for layout, row in zip(ch["layouts"], ch["sums"]):
                    self._fold(layout, row)
            self.next = ch["end"]

    def _take_ehist(self, counts: dict) -> dict:
        """``counts`` without the error histograms, which are kept aside as arrays and
        added once at the end (adding dicts of thousands of bins per chunk was slow)."""
        out = {}
        for key, st in counts.items():
            if "ehist" not in st:
                out[key] = st
                continue
            self.ehist.setdefault(key, []).append(_hist_arrays(st["ehist"]))
            out[key] = {k: v for k, v in st.items() if k != "ehist"}
        return out

    def _fold(self, layout, row) -> None:
        if self.sums is None:
            if self.acc is None:
                self.layout, self.acc = layout, row.copy()
                return
            if layout == self.layout:
                self.acc = self.acc + row
                return
            # Blocks with different keys (rare): from here on key by key.
            self.sums = {}
            self._add_keys(self.layout, self.acc)
            self.acc = None
        self._add_keys(layout, row)

    def _add_keys(self, layout, row) -> None:
        off = 0
        for key, n_cols in layout:
            st = self.sums.setdefault(key, {})
            for f in _SUM_ARRAYS:
                v = row[off:off + n_cols]
                st[f] = v.copy() if f not in st else st[f] + v
                off += n_cols
            for f in _SUM_SCALARS:
                v = float(row[off])
                st[f] = v if f not in st else st[f] + v
                off += 1

    def result(self) -> dict:
        """The added statistics ``{key: stats}`` (every chunk must have arrived).  An
        error histogram is given as two arrays, its sorted bins and their counts."""
        if self.pending:
            raise ValueError(f"chunks starting at blocks {sorted(self.pending)} wait for block {self.next}")
        self._to_keyed()
        total = {key: dict(st) for key, st in self.counts.items()}
        if self.sums is None and self.acc is not None:
            self.sums = {}
            self._add_keys(self.layout, self.acc)
            self.acc = None
        for key, st in (self.sums or {}).items():
            t = total[key]
            for f in _SUM_ARRAYS:
                t[f] = st[f]
            if "n_ci" in t:  # interval widths, where some block had intervals
                for f in _SUM_SCALARS:
                    t[f] = st[f]
        for key, parts in self.ehist.items():
            bins, inverse = np.unique(np.concatenate([b for b, _ in parts]), return_inverse=True)
            # Kept as arrays for error_quantile_rows: a dict of every bin would cost more than the rest.
            total[key]["ehist"] = (bins, _add_by(inverse, np.concatenate([c for _, c in parts]), bins.size))
        return total


def fold_stats(chunks) -> dict:
    """The added statistics of one condition from all its chunks (:func:`chunk_stats`),
    given in any order; see :class:`StatsFolder`."""
    chunks = list(chunks)
    folder = StatsFolder(min((ch["first"] for ch in chunks), default=0))
    for ch in chunks:
        folder.add(ch)
    return folder.result()


def _prop(count: int, n: int):
    if n == 0:
        return math.nan, math.nan
    p = count / n
    return p, math.sqrt(p * (1 - p) / n)


def _sums_about(pw, centre, target, k: int) -> np.ndarray:
    """Per entry (row), the sum over its cases of (x - target)^k from the per-case power
    sums about the centres: x - target = (x - centre) + h, h = centre - target.

    ``pw`` is the list of ``(entries, cases)`` arrays n, s1, ..., s4; ``centre`` is
    ``(entries, cases)`` and ``target`` broadcasts to it.  Element by element these
    are the operations of one entry's own sum, so stacking entries changes no value.
    """
    h = centre - target
    total = np.zeros_like(h)
    for j in range(k + 1):
        total = total + math.comb(k, j) * h ** (k - j) * pw[j]
    return total.sum(axis=1)


def _not_below_zero(x: np.ndarray) -> np.ndarray:
    """``max(x, 0.0)`` element by element, with Python's rules (NaN and -0.0 kept)."""
    return np.where(0.0 > x, 0.0, x)


_ORDER = {"case": 0, "mean": 1, "pooled": 2, "edgington": 3, "count": 4, "replication": 5}
COLUMNS = ("contrast", "metric", "scope", "measure", "estimand", "at", "rule", "value", "mcse")


def _group_measures(entries, estimands_list):
    """The numeric measures of entries ``(owner, key, stats)`` that share their number of
    case columns, computed for all of them at once.  Returns a dict of arrays, one value
    per entry (NaN where a measure does not apply)."""
    g = len(entries)
    n_cols = np.size(entries[0][2]["n"])
    pw = [np.empty((g, n_cols)) for _ in range(5)]
    centre = np.empty((g, n_cols))
    for r, (_, _, st) in enumerate(entries):
        for j, f in enumerate(("n", "s1", "s2", "s3", "s4")):
            pw[j][r] = st[f]
        centre[r] = st["centre"]
    n = pw[0].sum(axis=1)
    pos = n > 0
    with np.errstate(all="ignore"):
        out = {"n": n}
        mean = _sums_about(pw, centre, 0.0, 1) / n
        s2 = _sums_about(pw, centre, mean[:, None], 2)
        many = n > 1
        var = np.where(many, s2 / (n - 1), np.nan)
        sd = np.where(many, np.sqrt(_not_below_zero(var)), np.nan)
        out["mean"] = mean
        out["se_mean"] = np.where(many, sd / np.sqrt(n), np.nan)
        # MCSE of the SD by the delta method with the sample kurtosis (not normal theory).
        m2 = s2 / n
        m4 = _sums_about(pw, centre, mean[:, None], 4) / n
        out["sd"] = sd
        out["sd_mcse"] = np.where(many & (m2 > 0), np.sqrt(_not_below_zero(m4 - m2 * m2) / (4 * n * m2)), np.nan)
        for name in ("limit", "design"):
            theta = np.full((g, n_cols), np.nan)
            has = np.zeros(g, dtype=bool)
            t_mcse = np.zeros(g)
            for r, (owner, key, _) in enumerate(entries):
                est = estimands_list[owner].get(key, {})
                th = _targets(est, name, n_cols)
                if th is None or not pos[r]:
                    continue
                has[r] = True
                theta[r] = th
                t = est.get(f"{name}_mcse", 0.0) or 0.0
                t = t if t == t else 0.0
                t_mcse[r] = t ** 2  # Python's power, as the scalar formula had it
            theta_bar = (pw[0] * theta).sum(axis=1) / n
            e1 = _sums_about(pw, centre, theta, 1) / n
            e2 = _sums_about(pw, centre, theta, 2) / n
            e4 = _sums_about(pw, centre, theta, 4) / n
            var_d = np.where(many, _not_below_zero(e2 - e1 * e1) * n / (n - 1), np.nan)
            b_mcse = np.where(many, np.sqrt(var_d / n + t_mcse), np.nan)
            rmse = np.sqrt(_not_below_zero(e2))
            out[name] = dict(has=has, theta_bar=theta_bar, bias=e1, bias_mcse=b_mcse,
                             rel=e1 / theta_bar, rel_mcse=b_mcse / np.abs(theta_bar), rmse=rmse,
                             rmse_mcse=np.where(rmse > 0, np.sqrt(_not_below_zero(e4 - e2 * e2) / n) / (2 * rmse),
                                                np.nan))
    return out


def measures_table(stats_list, estimands_list) -> tuple[dict, np.ndarray]:
    """Performance measures of many conditions at once.

    Parameters
    ----------
    stats_list : sequence of dict
        Per condition, the added statistics ``{(contrast, label, scope): stats}``.
    estimands_list : sequence of dict
        Per condition, its estimands.

    Returns
    -------
    columns : dict
        ``{contrast, metric, scope, measure, estimand, at, rule, value, mcse}``: one
        list per column, rows condition by condition (keys sorted, measures in a fixed
        order), the same rows :func:`measures_from_stats` gives one condition.
    owner : ndarray of int
        The condition (index into ``stats_list``) of each row.

    Notes
    -----
    The sums are computed for every (condition, key) with the same number of case
    columns in one pass of array operations; each value is the one a per-key
    computation gives, operation for operation.
    """
    entries = [(i, key, st[key]) for i, st in enumerate(stats_list)
               for key in sorted(st, key=lambda k: (k[0], k[1], _ORDER.get(k[2], 5)))]
    groups: dict = {}
    for e, (_, _, st) in enumerate(entries):
        groups.setdefault(np.size(st["n"]), []).append(e)
    # Per entry: its group's result arrays and its row in them.
    where = [None] * len(entries)
    for idx in groups.values():
        res = _group_measures([entries[e] for e in idx], estimands_list)
        # Python floats (the same values) read faster one at a time than array items.
        res = {k: ({kk: vv.tolist() for kk, vv in v.items()} if isinstance(v, dict) else v.tolist())
               for k, v in res.items()}
        for r, e in enumerate(idx):
            where[e] = (res, r)
    cols = {c: [] for c in COLUMNS}
    owner = []
    nan = math.nan
    c_contrast, c_metric, c_scope, c_measure = cols["contrast"], cols["metric"], cols["scope"], cols["measure"]
    c_estimand, c_at, c_rule, c_value, c_mcse = (cols["estimand"], cols["at"], cols["rule"], cols["value"],
                                                 cols["mcse"])

    def add(measure, value, mcse, estimand="", at=nan, rule=""):
        c_measure.append(measure)
        c_estimand.append(estimand)
        c_at.append(at)
        c_rule.append(rule)
        c_value.append(value)
        c_mcse.append(mcse)

    for e, (i, key, st) in enumerate(entries):
        res, r = where[e]
        start = len(c_value)
        n = float(res["n"][r])
        add("n", n, 0.0)
        add("valid_share", n / st["n_total"] if st["n_total"] else nan, 0.0)
        if n > 0:
            add("mean", float(res["mean"][r]), float(res["se_mean"][r]))
            add("empirical_se", float(res["sd"][r]), float(res["sd_mcse"][r]))
            for name in ("limit", "design"):
                t = res[name]
                if not t["has"][r]:
                    continue
                est = estimands_list[i].get(key, {})
                t_mcse = est.get(f"{name}_mcse", 0.0) or 0.0
                theta_bar = float(t["theta_bar"][r])
                add("estimand", theta_bar, t_mcse if t_mcse == t_mcse else 0.0, estimand=name)
                add("bias", float(t["bias"][r]), float(t["bias_mcse"][r]), estimand=name)
                if theta_bar != 0:
                    add("relative_bias", float(t["rel"][r]), float(t["rel_mcse"][r]), estimand=name)
                add("rmse", float(t["rmse"][r]), float(t["rmse_mcse"][r]), estimand=name)
                if f"cover_{name}" in st:
                    p, pse = _prop(st[f"cover_{name}"], st["n_ci"])
                    add("coverage", p, pse, estimand=name)
            for measure, value, mcse in error_quantile_rows(st.get("ehist", {})):
                add(measure, value, mcse, estimand="limit")
            if st.get("n_ci"):
                k = st["n_ci"]
                w = st["w1"] / k
                wv = (st["w2"] - st["w1"] ** 2 / k) / (k - 1) if k > 1 else nan
                add("ci_width", w, math.sqrt(max(wv, 0.0) / k) if wv == wv else nan)
            for val, cnt in sorted(st.get("dist", {}).items()):
                p, pse = _prop(cnt, int(n))
                add("probability", p, pse, at=val)
            for k, v in st.items():
                if k.startswith("rule:"):
                    p, pse = _prop(*v)
                    add("rejection_rate", p, pse, rule=k[len("rule:"):])
        m = len(c_value) - start
        c_contrast.extend([key[0]] * m)
        c_metric.extend([key[1]] * m)
        c_scope.extend([key[2]] * m)
        owner.extend([i] * m)
    return cols, np.asarray(owner, dtype=np.int64)


def measures_from_stats(stats: dict, estimands: dict) -> list[dict]:
    """Tidy rows ``{contrast, metric, scope, measure, estimand, at, rule, value, mcse}``
    of one condition (see :func:`measures_table`, which computes many at once)."""
    cols, _ = measures_table([stats], [estimands])
    return [dict(zip(COLUMNS, row)) for row in zip(*(cols[c] for c in COLUMNS))]
