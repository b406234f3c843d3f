"""hplm: the multilevel piecewise model (scan's ``hplm``, i.e. ``nlme::lme``).

The worked example of METRICS_NEW, the packaged R reference rows by option
group (with the checker's rule for sets where R's optimizer stopped short of
the maximum), the log-likelihood against a dense multivariate-normal
computation and against a grid, invariances, the batch and the simulator rule.
"""
import math
import pathlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import scedsim as ss
from scedsim import _mixed as mx
from scedsim import registry
from scedsim.multilevel import hplm_batch, hplm_pvalues

REF = pathlib.Path(ss.__file__).parent / "data" / "reference"
TERMS = ("intercept", "trend", "level", "slope")


@pytest.fixture(scope="module")
def sets():
    raw = pd.read_csv(REF / "public_mb_sets_data.csv.gz", dtype={"set_id": str, "case": str})
    raw["phase"] = np.where(raw["treatment"] == "baseline", "A", "B")
    raw = raw.rename(columns={"time": "session"})
    return {s: g.reset_index(drop=True) for s, g in raw.groupby("set_id")}


@pytest.fixture(scope="module")
def ref():
    r = pd.read_csv(REF / "public_hplm.csv.gz", dtype=str, keep_default_na=False)
    return r[r.set_id.str.match(r"mb_\d{3}$")]


def _est(r):
    return np.array([getattr(r, t).estimate for t in TERMS])


def _se(r):
    return np.array([getattr(r, t).se for t in TERMS])


# --------------------------------------------------------------------------- dense reference

def _dense(data, model="W"):
    """Stacked X, y, per-case blocks (row indices), sessions and D, built independently of the package."""
    X, y, blocks, t_all, d_all, start = [], [], [], [], [], 0
    for _, g in data.sort_values(["case", "session"]).groupby("case", sort=True):
        t = g.session.to_numpy(float)
        d = (g.phase == "B").to_numpy(float)
        tb = t[d == 1][0]
        trend = t - t[0] if model == "W" else t
        slope = d * (t - tb + (0 if model in ("W", "H-M") else 1))
        X.append(np.column_stack([np.ones(t.size), trend, d, slope]))
        y.append(g.outcome.to_numpy(float))
        blocks.append(np.arange(start, start + t.size))
        start += t.size
        t_all.append(t)
        d_all.append(d)
    return np.vstack(X), np.concatenate(y), blocks, np.concatenate(t_all), np.concatenate(d_all)


def _sigma(blocks, t, d, n, s2, G, phi, zcols, X):
    """Dense Var(y) = s2 R + Z G Z', block diagonal by case."""
    V = np.zeros((n, n))
    for b in blocks:
        tt = t[b]
        R = phi ** np.abs(tt[:, None] - tt[None, :]) if phi else np.eye(b.size)
        Z = X[b][:, zcols]
        V[np.ix_(b, b)] = s2 * R + Z @ G @ Z.T
    return V


def _dense_loglik(data, r, model="W", method="ML", zcols=(0,)):
    """nlme's log-likelihood at the fit's own parameters, from scipy's multivariate normal."""
    X, y, blocks, t, d = _dense(data, model)
    n, p = X.shape
    sd = np.array([r.sd_random[TERMS[c]] for c in zcols])
    G = np.outer(sd, sd) * np.nan_to_num(r.corr_random, nan=0.0)
    V = _sigma(blocks, t, d, n, r.sd_residual ** 2, G, r.phi, list(zcols), X)
    ll = stats.multivariate_normal(X @ _est(r), V).logpdf(y)
    if method == "REML":
        ll += 0.5 * p * math.log(2 * math.pi) - 0.5 * np.linalg.slogdet(X.T @ np.linalg.solve(V, X))[1]
    return ll


