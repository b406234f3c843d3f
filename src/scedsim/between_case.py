"""Design-comparable (between-case) standardized mean difference for single-case designs.

:func:`bcsmd` reads a tidy table (one row per case x session); :func:`bcsmd_batch`
takes many data sets of one design as an array, for simulation studies.  Two
estimators:

* ``method="hps"``: the moment estimator of Hedges, Pustejovsky & Shadish (2013)
  for multiple-baseline designs (scdhlm's ``effect_size_MB``) and of Hedges,
  Pustejovsky & Shadish (2012) for (AB)^k reversal designs (``effect_size_ABk``);
* ``method="reml"``: REML fit of a random-intercept model with AR(1) errors
  within case, and the corrected SMD of Pustejovsky, Hedges & Shadish (2014)
  (lmeInfo's ``g_mlm`` with the ``lme`` fit ``y ~ D, ~1 | case, corAR1(~ time | case)``).
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ._hps import HPS_FIELDS, _hps_abk, _hps_mb
from ._numba import JIT_ENABLED
from ._reml_ar1 import _Z_MAX, REML_FIELDS, _reml_bcsmd, _work_size
from ._threads import get_num_threads
from ._validation import _FINITE_CHECKED, check_choice, check_confidence, check_magnitude

__all__ = ["bcsmd", "bcsmd_batch", "BCSMD"]

METHODS = ("hps", "reml")
DESIGNS = ("multiple_baseline", "reversal")
# Sets per thread before a batch is split over threads.
_MIN_SETS_PER_THREAD = {"hps": 20_000, "reml": 500}


def _fmt(x) -> str:
    return "nan" if x != x else f"{x:.4g}"


@dataclass(frozen=True, repr=False, eq=False)
class BCSMD:
    """A design-comparable SMD: one data set (float fields) or a batch (1-D array fields).

    Attributes
    ----------
    estimate : float or numpy.ndarray
        The small-sample corrected SMD, g = J(nu) x delta.
    se : float or numpy.ndarray
        Its standard error.
    df : float or numpy.ndarray
        Degrees of freedom nu of the denominator (also ``.nu``).
    ci_lower, ci_upper : float or numpy.ndarray
        Symmetric interval g -+ t_{nu, (1 + confidence)/2} x se (scdhlm's
        ``CI_g(..., symmetric = TRUE)``).
    delta_unadjusted : float or numpy.ndarray
        The SMD before the correction J.
    J : float or numpy.ndarray
        Hedges' correction 1 - 3 / (4 nu - 1).
    phi : float or numpy.ndarray
        Lag-1 autocorrelation of the within-case errors.
    rho : float or numpy.ndarray
        Intra-class correlation tau^2 / (tau^2 + sigma^2).
    sigma2_within, tau2 : float or numpy.ndarray
        Within-case (residual) and between-case variance.  For HPS,
        ``tau2 = rho x S2``.
    theta : float or numpy.ndarray
        Standard error of ``delta_unadjusted`` with the variance components
        known: HPS's theta, REML's kappa.
    method : str
        ``"hps"`` or ``"reml"``.
    design : str
        ``"multiple_baseline"`` or ``"reversal"``.
    n_cases, n_obs : int
        Number of cases and of observations in all.
    confidence : float
        Level of the interval.
    details : dict
        The method's other quantities: HPS ``D_bar`` (mean of the cases'
        B - A differences) and ``S2`` (variance around the session x phase
        means; for a reversal design the (pair, phase, position) means);
        REML ``beta0``, ``beta1`` (baseline level and treatment
        effect), ``loglik`` (REML log-likelihood, nlme's constant) and
        ``lambda`` (tau^2 / sigma^2).
    """

    estimate: Any
    se: Any
    df: Any
    ci_lower: Any
    ci_upper: Any
    delta_unadjusted: Any
    J: Any
    phi: Any
    rho: Any
    sigma2_within: Any
    tau2: Any
    theta: Any
    method: str
    design: str
    n_cases: int
    n_obs: int
    confidence: float = 0.95
    details: dict = field(default_factory=dict)

    @property
    def nu(self):
        """The degrees of freedom (same as ``df``)."""
        return self.df

    @property
    def is_batch(self) -> bool:
        return isinstance(self.estimate, np.ndarray)

    def as_dict(self) -> dict:
        """The fields as a plain dict (``details`` merged in; arrays stay arrays)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "details"}
        out.update(self.details)
        return out

    def __repr__(self) -> str:
        head = f"BCSMD(method={self.method!r}, design={self.design!r}"
        if self.is_batch:
            est = np.asarray(self.estimate)
            mean = float(np.nanmean(est)) if np.isfinite(est).any() else float("nan")
            return f"{head}, batch of {est.size} sets, mean estimate={_fmt(mean)}, n_cases={self.n_cases})"
        return (f"{head}, estimate={_fmt(self.estimate)}, se={_fmt(self.se)}, df={_fmt(self.df)}, "
                f"ci=[{_fmt(self.ci_lower)}, {_fmt(self.ci_upper)}], phi={_fmt(self.phi)}, "
                f"rho={_fmt(self.rho)}, n_cases={self.n_cases}, n_obs={self.n_obs})")


