"""Simulate data like mine: a normal AR(1) model estimated from a user's own baseline data.

:func:`fit_baseline` estimates level, trend, variability and the lag-1
autocorrelation phi from the baseline phase of one or several cases, with
their uncertainty, and returns the parameters of the simulator's
``normal_ar1`` model (:class:`scedsim.simulate.NormalAR1`), ready for
``scedsim.simulate.Study(model="normal_ar1", grid=...)`` or a planner's
``params``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["fit_baseline", "BaselineFit"]

_PHI_MAX = 0.99
# Fewer residual degrees of freedom than this and phi is reported as poorly determined.
_FEW_DF = 20


@dataclass(frozen=True)
class BaselineFit:
    """Estimates of a normal AR(1) baseline model, with their uncertainty.

    Attributes
    ----------
    phi, phi_ci : float, (float, float)
        REML estimate of the lag-1 autocorrelation and its likelihood-ratio
        interval (bounded by +-0.99).
    trend, trend_se, trend_ci : float
        Common baseline slope per occasion (raw units), with its GLS standard
        error and t interval (conditional on phi-hat).
    intercepts, intercept_se : ndarray
        Per case, the level at occasion 0 (raw units) and its standard error.
    level : float
        Mean of the case intercepts.
    case_sd : float
        Between-case SD of the intercepts beyond their sampling error (method of
        moments, 0 when the intercepts vary no more than their SEs say; NaN for
        one case).
    innovation_sd, innovation_sd_ci : float, (float, float)
        SD of the AR(1) innovations; chi-square interval given phi-hat.
    sd : float
        Marginal SD of the errors, innovation_sd / sqrt(1 - phi^2).
    n_cases, n_obs, df : int
        Cases, baseline points, residual degrees of freedom.
    confidence : float
    notes : tuple of str
        Warnings about how little the data say (short baselines).
    """

    phi: float
    phi_ci: tuple
    trend: float
    trend_se: float
    trend_ci: tuple
    intercepts: np.ndarray = field(repr=False)
    intercept_se: np.ndarray = field(repr=False)
    level: float
    case_sd: float
    innovation_sd: float
    innovation_sd_ci: tuple
    sd: float
    n_cases: int
    n_obs: int
    df: int
    confidence: float
    has_trend: bool = True
    notes: tuple = ()

    def params(self, phi: str | float = "estimate") -> dict:
        """Parameters of the simulator's ``normal_ar1`` model (``scale="marginal"``).

        ``intercept`` and ``sd`` are in raw units; ``trend`` and ``case_sd`` in
        units of the marginal SD, as the model takes them.  ``phi`` is the
        estimate, ``"lower"`` / ``"upper"`` (the interval's ends, with ``sd``
        and ``trend`` rescaled to keep the innovation SD), or a number.
        Effects (``level``, ``slope``) are left to the caller.
        """
        if phi == "estimate":
            ph = self.phi
        elif phi == "lower":
            ph = self.phi_ci[0]
        elif phi == "upper":
            ph = self.phi_ci[1]
        else:
            ph = float(phi)
            if not -1.0 < ph < 1.0:
                raise ValueError(f"phi must lie strictly between -1 and 1, got {phi}")
        sd = self.innovation_sd / math.sqrt(1.0 - ph * ph)
        out = {"intercept": self.level, "trend": self.trend / sd if self.has_trend else 0.0, "phi": ph,
               "sd": sd, "scale": "marginal"}
        if self.n_cases > 1:
            out["case_sd"] = self.case_sd / sd
        return out

    def scenarios(self) -> dict:
        """``{"lower": params, "estimate": params, "upper": params}`` over phi's interval:
        plan for the range the data allow, not only the point estimate."""
        return {k: self.params(k) for k in ("lower", "estimate", "upper")}

    def summary(self) -> str:
        """A short text report."""
        c = f"{100 * self.confidence:.10g}%"
        lines = [f"baseline model: normal AR(1), {self.n_cases} case(s), {self.n_obs} baseline points, "
                 f"{self.df} residual df",
                 f"phi            {self.phi:8.3f}   {c} interval [{self.phi_ci[0]:.3f}, {self.phi_ci[1]:.3f}] "
                 "(REML, likelihood ratio)"]
        if self.has_trend:
            lines.append(f"trend          {self.trend:8.3f}   SE {self.trend_se:.3f}, {c} interval "
                         f"[{self.trend_ci[0]:.3f}, {self.trend_ci[1]:.3f}] per occasion")
        lines.append(f"level          {self.level:8.3f}   (mean intercept at occasion 0"
                     f"{'' if self.n_cases == 1 else f'; between-case SD {self.case_sd:.3f}'})")
        lines.append(f"innovation SD  {self.innovation_sd:8.3f}   {c} interval "
                     f"[{self.innovation_sd_ci[0]:.3f}, {self.innovation_sd_ci[1]:.3f}] given phi")
        lines.append(f"marginal SD    {self.sd:8.3f}")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def _series(data, case, session, phase, value, baseline):
    """List of 1-D float arrays, one per case, from arrays or a long table."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        for col in (case, session, value):
            if col not in data.columns:
                raise ValueError(f"the table has no column {col!r}; columns: {', '.join(map(str, data.columns))}")
        df = data
        if phase is not None:
            if phase not in df.columns:
                raise ValueError(f"the table has no phase column {phase!r}")
            df = df[df[phase].astype(str).str.strip() == str(baseline)]
            if df.empty:
                raise ValueError(f"no rows with phase {baseline!r} (the baseline); phases: "
                                 f"{', '.join(sorted(data[phase].astype(str).unique()))}")
        return [g.sort_values(session)[value].to_numpy(dtype=float) for _, g in df.groupby(case, sort=False)]
    if isinstance(data, np.ndarray) and data.ndim == 1:
        return [data.astype(float)]
    items = list(data)
    if items and all(np.ndim(v) == 0 for v in items):
        return [np.asarray(items, dtype=float)]
    return [np.asarray(v, dtype=float).ravel() for v in items]


