"""PLM (piecewise regression): worked examples, every scan reference row, OLS against
least squares, the AR(1) likelihood against brute force, invariances and edge cases."""
import math
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import scedsim as ss
from scedsim import registry
from scedsim.testing import reference_cases

P = sys.modules["scedsim.effect_sizes.plm"]
A, B = [18, 20], [19, 18, 20, 19, 18]
COEFS = ("intercept", "trend", "level", "slope")


def quiet(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return ss.plm(*args, **kw)


# --------------------------------------------------------------------------- worked examples

def test_worked_example_ols():
    r = ss.plm(A, B)
    want = {"intercept": (18, .948683, .00031966), "trend": (2, 1.341641, .232825),
            "level": (-3, 2.244994, .273765), "slope": (-2.1, 1.374773, .224080)}
    for name, (est, se, p) in want.items():
        c = getattr(r, name)
        assert c.estimate == pytest.approx(est, abs=1e-12)
        assert c.se == pytest.approx(se, abs=5e-7)
        assert c.pvalue == pytest.approx(p, abs=5e-7 if p > 1e-3 else 5e-9)
        assert c.df == 3 and c.statistic == pytest.approx(c.estimate / c.se)
    assert (r.f_statistic, r.f_pvalue, r.r2) == pytest.approx((.798942, .571003, .444118), abs=5e-7)
    assert r.r2_adj == pytest.approx(1 - (1 - r.r2) * 6 / 3)
    # The oriented summary is the level change with a t interval on 3 df.
    q = stats.t.ppf(0.975, 3)
    assert (r.estimate, r.se) == (r.level.estimate, r.level.se)
    assert (r.ci_lower, r.ci_upper) == pytest.approx((-3 - q * r.se, -3 + q * r.se), rel=1e-12)
    assert r.phi == 0.0 and not r.boundary and not r.perfect_fit


def test_worked_example_ar1():
    r = ss.plm(A, B, ar=1)
    assert r.phi == pytest.approx(-.403187, abs=5e-7)
    assert (r.intercept.estimate, r.intercept.se) == pytest.approx((17.984240, .944104), abs=5e-7)
    assert (r.level.estimate, r.level.se, r.level.pvalue) == pytest.approx((-3.190885, 2.520695, .294928), abs=5e-7)
    assert (r.slope.estimate, r.slope.se) == pytest.approx((-2.086895, 1.511334), abs=5e-7)
    assert (r.f_statistic, r.f_pvalue) == pytest.approx((.762682, .585451), abs=5e-7)


@pytest.mark.parametrize("model,intercept,level", [("W", 18, -3), ("H-M", 16, -3), ("B&L-B", 16, -0.9),
                                                   ("JW", 16, -0.9)])
def test_models(model, intercept, level):
    r = ss.plm(A, B, model=model)
    assert r.intercept.estimate == pytest.approx(intercept, abs=1e-12)
    assert r.level.estimate == pytest.approx(level, abs=1e-12)
    # Trend, slope and the whole fit are the same reparameterised model.
    assert (r.trend.estimate, r.slope.estimate, r.slope.se) == pytest.approx((2, -2.1, 1.374773), abs=5e-7)
    assert r.f_statistic == pytest.approx(.798942, abs=5e-7)
    if model in ("B&L-B", "JW"):
        assert r.level.se == pytest.approx(1.374773, abs=5e-7)


# --------------------------------------------------------------------------- scan's rows

def _num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _close(x, y, tol):
    if math.isnan(y):
        return math.isnan(x)
    return abs(x - y) <= tol * max(1.0, abs(y))


def _exact_fit(a, b, model):
    """SSE = 0 in exact arithmetic: rational least squares would be overkill; the test data
    are short integer series, so a residual below 1e-10 of the data is an exact fit."""
    X = P.design_matrix(np.arange(1.0, len(a) + len(b) + 1), len(a), model)
    y = np.r_[a, b]
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    return float(np.sum((y - X @ beta) ** 2)) <= 1e-20 * max(float(np.sum(y ** 2)), 1e-300)


def test_every_scan_reference_row():
    """scan 0.67.1 (lm, and nlme::gls ML for AR(1)) on the public series: every coefficient's
    estimate, SE and p, F with its p, R^2, adjusted R^2 and phi.  OLS to 1e-9; AR(1) to 1e-4
    (R's optimiser stops near, not at, the maximum).  Exact fits: R's SE, t, p and F are
    round-off, so only the estimates are compared and our SE must be 0.  Where gls failed
    (false convergence, infinite values near |phi| = 1) we must return the boundary fit."""
    ref = reference_cases("comparators")
    ref = ref[ref.metric.str.startswith("plm")]
    assert len(ref) == 3952
    seen = 0
    for (sa, sb, option), rows in ref.groupby(["A", "B", "option"]):
        o = dict(kv.split("=", 1) for kv in option.split(";"))
        a, b = np.array(sa.split(), float), np.array(sb.split(), float)
        ar = int(o["AR"])
        r = quiet(a, b, model=o["model"], ar=ar)
        tol = 1e-9 if ar == 0 else 1e-4
        exact = _exact_fit(a, b, o["model"])
        assert bool(r.perfect_fit) == exact, (sa, sb, option)
        for row in rows.itertuples():
            seen += 1
            where = (sa, sb, option, row.metric)
            if row.metric == "plm":  # gls failed in R
                assert ar == 1 and (r.boundary or r.perfect_fit), where
                continue
            if row.metric == "plm_F":
                if exact:
                    assert r.f_statistic == (math.inf if np.ptp(np.r_[a, b]) > 0 else 0) or math.isnan(r.f_statistic)
                    continue
                note = dict(kv.split("=", 1) for kv in row.note.split(";"))
                assert _close(r.f_statistic, _num(row.estimate), tol), where
                assert _close(r.f_pvalue, _num(row.p_value), tol), where
                assert _close(r.r2, _num(note["R2"]), tol), where
                assert _close(r.r2_adj, _num(note["R2adj"]), tol), where
                continue
            c = getattr(r, row.metric[len("plm_"):])
            assert _close(c.estimate, _num(row.estimate), tol), where
            if exact:
                assert c.se == 0.0, where
                continue
            assert _close(c.se, _num(row.se), tol), where
            assert _close(c.pvalue, _num(row.p_value), tol), where
            if ar == 1:
                assert abs(r.phi - float(row.note.split("phi=")[1])) <= 1e-4, where
    assert seen == 3952


# --------------------------------------------------------------------------- OLS

@st.composite
def _series(draw):
    m = draw(st.integers(2, 8))
    n = draw(st.integers(2, 10))
    if m + n < 5:
        n = 5 - m
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    scale = 10.0 ** draw(st.integers(-3, 4))
    y = rng.normal(rng.normal() * scale, scale, m + n)
    if draw(st.booleans()):
        y = np.round(y)
    gaps = draw(st.booleans())
    times = np.cumsum(rng.integers(1, 4, m + n)).astype(float) if gaps else None
    return y[:m], y[m:], times, draw(st.sampled_from(P.MODELS))


@given(_series())
def test_ols_against_lstsq(case):
    a, b, times, model = case
    m, N = len(a), len(a) + len(b)
    r = quiet(a, b, model=model, times=times)
    X = P.design_matrix(np.arange(1.0, N + 1) if times is None else times, m, model)
    y = np.r_[a, b]
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    e = y - X @ beta
    sse = float(e @ e)
    scale = np.max(np.abs(y - y.mean())) + 1e-300
    if sse <= 1e-20 * scale ** 2 * N:
        return  # exact fits: see test_perfect_fit
    cov = sse / (N - 4) * np.linalg.inv(X.T @ X)
    ours = np.array([getattr(r, c).estimate for c in COEFS])
    sd = np.sqrt(np.diag(cov))
    # Round-off of a coefficient scales with the weights of its least-squares combination.
    assert np.all(np.abs(ours - beta) <= 1e-7 * np.abs(beta) + 1e-9 * scale * np.abs(np.linalg.pinv(X)).sum(1)), (ours, beta)
    np.testing.assert_allclose([getattr(r, c).se for c in COEFS], sd, rtol=1e-7)
    sst = float(np.sum((y - y.mean()) ** 2))
    assert r.r2 == pytest.approx(1 - sse / sst, rel=1e-7, abs=1e-9)
    f = (sst - sse) / 3 / (sse / (N - 4))
    assert r.f_statistic == pytest.approx(f, rel=1e-7, abs=1e-9)
    assert r.f_pvalue == pytest.approx(stats.f.sf(f, 3, N - 4), rel=1e-6, abs=1e-12)
    assert r.level.pvalue == pytest.approx(2 * stats.t.sf(abs(beta[2] / sd[2]), N - 4), rel=1e-6, abs=1e-12)


def test_times_default_and_shift():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=4), rng.normal(size=5)
    r = ss.plm(a, b, model="H-M")
    same = ss.plm(a, b, model="H-M", times=np.arange(1, 10))
    pair = ss.plm(a, b, model="H-M", times=(np.arange(1, 5), np.arange(5, 10)))
    for c in COEFS:
        assert getattr(same, c).estimate == pytest.approx(getattr(r, c).estimate, rel=1e-12, abs=1e-12)
        assert getattr(pair, c).se == pytest.approx(getattr(r, c).se, rel=1e-12)
    # Shifting the time axis moves only H-M's intercept; W measures time from its start.
    w = ss.plm(a, b), ss.plm(a, b, times=np.arange(1, 10) + 30)
    shifted = ss.plm(a, b, model="H-M", times=np.arange(1, 10) + 30)
    for c in COEFS:
        assert getattr(w[1], c).estimate == pytest.approx(getattr(w[0], c).estimate, rel=1e-9, abs=1e-12)
        if c != "intercept":
            assert getattr(shifted, c).estimate == pytest.approx(getattr(r, c).estimate, rel=1e-9, abs=1e-12)
    # Doubling the spacing halves trend and slope; the level stays.
    d = ss.plm(a, b, times=2 * np.arange(1, 10))
    assert (d.trend.estimate, d.slope.estimate) == pytest.approx((w[0].trend.estimate / 2, w[0].slope.estimate / 2))
    assert d.level.estimate == pytest.approx(w[0].level.estimate)


