"""What each metric should be compared with: its large-sample limit and its
expectation at the design's own phase lengths.

* ``limit``: the value the metric tends to as both phases grow with their ratio
  fixed.  Analytic where known (a normal level shift with stationary errors,
  see :func:`analytic_limit`); otherwise the mean of a large simulation with
  every phase ``LONG_FACTOR`` times longer (reported as ``kind="long_run"``).
* ``design``: the expectation at the design's own phase lengths, from one large
  simulation with its own seed.

Both describe the treatment effect.  The validity threats a built-in model can
add (a shock shared by the cases, ``shock``/``shock_sd``/``shock_at``; selection
on the first score, ``select``) are left out of them (:data:`THREATS`), so that
the bias of an estimate shows what the threat does to it.  Everything else
(trends, onsets, outliers, random effects, measurement error) is part of the
model and stays in.

Simulated estimands are cached on disk (``SCEDSIM_CACHE_DIR``, default
``~/.cache/scedsim``), keyed by a hash of everything that defines them.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib

import numpy as np

from .analysis import MetricSpec, analyze_block, case_summaries
from .design import Contrast, Design
from ..registry import NormalShift, code_fingerprint
from .models import BoundedScale, Model, NormalAR1, Poisson, model_identity

__all__ = ["analytic_limit", "across_limit", "compute_estimands", "cache_dir", "THREATS", "target_params"]

#: Parameters of the built-in models that add a threat to validity, not an effect: a
#: shock shared by the cases (history) and selection on the first score (regression to
#: the mean).  The estimands are computed without them.
THREATS = ("shock", "shock_sd", "shock_at", "select")

_STREAM_SALT = 3
LONG_TOTAL = 400        # occasions per case in the long-run simulation (about)
LONG_REPS = 1_000       # case-series in the long-run simulation


def cache_dir() -> pathlib.Path:
    root = os.environ.get("SCEDSIM_CACHE_DIR")
    return pathlib.Path(root) if root else pathlib.Path.home() / ".cache" / "scedsim"


def target_params(model: Model, params: dict) -> dict:
    """``params`` without the validity threats (:data:`THREATS`) for a built-in model:
    the parameters whose treatment effect the estimands describe.  A user's model
    (a callable) keeps every parameter, whatever its names mean there."""
    if not isinstance(model, (NormalAR1, Poisson, BoundedScale)) or not any(k in params for k in THREATS):
        return params
    return {k: v for k, v in params.items() if k not in THREATS}


# --------------------------------------------------------------------------- analytic limits

def analytic_limit(model: Model, params: dict, spec: MetricSpec, design: Design, contrast: Contrast,
                   case: int, improvement: str = "increase") -> float | None:
    """Large-sample limit of a metric for one case, where it is known in closed form.

    Known for :class:`NormalAR1` with no trend and no slope change (random
    effects and measurement error allowed), where the phases' marginal
    distributions are N(0, s^2) and N(delta, s^2) whatever phi is.  The value
    comes from the metric's registry entry (``Metric.limit``), given the
    :class:`~scedsim.registry.NormalShift` quantities; for example

    * NAP = Phi(delta / sqrt(2 s^2 + tau^2)) (tau: SD of delta across cases), Tau = 2 NAP - 1;
    * PEM and PET = Phi(delta / sqrt(s^2 + tau^2)); PND = 0 (max(A) grows without bound);
    * PAND = max_c [pi Phi(c/s) + (1 - pi)(1 - Phi((c - delta)/s))], pi = m/(m + n),
      averaged over delta; robust IRD = 1 - (1 - PAND) / (2 pi (1 - pi));
    * SMD = delta / s; Tau-U (``ab``, or ``ab_minus_trend_a`` with the Parker
      denominator) and Tau-BC = Tau; Kendall's Tau-BC = Tau sqrt(2 pi (1 - pi)).

    ``improvement="decrease"`` negates delta, as the metrics negate the data.
    Returns None where no closed form is known, NaN where the metric has no
    meaningful limit.

    A gradual onset (``onset`` > 0) leaves the limit unchanged: the level
    effect after j treatment occasions is ``level (1 - onset^(j+1))``, so the
    share of treatment points not yet within any epsilon of the full effect
    tends to 0 as the phases grow, and the limit is that of the full level
    shift.  The finite-phase attenuation is what the ``design`` estimand (the
    expectation at the design's own phase lengths) measures.  Outlier
    contamination (``outlier_rate`` > 0) makes the phases' distributions normal
    mixtures, for which no closed form is used: None (the limit is simulated
    at about ``LONG_TOTAL`` occasions).  A shared shock and selection on the first
    score are threats, not effects (:data:`THREATS`): the limit is the one
    without them.
    """
    if spec.is_test or not isinstance(model, NormalAR1) or type(model) is not NormalAR1:
        return None
    limit = spec.entry.limit
    if limit is None:
        return None
    p = model.params(target_params(model, params))
    if float(p["trend"]) != 0.0 or float(p["slope"]) != 0.0 or float(p.get("outlier_rate", 0.0)) > 0:
        return None
    _, unit = model.units(p)
    phi = float(p["phi"])
    sigma_m = float(p["sd"]) if p["scale"] == "marginal" else float(p["sd"]) / math.sqrt(1 - phi * phi)
    s = math.sqrt(sigma_m ** 2 + (float(p["me_sd"]) * unit) ** 2)
    delta = float(p["level"]) * unit
    if improvement == "decrease":
        delta = -delta  # the metrics see negated data
    ia, ib = design.indices(contrast, case)
    # Phases must be a baseline versus treatment phases for a level-shift limit.
    codes = design.phase_codes()[case]
    if np.any(codes[ia] != 0) or np.any(codes[ib] == 0):
        return None
    q = NormalShift(delta=delta, s=s, tau=float(p["effect_sd"]) * unit, pi=ia.size / (ia.size + ib.size))
    v = limit(q, spec.options)
    return None if v is None else float(v)


def _case_limit(model, params, spec, design, contrast, case, improvement):
    """:func:`analytic_limit` of one case; with start points drawn per replication,
    its expectation over the case's start distribution (the limit of a level shift
    does not depend on the start, but a limit that depends on the phases' shares,
    such as PAND's or IRD's, does)."""
    if not design.is_random:
        return analytic_limit(model, params, spec, design, contrast, case, improvement)
    total = 0.0
    for m, q in design.start_distribution(case).items():
        v = analytic_limit(model, params, spec, design.fixed(case, m), contrast, 0, improvement)
        if v is None:
            return None
        total += q * v
    return total


# Parameters under which the across-case parameter has no closed form here, and why.
_ACROSS_BREAKS = (
    ("trend", "a baseline trend: the untreated outcome has no stationary variance"),
    ("slope", "a slope change: the effect grows with time, no single average effect"),
    ("onset", "a gradual onset: the effect is not a level shift"),
    ("outlier_rate", "outliers: the errors are not normal"),
)


def across_limit(model: Model, params: dict, spec: MetricSpec, design: Design, contrast: Contrast,
                 improvement: str = "increase") -> tuple[float, str]:
    """The parameter an across-case metric (the design-comparable SMD) targets, and how
    it was obtained: ``(value, "analytic")`` or ``(nan, "none: <reason>")``.

    For :class:`NormalAR1` (level shift, stationary AR(1) errors, random case
    intercepts and effects, measurement error) the entry's ``limit`` gets a
    :class:`~scedsim.registry.NormalShift` with

    * ``delta = level * unit`` (``unit = sd``: the marginal SD of the AR(1)
      errors with ``scale="marginal"``, their innovation SD with
      ``scale="innovation"``), negated when improvement is a decrease, as the
      estimator sees negated data;
    * ``s^2 = sigma_e^2 + (me_sd * unit)^2``, the within-case marginal variance,
      with ``sigma_e = sd`` (marginal scale) or ``sd / sqrt(1 - phi^2)``
      (innovation scale: the stationary variance of an AR(1) with innovation
      SD ``sd``);
    * ``case_sd = case_sd * unit``, the SD of the case intercepts.

    For the design-comparable SMD this gives (:func:`scedsim.between_case.bcsmd_parameter`)
    delta = level / sqrt(case_sd^2 + sigma_e^2 / sd^2 + me_sd^2), e.g.
    level / sqrt(1 / (1 - phi^2)) on the innovation scale with no other
    variance.  ``effect_sd`` does not enter (the denominator is the variance of
    the untreated outcome), nor do missing occasions (missing completely at
    random).

    No closed form is claimed, and NaN is returned with the reason, for other
    models (counts, bounded scores: the HPS model is a normal one), a baseline
    trend or slope change, a gradual onset, outliers, an alternating treatments
    design, or a contrast that is not baseline against treatment.  A shared shock
    and selection on the first score are threats, not effects (:data:`THREATS`):
    the target is the parameter without them.

    References
    ----------
    Hedges, L. V., Pustejovsky, J. E., & Shadish, W. R. (2012, 2013). *Research
    Synthesis Methods*, 3, 224-239; 4, 324-341.
    """
    limit = spec.entry.limit
    if limit is None:
        return math.nan, "none: the metric declares no target"
    if type(model) is not NormalAR1:
        return math.nan, f"none: no closed form for the {model.name} model"
    if design.is_atd:
        return math.nan, "none: an alternating treatments design (not estimated)"
    p = model.params(target_params(model, params))
    for k, why in _ACROSS_BREAKS:
        v = p.get(k)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if isinstance(v, str) or float(v) != 0.0:
            return math.nan, f"none: {why}"
    for case in range(design.n_cases):
        # Every start point a case can draw (its own one in a fixed design).
        for m in design.start_distribution(case) if design.is_random else (None,):
            d, k = (design, case) if m is None else (design.fixed(case, m), 0)
            ia, ib = d.indices(contrast, k)
            codes = d.phase_codes()[k]
            if np.any(codes[ia] != 0) or np.any(codes[ib] == 0):
                return math.nan, "none: the contrast is not baseline against treatment"
    phi = float(p["phi"])
    _, unit = model.units(p)
    sigma_e = float(p["sd"]) if p["scale"] == "marginal" else float(p["sd"]) / math.sqrt(1 - phi * phi)
    s = math.sqrt(sigma_e ** 2 + (float(p["me_sd"]) * unit) ** 2)
    delta = float(p["level"]) * unit
    if improvement == "decrease":
        delta = -delta
    q = NormalShift(delta=delta, s=s, tau=float(p["effect_sd"]) * unit, pi=math.nan,
                    case_sd=float(p["case_sd"]) * unit)
    return float(limit(q, dict(spec.options))), "analytic"


def _across_estimands(model, params, design, contrasts, specs, improvement) -> dict:
    """Estimands of the across-case metrics (no simulation: the parameter or NaN)."""
    out = {}
    for c in contrasts:
        for s in specs:
            if not s.across_estimate or design.n_cases < s.entry.min_cases:
                continue
            v, kind = across_limit(model, params, s, design, c, improvement)
            out[(str(c), s.label, "replication")] = {"limit": v, "limit_mcse": 0.0 if v == v else math.nan,
                                                     "limit_kind": kind}
    return out


# --------------------------------------------------------------------------- simulated estimands

def _key(*parts) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _long_design(design: Design) -> Design:
    factor = max(2, math.ceil(LONG_TOTAL / design.n_time))
    return design.scaled(factor)


def _simulate_means(model, params, design, contrasts, specs, improvement, seed_seq, n_series, block=None):
    """Mean and MCSE of every metric and summary scope over ``n_series`` case-series.

    Returns ``{key: (mean, mcse, per_case_means)}``; ``per_case_means`` is a list at
    case scope (one mean per case position) and None otherwise.
    """
    n_reps = max(1, math.ceil(n_series / design.n_cases))
    block = block or max(1, 20_000 // design.n_cases)
    sums: dict = {}
    children = seed_seq.spawn(math.ceil(n_reps / block))
    done = 0
    for child in children:
        k = min(block, n_reps - done)
        done += k
        used = design
        if design.is_random:
            # Start points from the child's own spawned stream, as in the runner.
            starts = np.random.SeedSequence(child.entropy, spawn_key=child.spawn_key + (0,))
            used = design.realise(design.draw_starts(np.random.default_rng(starts), k))
        elif design.draws_sequences:
            seqs = np.random.SeedSequence(child.entropy, spawn_key=child.spawn_key + (0,))
            used = design.realise_sequences(design.draw_sequences(np.random.default_rng(seqs), k))
        y = model.generate(used, params, np.random.default_rng(child), k)
        res = analyze_block(y, used, contrasts, specs, improvement)
        for (c, label), r in res.items():
            _acc(sums, (c, label, "case"), r["estimate"])
        for key, v in case_summaries(res, specs).items():
            _acc(sums, key, v[:, None])
    out = {}
    for key, (n, s1, s2) in sums.items():
        tot = float(n.sum())
        if tot == 0:
            out[key] = (math.nan, math.nan, None)
            continue
        mean = float(s1.sum()) / tot
        var = max(float(s2.sum()) / tot - mean * mean, 0.0) * tot / max(tot - 1, 1)
        per_case = (s1 / np.where(n > 0, n, np.nan)).tolist() if key[2] == "case" else None
        out[key] = (mean, math.sqrt(var / tot), per_case)
    return out


def _acc(sums, key, x):
    """Add the per-column counts, sums and sums of squares of ``x`` (rows x cases)."""
    ok = ~np.isnan(x)
    xz = np.where(ok, x, 0.0)
    n, s1, s2 = sums.get(key, (0, 0.0, 0.0))
    sums[key] = (n + ok.sum(axis=0), s1 + xz.sum(axis=0), s2 + (xz * xz).sum(axis=0))


def compute_estimands(model: Model, params: dict, design: Design, contrasts, specs, improvement: str,
                      seed: int, condition_key: str, n_design: int = 100_000, use_cache: bool = True,
                      cache_root=None, code: str | None = None, only_cached: bool = False) -> dict | None:
    """Estimands for one condition.

    With ``only_cached=True`` the estimands are only read from the cache, and None
    is returned if they are not there (the runner looks a warm cache up in its own
    process instead of sending a task per condition).

    Returns ``{(contrast, label, level): {"limit": value, "limit_mcse": ...,
    "limit_kind": "analytic" | "long_run", "design": value, "design_mcse": ...}}``.

    With start points drawn per replication (:meth:`Design.multiple_baseline_random`)
    the design-length and long-run simulations draw them too (the long run with
    every start scaled with the phases); an analytic limit is each case's
    expectation over its start distribution, and the pooled one pools those at
    the cases' expected phase lengths.
    """
    contrasts = list(contrasts)
    params = target_params(model, params)  # the treatment effect's targets: no threats
    out = _across_estimands(model, params, design, contrasts, specs, improvement)
    # The across-case metrics' targets are computed above, not simulated: they stay out
    # of the simulated estimands' identity, so that adding one to a study leaves the
    # other estimands' random stream (and values) as they were.
    specs = [s for s in specs if not s.across_estimate]
    per_case = _metric_estimands(model, params, design, contrasts, specs, improvement, seed, condition_key,
                                 n_design, use_cache, cache_root, code, only_cached)
    if per_case is None:
        return None  # only_cached and not in the cache
    out.update(per_case)
    return out


def _metric_estimands(model, params, design, contrasts, specs, improvement, seed, condition_key, n_design,
                      use_cache, cache_root, code, only_cached=False) -> dict | None:
    """The per-case metrics' estimands of :func:`compute_estimands` (cached on disk;
    None with ``only_cached`` when they are not in the cache)."""
    cache_file = None
    # The code fingerprint covers every scedsim source file and the modules that
    # define the metrics (a user's metric too): changed code never reuses a value.
    identity = (model_identity(model), model.params(params), design.describe(), design.n_cases,
                [str(c) for c in contrasts], [(s.name, s.options, s.label) for s in specs], improvement,
                seed, condition_key, n_design, LONG_TOTAL, LONG_REPS)
    # The cache key adds a fingerprint of every scedsim source file and of the modules
    # that define the metrics (a user's metric too): changed code never reuses a value.
    if code is None:
        code = code_fingerprint(type(model), getattr(model, "func", None) or type(model),
                                *(s.func for s in specs), *(d.func for s in specs for d in s._deps))
    key = _key(code, *identity)
    # The random stream depends on the study, never on the code: it keeps the
    # derivation that earlier releases used (salt 3 and the version).
    from .._version import __version__

    stream = _key(_STREAM_SALT, __version__, *identity)
    if use_cache:
        # The caller resolves the cache directory, so that worker processes use the
        # parent's setting rather than their own environment.
        cache_file = pathlib.Path(cache_root or cache_dir()) / "estimands" / f"{key}.json"
        if cache_file.exists():
            try:
                raw = json.loads(cache_file.read_text())
                return {tuple(k.split("\x1f")): v for k, v in raw.items()}
            except (OSError, ValueError):
                pass
    if only_cached:
        return None
    root = np.random.SeedSequence([seed, 0x5EED, int(stream[:8], 16)])
    design_seq, long_seq = root.spawn(2)
    specs = [s for s in specs if not s.across]  # replication-level tests have no estimand
    # Nor do p-values at the design's lengths (their mean is no target), and per-case tests
    # on n_design series would cost more than the metrics: only the metrics are simulated.
    at_design = _simulate_means(model, params, design, contrasts, [s for s in specs if not s.is_test],
                                improvement, design_seq, n_design)
    need_long = {}
    analytic = {}
    no_limit = set()
    p_full = model.params(params)
    drifting = any(float(p_full.get(k, 0.0) or 0.0) != 0.0 for k in ("trend", "slope"))
    for c in contrasts:
        for s in specs:
            if s.is_test:
                no_limit.add((str(c), s.label))  # p-values have no large-sample target
                continue
            vals = [_case_limit(model, params, s, design, c, k, improvement) for k in range(design.n_cases)]
            if any(v is not None and math.isnan(v) for v in vals):
                no_limit.add((str(c), s.label))  # no meaningful target (e.g. LRR of centred data)
            elif all(v is not None for v in vals):
                analytic[(str(c), s.label)] = vals
            elif drifting:
                # The phase difference grows with the series: no finite limit.
                no_limit.add((str(c), s.label))
            else:
                need_long[(str(c), s.label)] = True
    # A metric whose limit is another's (Tau-BC's is Tau's) is read from that metric's run.
    via = {}
    for s in specs:
        base = s.entry.limit_from(s.options) if (not s.is_test and s.entry.limit_from is not None) else None
        if base is not None and any(k[1] == s.label for k in need_long):
            name, opts = base
            same = next((t for t in specs if not t.is_test and t.name == name and dict(t.options) == dict(opts)), None)
            via[s.label] = same or MetricSpec(name, dict(opts), label=f"{name} (limit of {s.label})")
    long_means = {}
    long_design = _long_design(design)
    long_total = long_design.n_time
    if need_long:
        long_specs = [s for s in specs if any(k[1] == s.label for k in need_long) and s.label not in via]
        for b in via.values():
            if all(b.label != t.label for t in long_specs):
                long_specs.append(b)
        long_means = _simulate_means(model, params, long_design, contrasts, long_specs, improvement,
                                     long_seq, LONG_REPS)
    out = {}
    for key_, (mean, mcse, per_case) in at_design.items():
        c, label, level = key_
        entry = {"design": mean, "design_mcse": mcse}
        if per_case is not None:
            entry["design_by_case"] = per_case
        if (c, label) in analytic:
            vals = analytic[(c, label)]
            if level == "pooled":
                pool = next(s.entry.pool for s in specs if s.label == label)
                # Random starts: each case's expected phase lengths.
                ms = [sum(q * design.fixed(k, m).indices(c, 0)[0].size for m, q in design.start_distribution(k).items())
                      if design.is_random else design.indices(c, k)[0].size for k in range(design.n_cases)]
                ns = [design.n_time - mk if design.is_random else design.indices(c, k)[1].size
                      for k, mk in enumerate(ms)]
                lim = float(pool(np.array(vals), np.array(ms), np.array(ns)))
            else:
                lim = float(np.mean(vals))
            entry.update(limit=lim, limit_mcse=0.0, limit_kind="analytic")
            if level == "case":
                entry["limit_by_case"] = [float(v) for v in vals]
        elif (c, label) in no_limit:
            entry.update(limit=math.nan, limit_mcse=math.nan, limit_kind="none")
        else:
            kind, source = f"long_run ({long_total} occasions)", key_
            if label in via:
                source = (c, via[label].label, level)
                kind += f" of {via[label].name}"
            lm, lmc, lpc = long_means.get(source, (math.nan, math.nan, None))
            entry.update(limit=lm, limit_mcse=lmc, limit_kind=kind)
            if lpc is not None:
                entry["limit_by_case"] = lpc
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