def _gls(data, lam, phi=0.0, model="W", method="ML", _cache={}):
    """Dense profile: GLS beta, SEs (RSS / (N - p) scale) and nlme's log-likelihood at
    lam = tau^2 / s2 and phi, with s2 profiled out (case by case: W is block diagonal)."""
    key = (id(data), model)
    if key not in _cache:
        _cache.clear()
        _cache[key] = (data, _dense(data, model))
    X, y, blocks, t, d = _cache[key][1]
    n, p = X.shape
    A, b, yy, ldw = np.zeros((p, p)), np.zeros(p), 0.0, 0.0
    for blk in blocks:
        tt = t[blk]
        W = (phi ** np.abs(tt[:, None] - tt[None, :]) if phi else np.eye(blk.size)) + lam
        Wi = np.linalg.inv(W)
        A += X[blk].T @ Wi @ X[blk]
        b += X[blk].T @ Wi @ y[blk]
        yy += y[blk] @ Wi @ y[blk]
        ldw += np.linalg.slogdet(W)[1]
    beta = np.linalg.solve(A, b)
    rss = yy - b @ beta
    if method == "REML":
        ll = -0.5 * (n - p) * (math.log(2 * math.pi * rss / (n - p)) + 1) - 0.5 * ldw - 0.5 * np.linalg.slogdet(A)[1]
    else:
        ll = -0.5 * n * (math.log(2 * math.pi * rss / n) + 1) - 0.5 * ldw
    se = np.sqrt(np.diag(rss / (n - p) * np.linalg.inv(A)))
    return beta, se, ll


# --------------------------------------------------------------------------- worked example

def test_worked_example_mb_001(sets):
    d = sets["mb_001"]
    r = ss.hplm(d)
    assert _est(r) == pytest.approx([26.614669, .0333864, -.750692, -.0015235], rel=2e-6, abs=1e-7)  # digits shown
    assert _se(r) == pytest.approx([2.183579, .192498, 1.854295, .241518], rel=2e-6)
    assert {getattr(r, t).df for t in TERMS} == {92}
    assert (r.sd_intercept, r.sd_residual) == pytest.approx((4.093774, 5.342426), rel=2e-6)
    assert r.loglik == pytest.approx(-315.82440, abs=1e-5)
    assert r.level.statistic == pytest.approx(r.level.estimate / r.level.se)
    assert r.level.pvalue == pytest.approx(2 * stats.t.sf(abs(r.level.statistic), 92))
    reml = ss.hplm(d, method="REML")
    assert (reml.level.estimate, reml.level.se) == pytest.approx((-.691713, 1.856875), rel=2e-6)
    assert (reml.sd_intercept, reml.sd_residual) == pytest.approx((4.701725, 5.424543), rel=2e-6)
    assert reml.loglik == pytest.approx(-314.63380, abs=1e-5)
    blb = ss.hplm(d, model="B&L-B")
    assert (blb.intercept.estimate, blb.level.estimate) == pytest.approx((26.581283, -.749169), rel=2e-6)
    assert (blb.trend.estimate, blb.slope.estimate) == pytest.approx((r.trend.estimate, r.slope.estimate), rel=1e-9)
    assert blb.loglik == pytest.approx(r.loglik, abs=1e-9)
    ar = ss.hplm(d, ar=1)
    assert ar.phi == pytest.approx(.205790, abs=2e-5)
    assert (ar.level.estimate, ar.level.se) == pytest.approx((-1.551135, 2.093080), rel=1e-4)
    assert ar.loglik >= -314.12496260974547 - 1e-9   # R's logLik: ours is (slightly) higher


# --------------------------------------------------------------------------- R reference rows

GROUPS = {  # R option -> (keyword arguments, tolerance, share of rows needed)
    "model=W;method=ML;random.slopes=FALSE;ICC=TRUE;control=list(opt='optim') (defaults)": ({}, 1e-6, 1.0),
    "model=W;method=REML": ({"method": "REML"}, 1e-6, 1.0),
    "model=H-M": ({"model": "H-M"}, 1e-6, 1.0),
    "model=B&L-B": ({"model": "B&L-B"}, 1e-6, 1.0),
    "model=JW": ({"model": "JW"}, 1e-6, 1.0),
    "ar=1 (corARMA(p=1) ~mt|case)": ({"ar": 1}, 1e-4, 0.95),
    "random_level=TRUE (random intercept + level)": ({"random_level": True}, 1e-4, 0.95),
}


def _close(x, y, tol):
    return abs(x - y) <= tol * max(1.0, abs(y))


