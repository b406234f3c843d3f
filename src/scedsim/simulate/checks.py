"""Facts a study's results must reproduce, declared in the study itself.

A study file lists them as ``[[check]]`` tables; ``scedsim report`` compares
each with the matching rows of the summary.  The generic report assumes
nothing about the design: the facts belong to the study (e.g. the exact null
distribution of robust IRD for 3 + 4 points)::

    [[check]]
    name = "E[IRD] = 11/30 under no effect"
    where = { design = "A3 B4", model = "normal_ar1", phi = 0.0, level = 0.0 }
    metric = "ird"              # the metric's label in the summary
    measure = "mean"            # scope defaults to "case", contrast to every contrast
    expected = "11/30"          # a number or a fraction

    [[check]]
    name = "P(IRD = 1/8) = 14/35"
    where = { design = "A3 B4", phi = 0.0, level = 0.0 }
    metric = "ird"
    measure = "probability"
    at = 0.125
    expected = "14/35"

    [[check]]
    name = "a 7-point randomization test cannot go below p = 1/4"
    metric = "p_rand_mean_diff"
    measure = "min_pvalue"
    compare = ">="
    expected = 0.25

``where`` may also be a :meth:`pandas.DataFrame.query` string (python engine),
e.g. ``"phi == 0 and level == 0 and slope.isna()"`` for conditions that do not
set a parameter.  ``compare`` is ``"mcse"`` (default: agreement within ``z`` MCSE, so exact
values with MCSE 0 must agree to 1e-12), ``">="`` or ``"<="``.  Every matching
row is checked on its own; a check that matches no row fails, so a typo cannot
pass silently.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd

__all__ = ["check_list", "run_checks"]

_KEYS = {"name", "where", "contrast", "metric", "scope", "measure", "estimand", "at", "rule", "expected", "compare"}
_COMPARE = ("mcse", ">=", "<=")


def _number(v, what: str) -> float:
    if isinstance(v, str):
        try:
            return float(Fraction(v.replace(" ", "")))
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{what} must be a number or a fraction such as '11/30', got {v!r}") from None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{what} must be a number or a fraction such as '11/30', got {v!r}")
    return float(v)


def check_list(checks) -> list[dict]:
    """Validate ``[[check]]`` tables; returns them with ``expected`` as a float."""
    if isinstance(checks, dict):
        checks = [checks]
    out = []
    for i, c in enumerate(checks or ()):
        if not isinstance(c, dict):
            raise ValueError(f"check {i + 1} must be a table (mapping), got {c!r}")
        label = c.get("name", f"check {i + 1}")
        unknown = set(c) - _KEYS
        if unknown:
            raise ValueError(f"check {label!r} has unknown key(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sorted(_KEYS))}")
        for k in ("name", "metric", "measure", "expected"):
            if k not in c:
                raise ValueError(f"check {label!r} needs {k!r}")
        compare = c.get("compare", "mcse")
        if compare not in _COMPARE:
            raise ValueError(f"check {label!r}: compare must be one of {', '.join(_COMPARE)}, got {compare!r}")
        where = c.get("where", {})
        if not isinstance(where, (dict, str)):
            raise ValueError(f"check {label!r}: where must be a table of column = value or a query string, "
                             f"got {where!r}")
        d = dict(c, where=where if isinstance(where, str) else dict(where), compare=compare, expected=_number(c["expected"], f"check {label!r}: expected"))
        if "at" in c:
            d["at"] = _number(c["at"], f"check {label!r}: at")
        out.append(d)
    return out


def run_checks(summary: pd.DataFrame, checks, z: float = 4.0) -> list[dict]:
    """Compare the summary rows each check selects with its expected value.

    Returns one dict per checked row (``check, expected, observed, mcse,
    agrees``); a check that selects no row gives one row with ``agrees=False``.
    """
    rows = []
    s = summary
    for c in check_list(checks):
        mask = pd.Series(True, index=s.index)
        if isinstance(c["where"], str):
            try:
                mask &= s.index.isin(s.query(c["where"], engine="python").index)
            except Exception as exc:  # noqa: BLE001 - pandas raises many kinds
                raise ValueError(f"check {c['name']!r}: where {c['where']!r} is not a valid query: {exc}") from None
        for col, val in ({} if isinstance(c["where"], str) else c["where"]).items():
            if col not in s.columns:
                raise ValueError(f"check {c['name']!r}: where names {col!r}, which is not a column of the "
                                 f"summary; columns: {', '.join(map(str, s.columns))}")
            mask &= s[col] == val
        for col in ("contrast", "metric", "measure", "estimand", "rule"):
            if col in c:
                mask &= s[col] == c[col]
        mask &= s["scope"] == c.get("scope", "case")
        if "at" in c:
            mask &= np.isclose(s["at"].astype(float), c["at"], rtol=0, atol=1e-9)
        hit = s[mask].dropna(subset=["value"])
        if not len(hit):
            rows.append(dict(check=c["name"], expected=c["expected"], observed=np.nan, mcse=np.nan, agrees=False))
            continue
        for r in hit.itertuples(index=False):
            v, se = float(r.value), float(r.mcse) if r.mcse == r.mcse else 0.0
            if c["compare"] == ">=":
                ok = v >= c["expected"] - 1e-12
            elif c["compare"] == "<=":
                ok = v <= c["expected"] + 1e-12
            else:
                ok = abs(v - c["expected"]) <= z * se + 1e-12
            where = f" (n_cases = {r.n_cases:g})" if hasattr(r, "n_cases") and r.n_cases == r.n_cases else ""
            rows.append(dict(check=c["name"] + where, expected=c["expected"], observed=v, mcse=se, agrees=bool(ok)))
    return rows
