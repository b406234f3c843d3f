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


@dataclass(frozen=True)
class Rule:
    """A decision rule such as ``"ird >= 0.7"`` or ``"nap.ci_lower > 0.5"``.

    The left side names a metric label (optionally a field of it), the right
    side a number.  The rejection rate is the share of defined values for which
    the rule holds.
    """

    text: str
    metric: str
    field: str
    op: str
    value: float
    inner: "Rule | None" = None

    @classmethod
    def parse(cls, text) -> "Rule":
        if isinstance(text, Rule):
            return text
        text = " ".join(str(text).split())
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
    """Parse decision rules and check them against the study's metric specs."""
    out = tuple(Rule.parse(r) for r in (rules or ()))
    by_label = {s.label: s for s in specs}
    for rule in out:
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
    """Count and sums of (x - centre)^k, k = 1..4, over the non-NaN entries of ``x`` (one pass)."""
    n = 0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    for i in range(x.shape[0]):
        v = x[i]
        if v == v:
            d = v - centre
            d2 = d * d
            n += 1
            s1 += d
            s2 += d2
            s3 += d2 * d
            s4 += d2 * d2
    out[0] = n
    out[1] = s1
    out[2] = s2
    out[3] = s3
    out[4] = s4


_power_sums = kernel(_power_sums_python)


def _value_counts(x: np.ndarray) -> dict:
    """Counts of the distinct values of ``x`` (NaN-free); values are rounded to 10
    decimals first, since discrete metrics take rational values up to float noise."""
    vals, counts = np.unique(np.round(x, 10), return_counts=True)
    return dict(zip(vals.tolist(), counts.tolist()))


def block_stats(values: dict, estimands: dict, rules, discrete: set) -> dict:
    """Additive statistics of one block.

    ``values`` maps ``(contrast, label, level)`` to a dict with ``estimate`` (1-D)
    and, at case level, ``ci_lower``, ``ci_upper`` and the other fields.
    """
    out = {}
    for key, fields_ in values.items():
        x_all = np.ascontiguousarray(fields_["estimate"], dtype=np.float64)
        est = estimands.get(key, {})
        centre = est.get("limit", 0.0)
        centre = centre if centre is not None and math.isfinite(centre) else 0.0
        sums = np.empty(5)
        _power_sums(x_all, float(centre), sums)
        st = {"n_total": x_all.size, "n": int(sums[0]), "centre": centre,
              "s1": float(sums[1]), "s2": float(sums[2]), "s3": float(sums[3]), "s4": float(sums[4])}
        need_x = "ci_lower" in fields_ or (key[1] in discrete and key[2] == "case") or key[2] == "count"
        ok = ~np.isnan(x_all) if need_x else None
        x = x_all[ok] if need_x else None
        if "ci_lower" in fields_:
            lo, hi = fields_["ci_lower"][ok], fields_["ci_upper"][ok]
            ci_ok = ~(np.isnan(lo) | np.isnan(hi))
            if ci_ok.any():
                lo, hi = lo[ci_ok], hi[ci_ok]
                w = hi - lo
                st["n_ci"] = int(ci_ok.sum())
                st["w1"] = float(w.sum())
                st["w2"] = float((w * w).sum())
                for name in ("limit", "design"):
                    theta = est.get(name)
                    if theta is not None and math.isfinite(theta):
                        st[f"cover_{name}"] = int(((lo <= theta) & (theta <= hi)).sum())
        if (key[1] in discrete and key[2] == "case" or key[2] == "count") and x.size:
            st["dist"] = _value_counts(x)
        for r in rules:
            if r.metric != key[1]:
                continue
            col = fields_.get(r.field)
            if col is None:
                continue
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
            if k == "dist":
                dd = tot.setdefault("dist", {})
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


def measures_from_stats(stats: dict, estimands: dict) -> list[dict]:
    """Tidy rows ``{contrast, metric, scope, measure, estimand, at, rule, value, mcse}``."""
    rows = []

    def add(key, measure, value, mcse, estimand="", at=np.nan, rule=""):
        rows.append(dict(contrast=key[0], metric=key[1], scope=key[2], measure=measure, estimand=estimand,
                         at=at, rule=rule, value=value, mcse=mcse))

    for key in sorted(stats, key=lambda k: (k[0], k[1], {"case": 0, "mean": 1, "pooled": 2, "edgington": 3, "count": 4}.get(k[2], 5))):
        st = stats[key]
        n, c = st["n"], st["centre"]
        add(key, "n", float(n), 0.0)
        add(key, "valid_share", n / st["n_total"] if st["n_total"] else math.nan, 0.0)
        if n == 0:
            continue
        m1 = st["s1"] / n
        mean = c + m1
        var = (st["s2"] - st["s1"] ** 2 / n) / (n - 1) if n > 1 else math.nan
        var = max(var, 0.0) if var == var else var
        sd = math.sqrt(var) if var == var else math.nan
        se_mean = sd / math.sqrt(n) if n > 1 else math.nan
        add(key, "mean", mean, se_mean)
        add(key, "empirical_se", sd, sd / math.sqrt(2 * (n - 1)) if n > 1 else math.nan)
        est = estimands.get(key, {})
        for name in ("limit", "design"):
            theta = est.get(name)
            if theta is None or not math.isfinite(theta):
                continue
            t_mcse = est.get(f"{name}_mcse", 0.0) or 0.0
            add(key, "estimand", theta, t_mcse, estimand=name)
            bias = mean - theta
            b_mcse = math.sqrt(se_mean ** 2 + t_mcse ** 2) if se_mean == se_mean else math.nan
            add(key, "bias", bias, b_mcse, estimand=name)
            if theta != 0:
                add(key, "relative_bias", bias / theta, b_mcse / abs(theta), estimand=name)
            # Moments of d = x - theta from the power sums about the centre: x - theta = (x - c) + h.
            h = c - theta
            s1, s2, s3, s4 = st["s1"], st["s2"], st["s3"], st["s4"]
            e2 = (s2 + 2 * h * s1 + n * h * h) / n
            e4 = (s4 + 4 * h * s3 + 6 * h * h * s2 + 4 * h ** 3 * s1 + n * h ** 4) / n
            rmse = math.sqrt(max(e2, 0.0))
            var_d2 = max(e4 - e2 * e2, 0.0)
            add(key, "rmse", rmse, math.sqrt(var_d2 / n) / (2 * rmse) if rmse > 0 else math.nan, estimand=name)
            if f"cover_{name}" in st:
                p, pse = _prop(st[f"cover_{name}"], st["n_ci"])
                add(key, "coverage", p, pse, estimand=name)
        if st.get("n_ci"):
            k = st["n_ci"]
            w = st["w1"] / k
            wv = (st["w2"] - st["w1"] ** 2 / k) / (k - 1) if k > 1 else math.nan
            add(key, "ci_width", w, math.sqrt(max(wv, 0.0) / k) if wv == wv else math.nan)
        for val, cnt in sorted(st.get("dist", {}).items()):
            p, pse = _prop(cnt, n)
            add(key, "probability", p, pse, at=val)
        for k, v in st.items():
            if k.startswith("rule:"):
                p, pse = _prop(*v)
                add(key, "rejection_rate", p, pse, rule=k[len("rule:"):])
    return rows