def _check_group(sets, ref, option, only=None):
    """The checker's rule: estimates and SEs within ``tol`` of R's, or, where R stopped
    short (our log-likelihood at least R's), the GLS at our own variance parameters
    (random intercept) or within 5e-2 of R's (random level, AR(1))."""
    kw, tol, need = GROUPS[option]
    rows = ref[ref.option == option]
    failed = set(rows[(rows.metric == "hplm") & (rows.status == "error")].set_id)
    good = total = short = 0
    for sid, g in rows.groupby("set_id"):
        if sid in failed or (only is not None and sid not in only):
            continue
        m = {row.metric: (float(row.estimate), float(row.se) if row.se not in ("", "NA") else math.nan)
             for row in g.itertuples()}
        r = ss.hplm(sets[sid], **kw)
        ll_r = m["hplm_logLik"][0]
        # Never below R's maximum (R's optimizer stops short; a proper maximum cannot be lower).
        assert r.loglik >= ll_r - 1e-8 * abs(ll_r), (sid, option, r.loglik, ll_r)
        better = r.loglik <= ll_r + 1.0
        own = None
        for j, term in enumerate(TERMS):
            est, se = m["hplm_" + term]
            c = getattr(r, term)
            ok = _close(c.estimate, est, tol) and _close(c.se, se, tol)
            if not ok and better:
                if kw.get("random_level") or kw.get("ar"):
                    ok = _close(c.estimate, est, 5e-2) and _close(c.se, se, 5e-2)
                else:
                    if own is None:
                        own = _gls(sets[sid], (r.sd_intercept / r.sd_residual) ** 2, 0.0, kw.get("model", "W"),
                                   kw.get("method", "ML"))
                    ok = (_close(r.loglik, own[2], 1e-6) and _close(c.estimate, own[0][j], 1e-6)
                          and _close(c.se, own[1][j], 1e-6))
                short += ok
            good += ok
            total += 1
    return good, total, short, need


@pytest.mark.parametrize("option", list(GROUPS)[:6], ids=lambda o: o.split(" ")[0][:24])
def test_reference_rows(sets, ref, option):
    good, total, short, need = _check_group(sets, ref, option)
    assert total >= 100
    assert good >= need * total, (good, total)
    if need == 1.0:
        assert short < total / 2   # R agrees to 1e-6 on most sets: the fallback is the exception


def test_reference_rows_random_level_subset(sets, ref):
    """Every set but the slow ones: Nelder-Mead in three parameters costs ~0.3 s a set."""
    only = {f"mb_{i:03d}" for i in range(1, 9)} | {"mb_014"}   # mb_014: R is off by 0.2 there
    good, total, _, _ = _check_group(sets, ref, list(GROUPS)[6], only)
    assert total == 36 and good >= 32, (good, total)


# --------------------------------------------------------------------------- likelihood

@pytest.mark.parametrize("kw,zcols", [({}, (0,)), ({"method": "REML"}, (0,)), ({"ar": 1}, (0,)),
                                      ({"ar": 1, "method": "REML"}, (0,)), ({"random_level": True}, (0, 2)),
                                      ({"model": "H-M", "random_level": True, "method": "REML"}, (0, 2)),
                                      ({"random_level": True, "ar": 1}, (0, 2))])
def test_loglik_is_the_multivariate_normal_density(sets, kw, zcols):
    for sid in ("mb_001", "mb_004"):
        d = sets[sid]
        r = ss.hplm(d, **kw)
        assert r.loglik == pytest.approx(_dense_loglik(d, r, kw.get("model", "W"), kw.get("method", "ML"), zcols),
                                         abs=1e-8 * abs(r.loglik))


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_optimum_beats_a_grid(sets, method):
    for sid in ("mb_001", "mb_003", "mb_010"):
        d = sets[sid]
        r = ss.hplm(d, method=method)
        lam = (r.sd_intercept / r.sd_residual) ** 2
        beta, se, ll = _gls(d, lam, 0.0, "W", method)
        assert ll == pytest.approx(r.loglik, abs=1e-9) and _est(r) == pytest.approx(beta, rel=1e-9)
        assert _se(r) == pytest.approx(se, rel=1e-9)
        grid = [0.0] + list(np.exp(np.linspace(-10, 4, 57))) + [lam * 0.999, lam * 1.001]
        assert max(_gls(d, g, 0.0, "W", method)[2] for g in grid) <= r.loglik + 1e-10
    d = sets["mb_004"]
    ra = ss.hplm(d, method=method, ar=1)
    lam_a = (ra.sd_intercept / ra.sd_residual) ** 2
    assert _gls(d, lam_a, ra.phi, "W", method)[2] == pytest.approx(ra.loglik, abs=1e-9)
    best = max(_gls(d, g, f, "W", method)[2] for g in [0.0, *np.exp(np.linspace(-6, 3, 10))]
               for f in np.linspace(-0.9, 0.9, 13))
    assert best <= ra.loglik + 1e-10


