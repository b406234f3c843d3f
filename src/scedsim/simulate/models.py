"""Data-generating models for single-case series.

Every model fills an array of shape ``(n_reps, n_cases, n_time)`` from a
:class:`numpy.random.Generator`.  Random numbers are drawn with NumPy in bulk,
in a fixed order; the AR(1) recursion runs in a numba kernel.  A model may also
be any callable ``f(design, params, rng, n_reps) -> array``; for a design with
start points drawn per replication, ``design.realised`` holds the
``(n_reps, n_cases)`` baseline lengths it must use (None for a fixed design);
for an alternating treatments design with sequences drawn per replication,
``design.sequences`` holds the ``(n_reps, n_cases, n_time)`` conditions
(0 = A, 1 = B).

Parameters shared by the models (names used in study grids):

``phi``
    lag-1 autocorrelation of the AR(1) errors (stationary start; negative allowed).
``level``
    change in level at the first treatment occasion.
``slope``
    change in slope from the first treatment occasion on: ``slope * (t - t0)``.
``trend``
    baseline trend per occasion, continuing through every phase.
``sd``
    standard deviation of the error process (marginal SD by default).
``case_sd`` / ``effect_sd``
    SD across cases of random intercepts / of random level effects.
``me_sd``
    SD of independent measurement error added to every observation.
``missing_rate``
    probability that an occasion is missing (MCAR); missing values are NaN.

Optional generators, off by default, accepted by every built-in model
(they are not among a model's ``defaults``, so a study that does not set them
keeps its random streams and fingerprint, and draws no extra random numbers):

``onset``
    gradual onset of the level change, the carry-over weight omega in [0, 1)
    of the gradual effects model of Swan & Pustejovsky (2018): the treatment
    indicator D_t is replaced by z_t = omega z_{t-1} + (1 - omega) D_t
    (z_0 = 0), so that j occasions after treatment starts (j = 0 at the first
    treatment occasion) the level effect is ``level * (1 - omega ** (j + 1))``,
    approaching ``level``; after a return to baseline it dissipates at the same
    rate.  Half-life in occasions: log(1/2) / log(omega).  0 (default): an
    abrupt change.  The random level effect (``effect_sd``) follows the same
    path; ``slope`` is not affected.
``outlier_rate``, ``outlier_k``, ``outlier_sign``
    outlier contamination: each observation independently, with probability
    ``outlier_rate`` (default 0), is shifted by ``outlier_k`` (default 3)
    units, up, down, or up or down with probability 1/2 each for
    ``outlier_sign`` ``"+"``, ``"-"`` or ``"random"`` (default).  The unit is
    that of ``level``: the marginal SD of the errors for ``normal_ar1`` (the
    innovation SD with ``scale="innovation"``), the latent SD for
    ``bounded_scale`` (the shift is applied before rounding and clipping),
    and the log mean for ``poisson`` and ``negbin`` (an outlier multiplies the
    expected count by exp(k)).  The draws come after all others.

References
----------
Shadish, W. R., Cook, T. D., & Campbell, D. T. (2002). *Experimental and
quasi-experimental designs for generalized causal inference*. Houghton Mifflin.

Swan, D. M., & Pustejovsky, J. E. (2018). A gradual effects model for
single-case designs. *Multivariate Behavioral Research*, 53(4), 574-593.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .._numba import kernel
from .design import Design

__all__ = ["Model", "NormalAR1", "Poisson", "NegBin", "BoundedScale", "get_model", "model_identity", "MODELS"]


def _ar1_python(u, phi, out):
    """AR(1) recursion along the last axis of ``u`` (rows x time) with a stationary start.

    ``u`` holds innovations; the first value of each row is scaled by
    1/sqrt(1 - phi^2) so that every e_t has the stationary variance.
    """
    rows, t_len = u.shape
    start = 1.0 / math.sqrt(1.0 - phi * phi)
    for r in range(rows):
        e = u[r, 0] * start
        out[r, 0] = e
        for t in range(1, t_len):
            e = phi * e + u[r, t]
            out[r, t] = e


_ar1 = kernel(_ar1_python)


def ar1_errors(rng: np.random.Generator, shape, phi: float, innovation_sd: float,
               first_worse: float | None = None, worse_sign: float = -1.0) -> np.ndarray:
    """Stationary AR(1) errors of the given shape (last axis is time).

    With ``first_worse = c`` the first error is drawn conditional on
    ``worse_sign * e_1 >= c`` marginal SDs (the model parameter ``select``), by
    mapping the same standard-normal draw through the truncated normal's
    quantile function, so no extra random numbers are used.
    """
    if not -1.0 < phi < 1.0:
        raise ValueError(f"phi must lie strictly between -1 and 1, got {phi}")
    u = rng.standard_normal(shape)
    if first_worse is not None:
        from scipy.special import ndtr, ndtri

        # z -> Phi^-1(Phi(-c) Phi(z)): the standard normal truncated to (-inf, -c].
        z0 = ndtri(ndtr(-float(first_worse)) * ndtr(u[..., 0]))
        u[..., 0] = -z0 if worse_sign > 0 else z0
    u *= innovation_sd
    flat = u.reshape(-1, shape[-1])
    out = np.empty_like(flat)
    _ar1(flat, float(phi), out)
    return out.reshape(shape)


# Optional generators accepted by every built-in model: off by default and kept
# out of ``defaults`` (and so out of the model's identity and the estimands' streams).
EXTRAS = {"onset": 0.0, "outlier_rate": 0.0, "outlier_k": 3.0, "outlier_sign": "random",
          "shock": 0.0, "shock_sd": 0.0, "shock_at": 0, "select": None}
_SIGNS = ("random", "+", "-")


def _extra(p: dict, name: str):
    return p.get(name, EXTRAS[name])


def _selection(p: dict):
    """The selection threshold ``select`` as a float, or None when off (None or NaN)."""
    v = _extra(p, "select")
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return float(v)


def _check_params(name: str, params: dict, defaults: dict) -> dict:
    unknown = set(params) - set(defaults) - set(EXTRAS)
    if unknown:
        raise ValueError(f"model {name!r} has no parameter(s) {', '.join(sorted(unknown))}; "
                         f"it takes {', '.join(sorted(set(defaults) | set(EXTRAS)))}")
    p = {**defaults, **params}
    onset = float(_extra(p, "onset"))
    if not 0.0 <= onset < 1.0:
        raise ValueError(f"onset (the carry-over weight of a gradual onset) must be in [0, 1), got {onset}")
    orate = float(_extra(p, "outlier_rate"))
    if not 0.0 <= orate <= 1.0:
        raise ValueError(f"outlier_rate must be in [0, 1], got {orate}")
    ok = float(_extra(p, "outlier_k"))
    if not (math.isfinite(ok) and ok >= 0):
        raise ValueError(f"outlier_k must be a finite non-negative number of units, got {ok}")
    if _extra(p, "outlier_sign") not in _SIGNS:
        raise ValueError(f"outlier_sign must be one of {', '.join(map(repr, _SIGNS))}, "
                         f"got {_extra(p, 'outlier_sign')!r}")
    for k in ("shock", "shock_sd"):
        v = float(_extra(p, k))
        if not math.isfinite(v) or (k == "shock_sd" and v < 0):
            raise ValueError(f"{k} must be a finite{' non-negative' if k == 'shock_sd' else ''} number, got {v}")
    at = _extra(p, "shock_at")
    if float(at) != int(float(at)) or int(float(at)) < 0:
        raise ValueError(f"shock_at must be an occasion number (1, 2, ...) or 0 for the first treatment "
                         f"occasion, got {at!r}")
    sel = _selection(p)
    if sel is not None and not (math.isfinite(sel) and -8.0 <= sel <= 8.0):
        raise ValueError(f"select (the selection threshold in marginal SDs) must lie in [-8, 8], got {sel}")
    rate = float(p.get("missing_rate", 0.0))
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"missing_rate must be in [0, 1), got {rate}")
    # Every numeric parameter is checked here, when the study is defined, so that
    # a bad value stops the run with one message instead of failing each block.
    for k, default in defaults.items():
        if isinstance(default, float) and k in p and p[k] is not None:
            v = p[k]
            if isinstance(v, (str, bytes, bool, np.bool_)) or not isinstance(v, numbers.Real) \
                    or not math.isfinite(float(v)):
                raise ValueError(f"model {name!r}: {k} must be a finite number, got {v!r}")
    if "phi" in defaults and not -1.0 < float(p["phi"]) < 1.0:
        raise ValueError(f"model {name!r}: phi must lie strictly between -1 and 1 (a stationary AR(1)), "
                         f"got {p['phi']}")
    for k in ("sd", "case_sd", "effect_sd", "me_sd"):
        if k in p and float(p[k]) < 0:
            raise ValueError(f"{k} must be non-negative, got {p[k]}")
    for k in ("rate", "dispersion"):
        if k in defaults and not float(p[k]) > 0:
            raise ValueError(f"model {name!r}: {k} must be positive, got {p[k]}")
    if "scale" in defaults and p["scale"] not in ("marginal", "innovation"):
        raise ValueError(f"model {name!r}: unknown scale {p['scale']!r}; expected 'marginal' or 'innovation'")
    if "lo" in defaults and not float(p["hi"]) > float(p["lo"]):
        raise ValueError(f"model {name!r}: the instrument range needs hi > lo, got lo={p['lo']}, hi={p['hi']}")
    if "improvement" in defaults and p["improvement"] not in ("increase", "decrease"):
        raise ValueError(f"model {name!r}: unknown improvement {p['improvement']!r}; "
                         "expected 'increase' or 'decrease'")
    return p


@dataclass(frozen=True)
class Model:
    """Base class: a named data-generating process with default parameters."""

    name: str = "model"
    defaults: dict = field(default_factory=dict)

    def params(self, params: dict | None = None) -> dict:
        """The full parameter set: defaults updated by ``params`` (unknown names raise)."""
        return _check_params(self.name, dict(params or {}), self.defaults)

    def improvement(self, params: dict | None = None) -> str:
        """The direction of improvement of the generated outcome."""
        return "increase"

    def generate(self, design: Design, params: dict, rng: np.random.Generator, n_reps: int) -> np.ndarray:
        raise NotImplementedError

    # Structure shared by the models: the linear predictor of each occasion.
    @staticmethod
    def _structure(design: Design, onset: float = 0.0):
        """``(t, treat, since)``: occasions 1..n_time, and the level and slope-change
        regressors as ``(R, n_cases, n_time)`` arrays, R = 1 for a fixed design and
        ``n_reps`` for a design realised with per-replication start points
        (:meth:`Design.realise`).  With ``onset`` > 0 ``treat`` is the gradual
        indicator z_t = onset z_{t-1} + (1 - onset) D_t."""
        t = np.arange(1, design.n_time + 1, dtype=np.float64)
        realised = design.realised
        if design.is_atd:
            # Alternating treatments: each occasion's own condition (drawn per replication
            # or one fixed sequence); a slope change has no meaning there, so it is off.
            seq = design.sequences if design.sequences is not None else design.phase_codes()[None]
            treat = (np.asarray(seq) != 0).astype(np.float64)
            since = np.zeros(treat.shape)
        elif realised is not None:
            # Multiple baseline with drawn starts: baseline m[r, k], then treatment.
            m = np.asarray(realised, dtype=np.int64)[:, :, None]
            occ = np.arange(design.n_time)[None, None, :]
            treat = (occ >= m).astype(np.float64)
            since = np.where(occ >= m, occ - m, 0).astype(np.float64)
        else:
            # D_t = 1 in every phase whose label is not the baseline's; the slope change
            # counts occasions since treatment last began (t - t0), running on through
            # a follow-up phase and restarting after a return to baseline (ABAB).
            treat = (design.phase_codes() != 0).astype(np.float64)[None]
            since = np.zeros((1, design.n_cases, design.n_time))
            base = design.baseline_label
            for k, case in enumerate(design.phases):
                start, t0 = 0, None
                for lab, n in case:
                    if lab == base:
                        t0 = None
                    else:
                        t0 = start if t0 is None else t0
                        since[0, k, start:start + n] = np.arange(start - t0, start - t0 + n)
                    start += n
        if onset > 0:
            z = np.empty_like(treat)
            prev = np.zeros(treat.shape[:2])
            for j in range(design.n_time):
                prev = onset * prev + (1.0 - onset) * treat[:, :, j]
                z[:, :, j] = prev
            treat = z
        return t, treat, since

    @staticmethod
    def _shock(design: Design, p: dict, rng: np.random.Generator, n_reps: int):
        """The shared shock as an array broadcastable to (n_reps, n_cases, n_time), in
        effect units, or None when off.  A random part draws ``n_reps`` normals."""
        fixed, sd = float(_extra(p, "shock")), float(_extra(p, "shock_sd"))
        if fixed == 0.0 and sd == 0.0:
            return None
        at = int(float(_extra(p, "shock_at")))
        occ = np.arange(design.n_time)[None, None, :]
        if at > 0:
            step = (occ >= at - 1).astype(np.float64)
        elif design.sequences is not None:
            # The first occasion at which any case gets the treatment, per replication.
            first = np.argmax((np.asarray(design.sequences) != 0).any(axis=1), axis=1)[:, None, None]
            step = (occ >= first).astype(np.float64)
        elif design.realised is not None:
            first = np.asarray(design.realised, dtype=np.int64).min(axis=1)[:, None, None]
            step = (occ >= first).astype(np.float64)
        else:
            # The first occasion at which any case is in a treatment phase.
            codes = design.phase_codes()
            first = int(np.flatnonzero((codes != 0).any(axis=0))[0])
            step = (occ >= first).astype(np.float64)
        size = np.full((n_reps, 1, 1), fixed)
        if sd > 0:
            size = size + sd * rng.standard_normal((n_reps, 1, 1))
        return size * step

    @staticmethod
    def _outliers(x: np.ndarray, p: dict, unit: float, rng: np.random.Generator) -> np.ndarray:
        """Shift a share ``outlier_rate`` of the values of ``x`` (in place) by
        ``outlier_k * unit``; no random numbers are drawn when the rate is 0."""
        rate = float(_extra(p, "outlier_rate"))
        if rate <= 0:
            return x
        hit = rng.random(x.shape) < rate
        shift = float(_extra(p, "outlier_k")) * unit
        sign = _extra(p, "outlier_sign")
        if sign == "random":
            x += np.where(hit, np.where(rng.random(x.shape) < 0.5, -shift, shift), 0.0)
        else:
            x += np.where(hit, shift if sign == "+" else -shift, 0.0)
        return x

    @staticmethod
    def _missing(y: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
        if rate > 0:
            y[rng.random(y.shape) < rate] = np.nan
        return y


@dataclass(frozen=True)
class NormalAR1(Model):
    """Normal series with AR(1) errors (the standard SCED simulation model).

    y_t = intercept + trend t + level D_t + slope (t - t0) D_t + e_t, with
    e_t = phi e_{t-1} + u_t started from the stationary distribution, D_t = 1
    in every phase after the baseline and t0 the first treatment occasion
    (Huitema & McKean 2000; Manolov & Solanas 2008).  With
    ``scale="marginal"`` (default) the effects ``level``, ``slope`` and
    ``trend`` are in units of the marginal SD of e (``sd``); with
    ``scale="innovation"`` ``sd`` is the innovation SD and effects are in its
    units.
    """

    name: str = "normal_ar1"
    defaults: dict = field(default_factory=lambda: dict(
        phi=0.0, level=0.0, slope=0.0, trend=0.0, intercept=0.0, sd=1.0, scale="marginal",
        case_sd=0.0, effect_sd=0.0, me_sd=0.0, missing_rate=0.0))

    def units(self, p: dict) -> tuple[float, float]:
        """(innovation SD, effect unit) for parameters ``p``."""
        phi, sd = float(p["phi"]), float(p["sd"])
        if not -1.0 < phi < 1.0:
            raise ValueError(f"phi must lie strictly between -1 and 1, got {phi}")
        if p["scale"] == "marginal":
            return sd * math.sqrt(1.0 - phi * phi), sd
        if p["scale"] == "innovation":
            return sd, sd
        raise ValueError(f"unknown scale {p['scale']!r}; expected 'marginal' or 'innovation'")

    def latent(self, design: Design, p: dict, rng: np.random.Generator, n_reps: int) -> np.ndarray:
        sigma_u, unit = self.units(p)
        shape = (n_reps, design.n_cases, design.n_time)
        e = ar1_errors(rng, shape, float(p["phi"]), sigma_u, _selection(p), float(p.get("_worse", -1.0)))
        t, treat, since = self._structure(design, float(_extra(p, "onset")))
        # The fixed part is one (1 or reps, cases, time) array, added in place to the errors.
        mean = (float(p["intercept"]) + float(p["trend"]) * unit * t)[None, None, :] \
            + float(p["level"]) * unit * treat + float(p["slope"]) * unit * since
        y = e
        y += mean
        if p["effect_sd"] > 0:
            y += rng.standard_normal((n_reps, design.n_cases, 1)) * (float(p["effect_sd"]) * unit) * treat
        if p["case_sd"] > 0:
            y += rng.standard_normal((n_reps, design.n_cases, 1)) * (float(p["case_sd"]) * unit)
        if p["me_sd"] > 0:
            y += rng.standard_normal(shape) * (float(p["me_sd"]) * unit)
        shock = self._shock(design, p, rng, n_reps)
        if shock is not None:
            y += shock * unit
        return y

    def generate(self, design, params, rng, n_reps):
        p = self.params(params)
        y = self.latent(design, p, rng, n_reps)
        y = self._missing(y, float(p["missing_rate"]), rng)
        return self._outliers(y, p, self.units(p)[1], rng)


@dataclass(frozen=True)
class Poisson(Model):
    """Poisson counts with a log link on the same linear predictor.

    log mu_t = log(rate) + trend t + level D_t + slope (t - t0) D_t + z_t, where
    z_t is a latent AR(1) process with marginal SD ``sd`` (0: none) and lag-1
    correlation ``phi``; ``level`` is a log rate ratio.  Random intercepts
    (``case_sd``) and effects (``effect_sd``) are on the log scale.
    """

    name: str = "poisson"
    defaults: dict = field(default_factory=lambda: dict(
        rate=5.0, phi=0.0, level=0.0, slope=0.0, trend=0.0, sd=0.0,
        case_sd=0.0, effect_sd=0.0, missing_rate=0.0))

    def log_mean(self, design, p, rng, n_reps):
        if _selection(p) is not None:
            raise ValueError(f"select (selection on the first score) is available for normal_ar1 and "
                             f"bounded_scale, not {self.name}")
        if float(p["rate"]) <= 0:
            raise ValueError(f"rate must be positive, got {p['rate']}")
        shape = (n_reps, design.n_cases, design.n_time)
        t, treat, since = self._structure(design, float(_extra(p, "onset")))
        level = float(p["level"])
        if p["effect_sd"] > 0:
            level = level + rng.standard_normal((n_reps, design.n_cases, 1)) * float(p["effect_sd"])
        eta = (math.log(float(p["rate"])) + float(p["trend"]) * t)[None, None, :] \
            + level * treat + float(p["slope"]) * since
        eta = eta + np.zeros(shape)
        if p["sd"] > 0:
            phi = float(p["phi"])
            eta += ar1_errors(rng, shape, phi, float(p["sd"]) * math.sqrt(1.0 - phi * phi))
        if p["case_sd"] > 0:
            eta += rng.standard_normal((n_reps, design.n_cases, 1)) * float(p["case_sd"])
        shock = self._shock(design, p, rng, n_reps)
        if shock is not None:
            eta += shock
        return self._outliers(eta, p, 1.0, rng)

    def generate(self, design, params, rng, n_reps):
        p = self.params(params)
        mu = np.exp(self.log_mean(design, p, rng, n_reps))
        y = rng.poisson(mu).astype(np.float64)
        return self._missing(y, float(p["missing_rate"]), rng)


@dataclass(frozen=True)
class NegBin(Poisson):
    """Negative-binomial counts: a Poisson whose mean is multiplied by a gamma
    frailty with mean 1 and shape ``dispersion`` (Var = mu + mu^2 / dispersion)."""

    name: str = "negbin"
    defaults: dict = field(default_factory=lambda: dict(
        rate=5.0, dispersion=2.0, phi=0.0, level=0.0, slope=0.0, trend=0.0, sd=0.0,
        case_sd=0.0, effect_sd=0.0, missing_rate=0.0))

    def generate(self, design, params, rng, n_reps):
        p = self.params(params)
        k = float(p["dispersion"])
        if k <= 0:
            raise ValueError(f"dispersion must be positive, got {k}")
        mu = np.exp(self.log_mean(design, p, rng, n_reps))
        mu *= rng.gamma(k, 1.0 / k, size=mu.shape)
        y = rng.poisson(mu).astype(np.float64)
        return self._missing(y, float(p["missing_rate"]), rng)


@dataclass(frozen=True)
class BoundedScale(Model):
    """Integer questionnaire scores on a bounded instrument range.

    A latent normal AR(1) series (marginal SD 1; ``level``, ``slope`` and
    ``trend`` in latent SDs, as in :class:`NormalAR1`) is mapped to the
    instrument as ``center + spread * z``, rounded half up to an integer and
    clipped to ``[lo, hi]``, which produces ties and floor or ceiling effects.
    ``improvement`` is part of the model: with ``"decrease"`` (e.g. burnout) a
    positive ``level`` lowers the scores.  Defaults mirror the emotional
    exhaustion scale (0-54).
    """

    name: str = "bounded_scale"
    defaults: dict = field(default_factory=lambda: dict(
        lo=0.0, hi=54.0, center=None, spread=None, improvement="increase",
        phi=0.0, level=0.0, slope=0.0, trend=0.0, case_sd=0.0, effect_sd=0.0, me_sd=0.0,
        missing_rate=0.0))

    def improvement(self, params=None) -> str:
        imp = self.params(params)["improvement"]
        if imp not in ("increase", "decrease"):
            raise ValueError(f"unknown improvement {imp!r}; expected 'increase' or 'decrease'")
        return imp

    def scale(self, p):
        lo, hi = float(p["lo"]), float(p["hi"])
        if not hi > lo:
            raise ValueError(f"the instrument range needs hi > lo, got lo={lo}, hi={hi}")
        center = (lo + hi) / 2.0 if p["center"] is None else float(p["center"])
        spread = (hi - lo) / 6.0 if p["spread"] is None else float(p["spread"])
        return lo, hi, center, spread

    def generate(self, design, params, rng, n_reps):
        p = self.params(params)
        lo, hi, center, spread = self.scale(p)
        sign = -1.0 if self.improvement(params) == "decrease" else 1.0
        latent_p = dict(phi=p["phi"], level=sign * float(p["level"]), slope=sign * float(p["slope"]),
                        trend=sign * float(p["trend"]), intercept=0.0, sd=1.0, scale="marginal",
                        case_sd=p["case_sd"], effect_sd=p["effect_sd"], me_sd=p["me_sd"], missing_rate=0.0,
                        onset=_extra(p, "onset"), shock=sign * float(_extra(p, "shock")),
                        shock_sd=_extra(p, "shock_sd"), shock_at=_extra(p, "shock_at"),
                        select=_selection(p), _worse=sign * -1.0)
        z = NormalAR1().latent(design, latent_p, rng, n_reps)
        z = self._outliers(z, p, 1.0, rng)
        y = np.clip(np.floor(center + spread * z + 0.5), lo, hi)
        return self._missing(y, float(p["missing_rate"]), rng)


MODELS: dict[str, Model] = {m.name: m for m in (NormalAR1(), Poisson(), NegBin(), BoundedScale())}


@dataclass(frozen=True)
class CallableModel(Model):
    """Wraps a user callable ``f(design, params, rng, n_reps) -> array``."""

    func: Callable | None = None
    direction: str = "increase"

    def params(self, params=None):
        return dict(params or {})

    def improvement(self, params=None):
        return self.direction

    def generate(self, design, params, rng, n_reps):
        y = np.asarray(self.func(design, dict(params), rng, n_reps), dtype=np.float64)
        want = (n_reps, design.n_cases, design.n_time)
        if y.shape != want:
            raise ValueError(f"model {self.name!r} returned shape {y.shape}, expected {want}")
        return y


def get_model(model, improvement: str = "increase") -> Model:
    """A :class:`Model` from a name (``normal_ar1``, ``poisson``, ``negbin``,
    ``bounded_scale``), a Model, or a callable."""
    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; expected one of {', '.join(MODELS)} or a callable")
        return MODELS[model]
    if callable(model):
        return CallableModel(name=getattr(model, "__name__", "custom"), func=model, direction=improvement)
    raise ValueError(f"a model is a name, a Model or a callable, got {model!r}")


def model_identity(model: Model) -> str:
    """A string that changes whenever the model's data would: its class, name and
    defaults, or, for a callable, its qualified name and a hash of its code."""
    if isinstance(model, CallableModel):
        import hashlib

        func = model.func
        code = getattr(func, "__code__", None)
        blob = repr((getattr(func, "__module__", ""), getattr(func, "__qualname__", repr(func)),
                     code.co_code if code is not None else b"", code.co_consts if code is not None else ()))
        return f"callable:{hashlib.sha256(blob.encode()).hexdigest()[:16]}:{model.direction}"
    return repr(model)