def test_times_per_series():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(6, 3)), rng.normal(size=(6, 4))
    t = np.tile(np.arange(1.0, 8.0), (6, 1))
    t[::2, 4:] += 2  # a gap in every other series
    r = ss.plm(a, b, times=t, ar=1)
    for i in range(6):
        one = ss.plm(a[i], b[i], times=t[i], ar=1)
        assert (r.level.estimate[i], r.phi[i]) == (one.level.estimate, one.phi)


# --------------------------------------------------------------------------- AR(1)

def _gls(y, X, phi):
    N = len(y)
    R = phi ** np.abs(np.subtract.outer(np.arange(N), np.arange(N)))
    Ri = np.linalg.inv(R)
    M = X.T @ Ri @ X
    beta = np.linalg.solve(M, X.T @ Ri @ y)
    e = y - X @ beta
    Q = float(e @ Ri @ e)
    return beta, Q, R, M


def _m2ll(y, X, phi):
    N = len(y)
    _, Q, _, _ = _gls(y, X, phi)
    return N * math.log(2 * math.pi * Q / N) + (N - 1) * math.log(1 - phi * phi) + N


def test_ar1_against_brute_force_and_the_normal_density():
    """The maximum over a fine grid in phi is never above ours, and ours is close to it;
    the log-likelihood equals the multivariate normal density at the ML estimates;
    coefficients and SEs are the GLS at our phi."""
    rng = np.random.default_rng(11)
    phis = np.tanh(np.linspace(-5, 5, 2001))
    for k in range(24):
        m, n = rng.integers(3, 9), rng.integers(3, 9)
        model = P.MODELS[k % 4]
        e = np.zeros(m + n)
        rho = rng.uniform(-0.7, 0.9)
        for i in range(m + n):
            e[i] = rho * (e[i - 1] if i else 0) + rng.normal()
        y = 10 + 0.3 * np.arange(m + n) + (np.arange(m + n) >= m) * 2 + e
        r = ss.plm(y[:m], y[m:], model=model, ar=1)
        X = P.design_matrix(np.arange(1.0, m + n + 1), m, model)
        grid = np.array([_m2ll(y, X, p) for p in phis])
        ours = -2 * r.loglik
        assert ours <= grid.min() + 1e-9
        if not r.boundary:
            assert ours == pytest.approx(_m2ll(y, X, r.phi), rel=1e-9)
            assert abs(r.phi - phis[grid.argmin()]) < 0.01
            beta, Q, R, M = _gls(y, X, r.phi)
            N = m + n
            mvn = stats.multivariate_normal(X @ beta, Q / N * R).logpdf(y)
            assert r.loglik == pytest.approx(mvn, rel=1e-9)
            se = np.sqrt(Q / (N - 4) * np.diag(np.linalg.inv(M)))
            np.testing.assert_allclose([getattr(r, c).estimate for c in COEFS], beta, rtol=1e-8, atol=1e-8)
            np.testing.assert_allclose([getattr(r, c).se for c in COEFS], se, rtol=1e-7)