def _transform(ys, Xs, phi):
    """Prais-Winsten transform of every case: the errors become iid N(0, sigma_u^2)."""
    r = math.sqrt(1.0 - phi * phi)
    yt, Xt = [], []
    for y, X in zip(ys, Xs):
        a = np.empty_like(y)
        B = np.empty_like(X)
        a[0], B[0] = r * y[0], r * X[0]
        a[1:], B[1:] = y[1:] - phi * y[:-1], X[1:] - phi * X[:-1]
        yt.append(a)
        Xt.append(B)
    return np.concatenate(yt), np.concatenate(Xt)


def _profile_grid(ys, Xs, phis, n_obs, p):
    """The restricted log likelihood of :func:`_profile` at every phi of ``phis`` at once."""
    phis = np.asarray(phis, dtype=np.float64)
    r = np.sqrt(1.0 - phis * phis)
    yt, Xt = [], []
    for y, X in zip(ys, Xs):
        yt.append(np.concatenate([np.outer(r, y[:1]), y[None, 1:] - phis[:, None] * y[None, :-1]], axis=1))
        Xt.append(np.concatenate([r[:, None, None] * X[None, :1], X[None, 1:] - phis[:, None, None] * X[None, :-1]],
                                 axis=1))
    y, X = np.concatenate(yt, axis=1), np.concatenate(Xt, axis=1)      # (G, N), (G, N, p)
    XtX = np.einsum("gnp,gnq->gpq", X, X)
    beta = np.linalg.solve(XtX, np.einsum("gnp,gn->gp", X, y)[:, :, None])[:, :, 0]
    rss = ((y - np.einsum("gnp,gp->gn", X, beta)) ** 2).sum(axis=1)
    logdet = np.linalg.slogdet(XtX)[1]
    return -0.5 * (n_obs - p) * np.log(np.maximum(rss, 1e-300)) + 0.5 * len(ys) * np.log(1.0 - phis * phis) \
        - 0.5 * logdet


