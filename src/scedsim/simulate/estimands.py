"""What each metric should be compared with: its large-sample limit and its
expectation at the design's own phase lengths.

* ``limit``: the value the metric tends to as both phases grow with their ratio
  fixed.  Analytic where known (a normal level shift with stationary errors,
  see :func:`analytic_limit`); otherwise the mean of a large simulation with
  every phase ``LONG_FACTOR`` times longer (reported as ``kind="long_run"``).
* ``design``: the expectation at the design's own phase lengths, from one large
  simulation with its own seed.

Simulated estimands are cached on disk (``SCEDSIM_CACHE_DIR``, default
``~/.cache/scedsim``), keyed by a hash of everything that defines them.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
from statistics import NormalDist

import numpy as np

from .analysis import MetricSpec, analyze_block, case_summaries
from .design import Contrast, Design
from .models import Model, NormalAR1

__all__ = ["analytic_limit", "compute_estimands", "cache_dir"]

CACHE_VERSION = 1
LONG_TOTAL = 140        # occasions per case in the long-run simulation (about)
LONG_REPS = 2_000       # case-series in the long-run simulation
_PHI = NormalDist().cdf


def cache_dir() -> pathlib.Path:
    root = os.environ.get("SCEDSIM_CACHE_DIR")
    return pathlib.Path(root) if root else pathlib.Path.home() / ".cache" / "scedsim"


# --------------------------------------------------------------------------- analytic limits

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(40)  # E[f(Z)] for Z ~ N(0, 1)
_GH_W = _GH_W / _GH_W.sum()


def _pand_limit(delta: float, s: float, pi: float) -> float:
    """max over c of pi P(A <= c) + (1 - pi) P(B > c) for A ~ N(0, s^2), B ~ N(delta, s^2)."""
    best = max(pi, 1.0 - pi)  # keep everything of one phase (c -> +-inf)
    if delta != 0.0:
        c = delta / 2.0 + s * s * math.log(pi / (1.0 - pi)) / delta
        best = max(best, pi * _PHI(c / s) + (1.0 - pi) * (1.0 - _PHI((c - delta) / s)))
    return best


def analytic_limit(model: Model, params: dict, spec: MetricSpec, design: Design, contrast: Contrast,
                   case: int) -> float | None:
    """Large-sample limit of a metric for one case, where it is known in closed form.

    Known for :class:`NormalAR1` with no trend and no slope change (random
    effects and measurement error allowed), where the phases' marginal
    distributions are N(0, s^2) and N(delta, s^2) whatever phi is:

    * NAP = Phi(delta / sqrt(2 s^2 + tau^2)) (tau: SD of delta across cases), Tau = 2 NAP - 1;
    * PEM and PET = Phi(delta / sqrt(s^2 + tau^2)); PND = 0 (max(A) grows without bound);
    * PAND = max_c [pi Phi(c/s) + (1 - pi)(1 - Phi((c - delta)/s))], pi = m/(m + n),
      averaged over delta; robust IRD = 1 - (1 - PAND) / (2 pi (1 - pi));
    * SMD = delta / s; Tau-U (``ab``, or ``ab_minus_trend_a`` with the Parker
      denominator) and Tau-BC = Tau; Kendall's Tau-BC = Tau sqrt(2 pi (1 - pi)).

    Returns None where no closed form is implemented.
    """
    if not isinstance(model, NormalAR1) or type(model) is not NormalAR1:
        return None
    p = model.params(params)
    if float(p["trend"]) != 0.0 or float(p["slope"]) != 0.0:
        return None
    _, unit = model.units(p)
    phi = float(p["phi"])
    sigma_m = float(p["sd"]) if p["scale"] == "marginal" else float(p["sd"]) / math.sqrt(1 - phi * phi)
    s = math.sqrt(sigma_m ** 2 + (float(p["me_sd"]) * unit) ** 2)
    delta = float(p["level"]) * unit
    tau_sd = float(p["effect_sd"]) * unit
    ia, ib = design.indices(contrast, case)
    pi = ia.size / (ia.size + ib.size)
    # Phases must be a baseline versus treatment phases for a level-shift limit.
    codes = design.phase_codes()[case]
    if np.any(codes[ia] != 0) or np.any(codes[ib] == 0):
        return None
    nap = _PHI(delta / math.sqrt(2 * s * s + tau_sd ** 2))
    tau = 2 * nap - 1
    name, opt = spec.name, spec.options
    if name == "nap":
        return nap
    if name == "tau":
        return tau
    if name in ("pem", "pet"):
        return _PHI(delta / math.sqrt(s * s + tau_sd ** 2))
    if name == "pnd":
        return 0.0
    if name in ("pand", "ird"):
        deltas = delta + tau_sd * _GH_X if tau_sd > 0 else np.array([delta])
        weights = _GH_W if tau_sd > 0 else np.array([1.0])
        pand = float(sum(w * _pand_limit(float(d), s, pi) for d, w in zip(deltas, weights)))
        return pand if name == "pand" else 1.0 - (1.0 - pand) / (2.0 * pi * (1.0 - pi))
    if name == "smd":
        return delta / s
    if name == "tau_u":
        method = opt.get("method", "parker")
        contrast_u = opt.get("contrast", "ab_minus_trend_a")
        if contrast_u == "ab" or (contrast_u == "ab_minus_trend_a" and method == "parker"):
            return tau
        return None
    if name == "tau_bc":
        if opt.get("kendall", False):
            return tau * math.sqrt(2 * pi * (1 - pi))
        return tau
    return None


# --------------------------------------------------------------------------- simulated estimands

def _key(*parts) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _long_design(design: Design) -> tuple[Design, int]:
    factor = max(2, math.ceil(LONG_TOTAL / design.n_time))
    phases = tuple(tuple((lab, n * factor) for lab, n in case) for case in design.phases)
    return Design(phases, design.contrasts), factor


def _simulate_means(model, params, design, contrasts, specs, improvement, seed_seq, n_series, block=None):
    """Mean and MCSE of every metric and summary level over ``n_series`` case-series."""
    n_reps = max(1, math.ceil(n_series / design.n_cases))
    block = block or max(1, 20_000 // design.n_cases)
    sums: dict = {}
    children = seed_seq.spawn(math.ceil(n_reps / block))
    done = 0
    for child in children:
        k = min(block, n_reps - done)
        done += k
        y = model.generate(design, params, np.random.default_rng(child), k)
        res = analyze_block(y, design, contrasts, specs, improvement)
        for (c, label), r in res.items():
            _acc(sums, (c, label, "case"), r["estimate"].ravel())
        for key, v in case_summaries(res, specs).items():
            _acc(sums, key, v)
    out = {}
    for key, (n, s1, s2) in sums.items():
        if n == 0:
            out[key] = (math.nan, math.nan)
            continue
        mean = s1 / n
        var = max(s2 / n - mean * mean, 0.0) * n / max(n - 1, 1)
        out[key] = (mean, math.sqrt(var / n))
    return out


def _acc(sums, key, x):
    x = x[~np.isnan(x)]
    n, s1, s2 = sums.get(key, (0, 0.0, 0.0))
    sums[key] = (n + x.size, s1 + float(x.sum()), s2 + float((x * x).sum()))


def compute_estimands(model: Model, params: dict, design: Design, contrasts, specs, improvement: str,
                      seed: int, condition_key: str, n_design: int = 100_000, use_cache: bool = True) -> dict:
    """Estimands for one condition.

    Returns ``{(contrast, label, level): {"limit": value, "limit_mcse": ...,
    "limit_kind": "analytic" | "long_run", "design": value, "design_mcse": ...}}``.
    """
    cache_file = None
    key = _key(CACHE_VERSION, model.name, params, design.describe(), design.n_cases,
               [str(c) for c in contrasts], [(s.name, s.options, s.label) for s in specs], improvement,
               seed, condition_key, n_design, LONG_TOTAL, LONG_REPS)
    if use_cache:
        cache_file = cache_dir() / "estimands" / f"{key}.json"
        if cache_file.exists():
            try:
                raw = json.loads(cache_file.read_text())
                return {tuple(k.split("\x1f")): v for k, v in raw.items()}
            except (OSError, ValueError):
                pass
    root = np.random.SeedSequence([seed, 0x5EED, int(key[:8], 16)])
    design_seq, long_seq = root.spawn(2)
    at_design = _simulate_means(model, params, design, contrasts, specs, improvement, design_seq, n_design)
    need_long = {}
    analytic = {}
    for c in contrasts:
        for s in specs:
            vals = [analytic_limit(model, params, s, design, c, k) for k in range(design.n_cases)]
            if all(v is not None for v in vals):
                analytic[(str(c), s.label)] = vals
            else:
                need_long[(str(c), s.label)] = True
    long_means = {}
    if need_long:
        long_design, _ = _long_design(design)
        long_specs = [s for s in specs if any(k[1] == s.label for k in need_long)]
        long_means = _simulate_means(model, params, long_design, contrasts, long_specs, improvement,
                                     long_seq, LONG_REPS)
    out = {}
    for key_, (mean, mcse) in at_design.items():
        c, label, level = key_
        entry = {"design": mean, "design_mcse": mcse}
        if (c, label) in analytic:
            vals = analytic[(c, label)]
            if level == "pooled":
                from ..effect_sizes import pooled_ird
                ms = [design.indices(c, k)[0].size for k in range(design.n_cases)]
                ns = [design.indices(c, k)[1].size for k in range(design.n_cases)]
                lim = float(pooled_ird(np.array(vals), np.array(ms), np.array(ns)))
            else:
                lim = float(np.mean(vals))
            entry.update(limit=lim, limit_mcse=0.0, limit_kind="analytic")
        else:
            lm, lmc = long_means.get(key_, (math.nan, math.nan))
            entry.update(limit=lm, limit_mcse=lmc, limit_kind="long_run")
        out[key_] = entry
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"\x1f".join(k): v for k, v in out.items()}))
            tmp.replace(cache_file)
        except OSError:
            pass  # a read-only home: estimands are simply recomputed next time
    return out