def test_ar1_optimum_is_a_root_of_the_derivative():
    """Brent alone stops where the objective is flat to round-off (~1e-7 from the optimum);
    the secant polish on the exact derivative finds the root.  Checked against a
    Richardson-extrapolated central difference of the dense likelihood (independent code)."""
    rng = np.random.default_rng(21)
    series = [np.array([18, 20, 19, 18, 20, 19, 18.0])] + [rng.normal(size=k) for k in (7, 9, 12, 20)]
    for y in series:
        m = 2 if len(y) == 7 else 4
        r = ss.plm(y[:m], y[m:], ar=1)
        assert not r.boundary
        X = P.design_matrix(np.arange(1.0, len(y) + 1), m, "W")

        def f(th):
            return _m2ll(y, X, math.tanh(th))

        th, h = math.atanh(r.phi), 1e-3
        g = (8 * (f(th + h) - f(th - h)) - (f(th + 2 * h) - f(th - 2 * h))) / (12 * h)
        assert abs(g) < 1e-8, (y, g)
    # The worked example: R's -.40318682 is 3e-7 short of the root.
    assert ss.plm(A, B, ar=1).phi == pytest.approx(-0.4031865169, abs=2e-10)


def test_ols_loglik():
    rng = np.random.default_rng(2)
    y = rng.normal(size=9)
    r0 = ss.plm(y[:4], y[4:])
    X = P.design_matrix(np.arange(1.0, 10.0), 4, "W")
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    sse = float(np.sum((y - X @ beta) ** 2))
    assert r0.loglik == pytest.approx(-0.5 * (9 * math.log(2 * math.pi * sse / 9) + 9), rel=1e-12)
    assert ss.plm(y[:4], y[4:], ar=1).loglik >= r0.loglik  # phi = 0 is one of the AR(1) candidates