# --------------------------------------------------------------------------- layout

class _Design:
    """The arrays a kernel reads, shared by every set of one design (see :mod:`scedsim._hps`)."""

    def __init__(self, times, trt, n):
        self.times = np.ascontiguousarray(times, dtype=np.int64)
        self.trt = np.ascontiguousarray(trt, dtype=np.float64)
        self.n = np.ascontiguousarray(n, dtype=np.int64)
        k, T = self.trt.shape
        # Session x phase cells across cases (HPS's S^2 and nu).
        keys: dict = {}
        cell = np.zeros((k, T), dtype=np.int64)
        for i in range(k):
            for j in range(self.n[i]):
                cell[i, j] = keys.setdefault((int(self.times[i, j]), bool(self.trt[i, j] > 0.5)), len(keys))
        self.cell = cell
        self.ncell = np.bincount(np.concatenate([cell[i, :self.n[i]] for i in range(k)]),
                                 minlength=len(keys)).astype(np.float64)
        self.g = int(self.n.sum())
        self.k = k
        self.K = len(keys)
        observed = [self.times[i, :self.n[i]] for i in range(k)]
        lo = min(int(t.min()) for t in observed)
        hi = max(int(t.max()) for t in observed)
        self.lagmax = hi - lo

    def check(self, method: str) -> None:
        if self.k < 2:
            raise ValueError(f"the between-case SMD needs at least 2 cases, got {self.k}")
        for i in range(self.k):
            d = self.trt[i, :self.n[i]]
            if not (d > 0.5).any() or not (d < 0.5).any():
                missing = "treatment" if not (d > 0.5).any() else "baseline"
                raise ValueError(f"case #{i + 1} has no {missing} observations")
        if method == "hps":
            if self.g - self.K <= 0:
                raise ValueError(f"HPS needs more observations than session x phase cells "
                                 f"(g - K = {self.g} - {self.K} <= 0): S^2 has no degrees of freedom")
            if self.g - 2 * self.k <= 0:
                raise ValueError("HPS needs more than one observation in some case x phase "
                                 f"(g - 2k = {self.g - 2 * self.k} <= 0)")
        elif self.g <= 2:
            raise ValueError(f"REML needs more than 2 observations, got {self.g}")


