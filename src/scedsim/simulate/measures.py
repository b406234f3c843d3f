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

__all__ = ["Rule", "parse_rules", "count_values", "block_stats", "add_stats", "measures_from_stats"]

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


def error_quantile_rows(hist: dict) -> list[tuple[str, float, float]]:
    """``(measure, value, mcse)`` for ``median_error``, ``median_abs_error`` and
    ``error_iqr`` from an error histogram (see :data:`ERROR_BIN`).

    The IQR's MCSE combines the two quartiles' MCSEs s1, s3 with their asymptotic
    correlation, q1 (1 - q3) / sqrt(q1 (1 - q1) q3 (1 - q3)) = 1/3:
    sqrt(s1^2 + s3^2 - 2/3 s1 s3).
    """
    if not hist:
        return []
    bins = np.array(sorted(hist), dtype=np.int64)
    cum = np.cumsum([hist[b] for b in bins])
    med, med_se = _quantile_and_mcse(bins, cum, 0.5)
    q1, s1 = _quantile_and_mcse(bins, cum, 0.25)
    q3, s3 = _quantile_and_mcse(bins, cum, 0.75)
    # |error|: bin b >= 0 covers [b, b + 1) bins, bin b < 0 maps to |.| bin -b - 1.
    ab: dict = {}
    for b, c in hist.items():
        k = b if b >= 0 else -b - 1
        ab[k] = ab.get(k, 0) + c
    abins = np.array(sorted(ab), dtype=np.int64)
    acum = np.cumsum([ab[b] for b in abins])
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
        st = {"n_total": x2.size, "n": sums[0].copy(), "centre": centre,
              "s1": sums[1].copy(), "s2": sums[2].copy(), "s3": sums[3].copy(), "s4": sums[4].copy()}
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
        if key[1] in robust and key[2] in ("case", "mean") and ok.any():
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


def add_stats(total: dict, block: dict) -> dict:
    """Add one block's statistics into ``total`` (in place), in a fixed order."""
    for key, st in block.items():
        if key not in total:
            total[key] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in st.items()}
            continue
        tot = total[key]
        for k, v in st.items():
            if k == "centre":
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


def _prop(count: int, n: int):
    if n == 0:
        return math.nan, math.nan
    p = count / n
    return p, math.sqrt(p * (1 - p) / n)


def _sum_about(st: dict, k: int, target) -> float:
    """Sum over all values of (x - target_c)^k from the per-case power sums about the
    centres: x - target = (x - centre) + h, h = centre - target."""
    h = st["centre"] - target
    pw = [st["n"], st["s1"], st["s2"], st["s3"], st["s4"]]
    total = np.zeros_like(h)
    for j in range(k + 1):
        total = total + math.comb(k, j) * h ** (k - j) * pw[j]
    return float(total.sum())


def measures_from_stats(stats: dict, estimands: dict) -> list[dict]:
    """Tidy rows ``{contrast, metric, scope, measure, estimand, at, rule, value, mcse}``."""
    rows = []

    def add(key, measure, value, mcse, estimand="", at=np.nan, rule=""):
        rows.append(dict(contrast=key[0], metric=key[1], scope=key[2], measure=measure, estimand=estimand,
                         at=at, rule=rule, value=value, mcse=mcse))

    order = {"case": 0, "mean": 1, "pooled": 2, "edgington": 3, "count": 4, "replication": 5}
    for key in sorted(stats, key=lambda k: (k[0], k[1], order.get(k[2], 5))):
        st = stats[key]
        n = float(np.sum(st["n"]))
        add(key, "n", n, 0.0)
        add(key, "valid_share", n / st["n_total"] if st["n_total"] else math.nan, 0.0)
        if n == 0:
            continue
        mean = _sum_about(st, 1, 0.0) / n
        s2 = _sum_about(st, 2, mean)
        var = s2 / (n - 1) if n > 1 else math.nan
        sd = math.sqrt(max(var, 0.0)) if n > 1 else math.nan
        se_mean = sd / math.sqrt(n) if n > 1 else math.nan
        add(key, "mean", mean, se_mean)
        # MCSE of the SD by the delta method with the sample kurtosis (not normal theory).
        m2, m4 = s2 / n, _sum_about(st, 4, mean) / n
        sd_mcse = math.sqrt(max(m4 - m2 * m2, 0.0) / (4 * n * m2)) if n > 1 and m2 > 0 else math.nan
        add(key, "empirical_se", sd, sd_mcse)
        est = estimands.get(key, {})
        n_cols = np.size(st["n"])
        weights = np.asarray(st["n"], dtype=np.float64)
        for name in ("limit", "design"):
            theta = _targets(est, name, n_cols)
            if theta is None:
                continue
            t_mcse = est.get(f"{name}_mcse", 0.0) or 0.0
            t_mcse = t_mcse if t_mcse == t_mcse else 0.0
            theta_bar = float((weights * theta).sum() / n)
            add(key, "estimand", theta_bar, t_mcse, estimand=name)
            e1 = _sum_about(st, 1, theta) / n
            e2 = _sum_about(st, 2, theta) / n
            e4 = _sum_about(st, 4, theta) / n
            var_d = max(e2 - e1 * e1, 0.0) * n / (n - 1) if n > 1 else math.nan
            b_mcse = math.sqrt(var_d / n + t_mcse ** 2) if n > 1 else math.nan
            add(key, "bias", e1, b_mcse, estimand=name)
            if theta_bar != 0:
                add(key, "relative_bias", e1 / theta_bar, b_mcse / abs(theta_bar), estimand=name)
            rmse = math.sqrt(max(e2, 0.0))
            add(key, "rmse", rmse, math.sqrt(max(e4 - e2 * e2, 0.0) / n) / (2 * rmse) if rmse > 0 else math.nan,
                estimand=name)
            if f"cover_{name}" in st:
                p, pse = _prop(st[f"cover_{name}"], st["n_ci"])
                add(key, "coverage", p, pse, estimand=name)
        for measure, value, mcse in error_quantile_rows(st.get("ehist", {})):
            add(key, measure, value, mcse, estimand="limit")
        if st.get("n_ci"):
            k = st["n_ci"]
            w = st["w1"] / k
            wv = (st["w2"] - st["w1"] ** 2 / k) / (k - 1) if k > 1 else math.nan
            add(key, "ci_width", w, math.sqrt(max(wv, 0.0) / k) if wv == wv else math.nan)
        for val, cnt in sorted(st.get("dist", {}).items()):
            p, pse = _prop(cnt, int(n))
            add(key, "probability", p, pse, at=val)
        for k, v in st.items():
            if k.startswith("rule:"):
                p, pse = _prop(*v)
                add(key, "rejection_rate", p, pse, rule=k[len("rule:"):])
    return rows