def test_boundary_flag_and_warning():
    # 3 + 2 points, one residual df: the likelihood grows without bound as phi -> -1.
    with pytest.warns(RuntimeWarning, match="boundary=True"):
        r = ss.plm([23, 37, 26], [34, 27], ar=1)
    assert r.boundary and r.phi == pytest.approx(-(1 - 1e-12), abs=1e-15)
    assert r.level.estimate == pytest.approx(-6.0, abs=1e-4) and 0 < r.level.se < 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not ss.plm(A, B, ar=1).boundary
    batch = quiet(np.array([[23, 37, 26.], [1, 3, 2]]), np.array([[34, 27.], [5, 4]]), ar=1)
    assert batch.boundary.dtype == bool and batch.boundary[0]


# --------------------------------------------------------------------------- invariances

@given(_series(), st.floats(-1e3, 1e3), st.floats(0.01, 100))
def test_shift_and_scale(case, c, k):
    a, b, times, model = case
    r = quiet(a, b, model=model, times=times)
    if r.perfect_fit:
        return
    s = quiet(a + c, b + c, model=model, times=times)
    g = quiet(k * a, k * b, model=model, times=times)
    size = np.max(np.abs(np.r_[a, b])) + abs(c)
    for name in ("trend", "level", "slope"):
        x, y = getattr(r, name), getattr(s, name)
        assert y.estimate == pytest.approx(x.estimate, rel=1e-6, abs=1e-9 * size * 100)
        assert getattr(g, name).estimate == pytest.approx(k * x.estimate, rel=1e-6, abs=1e-9 * size * k * 100)
        assert getattr(g, name).statistic == pytest.approx(x.statistic, rel=1e-6, abs=1e-6)
    assert s.intercept.estimate == pytest.approx(r.intercept.estimate + c, rel=1e-6, abs=1e-9 * size * 100)
    assert s.r2 == pytest.approx(r.r2, rel=1e-6, abs=1e-9)