def test_ar1_with_missing_sessions_is_the_dense_model(sets):
    """Gaps in the sessions: the correlation is phi^|t_j - t_l| (the AR(1) process seen at
    the observed sessions), which the O(n) whitening must reproduce."""
    d = sets["mb_001"]
    d = d[d.session % 4 != 0]
    for method in ("ML", "REML"):
        r = ss.hplm(d, ar=1, method=method)
        assert r.loglik == pytest.approx(_dense_loglik(d, r, "W", method), abs=1e-8 * abs(r.loglik))
        lam = (r.sd_intercept / r.sd_residual) ** 2
        beta, se, ll = _gls(d, lam, r.phi, "W", method)
        assert _est(r) == pytest.approx(beta, rel=1e-9) and _se(r) == pytest.approx(se, rel=1e-9)
        assert max(_gls(d, lam, r.phi + h, "W", method)[2] for h in (-1e-3, 1e-3)) < r.loglik


@pytest.mark.slow
def test_random_slopes_reach_r_maximum(sets, ref):
    """Not in the checker (scan's random.slopes; seconds per fit): on mb_013, where a plain
    Nelder-Mead search stalls 0.2 below R, at least R's log-likelihood, and the dense
    density at the fit's own parameters."""
    rows = ref[(ref.option == "random.slopes=TRUE (random intercept + trend + level + slope)")
               & (ref.metric == "hplm_logLik") & (ref.set_id == "mb_013")]
    ll_r = float(rows.estimate.iloc[0])
    r = ss.hplm(sets["mb_013"], random_slopes=True)
    assert r.loglik >= ll_r - 1e-8 * abs(ll_r)
    assert r.loglik == pytest.approx(_dense_loglik(sets["mb_013"], r, zcols=(0, 1, 2, 3)), abs=1e-8 * abs(r.loglik))


def test_boundary_tau_zero():
    """Between-case variation well below the noise: the maximum is at tau = 0, reported exactly."""
    rng = np.random.default_rng(3)
    rows = [{"case": c, "session": s, "phase": "A" if s <= 3 + c else "B", "outcome": rng.normal()}
            for c in range(4) for s in range(1, 11)]
    d = pd.DataFrame(rows)
    d["outcome"] -= d.groupby("case").outcome.transform("mean")   # equal case means: no room for tau
    r = ss.hplm(d)
    assert r.sd_intercept == 0.0
    _, _, ll0 = _gls(d, 0.0)
    assert r.loglik == pytest.approx(ll0, abs=1e-10)
    assert r.loglik >= max(_gls(d, g)[2] for g in (1e-8, 1e-4, 1e-2))


# --------------------------------------------------------------------------- invariances

def test_shift_scale_and_order(sets):
    d = sets["mb_002"]
    for kw in ({}, {"method": "REML"}, {"ar": 1}):
        r = ss.hplm(d, **kw)
        shifted = ss.hplm(d.assign(outcome=d.outcome + 7.5), **kw)
        assert shifted.intercept.estimate == pytest.approx(r.intercept.estimate + 7.5, rel=1e-8)
        assert _est(shifted)[1:] == pytest.approx(_est(r)[1:], rel=1e-7, abs=1e-9)
        assert _se(shifted) == pytest.approx(_se(r), rel=1e-7)
        assert shifted.loglik == pytest.approx(r.loglik, abs=1e-8)
        scaled = ss.hplm(d.assign(outcome=d.outcome * 3.0), **kw)
        assert _est(scaled) == pytest.approx(3 * _est(r), rel=1e-7, abs=1e-9)
        assert _se(scaled) == pytest.approx(3 * _se(r), rel=1e-7)
        assert (scaled.sd_intercept, scaled.sd_residual) == pytest.approx((3 * r.sd_intercept, 3 * r.sd_residual),
                                                                          rel=1e-6, abs=1e-9)
        n_fit = r.n_obs - (4 if kw.get("method") == "REML" else 0)
        assert scaled.loglik == pytest.approx(r.loglik - n_fit * math.log(3.0), abs=1e-7)
        assert scaled.level.pvalue == pytest.approx(r.level.pvalue, rel=1e-6)
        shuffled = d.sample(frac=1.0, random_state=1).assign(case=d.case.map(lambda c: "z" + c))
        other = ss.hplm(shuffled, **kw)
        assert _est(other) == pytest.approx(_est(r), rel=1e-12, abs=1e-13)
        assert other.loglik == pytest.approx(r.loglik, abs=1e-10)