def _profile(ys, Xs, phi, n_obs, p):
    """Restricted log likelihood profiled over beta and sigma (constants dropped), and the GLS fit."""
    y, X = _transform(ys, Xs, phi)
    XtX = X.T @ X
    beta = np.linalg.solve(XtX, X.T @ y)
    rss = float(((y - X @ beta) ** 2).sum())
    sign, logdet = np.linalg.slogdet(XtX)
    ll = -0.5 * (n_obs - p) * math.log(max(rss, 1e-300)) + 0.5 * len(ys) * math.log(1.0 - phi * phi) \
        - 0.5 * logdet
    return ll, beta, rss, XtX


def fit_baseline(data, *, trend: bool = True, confidence: float = 0.95, case: str = "case",
                 session: str = "session", phase: str | None = "phase", value: str = "value",
                 baseline: str = "A") -> BaselineFit:
    """Estimate a normal AR(1) model from baseline data, to simulate data like them.

    The model for case i at baseline occasion t = 1, ..., n_i is

        y_it = a_i + b t + e_it,   e_it = phi e_i,t-1 + u_it,   u_it ~ N(0, s_u^2),

    with a stationary start, case-specific levels a_i and a common trend b
    (``trend=False`` drops it) and common phi and s_u.  phi is estimated by
    restricted maximum likelihood (REML), which removes most of the downward
    bias ML and lag-1 moment estimators have in short series (Cheang &
    Reinsel 2000); given phi-hat, a_i and b are GLS estimates (the
    Prais-Winsten transform) and s_u^2 = RSS / (N - p).

    Uncertainty: phi's interval inverts the REML likelihood-ratio test (chi-square,
    1 df), which keeps its coverage better than a Wald interval when phi is
    near the edge or the series are short; trend and levels have GLS t
    intervals and the innovation SD a chi-square interval, both conditional on
    phi-hat (they do not carry phi's uncertainty, so they run somewhat short:
    in 300-replication checks with 45-60 baseline points the 95% trend
    interval covered .91-.95, .91 at phi = .6; phi's interval .94-.96; the
    innovation SD's .95).  With fewer than 20
    residual degrees of freedom (e.g. one case with 7 baseline points) phi is
    poorly determined: the fit says so in ``notes``, and :meth:`BaselineFit.scenarios`
    gives the model at both ends of phi's interval so that a plan can cover
    the whole range instead of trusting the point estimate.

    Parameters
    ----------
    data : array_like, sequence of array_like, or pandas.DataFrame
        One case's baseline values in time order, one array per case, or a
        long table (``case``, ``session``, ``value`` columns; with ``phase``
        only the rows whose phase is ``baseline`` are used), taken in session
        order as equally spaced occasions 1, 2, ... (gaps in the session
        numbers are not modelled).  No NaN.
    trend : bool
        Estimate a common linear trend (default) or assume none.
    confidence : float
    case, session, phase, value, baseline : str
        Column names and the baseline label of a table (``phase=None``: every row).

    Returns
    -------
    BaselineFit
        ``.params()`` is the ``normal_ar1`` parameter dict; ``.summary()`` a report.

    References
    ----------
    Cheang, W.-K., & Reinsel, G. C. (2000). Bias reduction of autoregressive
    estimates in time series regression model through restricted maximum
    likelihood. *Journal of the American Statistical Association*, 95(452),
    1173-1184.

    Prais, S. J., & Winsten, C. B. (1954). Trend estimators and serial
    correlation. Cowles Commission Discussion Paper No. 383.

    Huitema, B. E., & McKean, J. W. (2000). Design specification issues in
    time-series intervention models. *Educational and Psychological
    Measurement*, 60(1), 38-58.

    Examples
    --------
    >>> fit = fit_baseline([[4, 5, 3, 5, 6, 4, 5, 6], [6, 7, 6, 8, 7, 7, 9, 8]])
    >>> round(fit.phi, 3), [round(v, 3) for v in fit.phi_ci], fit.df
    (-0.322, [-0.77, 0.284], 13)
    >>> {k: round(v, 3) for k, v in fit.params().items() if k != "scale"}
    {'intercept': 4.844, 'trend': 0.323, 'phi': -0.322, 'sd': 0.795, 'case_sd': 2.203}

    Sixteen points say little about phi: the interval runs from -0.77 to
    0.28, and ``fit.notes`` says so.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie between 0 and 1, got {confidence}")
    ys = _series(data, case, session, phase, value, baseline)
    if not ys:
        raise ValueError("no baseline data")
    for k, y in enumerate(ys):
        if np.isnan(y).any():
            raise ValueError(f"case {k + 1}: the baseline holds NaN; drop or fill missing occasions first")
        if y.size < 3:
            raise ValueError(f"case {k + 1}: a baseline of {y.size} point(s) is too short; "
                             "each case needs at least 3 baseline points")
    K = len(ys)
    n_obs = sum(y.size for y in ys)
    p = K + (1 if trend else 0)
    if n_obs - p < 3:
        raise ValueError(f"{n_obs} baseline points leave {n_obs - p} residual degrees of freedom for "
                         f"{p} mean parameters; at least 3 are needed to estimate phi and the SD")
    Xs = []
    for k, y in enumerate(ys):
        X = np.zeros((y.size, p))
        X[:, k] = 1.0
        if trend:
            X[:, K] = np.arange(1, y.size + 1)
        Xs.append(X)

    def negll(ph):
        return -_profile(ys, Xs, ph, n_obs, p)[0]

    # A grid first: the restricted likelihood can have more than one local maximum.
    from scipy import optimize, stats

    grid = np.linspace(-_PHI_MAX, _PHI_MAX, 199)
    vals = -_profile_grid(ys, Xs, grid, n_obs, p)
    i = int(np.argmin(vals))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    res = optimize.minimize_scalar(negll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-8})
    phi = float(res.x) if res.fun <= vals[i] else float(grid[i])
    best = -negll(phi)
    crit = 0.5 * stats.chi2.ppf(confidence, 1)

    def gap(ph):
        return best + negll(ph) - crit

    ci_lo = -_PHI_MAX if gap(-_PHI_MAX) <= 0 else optimize.brentq(gap, -_PHI_MAX, phi, xtol=1e-8)
    ci_hi = _PHI_MAX if gap(_PHI_MAX) <= 0 else optimize.brentq(gap, phi, _PHI_MAX, xtol=1e-8)
    _, beta, rss, XtX = _profile(ys, Xs, phi, n_obs, p)
    df = n_obs - p
    s2 = rss / df
    cov = s2 * np.linalg.inv(XtX)
    tq = stats.t.ppf(0.5 + confidence / 2, df)
    a, se_a = beta[:K], np.sqrt(np.diag(cov)[:K])
    if trend:
        b, se_b = float(beta[K]), float(math.sqrt(cov[K, K]))
    else:
        b, se_b = 0.0, 0.0
    su = math.sqrt(s2)
    alpha = 1.0 - confidence
    su_ci = (math.sqrt(df * s2 / stats.chi2.ppf(1 - alpha / 2, df)), math.sqrt(df * s2 / stats.chi2.ppf(alpha / 2, df)))
    if K > 1:
        case_sd = math.sqrt(max(0.0, float(np.var(a, ddof=1)) - float(np.mean(se_a ** 2))))
    else:
        case_sd = float("nan")
    notes = []
    if df < _FEW_DF:
        notes.append(f"only {df} residual degrees of freedom: phi is poorly determined (interval "
                     f"[{ci_lo:.2f}, {ci_hi:.2f}]); plan over that range, e.g. with scenarios(), "
                     "not at the point estimate")
    if max(abs(ci_lo), abs(ci_hi)) >= _PHI_MAX - 1e-9:
        notes.append(f"phi's interval reaches the bound +-{_PHI_MAX}: the data cannot rule out (near) "
                     "non-stationary errors")
    if K > 1 and min(y.size for y in ys) < 5:
        notes.append("some cases have fewer than 5 baseline points; their levels are rough")
    return BaselineFit(phi=phi, phi_ci=(float(ci_lo), float(ci_hi)), trend=b, trend_se=se_b,
                       trend_ci=(b - tq * se_b, b + tq * se_b), intercepts=a, intercept_se=se_a,
                       level=float(a.mean()), case_sd=case_sd, innovation_sd=su, innovation_sd_ci=su_ci,
                       sd=su / math.sqrt(1.0 - phi * phi), n_cases=K, n_obs=n_obs, df=df,
                       confidence=confidence, has_trend=bool(trend), notes=tuple(notes))