def test_ar1_shift_and_scale():
    rng = np.random.default_rng(6)
    for _ in range(10):
        y = rng.normal(size=10)
        r = ss.plm(y[:4], y[4:], ar=1)
        s = ss.plm(3 * y[:4] + 50, 3 * y[4:] + 50, ar=1)
        assert s.phi == pytest.approx(r.phi, abs=1e-6)
        assert s.level.estimate == pytest.approx(3 * r.level.estimate, rel=1e-5, abs=1e-6)
        assert s.level.statistic == pytest.approx(r.level.statistic, rel=1e-5, abs=1e-6)


def test_direction_orients_only_the_summary():
    up = ss.plm(A, B, ar=1, effect="slope")
    down = ss.plm(A, B, ar=1, effect="slope", improvement="decrease")
    assert down.estimate == -up.estimate and down.se == up.se
    assert (down.ci_lower, down.ci_upper) == (-up.ci_upper, -up.ci_lower)
    for c in COEFS:  # the fit itself is of the raw data
        assert getattr(down, c).estimate == getattr(up, c).estimate
    # The oriented estimate equals the fit of the negated data (the registry's "oriented").
    neg = ss.plm(-np.array(A, float), -np.array(B, float), ar=1, effect="slope")
    assert neg.estimate == pytest.approx(down.estimate, rel=1e-9)


# --------------------------------------------------------------------------- batches, kernel, edge cases

def test_batch_equals_scalar_and_twin():
    rng = np.random.default_rng(9)
    a = np.round(rng.normal(10, 3, (40, 3)))
    b = np.round(rng.normal(12, 3, (40, 4)))
    a[0] = 5.0  # exact fits inside a batch
    b[0] = 5.0
    for ar in (0, 1):
        r = quiet(a, b, ar=ar, model="JW")
        for i in (0, 1, 17, 39):
            one = quiet(a[i], b[i], ar=ar, model="JW")
            for c in COEFS:
                assert getattr(r, c).estimate[i] == getattr(one, c).estimate
                assert getattr(r, c).se[i] == getattr(one, c).se
            assert (r.f_statistic[i], r.phi[i], r.loglik[i]) == pytest.approx((one.f_statistic, one.phi, one.loglik),
                                                                               nan_ok=True, rel=0, abs=0)
        args = P._kernel_args(3, 4, "JW", ar)
        out_k, out_t = np.empty((P._FIELDS, 40)), np.empty((P._FIELDS, 40))
        with np.errstate(all="ignore"):
            P._plm_2d(a, b, *args, out_k)
            P._plm_2d.twin(a, b, *args, out_t)
        np.testing.assert_array_equal(out_k, out_t)
        assert not r.estimate.flags.writeable and not r.level.pvalue.flags.writeable


def test_perfect_fit():
    with pytest.warns(RuntimeWarning, match="perfectly"):
        r = ss.plm([3, 3, 3], [5, 5, 5, 5])
    assert r.perfect_fit and r.level.se == 0.0 and r.level.estimate == pytest.approx(2.0)
    assert r.level.statistic == math.inf and r.level.pvalue == 0.0
    assert r.trend.estimate == 0.0 and math.isnan(r.trend.statistic) and math.isnan(r.trend.pvalue)
    assert r.f_statistic == math.inf and r.f_pvalue == 0.0 and r.r2 == 1.0
    assert r.ci_lower == r.ci_upper == r.estimate
    flat = quiet([4, 4, 4], [4, 4, 4, 4])
    assert flat.intercept.estimate == 4.0 and flat.intercept.statistic == math.inf
    assert all(getattr(flat, c).estimate == 0.0 for c in ("trend", "level", "slope"))
    assert math.isnan(flat.f_statistic) and math.isnan(flat.f_pvalue) and math.isnan(flat.r2)
    ar = quiet([3, 3, 3], [5, 5, 5, 5], ar=1)
    assert ar.perfect_fit and math.isnan(ar.phi) and ar.level.estimate == pytest.approx(2.0) and ar.level.se == 0