def test_models_differ_only_in_parameterisation(sets):
    d = sets["mb_005"]
    fits = {m: ss.hplm(d, model=m) for m in ("W", "H-M", "B&L-B", "JW")}
    assert len({round(f.loglik, 9) for f in fits.values()}) == 1
    assert _est(fits["JW"]) == pytest.approx(_est(fits["B&L-B"]), rel=1e-12)
    assert fits["H-M"].level.estimate == pytest.approx(fits["W"].level.estimate, rel=1e-9)


# --------------------------------------------------------------------------- batch, kernels, simulator

def _frame(y, lengths):
    return pd.DataFrame([{"case": f"c{c}", "session": j + 1, "phase": "A" if j < lengths[c] else "B",
                          "outcome": y[c, j]} for c in range(y.shape[0]) for j in range(y.shape[1])])


@pytest.mark.parametrize("kw", [{}, {"method": "REML"}, {"model": "B&L-B"}, {"ar": 1}])
def test_batch_equals_single(kw):
    rng = np.random.default_rng(7)
    lengths = [2, 3, 4, 5]
    y = rng.normal(size=(6, 4, 8)) + rng.normal(size=(6, 4, 1)) + 2 * (np.arange(8) >= 4)
    b = hplm_batch(y, lengths, **kw)
    for s in range(y.shape[0]):
        r = ss.hplm(_frame(y[s], lengths), **kw)
        assert b.estimate[s] == pytest.approx(_est(r), rel=1e-12, abs=1e-12)
        assert b.se[s] == pytest.approx(_se(r), rel=1e-12)
        assert b.pvalue[s, 2] == pytest.approx(r.level.pvalue, rel=1e-10)
        assert (b.loglik[s], b.sd_intercept[s], b.sd_residual[s], b.phi[s]) == pytest.approx(
            (r.loglik, r.sd_intercept, r.sd_residual, r.phi), rel=1e-12, abs=1e-14)
    assert b.df == 32 - 4 - 3


def test_batch_threads_and_degenerate_rows():
    rng = np.random.default_rng(8)
    y = rng.normal(size=(600, 3, 7))
    y[5] = 2.0   # all values equal: no likelihood
    one = hplm_batch(y, [2, 3, 4])
    ss.set_num_threads(2)
    try:
        two = hplm_batch(y, [2, 3, 4])
    finally:
        ss.set_num_threads(1)
    np.testing.assert_array_equal(one.estimate, two.estimate)
    assert np.isnan(one.estimate[5]).all() and np.isnan(one.pvalue[5]).all()
    assert np.isfinite(one.pvalue[np.arange(600) != 5]).all()


def test_fit_batch_twin_equals_kernel():
    rng = np.random.default_rng(9)
    y = rng.normal(size=(2, 3, 6))
    X = np.vstack([ss.multilevel._design(np.arange(1.0, 7), (np.arange(6) >= m).astype(float), "W") for m in (2, 3, 4)])
    Y = y.reshape(2, -1)
    off = np.array([0, 6, 12, 18])
    t = np.tile(np.arange(1.0, 7), 3)
    for ar in (False, True):
        outs = []
        for f in (mx.fit_batch, mx.fit_batch.twin):
            w = ss.multilevel._Work(3, 1)
            out = np.full((Y.shape[0] if not ar else 1, 12), -9.0)
            f(X, Y[:out.shape[0]], off, t, False, ar, out, np.empty((18, 5)), w.C, w.ldr, np.zeros(1, np.int64), w.L,
              w.S, w.M, w.U, w.K, w.KX, w.Kinv, w.beta, w.dg)
            outs.append(out)
        np.testing.assert_array_equal(outs[0], outs[1])


