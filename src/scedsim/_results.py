"""Result objects returned by the effect-size functions."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np


def _fmt(x) -> str:
    return "nan" if x != x else f"{x:.4g}"


@dataclass(frozen=True, repr=False, eq=False)
class EffectSize:
    """An effect size for one series (float fields) or a batch (1-D array fields).

    Attributes
    ----------
    metric : str
        Name of the metric, e.g. ``"NAP"``.
    estimate, se, ci_lower, ci_upper : float or numpy.ndarray
        The estimate, its standard error and confidence bounds.  A field the
        metric does not define is NaN.
    n_a, n_b : int
        Number of points in the baseline and comparison phases.
    improvement : str
        ``"increase"`` or ``"decrease"``: the direction that counts as better.
    options : dict
        The options that shaped the value (SE type, method, ...).
    """

    metric: str
    estimate: Any
    se: Any
    ci_lower: Any
    ci_upper: Any
    n_a: int
    n_b: int
    improvement: str = "increase"
    options: dict = field(default_factory=dict)

    @property
    def is_batch(self) -> bool:
        return isinstance(self.estimate, np.ndarray)

    def as_dict(self) -> dict:
        """The fields as a plain dict (arrays stay arrays)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        if self.improvement != "increase":
            opts = f", improvement={self.improvement!r}" + opts
        if self.is_batch:
            est = np.asarray(self.estimate)
            return (f"{self.metric}(batch of {est.size} series, n_a={self.n_a}, n_b={self.n_b}, "
                    f"mean estimate={_fmt(float(np.nanmean(est)) if est.size else float('nan'))}"
                    f"{opts})")
        extra = "".join(f", {name}={_fmt(getattr(self, name))}" for name in self._extra_repr())
        return (f"{self.metric}(estimate={_fmt(self.estimate)}, se={_fmt(self.se)}, "
                f"ci=[{_fmt(self.ci_lower)}, {_fmt(self.ci_upper)}]{extra}, "
                f"n_a={self.n_a}, n_b={self.n_b}{opts})")

    def _extra_repr(self):
        return ()


@dataclass(frozen=True, repr=False, eq=False)
class TauBCResult(EffectSize):
    """Tau-BC, plus the baseline fit behind it.

    Attributes
    ----------
    slope, intercept : float or numpy.ndarray
        Theil-Sen slope and median intercept of phase A against times 1..m, in
        the data's original orientation (not negated for ``"decrease"``).
    pretest_pvalue : float or numpy.ndarray
        Two-sided Mann-Kendall p-value of the baseline trend (NaN without a pretest).
    corrected : bool or numpy.ndarray
        Whether the baseline trend was removed.
    """

    slope: Any = np.nan
    intercept: Any = np.nan
    pretest_pvalue: Any = np.nan
    corrected: Any = True

    def _extra_repr(self):
        return ("slope", "intercept") + (("pretest_pvalue",) if self.options.get("pretest_alpha") is not None else ())


def make(cls, out: np.ndarray, is_1d: bool, **kw):
    """Build a result from a kernel's ``(fields, rows)`` output.

    The first four rows of ``out`` are estimate, se, ci_lower, ci_upper; missing
    rows are NaN.  1-D calls get floats; batches get read-only arrays.
    """
    vals = []
    for k in range(4):
        if k < out.shape[0]:
            v = out[k]
        else:
            # A field the metric does not define: a read-only NaN view, no allocation.
            v = np.broadcast_to(np.float64(np.nan), (out.shape[1],))
        vals.append(_unwrap(v, is_1d))
    return cls(kw.pop("metric"), *vals, **kw)


def _unwrap(v: np.ndarray, is_1d: bool):
    if is_1d:
        return float(v[0])
    if v.flags.writeable:
        v.flags.writeable = False
    return v