class _ReversalDesign(_Design):
    """:class:`_Design` plus the phases of an (AB)^k design (HPS 2012; see :func:`scedsim._hps._hps_abk`)."""

    def __init__(self, times, trt, n):
        super().__init__(times, trt, n)
        k, T = self.trt.shape
        run = np.zeros((k, T), dtype=np.int64)
        ordn = np.zeros((k, T), dtype=np.int64)
        nrun: list = []
        self.bad_case = None
        lengths = []  # per case, the phase lengths in order
        for i in range(k):
            b = self.trt[i, :self.n[i]] > 0.5
            starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
            ends = np.r_[starts[1:], len(b)]
            if self.bad_case is None and (b[0] or not b[-1] or (lengths and len(starts) != len(lengths[0]))):
                self.bad_case = (i, "".join("B" if b[s] else "A" for s in starts),
                                 len(lengths[0]) if lengths else len(starts))
            for s, e in zip(starts, ends):
                run[i, s:e] = len(nrun)
                ordn[i, s:e] = np.arange(e - s)
                nrun.append(e - s)
            lengths.append([e - s for s, e in zip(starts, ends)])
        self.run = run
        self.ordn = ordn
        self.nrun = np.asarray(nrun, dtype=np.int64)
        self.npairs = len(lengths[0]) // 2
        # (pair, condition, position) cells that every case has: the first min_i n_i points of each phase.
        cell = np.full((k, T), -1, dtype=np.int64)
        if self.bad_case is None:
            shortest = np.min(np.array(lengths), axis=0)
            first = np.r_[0, np.cumsum(shortest)[:-1]]
            for i in range(k):
                for j in range(self.n[i]):
                    q = run[i, j] - run[i, 0]
                    if ordn[i, j] < shortest[q]:
                        cell[i, j] = first[q] + ordn[i, j]
            self.K = int(shortest.sum())
        else:
            self.K = 0
        self.cell = cell
        self.ncell = np.full(self.K, float(k))

    def check(self, method: str) -> None:
        if self.k < 2:
            raise ValueError(f"the between-case SMD needs at least 2 cases, got {self.k}")
        if method != "hps":
            return super().check(method)
        if self.bad_case is not None:
            i, seq, first = self.bad_case
            raise ValueError(f"method='hps' with design='reversal' needs every case to go through the same "
                             f"(AB)^k phases (baseline first, treatment last); case #{i + 1} has phases {seq}"
                             + (f", case #1 has {first} phases" if i > 0 else ""))
        if self.g - len(self.nrun) <= 0:
            raise ValueError("HPS needs more than one observation in some phase of some case: "
                             "no autocorrelation can be estimated")


def _make_design(design_name: str, method: str, times, trt, n) -> _Design:
    if design_name == "reversal" and method == "hps":
        return _ReversalDesign(times, trt, n)
    return _Design(times, trt, n)