def test_simulator_rule_equals_hplm():
    spec = registry.tests()["hplm_test"]
    assert spec.across and spec.prefix == "p_hplm" and spec.label({"effect": "level"}) == "p_hplm_level"
    rng = np.random.default_rng(11)
    lengths = [3, 4, 5]
    y = rng.normal(size=(4, 3, 9)) + 1.5 * (np.arange(9) >= 5)
    p = spec.pvalues(y, lengths, improvement="increase", effect="level")
    for s in range(4):
        r = ss.hplm(_frame(y[s], lengths))
        assert p[s] == pytest.approx(r.level.pvalue, rel=1e-10)
        one = hplm_pvalues(y[s:s + 1], lengths, effect="level", alternative="greater")[0]
        down = hplm_pvalues(y[s:s + 1], lengths, "decrease", effect="level", alternative="greater")[0]
        t = r.level.statistic
        assert one == pytest.approx(stats.t.sf(t, r.level.df), rel=1e-10)
        assert down == pytest.approx(stats.t.cdf(t, r.level.df), rel=1e-10)   # the sign flips
        assert hplm_pvalues(-y[s:s + 1], lengths, "decrease", effect="level", alternative="greater")[0] == \
            pytest.approx(one, rel=1e-10)
    with pytest.raises(ValueError, match="effect"):
        spec.check({"effect": "phase"})
    with pytest.raises(ValueError, match="no option"):
        spec.check({"effect": "level", "statistic": "nap"})


def test_simulator_runs_the_rule():
    from scedsim.simulate import Study, run

    study = Study(design="A4 B5", grid={"level": [0.0]}, n_cases=3, n_reps=60, seed=2, estimands=False,
                  metrics=[{"name": "hplm_test", "effect": "level"}], rules=["p_hplm_level <= 0.05"])
    res = run(study, quiet=True)
    n = res.summary[(res.summary.metric == "p_hplm_level") & (res.summary.measure == "n")]
    assert float(n.value.iloc[0]) == 60


# --------------------------------------------------------------------------- validation

def test_bad_input(sets):
    d = sets["mb_001"][["case", "session", "phase", "outcome"]]
    with pytest.raises(ValueError, match="no column 'score'"):
        ss.hplm(d, outcome="score")
    with pytest.raises(ValueError, match="missing values"):
        ss.hplm(d.assign(outcome=d.outcome.where(d.index != 3)))
    with pytest.raises(ValueError, match=r"unknown phase label\(s\) 'C'"):
        ss.hplm(d.assign(phase=d.phase.where(d.index != 3, "C")))
    with pytest.raises(ValueError, match="has no treatment sessions"):
        ss.hplm(d.assign(phase=np.where(d.case == "c1", "A", d.phase)))
    with pytest.raises(ValueError, match="has no baseline sessions"):
        ss.hplm(d.assign(phase=np.where(d.case == "c2", "B", d.phase)))
    with pytest.raises(ValueError, match="at least 2 cases"):
        ss.hplm(d[d.case == "c1"])
    with pytest.raises(ValueError, match="repeated sessions"):
        ss.hplm(d.assign(session=np.where(d.session == 2, 1, d.session)))
    with pytest.raises(ValueError, match="follows a treatment"):
        ss.hplm(d.assign(phase=np.where((d.case == "c1") & (d.session == 20), "A", d.phase)))
    with pytest.raises(ValueError, match="model must be"):
        ss.hplm(d, model="X")
    with pytest.raises(ValueError, match="method must be"):
        ss.hplm(d, method="GLS")
    with pytest.raises(ValueError, match="ar must be"):
        ss.hplm(d, ar=2)
    with pytest.raises(ValueError, match="integer sessions"):
        ss.hplm(d.assign(session=d.session * 0.5), ar=1)
    with pytest.raises(ValueError, match="DataFrame"):
        ss.hplm(d.to_dict())
    tiny = _frame(np.arange(6.0).reshape(2, 3), [1, 2])
    with pytest.raises(ValueError, match="too few"):
        ss.hplm(tiny)
    single = _frame(np.random.default_rng(1).normal(size=(3, 5)), [4, 4, 4])
    with pytest.raises(ValueError, match="rank deficient"):
        ss.hplm(single)
    with pytest.raises(ValueError, match="n_sets, n_cases, n_time"):
        hplm_batch(np.zeros((3, 5)), [2, 3, 3])
    with pytest.raises(ValueError, match="baseline lengths"):
        hplm_batch(np.zeros((1, 3, 5)), [0, 3, 3])
    with pytest.raises(ValueError, match="3 entries for 2 cases"):
        hplm_batch(np.zeros((1, 2, 5)), [2, 3, 3])