@pytest.mark.parametrize("kw,a,b,match", [
    ({}, [1, 2], [3, 4], "at least 5 points"),
    ({}, [1], [3, 4, 5, 6], "at least 2 points in phase A"),
    ({}, [1, 2, 3, 4], [3], "at least 2 points in phase B"),
    ({"model": "HM"}, A, B, "unknown model"),
    ({"ar": 2}, A, B, "ar must be 0"),
    ({"ar": True}, A, B, "ar must be 0"),
    ({"effect": "trend"}, A, B, "unknown effect"),
    ({"improvement": "up"}, A, B, "unknown improvement"),
    ({"confidence": 1.5}, A, B, "confidence"),
    ({}, [1, np.nan], B, "NaN"),
    ({"times": [1, 2, 3]}, A, B, "one time per point"),
    ({"times": [1, 2, 3, 3, 4, 5, 6]}, A, B, "strictly increasing"),
    ({"times": [1, 2, 3, np.nan, 5, 6, 7]}, A, B, "NaN"),
])
def test_errors(kw, a, b, match):
    with pytest.raises(ValueError, match=match):
        ss.plm(a, b, **kw)


# --------------------------------------------------------------------------- registry, test, study

def test_registry_entry_and_test():
    m = registry.get_metric("plm")
    assert m.time_ordered and m.spaced and m.has_ci and not m.default
    t = registry.get_test("plm_test")
    assert t.label({"effect": "level"}) == "p_plm_level" and not t.discrete
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(50, 4)), rng.normal(0.5, 1, (50, 5))
    p2 = t.pvalues(a, b, "increase", effect="level")
    np.testing.assert_array_equal(p2, ss.plm(a, b).level.pvalue)
    up = t.pvalues(a, b, "increase", effect="slope", alternative="greater", model="B&L-B")
    down = t.pvalues(a, b, "decrease", effect="slope", alternative="greater", model="B&L-B")
    np.testing.assert_allclose(up + down, 1.0, rtol=1e-12)
    two = t.pvalues(a, b, "increase", effect="slope", model="B&L-B")
    np.testing.assert_allclose(two, 2 * np.minimum(up, down), rtol=1e-12)
    with pytest.raises(ValueError, match="unknown alternative"):
        t.pvalues(a, b, "increase", effect="level", alternative="less")


def test_study_with_plm_rule():
    from scedsim.simulate import Study, run

    study = Study(design="A4 B5", grid={"level": [0.0, 3.0]},
                  metrics=["nap", "plm", {"name": "plm_test", "effect": "level"}],
                  rules=["p_plm_level <= 0.05"], n_reps=300, block_size=150, seed=1, estimands=False)
    res = run(study, quiet=True)
    s = res.summary
    rate = s[(s.measure == "rejection_rate") & (s.scope == "case")].set_index("level").value
    # An exact t test under no effect (normal errors, phi = 0): size .05 within 3 MC SEs.
    assert abs(rate.loc[0.0] - 0.05) < 3 * math.sqrt(0.05 * 0.95 / 300) and rate.loc[3.0] > rate.loc[0.0] + 0.2
    mean = s[(s.metric == "plm") & (s.measure == "mean") & (s.scope == "case")].set_index("level").value
    assert abs(mean.loc[3.0] - 3.0) < 0.5  # the level coefficient is unbiased for the shift
    assert not (s.measure == "probability").any()


def test_tidy_and_cli(tmp_path, capsys):
    from scedsim import cli

    burnout = ss.datasets.load_burnout_example()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t = ss.effect_sizes(burnout, outcomes=["EE"], improvement="decrease", metrics=["plm"])
        assert set(t.metric) == {"plm"} and t.estimate.notna().all()
        row = t.iloc[0]
        s = burnout[(burnout.case == row.case) & (burnout.outcome == "EE")].sort_values("session")
        one = ss.plm(s[s.phase == "A"].value.to_numpy(float), s[s.phase == "B"].value.to_numpy(float),
                     improvement="decrease")
        assert row.estimate == pytest.approx(one.estimate, rel=1e-12) and row.estimate == -one.level.estimate
        burnout.to_csv(tmp_path / "b.csv", index=False)
        assert cli.main(["es", str(tmp_path / "b.csv"), "--outcome", "EE", "--decrease", "EE",
                         "--metrics", "plm", "--out", str(tmp_path / "o.csv")]) == 0
    out = pd.read_csv(tmp_path / "o.csv")
    assert set(out.metric) == {"plm"} and len(out) == len(t)
    capsys.readouterr()
