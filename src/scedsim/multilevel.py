"""Multilevel piecewise regression for multiple-baseline data (``hplm``).

Van den Noortgate & Onghena (2003, 2008): each case's series follows the
piecewise regression of Huitema & McKean (2000) (intercept, trend, level
change, slope change), and cases differ by a random intercept (optionally a
random level change, or random everything), fitted by maximum likelihood or
REML as ``nlme::lme`` does (scan's ``hplm``).  The likelihood machinery lives in
:mod:`scedsim._mixed`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _mixed as _mx
from .registry import TestSpec, register_test

__all__ = ["hplm", "hplm_batch", "hplm_pvalues", "HplmResult", "HplmBatch", "Coefficient", "MODELS", "METHODS"]

MODELS = ("W", "H-M", "B&L-B", "JW")
METHODS = ("ML", "REML")
TERMS = ("intercept", "trend", "level", "slope")


@dataclass(frozen=True)
class Coefficient:
    """One fixed effect: estimate, standard error, t statistic, two-sided p-value and df."""

    estimate: float
    se: float
    statistic: float
    pvalue: float
    df: int


@dataclass(frozen=True, repr=False)
class HplmResult:
    """Fit of :func:`hplm`.

    Attributes
    ----------
    intercept, trend, level, slope : Coefficient
        The fixed effects (estimate, se, statistic, pvalue, df).
    sd_intercept, sd_level, sd_residual : float
        Standard deviations of the random intercept, of the random level change
        (NaN unless ``random_level``) and of the residuals.
    sd_random : dict
        Every random effect's standard deviation by term name.
    corr_random : numpy.ndarray
        Correlation matrix of the random effects (1 x 1 for a random intercept).
    phi : float
        AR(1) autocorrelation (0 when ``ar=0``).
    loglik : float
        ML or REML log-likelihood at the optimum (nlme's constants).
    n_cases, n_obs : int
    model, method : str
    """

    intercept: Coefficient
    trend: Coefficient
    level: Coefficient
    slope: Coefficient
    sd_intercept: float
    sd_level: float
    sd_residual: float
    sd_random: dict
    corr_random: np.ndarray
    phi: float
    loglik: float
    n_cases: int
    n_obs: int
    model: str
    method: str

    def __repr__(self) -> str:
        co = ", ".join(f"{k}={getattr(self, k).estimate:.4g} (se {getattr(self, k).se:.4g})" for k in TERMS)
        return (f"HplmResult({co}, sd_intercept={self.sd_intercept:.4g}, sd_residual={self.sd_residual:.4g}, "
                f"loglik={self.loglik:.6g}, model={self.model!r}, method={self.method!r})")


# --------------------------------------------------------------------------- design

def _design(t: np.ndarray, d: np.ndarray, model: str) -> np.ndarray:
    """Columns (1, trend, D, slope) of one case, sessions t (sorted), D = treatment indicator."""
    tb = t[d.argmax()]  # first treatment session
    trend = t - t[0] if model == "W" else t.astype(float)
    shift = 0.0 if model in ("W", "H-M") else 1.0
    return np.column_stack([np.ones(t.size), trend, d, d * (t - tb + shift)])


def _check_options(model, method, ar):
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if method not in METHODS:
        raise ValueError(f"method must be 'ML' or 'REML', got {method!r}")
    if ar not in (0, 1) or isinstance(ar, bool):
        raise ValueError(f"ar must be 0 or 1, got {ar!r}")


def _prepare(data, case, session, phase, outcome, baseline, treatment, model):
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in (case, session, phase, outcome) if c not in data.columns]
    if missing:
        raise ValueError(f"data has no column {missing[0]!r} (columns: {', '.join(map(str, data.columns))})")
    for c in (case, session, phase, outcome):
        if data[c].isna().any():
            raise ValueError(f"column {c!r} has missing values")
    bad = sorted({str(x) for x in data[phase].unique()} - {str(baseline), str(treatment)})
    if bad:
        raise ValueError(f"unknown phase label(s) {', '.join(map(repr, bad))}: phases must be "
                         f"{baseline!r} (baseline) or {treatment!r} (treatment)")
    try:
        y_all = data[outcome].to_numpy(dtype=np.float64)
        t_all = data[session].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"columns {outcome!r} and {session!r} must be numeric") from None
    if not (np.isfinite(y_all).all() and np.isfinite(t_all).all()):
        raise ValueError(f"columns {outcome!r} and {session!r} must be finite")
    d_all = (data[phase].astype(str) == str(treatment)).to_numpy(np.float64)
    codes, names = pd.factorize(data[case], sort=True)
    if names.size < 2:
        raise ValueError(f"hplm needs at least 2 cases, got {names.size}")
    xs, ys, ts = [], [], []
    for g, name in enumerate(names):
        rows = np.flatnonzero(codes == g)
        order = rows[np.argsort(t_all[rows], kind="stable")]
        t, d, y = t_all[order], d_all[order], y_all[order]
        if np.any(np.diff(t) == 0):
            raise ValueError(f"case {name!r} has repeated sessions")
        if d.min() == 1.0 or d.max() == 0.0:
            raise ValueError(f"case {name!r} has no {'baseline' if d.min() == 1.0 else 'treatment'} sessions")
        if np.any(np.diff(d) < 0):
            raise ValueError(f"case {name!r}: a baseline session follows a treatment session (only AB designs)")
        xs.append(_design(t, d, model))
        ys.append(y)
        ts.append(t)
    return xs, ys, ts, [str(x) for x in names]


# --------------------------------------------------------------------------- fitting

class _Work:
    """Work arrays for the kernels (q random effects, k cases)."""

    def __init__(self, k: int, q: int):
        self.C = np.empty((k, _mx.NC, _mx.NC))
        self.ldr = np.zeros(k)
        self.L = np.zeros((q, q))
        self.S = np.empty((_mx.NC, _mx.NC))
        self.M = np.empty((q, q))
        self.U = np.empty((q, _mx.NC))
        self.K = np.empty((q, q))
        self.KX = np.empty((_mx.P, _mx.P))
        self.Kinv = np.empty((_mx.P, _mx.P))
        self.beta = np.empty(_mx.P)
        self.dg = np.empty(_mx.P)

    def args(self, zc, n, reml):
        return (self.C, self.ldr, zc, self.L, float(n), bool(reml), self.S, self.M, self.U, self.K, self.KX,
                self.beta)


def _unpack(theta, q, ar):
    """log-Cholesky parameters -> lower factor L of G / s2 (and phi)."""
    L = np.zeros((q, q))
    idx = 0
    for j in range(q):
        L[j, j] = math.exp(theta[idx])
        idx += 1
        for i in range(j + 1, q):
            L[i, j] = theta[idx]
            idx += 1
    phi = math.tanh(theta[idx]) if ar else 0.0
    return L, phi


def _fit_general(xy, off, t, zc, n, reml, ar, work, start_lam, start_phi):
    """Random level / random slopes: Nelder-Mead over the log-Cholesky factor of
    G / s2 (and atanh phi), from a few starts, restarted until it stops improving."""
    from scipy.optimize import minimize

    q = zc.size
    npar = q * (q + 1) // 2 + (1 if ar else 0)
    cache = {"phi": None}

    def negll(theta):
        L, phi = _unpack(theta, q, ar)
        if cache["phi"] != phi:
            _mx.crossprods(xy, off, t, phi, work.C, work.ldr)
            cache["phi"] = phi
        work.L[...] = L
        v = _mx.profile(*work.args(zc, n, reml))
        return -v if np.isfinite(v) else 1e300

    bounds = []
    for j in range(q):
        bounds.append((-20.0, 10.0))
        bounds += [(-1e3, 1e3)] * (q - 1 - j)
    if ar:
        bounds.append((-7.0, 7.0))
    def nm(x0):
        return minimize(negll, np.clip(x0, lo, hi), method="Nelder-Mead", bounds=bounds,
                        options={"xatol": 1e-10, "fatol": 1e-14, "maxfev": 2000 * npar, "adaptive": npar > 3})

    lo, hi = np.array(bounds).T
    best = None
    base = math.log(max(math.sqrt(start_lam), 1e-3))
    for other in (-1.0, -3.0, 0.0):
        x0 = []
        for j in range(q):
            x0.append(base if j == 0 else other)
            x0 += [0.0] * (q - 1 - j)
        if ar:
            x0.append(math.atanh(max(-0.95, min(0.95, start_phi))))
        if npar > 4:  # random slopes: Nelder-Mead stalls in ten dimensions, a quasi-Newton start does not
            r = minimize(negll, np.array(x0), method="L-BFGS-B", bounds=bounds,
                         options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 2000})
        else:
            r = nm(np.array(x0))
        if best is None or r.fun < best.fun:
            best = r
    # Nelder-Mead restarted from its own answer until it stops improving (a fresh simplex
    # escapes the collapsed one); a quasi-Newton step would cost more per evaluation here.
    for _ in range(10):
        r = nm(best.x)
        done = r.fun >= best.fun - 1e-12
        if r.fun < best.fun:
            best = r
        if done:
            break
    theta = best.x
    L, phi = _unpack(theta, q, ar)
    _mx.crossprods(xy, off, t, phi, work.C, work.ldr)
    work.L[...] = L
    ll = _mx.profile(*work.args(zc, n, reml))
    return L, phi, ll


def hplm(data, *, case="case", session="session", phase="phase", outcome="outcome", baseline="A",
         treatment="B", model="W", method="ML", random_level=False, random_slopes=False, ar=0) -> HplmResult:
    """Multilevel piecewise regression of a multiple-baseline design (scan's ``hplm``).

    Each case i follows y = b0 + b1 trend + b2 D + b3 slope + u_i + e, with
    D = 1 in the treatment phase and the columns of ``model`` (as in ``plm``):

    ======  ==================  =========================
    model   trend               slope
    ======  ==================  =========================
    W       t - t_first(case)   D (t - t_B)
    H-M     t                   D (t - t_B)
    B&L-B   t                   D (t - t_B + 1)
    JW      t                   D (t - t_B + 1)
    ======  ==================  =========================

    (t_B: the case's first treatment session.)  u_i ~ N(0, tau^2) is a random
    intercept; ``random_level=True`` adds a random level change (full 2 x 2
    covariance), ``random_slopes=True`` makes all four effects random.  The
    errors are independent, or AR(1) in session within case with ``ar=1``
    (nlme's ``corARMA(p = 1, ~ session | case)``: correlation phi^|t_j - t_l|).

    The variance parameters maximise the ML or REML log-likelihood (nlme's
    constants) with b and s2 profiled out: for a random intercept a grid in
    log(tau^2 / s2) then Brent, the boundary tau = 0 included, and for AR(1) an
    outer grid and Brent over atanh(phi); with ``random_level`` or
    ``random_slopes`` Nelder-Mead (restarted) over the log-Cholesky factor.
    Standard errors are those of ``summary.lme`` for both methods:
    sqrt(diag(RSS / (N - 4) (sum X'W^-1 X)^-1)); t tests use nlme's
    containment df, N - k - 3 (k cases).

    Parameters
    ----------
    data : pandas.DataFrame
        Tidy long data, one row per case and session.
    case, session, phase, outcome : str
        Column names.  Sessions must be distinct within a case (integers when
        ``ar=1``).
    baseline, treatment : str
        The two phase labels; each case has baseline sessions before its
        treatment sessions.
    model : {"W", "H-M", "B&L-B", "JW"}
    method : {"ML", "REML"}
    random_level, random_slopes : bool
    ar : {0, 1}

    Returns
    -------
    HplmResult
        ``.intercept``, ``.trend``, ``.level``, ``.slope`` (each ``.estimate``,
        ``.se``, ``.statistic``, ``.pvalue``, ``.df``), ``.sd_intercept``,
        ``.sd_residual``, ``.loglik``, ``.phi``.

    See Also
    --------
    hplm_batch : the random-intercept fit of many data sets of one design (compiled).
    hplm_pvalues : its p-values, the simulator's ``hplm_test`` rule.

    Notes
    -----
    ``random_slopes=True`` (ten variance parameters) is searched from several
    starts and takes seconds per fit; the other models take milliseconds.
    R's ``optim`` (scan's default) often stops short of the maximum near
    tau = 0 and on flat likelihoods; this function maximises properly, so its
    log-likelihood is at least R's and its estimates can differ from scan's by
    up to ~1e-3 relative there.  ``lme``'s own failures (convergence errors)
    are not reproduced.

    References
    ----------
    Van den Noortgate, W., & Onghena, P. (2003). Combining single-case
    experimental data using hierarchical linear models. *School Psychology
    Quarterly*, 18(3), 325-346.

    Van den Noortgate, W., & Onghena, P. (2008). A multilevel meta-analysis of
    single-subject experimental design studies. *Evidence-Based Communication
    Assessment and Intervention*, 2(3), 142-151.

    Huitema, B. E., & McKean, J. W. (2000). Design specification issues in
    time-series intervention models. *Educational and Psychological
    Measurement*, 60(1), 38-58.

    Pinheiro, J. C., & Bates, D. M. (2000). *Mixed-Effects Models in S and
    S-PLUS*. Springer.

    Examples
    --------
    >>> import pandas as pd
    >>> import scedsim as ss
    >>> y = {"a": [3, 4, 3, 6, 7, 5, 8, 7], "b": [2, 3, 4, 3, 5, 7, 8, 8], "c": [5, 4, 5, 6, 5, 6, 9, 9]}
    >>> start = {"a": 4, "b": 5, "c": 6}
    >>> df = pd.DataFrame([{"case": c, "session": s + 1, "phase": "A" if s + 1 < start[c] else "B",
    ...                     "outcome": v} for c in y for s, v in enumerate(y[c])])
    >>> r = ss.hplm(df)
    >>> round(r.level.estimate, 4), round(r.level.se, 4), r.level.df
    (1.6321, 0.7391, 18)
    >>> round(r.sd_intercept, 4), round(r.sd_residual, 4), round(r.loglik, 4)
    (0.5998, 0.8445, -32.423)
    """
    _check_options(model, method, ar)
    xs, ys, ts, _names = _prepare(data, case, session, phase, outcome, baseline, treatment, model)
    if ar == 1 and any(np.any(t != np.round(t)) for t in ts):
        raise ValueError(f"ar=1 needs integer sessions (column {session!r})")
    k = len(xs)
    n = sum(y.size for y in ys)
    if random_slopes:
        zc = np.arange(_mx.P, dtype=np.int64)
    elif random_level:
        zc = np.array([0, 2], dtype=np.int64)
    else:
        zc = np.array([0], dtype=np.int64)
    q = zc.size
    n_var = q * (q + 1) // 2 + ar + 1
    if n - _mx.P - n_var < 1 or n - k - 3 < 1:
        raise ValueError(f"{n} observations are too few for 4 fixed effects and {n_var} variance parameters "
                         f"in {k} cases")
    X = np.vstack(xs)
    if np.linalg.matrix_rank(X) < _mx.P:
        raise ValueError("the design is rank deficient (e.g. every case has a single treatment session, "
                         "so the slope change is not estimable)")
    y = np.concatenate(ys)
    # Centred (every model has an intercept): RSS keeps its digits.  A plain running
    # sum, the kernel's order in hplm_batch, so that the two agree to the last bit.
    ybar = sum(y.tolist()) / y.size
    xy = np.ascontiguousarray(np.column_stack([X, y - ybar]))
    t = np.concatenate(ts)
    off = np.concatenate([[0], np.cumsum([y.size for y in ys])]).astype(np.int64)
    reml = method == "REML"
    work = _Work(k, q)
    # The random-intercept fit: the answer itself, or the start of the larger models.
    w1 = _Work(k, 1)
    z1 = np.array([0], dtype=np.int64)
    if ar:
        phi, lam, ll = _mx.max_phi_lambda(xy, off, t, w1.C, w1.ldr, z1, w1.L, float(n), reml, w1.S, w1.M, w1.U,
                                          w1.K, w1.KX, w1.beta)
    else:
        phi = 0.0
        _mx.crossprods(xy, off, t, 0.0, w1.C, w1.ldr)
        lam, ll = _mx.max_lambda(*w1.args(z1, n, reml))
    if q == 1:
        work = w1
        L = np.array([[math.sqrt(lam)]])
    else:
        L, phi, ll = _fit_general(xy, off, t, zc, n, reml, ar, work, lam, phi)
    if not np.isfinite(ll):
        raise ValueError("the likelihood could not be evaluated (a perfect fit, or a degenerate design)")
    return _result(work, L, zc, phi, ll, n, k, model, method, ybar)


def _result(work, L, zc, phi, ll, n, k, model, method, ybar) -> HplmResult:
    from scipy import stats

    p = _mx.P
    rss = work.S[p, p] - work.S[:p, p] @ work.beta
    work.beta[0] += ybar
    _mx.inv_diag(work.KX, work.Kinv, work.dg)
    s2_se = rss / (n - p)
    s2 = rss / (n - p) if method == "REML" else rss / n
    se = np.sqrt(s2_se * work.dg)
    df = n - k - 3
    coefs = {}
    for j, name in enumerate(TERMS):
        est = float(work.beta[j])
        stat = est / se[j] if se[j] > 0 else math.nan
        coefs[name] = Coefficient(est, float(se[j]), float(stat), float(2 * stats.t.sf(abs(stat), df)), int(df))
    G = s2 * (L @ L.T)
    sds = np.sqrt(np.diag(G))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = G / np.outer(sds, sds)
    names = [TERMS[c] for c in zc]
    sd_random = dict(zip(names, map(float, sds)))
    return HplmResult(**coefs, sd_intercept=float(sds[0]), sd_level=float(sd_random.get("level", math.nan)),
                      sd_residual=float(math.sqrt(s2)), sd_random=sd_random, corr_random=corr, phi=float(phi),
                      loglik=float(ll), n_cases=int(k), n_obs=int(n), model=model, method=method)


# --------------------------------------------------------------------------- batches

@dataclass(frozen=True, repr=False)
class HplmBatch:
    """Fits of :func:`hplm_batch`: arrays with one entry per data set.

    Attributes
    ----------
    estimate, se, statistic, pvalue : numpy.ndarray
        Shape (n_sets, 4): columns intercept, trend, level, slope.
    df : int
    sd_intercept, sd_residual, phi, loglik : numpy.ndarray
        Shape (n_sets,).  A data set whose likelihood cannot be evaluated (all
        values equal, a perfect fit) gets NaN throughout.
    """

    estimate: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    df: int
    sd_intercept: np.ndarray
    sd_residual: np.ndarray
    phi: np.ndarray
    loglik: np.ndarray

    def __repr__(self) -> str:
        return f"HplmBatch({self.loglik.size} data sets, df={self.df})"


_MIN_SETS_PER_THREAD = 256


def hplm_batch(y, baseline_lengths, *, model="W", method="ML", ar=0, sessions=None) -> HplmBatch:
    """:func:`hplm` (random intercept) for many multiple-baseline data sets of one design.

    ``y`` has shape (n_sets, n_cases, n_time); case ``k`` has its first
    ``baseline_lengths[k]`` points in the baseline phase and the rest in the
    treatment phase, at sessions 1..n_time (or ``sessions``).  Each set gets the
    same fit as :func:`hplm` with ``random_level=False``, in a compiled loop
    (split over threads for large batches).

    Parameters
    ----------
    y : array_like, shape (n_sets, n_cases, n_time)
    baseline_lengths : sequence of int
        Baseline points per case (at least 1, at most n_time - 1).
    model, method, ar
        As in :func:`hplm`.
    sessions : array_like of int, optional
        The n_time sessions (increasing); default 1..n_time.

    Returns
    -------
    HplmBatch

    References
    ----------
    Van den Noortgate, W., & Onghena, P. (2003). Combining single-case
    experimental data using hierarchical linear models. *School Psychology
    Quarterly*, 18(3), 325-346.

    Examples
    --------
    The data of :func:`hplm`'s example as one set, and the same with the
    outcome doubled:

    >>> import numpy as np
    >>> from scedsim.multilevel import hplm_batch
    >>> y = np.array([[3, 4, 3, 6, 7, 5, 8, 7], [2, 3, 4, 3, 5, 7, 8, 8], [5, 4, 5, 6, 5, 6, 9, 9]], float)
    >>> b = hplm_batch(np.stack([y, 2 * y]), [3, 4, 5])
    >>> b.estimate[:, 2].round(4).tolist(), b.se[:, 2].round(4).tolist(), b.df
    ([1.6321, 3.2642], [0.7391, 1.4783], 18)
    """
    _check_options(model, method, ar)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 3:
        raise ValueError(f"y must be (n_sets, n_cases, n_time), got shape {y.shape}")
    n_sets, k, n_time = y.shape
    if k < 2:
        raise ValueError(f"hplm needs at least 2 cases, got {k}")
    lengths = [int(m) for m in baseline_lengths]
    if len(lengths) != k:
        raise ValueError(f"baseline_lengths has {len(lengths)} entries for {k} cases")
    if any(m < 1 or m > n_time - 1 for m in lengths):
        raise ValueError(f"every case needs baseline and treatment points: baseline lengths must be 1..{n_time - 1}")
    t1 = np.arange(1.0, n_time + 1) if sessions is None else np.asarray(sessions, dtype=np.float64)
    if t1.shape != (n_time,) or np.any(np.diff(t1) <= 0) or np.any(t1 != np.round(t1)):
        raise ValueError(f"sessions must be {n_time} increasing integers")
    if not np.isfinite(y).all():
        raise ValueError("y has missing or infinite values")
    xs = [_design(t1, (np.arange(n_time) >= m).astype(float), model) for m in lengths]
    X = np.ascontiguousarray(np.vstack(xs))
    n = k * n_time
    if n - _mx.P - 2 - ar < 1 or n - k - 3 < 1:
        raise ValueError(f"{n} observations are too few for 4 fixed effects and {2 + ar} variance parameters")
    if np.linalg.matrix_rank(X) < _mx.P:
        raise ValueError("the design is rank deficient (e.g. every case has a single treatment session)")
    t = np.tile(t1, k)
    off = np.arange(0, n + 1, n_time, dtype=np.int64)
    Y = np.ascontiguousarray(y.reshape(n_sets, n))
    out = np.empty((n_sets, 2 * _mx.P + 4))
    reml = method == "REML"

    def run(lo, hi):
        w = _Work(k, 1)
        xy = np.empty((n, _mx.NC))
        _mx.fit_batch(X, Y[lo:hi], off, t, reml, bool(ar), out[lo:hi], xy, w.C, w.ldr, np.zeros(1, np.int64), w.L,
                      w.S, w.M, w.U, w.K, w.KX, w.Kinv, w.beta, w.dg)

    from ._threads import get_num_threads

    threads = min(get_num_threads(), n_sets // _MIN_SETS_PER_THREAD)
    if threads <= 1:
        run(0, n_sets)
    else:
        from concurrent.futures import ThreadPoolExecutor

        edges = [n_sets * i // threads for i in range(threads + 1)]
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(lambda i: run(edges[i], edges[i + 1]), range(threads)))
    return _batch_result(out, n, k, method)


def _batch_result(out, n, k, method) -> HplmBatch:
    from scipy import stats

    p = _mx.P
    bad = ~np.isfinite(out[:, -1])
    out[bad] = np.nan
    beta, dg, rss, lam, phi, ll = out[:, :p], out[:, p:2 * p], out[:, 2 * p], out[:, 2 * p + 1], out[:, 2 * p + 2], \
        out[:, 2 * p + 3]
    se = np.sqrt(rss[:, None] / (n - p) * dg)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = np.where(se > 0, beta / se, np.nan)
    df = n - k - 3
    pv = 2 * stats.t.sf(np.abs(stat), df)
    s2 = rss / (n - p) if method == "REML" else rss / n
    return HplmBatch(beta.copy(), se, stat, pv, int(df), np.sqrt(lam * s2), np.sqrt(s2), phi.copy(), ll.copy())


# --------------------------------------------------------------------------- simulator rule

ALTERNATIVES = ("two-sided", "greater", "less")


def hplm_pvalues(y, baseline_lengths, improvement="increase", *, effect="level", model="W", method="ML", ar=0,
                 alternative="two-sided") -> np.ndarray:
    """t-test p-values of one fixed effect of :func:`hplm` for a batch of data sets.

    The simulator's ``hplm_test`` rule (one p-value per replication): ``y`` is
    (n_sets, n_cases, n_time), case ``k`` with ``baseline_lengths[k]`` baseline
    points.  ``alternative="two-sided"`` (the default, as R reports) ignores the
    direction; ``"greater"`` tests for a change in the direction of
    ``improvement`` (an increase, or a decrease when ``improvement="decrease"``,
    which flips the sign of the t statistic), ``"less"`` for the opposite.
    Data sets whose likelihood cannot be evaluated get NaN.

    Parameters
    ----------
    y : array_like, shape (n_sets, n_cases, n_time)
    baseline_lengths : sequence of int
    improvement : {"increase", "decrease"}
    effect : {"level", "slope", "trend", "intercept"}
    model, method, ar
        As in :func:`hplm` (random intercept).
    alternative : {"two-sided", "greater", "less"}

    Returns
    -------
    numpy.ndarray of shape (n_sets,)

    References
    ----------
    Van den Noortgate, W., & Onghena, P. (2003). Combining single-case
    experimental data using hierarchical linear models. *School Psychology
    Quarterly*, 18(3), 325-346.

    Examples
    --------
    >>> import numpy as np
    >>> from scedsim.multilevel import hplm_pvalues
    >>> y = np.array([[3, 4, 3, 6, 7, 5, 8, 7], [2, 3, 4, 3, 5, 7, 8, 8], [5, 4, 5, 6, 5, 6, 9, 9]], float)
    >>> hplm_pvalues(y[None], [3, 4, 5]).round(5).tolist()
    [0.04045]
    >>> hplm_pvalues(y[None], [3, 4, 5], alternative="greater").round(5).tolist()
    [0.02022]
    """
    j = _test_options(effect, alternative, improvement)
    b = hplm_batch(y, baseline_lengths, model=model, method=method, ar=ar)
    stat = b.statistic[:, j]
    if alternative == "two-sided":
        return b.pvalue[:, j]
    from scipy import stats

    sign = -1.0 if improvement == "decrease" else 1.0
    if alternative == "less":
        sign = -sign
    return stats.t.sf(sign * stat, b.df)


def _test_options(effect, alternative, improvement) -> int:
    if effect not in TERMS:
        raise ValueError(f"effect must be one of {', '.join(TERMS)}, got {effect!r}")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, got {alternative!r}")
    if improvement not in ("increase", "decrease"):
        raise ValueError(f"improvement must be 'increase' or 'decrease', got {improvement!r}")
    return TERMS.index(effect)


def _check_test(options, improvement="increase"):
    _test_options(options.get("effect", "level"), options.get("alternative", "two-sided"), improvement)
    _check_options(options.get("model", "W"), options.get("method", "ML"), options.get("ar", 0))
    extra = sorted(set(options) - {"effect", "alternative", "model", "method", "ar"})
    if extra:
        raise ValueError(f"hplm_test has no option {extra[0]!r}")


register_test(TestSpec(
    name="hplm_test", prefix="p_hplm", pvalues=hplm_pvalues, min_pvalue=lambda o, m, n, k: 0.0,
    needs=("effect",), check=_check_test, across=True, min_cases=2))