def _run(method: str, design: _Design, Y: np.ndarray) -> np.ndarray:
    """The kernel's output rows for the sets Y (n_sets, k, T), split over threads when large."""
    n_sets = Y.shape[0]
    nf = len(HPS_FIELDS) if method == "hps" else len(REML_FIELDS)
    out = np.empty((nf, n_sets))

    def block(lo, hi):
        if method == "hps" and isinstance(design, _ReversalDesign):
            work = np.zeros(design.lagmax + 1 + len(design.nrun) + design.K + design.K * design.K)
            _hps_abk(Y[lo:hi], design.times, design.trt, design.n, design.run, design.nrun, design.ordn,
                     design.cell, design.ncell, design.npairs, design.lagmax, work, out[:, lo:hi])
        elif method == "hps":
            work = np.zeros(design.lagmax + 1 + design.K + design.K * design.K)
            _hps_mb(Y[lo:hi], design.times, design.trt, design.n, design.cell, design.ncell,
                    design.lagmax, work, out[:, lo:hi])
        else:
            work = np.zeros(_work_size(design.k, Y.shape[2]))
            _reml_bcsmd(Y[lo:hi], design.times, design.trt, design.n, work, out[:, lo:hi])

    threads = min(get_num_threads(), n_sets // _MIN_SETS_PER_THREAD[method])
    with np.errstate(all="ignore"):
        if threads <= 1 or not JIT_ENABLED:
            block(0, n_sets)
        else:
            edges = [n_sets * i // threads for i in range(threads + 1)]
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="scedsim-bcsmd") as pool:
                for f in [pool.submit(block, lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]:
                    f.result()
    return out


def _t_quantile(confidence, df):
    from scipy.stats import t as student_t

    return student_t.ppf(0.5 + confidence / 2.0, df)


def _failures(method: str, raw: dict) -> np.ndarray:
    """Sets whose estimate cannot be trusted: non-finite values or, for REML, phi at the edge of the search."""
    bad = ~(np.isfinite(raw["estimate"]) & np.isfinite(raw["se"]) & np.isfinite(raw["nu"]))
    if method == "reml":
        with np.errstate(all="ignore"):
            bad |= np.abs(np.arctanh(raw["phi"])) > _Z_MAX - 1e-3
    return bad


def _result(method, design_name, design: _Design, out, confidence, batch):
    names = HPS_FIELDS if method == "hps" else REML_FIELDS
    raw = dict(zip(names, out))
    bad = _failures(method, raw)
    if method == "hps":
        common = dict(delta_unadjusted=raw["delta_unadjusted"], phi=raw["phi"], rho=raw["rho"],
                      sigma2_within=raw["sigma2_within"], tau2=raw["rho"] * raw["S2"], theta=raw["theta"])
        details = {"D_bar": raw["D_bar"], "S2": raw["S2"]}
    else:
        tot = raw["tau2"] + raw["sigma2"]
        common = dict(delta_unadjusted=raw["delta"], phi=raw["phi"], rho=raw["tau2"] / tot,
                      sigma2_within=raw["sigma2"], tau2=raw["tau2"], theta=raw["kappa"])
        details = {"beta0": raw["beta0"], "beta1": raw["beta1"], "loglik": raw["loglik"],
                   "lambda": raw["lambda"]}
    est, se, nu = raw["estimate"], raw["se"], raw["nu"]
    with np.errstate(all="ignore"):
        half = _t_quantile(confidence, nu) * se
    values = dict(estimate=est, se=se, df=nu, ci_lower=est - half, ci_upper=est + half, J=raw["J"], **common)
    if bad.any():
        values = {k: np.where(bad, np.nan, v) for k, v in values.items()}
        details = {k: np.where(bad, np.nan, v) for k, v in details.items()}
    if not batch:
        values = {k: float(v[0]) for k, v in values.items()}
        details = {k: float(v[0]) for k, v in details.items()}
    return BCSMD(method=method, design=design_name, n_cases=design.k, n_obs=design.g,
                 confidence=confidence, details=details, **values)


def _check_confidence(confidence) -> float:
    return check_confidence(confidence)


def _check_method_design(method, design):
    check_choice("method", method, METHODS)
    check_choice("design", design, DESIGNS)


# --------------------------------------------------------------------------- tidy entry

def _from_table(data, case, session, phase, outcome, baseline, treatment):
    """(y, times, trt, n, case labels) from a long table, with every check."""
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in (case, session, phase, outcome) if c not in data.columns]
    if missing:
        raise ValueError(f"data has no column(s) {', '.join(map(repr, missing))}")
    if baseline == treatment:
        raise ValueError(f"baseline and treatment must differ, both are {baseline!r}")
    if len(data) == 0:
        raise ValueError("data has no rows")
    y = pd.to_numeric(data[outcome], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(y)
    if bad.any():
        raw_bad = data[outcome].to_numpy()[bad]
        raise ValueError(f"outcome column {outcome!r} holds {bad.sum()} missing, infinite or non-numeric "
                         f"value(s) (first: {raw_bad[0]!r}); remove or impute them before calling")
    t = pd.to_numeric(data[session], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(t).all() or (t != np.round(t)).any():
        raise ValueError(f"session column {session!r} must hold whole numbers (session numbers), "
                         "without missing values")
    if np.abs(t).max() > 2 ** 31:
        raise ValueError(f"session column {session!r}: session numbers beyond 2^31")
    labels = data[phase].to_numpy()
    is_b = np.array([v == treatment for v in labels], dtype=bool)
    is_a = np.array([v == baseline for v in labels], dtype=bool)
    other = ~(is_a | is_b)
    if other.any():
        found = sorted({repr(v) for v in labels[other]})
        raise ValueError(f"phase column {phase!r} holds label(s) other than baseline {baseline!r} and "
                         f"treatment {treatment!r}: {', '.join(found)}")
    codes, uniques = pd.factorize(data[case], sort=False)
    if (codes < 0).any():
        raise ValueError(f"case column {case!r} has missing values")
    k = len(uniques)
    order = np.lexsort((t, codes))
    codes, t, y, is_b = codes[order], t[order], y[order], is_b[order]
    dup = (np.diff(codes) == 0) & (np.diff(t) == 0)
    if dup.any():
        j = int(np.argmax(dup))
        raise ValueError(f"case {uniques[codes[j]]!r} has more than one row at session {t[j]:g}")
    n = np.bincount(codes, minlength=k)
    T = int(n.max())
    Y = np.zeros((k, T))
    times = np.zeros((k, T), dtype=np.int64)
    trt = np.zeros((k, T))
    starts = np.r_[0, np.cumsum(n)[:-1]]
    pos = np.arange(len(codes)) - starts[codes]
    Y[codes, pos] = y
    times[codes, pos] = t.astype(np.int64)
    trt[codes, pos] = is_b
    for i in range(k):
        d = trt[i, :n[i]]
        if not (d > 0.5).any() or not (d < 0.5).any():
            what = treatment if not (d > 0.5).any() else baseline
            raise ValueError(f"case {uniques[i]!r} has no {'treatment' if what == treatment else 'baseline'} "
                             f"({what!r}) observations")
    return Y, times, trt, n


def bcsmd(data, *, case: str = "case", session: str = "session", phase: str = "phase",
          outcome: str = "outcome", baseline="A", treatment="B", design: str = "multiple_baseline",
          method: str = "hps", confidence: float = 0.95) -> BCSMD:
    """Design-comparable (between-case) standardized mean difference of a single-case study.

    The treatment effect divided by the total (between-case plus
    within-case) standard deviation of the outcome, so that it is on the
    scale of a between-groups SMD (Hedges' g), with Hedges' small-sample
    correction J(nu) = 1 - 3/(4 nu - 1).  Both methods assume a stable
    baseline (no trends) and an effect that is the same for every case.

    ``method="hps"`` (Hedges, Pustejovsky & Shadish 2013; scdhlm's
    ``effect_size_MB``): moment estimates.  D-bar is the mean over cases of
    the difference between the treatment and the baseline mean; S^2 the
    variance around the session x phase means across cases (K cells, g
    points: g - K df); phi the lag-1 autocorrelation of the residuals around
    the case x phase means, bias-corrected; sigma^2_w and rho = 1 - sigma^2_w
    / S^2 (at least 0) from them; nu from the variance of S^2 under the fitted
    covariance.

    ``design="reversal"`` with ``method="hps"`` (Hedges, Pustejovsky &
    Shadish 2012; scdhlm's ``effect_size_ABk``): every case goes through the
    same k baseline-treatment pairs, (AB)^k, baseline first.  D-bar is the
    mean over cases and pairs of (treatment mean - baseline mean) within the
    pair; S^2 the variance across cases around the (pair, phase, position in
    the phase) means, over the M. positions that every case has (the first
    min_i n_i points of each phase; M. (m - 1) df for m cases); phi the lag-1
    autocorrelation of the residuals around each phase's mean, within phases,
    plus sum(1 - 1/n)/sum(n - 1) over the phases; sigma^2_w = a_0 / (g -
    tr((X'X)^-1 X'R(phi)X)) with X the phase indicators and R(phi) over the
    positions within a phase; rho = max(0, 1 - sigma^2_w / S^2); theta^2 =
    Var(D-bar) and nu = (M. (m - 1))^2 / tr(A Sigma A Sigma) under Sigma =
    rho + (1 - rho) phi^|t - s| over the session numbers within a case.

    ``method="reml"`` (Pustejovsky, Hedges & Shadish 2014; lmeInfo's
    ``g_mlm``): REML fit of y = b0 + b1 D + u_case + e, with u ~ N(0, tau^2)
    and AR(1) errors within case, Cov(e_t, e_s) = sigma^2 phi^|t - s| over
    the session numbers; delta = b1 / sqrt(tau^2 + sigma^2); nu from the
    expected information of (tau^2, phi, sigma^2).  Any design whose cases
    all have baseline and treatment points, reversal designs included.

    The sign is that of treatment minus baseline: for an outcome that
    improves by decreasing, a negative g is an improvement.

    Parameters
    ----------
    data : pandas.DataFrame
        Long table, one row per case x session.
    case, session, phase, outcome : str
        Column names.  Sessions are whole numbers (the AR(1) lags), unique
        within a case; rows may come in any order.
    baseline, treatment : label
        The phase labels; any other label is an error.
    design : {"multiple_baseline", "reversal"}
        The design.  ``"reversal"`` is an (AB)^k design; for
        ``method="hps"`` every case must have the same number k of
        baseline-treatment pairs, starting with baseline.
    method : {"hps", "reml"}
        Moment (HPS) or REML estimation.
    confidence : float
        Level of the interval g -+ t_{nu} x se.

    Returns
    -------
    BCSMD
        ``estimate`` (g), ``se``, ``df`` (nu), ``ci_lower``, ``ci_upper``,
        ``delta_unadjusted``, ``J``, ``phi``, ``rho``, ``sigma2_within``,
        ``tau2``, ``theta``, and ``details``.

    Raises
    ------
    ValueError
        For a missing column, a missing or non-numeric outcome, a phase
        label other than ``baseline``/``treatment``, a case without
        baseline or treatment points, a session repeated within a case,
        fewer than 2 cases, no degrees of freedom (HPS: g - K <= 0 or
        g - 2k <= 0; reversal: only one-point phases), a reversal design
        that is not (AB)^k with the same k for every case (HPS), an outcome
        that does not vary (S^2 = 0), or a REML fit that fails (phi at +-1,
        no residual variance).

    Notes
    -----
    Compared with scdhlm 0.7.4 / lmeInfo on 30 public multiple-baseline
    sets: HPS to 1e-8, REML to 1e-4 (relative; R's optimiser stops early).
    The variance is V = J^2 (theta^2 nu/(nu - 2) + g^2 (nu/(nu - 2) - 1/J^2)),
    with nu floored at 2.001 inside it; REML uses J(floored nu) in the last
    term, HPS J(nu), as the R packages do.  For REML, ``theta`` is kappa,
    ``tau2`` may be 0 (on the boundary; nlme reports a tiny positive value).
    Reversal HPS reproduces the two worked examples of HPS (2012) as scdhlm's
    tests report them (Lambert et al. 2006, Anglesea et al. 2008; every
    quantity to R's 6 printed decimals).

    References
    ----------
    Hedges, L. V., Pustejovsky, J. E., & Shadish, W. R. (2012). A
    standardized mean difference effect size for single case designs.
    *Research Synthesis Methods*, 3, 224-239.

    Hedges, L. V., Pustejovsky, J. E., & Shadish, W. R. (2013). A
    standardized mean difference effect size for multiple baseline designs
    across individuals. *Research Synthesis Methods*, 4, 324-341.

    Pustejovsky, J. E., Hedges, L. V., & Shadish, W. R. (2014).
    Design-comparable effect sizes in multiple baseline designs: A general
    modeling framework. *Journal of Educational and Behavioral Statistics*,
    39, 368-393.

    Examples
    --------
    A multiple baseline across three cases, baselines of 3, 4 and 5 sessions:

    >>> import pandas as pd
    >>> import scedsim as ss
    >>> y = {"c1": [3, 5, 4, 9, 8, 10, 9, 11],
    ...      "c2": [6, 4, 5, 6, 10, 12, 11, 10],
    ...      "c3": [2, 3, 2, 4, 3, 7, 8, 7]}
    >>> rows = [(c, t + 1, "A" if t < 2 + i + 1 else "B", v)
    ...         for i, (c, ys) in enumerate(y.items()) for t, v in enumerate(ys)]
    >>> df = pd.DataFrame(rows, columns=["case", "session", "phase", "outcome"])
    >>> r = ss.bcsmd(df)
    >>> round(r.estimate, 4), round(r.se, 4), round(r.df, 3)
    (2.1604, 1.447, 3.32)
    >>> r = ss.bcsmd(df, method="reml")
    >>> round(r.estimate, 4), round(r.se, 4), round(r.phi, 4)
    (2.4699, 1.4322, -0.2132)

    An ABAB reversal design, three sessions per phase:

    >>> y = {"c1": [3, 4, 3, 8, 9, 7, 4, 2, 3, 9, 8, 10],
    ...      "c2": [5, 6, 4, 9, 11, 10, 6, 5, 9, 12, 10, 11],
    ...      "c3": [2, 3, 1, 6, 7, 5, 2, 3, 2, 8, 6, 7]}
    >>> rows = [(c, t + 1, "AB"[(t // 3) % 2], v) for c, ys in y.items() for t, v in enumerate(ys)]
    >>> df = pd.DataFrame(rows, columns=["case", "session", "phase", "outcome"])
    >>> r = ss.bcsmd(df, design="reversal")
    >>> round(r.estimate, 4), round(r.se, 4), round(r.df, 3)
    (1.7216, 1.1436, 3.34)
    """
    _check_method_design(method, design)
    confidence = _check_confidence(confidence)
    Y, times, trt, n = _from_table(data, case, session, phase, outcome, baseline, treatment)
    check_magnitude("BC-SMD", np.nan_to_num(np.asarray(Y, dtype=np.float64))[None])
    d = _make_design(design, method, times, trt, n)
    d.check(method)
    out = _run(method, d, Y[None])
    if method == "hps" and not out[HPS_FIELDS.index("S2"), 0] > 0.0:
        cells = "phase pair x phase x position" if design == "reversal" else "session x phase"
        raise ValueError(f"S^2 = 0: the outcome does not vary around the {cells} means")
    res = _result(method, design, d, out, confidence, batch=False)
    if not math.isfinite(res.estimate):
        if method == "hps":
            raise ValueError("HPS: the outcome does not vary within the case x phase cells "
                             "(no autocorrelation or within-case variance can be estimated)")
        raise ValueError("REML fit failed: the autocorrelation runs to +-1 or no residual variance is left")
    return res


# --------------------------------------------------------------------------- batch entry

def bcsmd_batch(y, treatment, *, times=None, method: str = "hps", design: str = "multiple_baseline",
                confidence: float = 0.95) -> BCSMD:
    """The between-case SMD of many data sets of one design (for simulation studies).

    Parameters
    ----------
    y : array_like, shape (n_sets, n_cases, n_time)
        Outcomes, every case observed at every occasion; finite.
    treatment : array_like of bool, shape (n_cases, n_time)
        True where a case is in the treatment phase, shared by the sets.
    times : array_like of int, optional
        Session numbers, shape (n_time,) or (n_cases, n_time), increasing;
        default 1..n_time.
    method, design, confidence
        As in :func:`bcsmd`.

    Returns
    -------
    BCSMD
        With one entry per set in each array field.  A set where the
        estimate is undefined (S^2 = 0, a REML fit with phi at +-1) gets NaN
        in every field; no error is raised for it.

    References
    ----------
    Hedges, L. V., Pustejovsky, J. E., & Shadish, W. R. (2012). *Research
    Synthesis Methods*, 3, 224-239.

    Hedges, L. V., Pustejovsky, J. E., & Shadish, W. R. (2013). *Research
    Synthesis Methods*, 4, 324-341.

    Pustejovsky, J. E., Hedges, L. V., & Shadish, W. R. (2014). *Journal of
    Educational and Behavioral Statistics*, 39, 368-393.

    Examples
    --------
    Two data sets of a staggered multiple baseline (3 cases, 6 occasions):

    >>> import numpy as np
    >>> import scedsim as ss
    >>> trt = np.arange(6) >= np.array([[2], [3], [4]])
    >>> rng = np.random.default_rng(7)
    >>> y = rng.normal(size=(2, 3, 6)) + 1.0 * trt
    >>> r = ss.bcsmd_batch(y, trt)
    >>> r.estimate.shape
    (2,)
    >>> bool(np.allclose(r.estimate[0], ss.bcsmd_batch(y[:1], trt).estimate[0]))
    True
    """
    _check_method_design(method, design)
    confidence = _check_confidence(confidence)
    Y = np.asarray(y)
    if Y.dtype.kind not in "iuf" or Y.ndim != 3:
        raise ValueError(f"y must be a numeric 3-D array (n_sets, n_cases, n_time), got dtype {Y.dtype} "
                         f"and {Y.ndim} dimension(s)")
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    n_sets, k, T = Y.shape
    D = np.asarray(treatment)
    if D.shape != (k, T):
        raise ValueError(f"treatment must have shape (n_cases, n_time) = {(k, T)}, got {D.shape}")
    if D.dtype.kind not in "biuf" or not np.isin(D, (0, 1)).all():
        raise ValueError("treatment must be a boolean (0/1) array")
    if times is None:
        tt = np.tile(np.arange(1, T + 1, dtype=np.int64), (k, 1))
    else:
        tt = np.asarray(times, dtype=np.float64)
        if tt.ndim == 1:
            tt = np.tile(tt, (k, 1))
        if tt.shape != (k, T) or not np.isfinite(tt).all() or (tt != np.round(tt)).any():
            raise ValueError(f"times must be whole numbers of shape (n_time,) or {(k, T)}")
        if (np.diff(tt, axis=1) <= 0).any():
            raise ValueError("times must increase within each case")
        tt = tt.astype(np.int64)
    if not _FINITE_CHECKED.get() and not np.isfinite(Y).all():
        raise ValueError("y contains NaN or infinite values; every case must be observed at every occasion")
    check_magnitude("BC-SMD", Y)
    d = _make_design(design, method, tt, D.astype(np.float64), np.full(k, T))
    d.check(method)
    if n_sets == 0:
        out = np.empty((len(HPS_FIELDS if method == "hps" else REML_FIELDS), 0))
    else:
        out = _run(method, d, Y)
    if method == "hps":
        out[:, ~(out[HPS_FIELDS.index("S2")] > 0.0)] = np.nan
    return _result(method, design, d, out, confidence, batch=True)


# --------------------------------------------------------------------------- simulator entry

def _across_estimates(y, treatment, times, design, *, method="hps", confidence=0.95) -> BCSMD:
    """The simulator's call: :func:`bcsmd_batch` on one replication block."""
    return bcsmd_batch(y, treatment, times=times, method=method, design=design, confidence=confidence)


def _check_across(options: dict) -> None:
    check_choice("method", options["method"], METHODS)
    check_confidence(options["confidence"])


def bcsmd_parameter(q, options=None) -> float:
    """The design-comparable SMD that the HPS and REML estimators target.

    Hedges, Pustejovsky & Shadish (2012, 2013) define the between-case SMD as the
    average treatment effect divided by the SD of the outcome across cases and
    occasions in the absence of treatment: with the model
    y_it = b0 + u_i + (beta + v_i) D_it + e_it + m_it, u_i ~ N(0, tau^2) the case
    intercepts, e_it a stationary AR(1) process with marginal variance sigma_e^2
    and m_it independent measurement error with variance sigma_m^2,

        delta = beta / sqrt(tau^2 + sigma_e^2 + sigma_m^2).

    The autocorrelation does not enter: the marginal variance is used, which the
    REML fit's tau^2 + sigma^2 and HPS's S^2 estimate.  Effect heterogeneity
    (v_i) does not enter either: the denominator is the variance of the
    untreated outcome.

    Parameters
    ----------
    q : NormalShift
        ``q.delta`` = beta, ``q.s^2`` = sigma_e^2 + sigma_m^2 and ``q.case_sd`` = tau.
    options : dict, optional
        Ignored (the target does not depend on the method).

    Returns
    -------
    float
        delta, NaN when the baseline variance is zero.

    References
    ----------
    Hedges, L. V., Pustejovsky, J. E., & Shadish, W. R. (2012). *Research
    Synthesis Methods*, 3, 224-239.

    Hedges, L. V., Pustejovsky, J. E., & Shadish, W. R. (2013). *Research
    Synthesis Methods*, 4, 324-341.
    """
    total = q.case_sd ** 2 + q.s ** 2
    return q.delta / math.sqrt(total) if total > 0 else math.nan


def _register() -> None:
    from .registry import AcrossMetric, register_across

    register_across(AcrossMetric(
        name="bcsmd", prefix="bcsmd", func=_across_estimates, defaults={"method": "hps", "confidence": 0.95},
        label_options=("method",), check=_check_across, min_cases=2, limit=bcsmd_parameter, title="BC-SMD"))


_register()
