"""Design-comparable (between-case) SMD: scdhlm/lmeInfo references, worked example, invariances, REML optimum."""
import math

import numpy as np
import pandas as pd
import pytest

import scedsim as ss
from scedsim._hps import HPS_FIELDS, _hps_mb
from scedsim._reml_ar1 import REML_FIELDS, _reml_bcsmd, _reml_loglik, _work_size
from scedsim.between_case import _Design, _from_table
from scedsim.testing import reference_cases

COLS = dict(case="case", session="session", phase="phase", outcome="outcome", baseline="A", treatment="B")


def _sets():
    raw = reference_cases("mb_sets_data")
    raw["phase"] = raw["treatment"].map({"baseline": "A", "treatment": "B"})
    raw["outcome"] = raw["outcome"].astype(float)
    raw["session"] = raw["time"].astype(int)
    return {k: g[["case", "session", "phase", "outcome"]].reset_index(drop=True) for k, g in raw.groupby("set_id")}


SETS = _sets()
REF = reference_cases("bcsmd")


def _note(note: str) -> dict:
    out = {}
    for part in note.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            try:
                out[k.strip()] = float(v)
            except ValueError:
                pass
    return out


def _close(x, y, tol):
    return abs(x - y) <= tol * max(1.0, abs(y))


# --------------------------------------------------------------------------- worked example (METRICS_NEW)

def test_mb001_hps_worked_example():
    r = ss.bcsmd(SETS["mb_001"], **COLS)
    want = dict(D_bar=-.2072268, S2=56.746215, delta_unadjusted=-.0275092, phi=.1743773,
                sigma2_within=29.262847, rho=.4843207, theta=.1936032, df=13.232547,
                estimate=-0.0259200, se=.1980719)
    got = r.as_dict()
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=2e-6, abs=1e-7), name
    assert (r.n_cases, r.n_obs, r.method, r.design) == (5, 100, "hps", "multiple_baseline")
    assert r.J == pytest.approx(1 - 3 / (4 * r.df - 1))
    assert r.tau2 == pytest.approx(r.rho * r.details["S2"])


def test_mb001_reml_worked_example():
    r = ss.bcsmd(SETS["mb_001"], method="reml", **COLS)
    want = dict(beta1=-.8431155, phi=.2110028, delta_unadjusted=-.1176588, df=17.302683, theta=.2020399,
                estimate=-0.1124840, se=.2064156)
    got = r.as_dict()
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=2e-5), name
    assert r.rho == pytest.approx(r.tau2 / (r.tau2 + r.sigma2_within))
    assert r.delta_unadjusted == pytest.approx(r.details["beta1"] / math.sqrt(r.tau2 + r.sigma2_within))


# --------------------------------------------------------------------------- every public reference set

def _ref_rows(metric):
    rows = REF[REF.metric == metric]
    assert len(rows) == 30
    return list(rows.itertuples(index=False))


@pytest.mark.parametrize("row", _ref_rows("effect_size_MB_delta_hat"), ids=lambda r: r.set_id)
def test_hps_matches_scdhlm(row):
    r = ss.bcsmd(SETS[row.set_id], method="hps", **COLS)
    assert row.status == "ok"
    assert _close(r.estimate, float(row.estimate), 1e-8) and _close(r.se, float(row.se), 1e-8)
    note = _note(row.note)
    got = dict(delta_hat_unadj=r.delta_unadjusted, nu=r.df, phi=r.phi, rho=r.rho, sigma_sq_w=r.sigma2_within,
               theta=r.theta, D_bar=r.details["D_bar"], S_sq=r.details["S2"])
    for name, value in got.items():
        assert _close(value, note[name], 1e-8), name


@pytest.mark.parametrize("row", _ref_rows("g_mlm_g_AB"), ids=lambda r: r.set_id)
def test_reml_matches_lmeinfo(row):
    r = ss.bcsmd(SETS[row.set_id], method="reml", **COLS)
    assert _close(r.estimate, float(row.estimate), 1e-4) and _close(r.se, float(row.se), 1e-4)
    note = _note(row.note)
    got = dict(lme_beta_trt=r.details["beta1"], lme_phi=r.phi, delta_AB=r.delta_unadjusted, nu=r.df,
               kappa=r.theta)
    for name, value in got.items():
        assert _close(value, note[name], 1e-4), name


def test_reference_rows_are_all_compared():
    assert set(REF.set_id) == set(SETS) and len(SETS) == 30
    assert set(REF.metric) == {"effect_size_MB_delta_hat", "g_mlm_g_AB", "g_REML_g_AB"}
    # scdhlm's deprecated g_REML gives lmeInfo's g_mlm values.
    a = REF[REF.metric == "g_REML_g_AB"].set_index("set_id").estimate.astype(float)
    b = REF[REF.metric == "g_mlm_g_AB"].set_index("set_id").estimate.astype(float)
    assert np.allclose(a.sort_index(), b.sort_index(), rtol=1e-10)


# --------------------------------------------------------------------------- invariances

INV_SETS = ["mb_002", "mb_007", "mb_021"]


@pytest.mark.parametrize("method,tol", [("hps", 1e-10), ("reml", 1e-6)])
@pytest.mark.parametrize("set_id", INV_SETS)
def test_invariances(set_id, method, tol):
    df = SETS[set_id]
    base = ss.bcsmd(df, method=method, **COLS)

    def same(other, sign=1.0):
        for name in ("estimate", "se", "df", "phi", "rho"):
            x, y = getattr(other, name), getattr(base, name)
            y = sign * y if name == "estimate" else y
            assert x == pytest.approx(y, rel=tol, abs=tol), name

    same(ss.bcsmd(df.assign(outcome=df.outcome + 123.5), method=method, **COLS))
    same(ss.bcsmd(df.assign(outcome=df.outcome * 7.25), method=method, **COLS))
    same(ss.bcsmd(df.assign(outcome=-df.outcome), method=method, **COLS), sign=-1.0)
    rng = np.random.default_rng(5)
    codes = {c: f"z{i}" for i, c in enumerate(rng.permutation(df.case.unique()))}
    shuffled = df.assign(case=df.case.map(codes)).sample(frac=1.0, random_state=3)
    same(ss.bcsmd(shuffled, method=method, **COLS))
    # Other column names and phase labels.
    renamed = df.rename(columns={"case": "id", "session": "t", "phase": "cond", "outcome": "y"})
    renamed["cond"] = renamed.cond.map({"A": 0, "B": 1})
    same(ss.bcsmd(renamed, case="id", session="t", phase="cond", outcome="y", baseline=0, treatment=1,
                  method=method))


def test_batch_equals_tidy_calls():
    rng = np.random.default_rng(11)
    k, T = 4, 9
    trt = np.arange(T) >= np.array([[2], [3], [5], [6]])
    y = rng.normal(size=(5, k, T)) + 0.7 * trt + rng.normal(size=(5, k, 1))
    for method in ("hps", "reml"):
        batch = ss.bcsmd_batch(y, trt, method=method)
        assert batch.is_batch and batch.estimate.shape == (5,)
        for s in range(5):
            df = pd.DataFrame([(f"c{i}", t + 1, "B" if trt[i, t] else "A", y[s, i, t])
                               for i in range(k) for t in range(T)], columns=["case", "session", "phase", "outcome"])
            one = ss.bcsmd(df, method=method)
            for name in ("estimate", "se", "df", "ci_lower", "ci_upper", "phi", "tau2"):
                assert getattr(batch, name)[s] == pytest.approx(getattr(one, name), rel=1e-12, abs=1e-14)


def test_batch_marks_degenerate_sets_nan():
    trt = np.arange(6) >= np.array([[2], [3], [4]])
    y = np.random.default_rng(2).normal(size=(3, 3, 6))
    y[1] = 5.0   # constant: S^2 = 0 (HPS), no residual variance (REML)
    for method in ("hps", "reml"):
        r = ss.bcsmd_batch(y, trt, method=method)
        assert np.isfinite(r.estimate[[0, 2]]).all() and np.isnan(r.estimate[1]) and np.isnan(r.se[1])


def test_confidence_interval_is_t_based():
    r = ss.bcsmd(SETS["mb_004"], **COLS, confidence=0.9)
    from scipy.stats import t

    half = t.ppf(0.95, r.df) * r.se
    assert (r.ci_lower, r.ci_upper) == pytest.approx((r.estimate - half, r.estimate + half))


# --------------------------------------------------------------------------- REML optimum and kernels

@pytest.mark.parametrize("set_id", ["mb_001", "mb_003", "mb_016", "mb_030"])
def test_reml_optimum_beats_a_grid(set_id):
    r = ss.bcsmd(SETS[set_id], method="reml", **COLS)
    Y, times, trt, n = _from_table(SETS[set_id], "case", "session", "phase", "outcome", "A", "B")
    work = np.zeros(6 * len(n) + 6)
    at_opt = _reml_loglik(Y, times, trt, n, r.details["lambda"], r.phi, work)
    assert at_opt == pytest.approx(r.details["loglik"], rel=1e-12)
    grid = [_reml_loglik(Y, times, trt, n, lam, phi, work)
            for lam in np.r_[0.0, np.geomspace(1e-3, 1e3, 40)] for phi in np.linspace(-0.95, 0.95, 39)]
    assert at_opt >= max(grid) - 1e-9
    # Moving either parameter a little lowers the likelihood.
    for dl, dp in ((1e-3, 0), (0, 1e-3), (0, -1e-3)):
        lam = max(r.details["lambda"] * (1 + dl), 0.0)
        assert _reml_loglik(Y, times, trt, n, lam, r.phi + dp, work) <= at_opt + 1e-12


def test_twins_equal_kernels_on_a_reference_set():
    Y, times, trt, n = _from_table(SETS["mb_013"], "case", "session", "phase", "outcome", "A", "B")
    d = _Design(times, trt, n)
    Ys = np.stack([Y, Y * 2.0 + 1.0])
    o1, o2 = np.zeros((len(HPS_FIELDS), 2)), np.zeros((len(HPS_FIELDS), 2))
    w = d.lagmax + 1 + d.K + d.K * d.K
    _hps_mb(Ys, d.times, d.trt, d.n, d.cell, d.ncell, d.lagmax, np.zeros(w), o1)
    _hps_mb.twin(Ys, d.times, d.trt, d.n, d.cell, d.ncell, d.lagmax, np.zeros(w), o2)
    np.testing.assert_array_equal(o1, o2)
    r1, r2 = np.zeros((len(REML_FIELDS), 1)), np.zeros((len(REML_FIELDS), 1))
    _reml_bcsmd(Y[None], d.times, d.trt, d.n, np.zeros(_work_size(d.k, Y.shape[1])), r1)
    _reml_bcsmd.twin(Y[None], d.times, d.trt, d.n, np.zeros(_work_size(d.k, Y.shape[1])), r2)
    np.testing.assert_array_equal(r1, r2)


def test_reml_runs_on_a_reversal_design():
    rng = np.random.default_rng(4)
    rows = []
    for i in range(4):
        level = rng.normal(0, 1)
        for t in range(16):
            ph = "B" if (t // 4) % 2 else "A"
            rows.append((f"p{i}", t + 1, ph, level + (1.0 if ph == "B" else 0.0) + rng.normal()))
    df = pd.DataFrame(rows, columns=["case", "session", "phase", "outcome"])
    r = ss.bcsmd(df, method="reml", design="reversal")
    assert r.design == "reversal" and np.isfinite([r.estimate, r.se, r.df]).all() and r.estimate > 0
    h = ss.bcsmd(df, method="hps", design="reversal")
    assert h.design == "reversal" and np.isfinite([h.estimate, h.se, h.df]).all() and h.estimate > 0


# --------------------------------------------------------------------------- errors

def _small():
    return SETS["mb_019"].copy()


@pytest.mark.parametrize("change,match", [
    (lambda d: d.drop(columns="phase"), "no column.*'phase'"),
    (lambda d: d.assign(outcome=d.outcome.where(d.index != 3, np.nan)), "outcome column 'outcome' holds 1 missing"),
    (lambda d: d.assign(outcome=d.outcome.astype(object).where(d.index != 3, "x")), "non-numeric"),
    (lambda d: d.assign(phase=d.phase.where(d.index != 2, "C")), r"label\(s\) other than.*'C'"),
    (lambda d: d[~((d.case == d.case.iloc[0]) & (d.phase == "A"))], "has no baseline"),
    (lambda d: d[~((d.case == d.case.iloc[0]) & (d.phase == "B"))], "has no treatment"),
    (lambda d: d[d.case == d.case.iloc[0]], "at least 2 cases"),
    (lambda d: d.assign(session=d.session + 0.5), "whole numbers"),
    (lambda d: pd.concat([d, d.iloc[:1]]), "more than one row at session"),
    (lambda d: d.assign(outcome=3.0), "S\\^2 = 0"),
])
def test_errors(change, match):
    with pytest.raises(ValueError, match=match):
        ss.bcsmd(change(_small()), **COLS)


def test_no_degrees_of_freedom():
    # Each case observed at its own sessions: every session x phase cell holds one point.
    df = pd.DataFrame([("a", 1, "A", 1.0), ("a", 2, "B", 2.0), ("b", 3, "A", 1.5), ("b", 4, "B", 3.0)],
                      columns=["case", "session", "phase", "outcome"])
    with pytest.raises(ValueError, match="g - K"):
        ss.bcsmd(df)


@pytest.mark.parametrize("kw,match", [
    (dict(method="ols"), "unknown method"), (dict(design="abab"), "unknown design"),
    (dict(confidence=1.5), "confidence"),
])
def test_bad_options(kw, match):
    with pytest.raises(ValueError, match=match):
        ss.bcsmd(_small(), **kw)


def test_reml_constant_data_is_an_error():
    df = _small()
    df["outcome"] = np.where(df.phase == "B", 5.0, 2.0)
    with pytest.raises(ValueError):
        ss.bcsmd(df, method="reml")


def test_batch_errors():
    trt = np.arange(6) >= np.array([[2], [3], [4]])
    y = np.zeros((2, 3, 6))
    with pytest.raises(ValueError, match="shape"):
        ss.bcsmd_batch(y, trt[:2])
    with pytest.raises(ValueError, match="3-D"):
        ss.bcsmd_batch(y[0], trt)
    bad = y.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ss.bcsmd_batch(bad, trt)
    with pytest.raises(ValueError, match="no treatment"):
        ss.bcsmd_batch(y, np.zeros((3, 6), bool))


def test_threaded_batch_equals_one_thread(monkeypatch):
    from scedsim import between_case

    rng = np.random.default_rng(8)
    trt = np.arange(7) >= np.array([[2], [3], [3], [4]])
    y = rng.normal(size=(64, 4, 7)) + 0.5 * trt
    one = {m: ss.bcsmd_batch(y, trt, method=m) for m in ("hps", "reml")}
    monkeypatch.setattr(between_case, "_MIN_SETS_PER_THREAD", {"hps": 8, "reml": 8})
    before = ss.get_num_threads()
    ss.set_num_threads(3)
    try:
        for m in ("hps", "reml"):
            np.testing.assert_array_equal(ss.bcsmd_batch(y, trt, method=m).estimate, one[m].estimate)
    finally:
        ss.set_num_threads(before)


# --------------------------------------------------------------------------- dense oracles, sessions with gaps

def _gappy_table(seed=21):
    """4 cases, unequal lengths, skipped sessions (the R reference sets have none)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, (sessions, start) in enumerate([((1, 2, 3, 5, 6, 8, 9, 10), 3), ((1, 3, 4, 5, 7, 8, 9), 4),
                                            ((2, 3, 4, 6, 7, 9, 10, 11, 12), 5), ((1, 2, 4, 5, 6, 8), 3)]):
        u = rng.normal(0, 0.8)
        e = 0.0
        for j, t in enumerate(sessions):
            e = 0.4 * e + rng.normal()
            rows.append((f"c{i}", t, "B" if j >= start else "A", 10 + u + e + (1.2 if j >= start else 0.0)))
    return pd.DataFrame(rows, columns=["case", "session", "phase", "outcome"])


def _dense(df):
    Y, times, trt, n = _from_table(df, "case", "session", "phase", "outcome", "A", "B")
    blocks = [(Y[i, :n[i]], times[i, :n[i]].astype(float), trt[i, :n[i]]) for i in range(len(n))]
    return blocks


def _block_diag(mats):
    size = sum(m.shape[0] for m in mats)
    out = np.zeros((size, size))
    o = 0
    for m in mats:
        out[o:o + m.shape[0], o:o + m.shape[0]] = m
        o += m.shape[0]
    return out


def test_hps_with_gaps_matches_dense_formulas():
    df = _gappy_table()
    r = ss.bcsmd(df)
    blocks = _dense(df)
    y = np.concatenate([b[0] for b in blocks])
    t = np.concatenate([b[1] for b in blocks])
    d = np.concatenate([b[2] for b in blocks])
    case = np.concatenate([np.full(len(b[0]), i) for i, b in enumerate(blocks)])
    k, g = len(blocks), len(y)
    X = np.zeros((g, 2 * k))
    X[np.arange(g), 2 * case + d.astype(int)] = 1.0
    _, cell = np.unique(t * 2 + d, return_inverse=True)
    C = np.eye(cell.max() + 1)[cell]
    P = C @ np.linalg.solve(C.T @ C, C.T)
    S2 = y @ (np.eye(g) - P) @ y / (g - C.shape[1])
    e = y - X @ np.linalg.solve(X.T @ X, X.T @ y)
    a0 = e @ e
    a1 = sum(e[j] * e[j - 1] for j in range(1, g) if case[j] == case[j - 1])
    h = X.sum(0)
    phi = a1 / a0 + ((h - 1) / h).sum() / (g - 2 * k)
    lags = [np.abs(np.subtract.outer(b[1], b[1])) for b in blocks]
    R = _block_diag([phi ** L for L in lags])
    XtXi = np.linalg.inv(X.T @ X)
    s2w = a0 / (g - np.trace(XtXi @ X.T @ R @ X))
    rho = max(0.0, 1 - s2w / S2)
    Sig = _block_diag([rho + (1 - rho) * phi ** L for L in lags])
    A = np.eye(g) - P
    nu = (g - C.shape[1]) ** 2 / np.trace(A @ Sig @ A @ Sig)
    V = XtXi @ X.T @ Sig @ X @ XtXi
    theta2 = sum(V[2 * i + 1, 2 * i + 1] + V[2 * i, 2 * i] - 2 * V[2 * i, 2 * i + 1] for i in range(k)) / k ** 2
    Dbar = np.mean([b[0][b[2] > 0].mean() - b[0][b[2] == 0].mean() for b in blocks])
    J = 1 - 3 / (4 * nu - 1)
    est = J * Dbar / np.sqrt(S2)
    var = J ** 2 * (theta2 * nu / (nu - 2) + est ** 2 * (nu / (nu - 2) - 1 / J ** 2))
    for got, want in ((r.estimate, est), (r.se, np.sqrt(var)), (r.df, nu), (r.phi, phi), (r.rho, rho),
                      (r.theta, np.sqrt(theta2)), (r.details["S2"], S2)):
        assert got == pytest.approx(want, rel=1e-11)


def test_reml_with_gaps_matches_dense_formulas():
    df = _gappy_table()
    r = ss.bcsmd(df, method="reml")
    blocks = _dense(df)
    y = np.concatenate([b[0] for b in blocks])
    X = np.column_stack([np.ones(len(y)), np.concatenate([b[2] for b in blocks])])
    g = len(y)
    lags = [np.abs(np.subtract.outer(b[1], b[1])) for b in blocks]
    ones = _block_diag([np.ones_like(L) for L in lags])

    def loglik(lam, phi):
        W = lam * ones + _block_diag([phi ** L for L in lags])
        Wi = np.linalg.inv(W)
        XWX = X.T @ Wi @ X
        b = np.linalg.solve(XWX, X.T @ Wi @ y)
        rss = (y - X @ b) @ Wi @ (y - X @ b)
        ll = (-0.5 * (g - 2) * (np.log(2 * np.pi * rss / (g - 2)) + 1) - 0.5 * np.linalg.slogdet(W)[1]
              - 0.5 * np.linalg.slogdet(XWX)[1])
        return ll, b, rss / (g - 2), Wi

    Y, times, trt, n = _from_table(df, "case", "session", "phase", "outcome", "A", "B")
    for lam, phi in ((0.0, 0.3), (0.7, -0.4), (2.5, 0.8)):
        got = _reml_loglik(Y, times, trt, n, lam, phi, np.zeros(6 * len(n) + 6))
        assert got == pytest.approx(loglik(lam, phi)[0], rel=1e-12)
    lam, phi = r.details["lambda"], r.phi
    ll, b, s2, Wi = loglik(lam, phi)
    tau2 = lam * s2
    Vi = Wi / s2
    Pm = Vi - Vi @ X @ np.linalg.solve(X.T @ Vi @ X, X.T @ Vi)
    dphi = [np.where(L > 0, L * phi ** np.maximum(L - 1, 0), 0.0) for L in lags]
    dV = [ones, s2 * _block_diag(dphi), _block_diag([phi ** L for L in lags])]
    info = np.array([[0.5 * np.trace(Pm @ a @ Pm @ c) for c in dV] for a in dV])
    rv = np.array([1.0, 0.0, 1.0])
    nu = 2 * (tau2 + s2) ** 2 / (rv @ np.linalg.solve(info, rv))
    kappa = np.sqrt(np.linalg.inv(X.T @ Vi @ X)[1, 1] / (tau2 + s2))
    delta = b[1] / np.sqrt(tau2 + s2)
    for got, want in ((r.df, nu), (r.theta, kappa), (r.delta_unadjusted, delta), (r.sigma2_within, s2),
                      (r.details["loglik"], ll)):
        assert got == pytest.approx(want, rel=1e-9)


# --------------------------------------------------------------------------- (AB)^k designs, HPS (2012)

def _abk_examples():
    from importlib import resources

    raw = pd.read_csv(resources.files("scedsim").joinpath("data/reference/hps_abk_examples.csv"))
    return {k: g.drop(columns="study").reset_index(drop=True) for k, g in raw.groupby("study")}


ABK = _abk_examples()

# scdhlm's tests/testthat/test_HPS_examples.R ("Example 1/2 from HPS 2012"): effect_size_ABk on the
# Lambert, Cartledge, Heward & Lo (2006) disruptive-behaviour data (SSR = A, RC = B; NA rows dropped)
# and on Anglesea, Hoch & Taylor (2008); R rounds to 6 decimals (V_delta_hat to 8).
ABK_REF = {
    "lambert2006": dict(M_dot=23, D_bar=-5.457995, S2=4.673913, delta_unadjusted=-2.524601, phi=0.224680,
                        sigma2_within=4.534312, rho=0.029868, theta=0.144926, df=164.492271,
                        estimate=-2.513073, V=0.04054616),
    "anglesea2008": dict(M_dot=13, D_bar=86.870476, S2=2347.845708, delta_unadjusted=1.792823, phi=0.175859,
                         sigma2_within=198.369968, rho=0.915510, theta=0.091347, df=2.340135,
                         estimate=1.149507, V=2.43956417),
}


@pytest.mark.parametrize("study", sorted(ABK_REF))
def test_reversal_hps_matches_scdhlm_hps2012_examples(study):
    from scedsim.between_case import _ReversalDesign

    ref = ABK_REF[study]
    df = ABK[study]
    r = ss.bcsmd(df, design="reversal", method="hps")
    got = r.as_dict()
    got["V"] = r.se ** 2
    _, times, trt, n = _from_table(df, "case", "session", "phase", "outcome", "A", "B")
    assert _ReversalDesign(times, trt, n).K == ref["M_dot"]
    for key, want in ref.items():
        if key == "M_dot":
            continue
        tol = 5e-9 if key == "V" else 5e-7  # half a unit in R's last printed digit
        assert abs(got[key] - want) <= tol, (key, got[key], want)
    assert (r.n_cases, r.design, r.method) == ({"lambert2006": 9, "anglesea2008": 3}[study], "reversal", "hps")


def _abk_dense(df):
    """HPS (2012) for an (AB)^k table, straight from the formulas with dense matrices."""
    df = df.sort_values(["case", "session"])
    cases = list(dict.fromkeys(df.case))
    m = len(cases)
    y, t, case, run, pos, key = [], [], [], [], [], []
    nr = 0
    for i, c in enumerate(cases):
        d = df[df.case == c]
        b = (d.phase == "B").to_numpy().astype(int)
        r = np.r_[0, np.cumsum(b[1:] != b[:-1])]
        for j in range(len(b)):
            p = int((r[:j] == r[j]).sum())
            y.append(float(d.outcome.iloc[j]))
            t.append(int(d.session.iloc[j]))
            case.append(i)
            run.append(nr + r[j])
            pos.append(p)
            key.append((r[j], p))  # (pair, condition) = phase number within the case, then position
        nr += r[-1] + 1
    y, t, case, pos = map(np.array, (y, t, case, pos))
    g = len(y)
    X = np.eye(nr)[run]
    npairs = nr // (2 * m)
    h = X.sum(0)
    cvec = (X / h) @ np.where(np.arange(nr) % 2 == 1, 1.0, -1.0)  # +1/n_B, -1/n_A
    Dbar = cvec @ y / (m * npairs)
    cnt = {k: key.count(k) for k in set(key)}
    inc = np.array([cnt[k] == m for k in key])
    cells = sorted({k for k, ok in zip(key, inc) if ok})
    Z = np.array([[1.0 if key[j] == c else 0.0 for c in cells] for j in np.flatnonzero(inc)])
    A = np.eye(inc.sum()) - Z @ np.linalg.solve(Z.T @ Z, Z.T)
    S2 = y[inc] @ A @ y[inc] / (len(cells) * (m - 1))
    e = y - X @ np.linalg.solve(X.T @ X, X.T @ y)
    a1 = sum(e[j] * e[j - 1] for j in range(1, g) if run[j] == run[j - 1])
    phi = a1 / (e @ e) + ((h - 1) / h).sum() / (g - nr)
    same = case[:, None] == case[None, :]
    Rpos = np.where(same, phi ** np.abs(pos[:, None] - pos[None, :]), 0.0)
    s2w = (e @ e) / (g - np.trace(np.linalg.solve(X.T @ X, X.T @ Rpos @ X)))
    rho = max(0.0, 1 - s2w / S2)
    Sig = np.where(same, rho + (1 - rho) * phi ** np.abs(t[:, None] - t[None, :]), 0.0)
    AS = A @ Sig[np.ix_(inc, inc)]
    nu = (len(cells) * (m - 1)) ** 2 / np.trace(AS @ AS)
    theta2 = cvec @ Sig @ cvec / (m * npairs) ** 2
    J = 1 - 3 / (4 * nu - 1)
    est = J * Dbar / np.sqrt(S2)
    nut = max(nu, 2.001)
    var = J ** 2 * (theta2 * nut / (nut - 2) + est ** 2 * (nut / (nut - 2) - 1 / J ** 2))
    return dict(estimate=est, se=np.sqrt(var), df=nu, phi=phi, rho=rho, theta=np.sqrt(theta2), S2=S2,
                sigma2_within=s2w, D_bar=Dbar)


def _abab_table(seed=11, m=4, pairs=2):
    """An (AB)^pairs table with unequal phase lengths across cases and a few skipped sessions."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(m):
        t = 0
        level = rng.normal(0, 1)
        for q in range(2 * pairs):
            ph = "AB"[q % 2]
            for _ in range(int(rng.integers(3, 7))):
                t += 1 + int(rng.random() < 0.2)
                rows.append((f"c{i}", t, ph, level + (0.8 if ph == "B" else 0.0) + rng.normal()))
    return pd.DataFrame(rows, columns=["case", "session", "phase", "outcome"])


@pytest.mark.parametrize("seed,m,pairs", [(11, 4, 2), (12, 3, 3), (13, 5, 1)])
def test_reversal_hps_matches_dense_formulas(seed, m, pairs):
    df = _abab_table(seed, m, pairs)
    r = ss.bcsmd(df, design="reversal").as_dict()
    want = _abk_dense(df)
    for key, w in want.items():
        assert r[key] == pytest.approx(w, rel=1e-10, abs=1e-13), key
    ref = _abk_dense(ABK["lambert2006"])
    got = ss.bcsmd(ABK["lambert2006"], design="reversal").as_dict()
    for key, w in ref.items():
        assert got[key] == pytest.approx(w, rel=1e-10), key


def test_reversal_hps_invariances():
    df = ABK["lambert2006"]
    base = ss.bcsmd(df, design="reversal")
    keys = ("estimate", "se", "df", "phi", "rho", "theta")
    shifted = ss.bcsmd(df.assign(outcome=df.outcome + 17.5), design="reversal")
    scaled = ss.bcsmd(df.assign(outcome=df.outcome * 3.25), design="reversal")
    flipped = ss.bcsmd(df.assign(outcome=-df.outcome), design="reversal")
    names = {c: f"z{k}" for k, c in enumerate(reversed(df.case.unique()))}
    relabelled = ss.bcsmd(df.assign(case=df.case.map(names)).sample(frac=1.0, random_state=3), design="reversal")
    for other in (shifted, scaled, relabelled):
        for k in keys:
            assert getattr(other, k) == pytest.approx(getattr(base, k), rel=1e-10), k
    assert flipped.estimate == pytest.approx(-base.estimate, rel=1e-12)
    assert flipped.se == pytest.approx(base.se, rel=1e-12)
    assert scaled.details["S2"] == pytest.approx(3.25 ** 2 * base.details["S2"], rel=1e-12)


def test_reversal_hps_one_pair_has_the_multiple_baseline_numerator():
    df = SETS["mb_013"]
    ab = ss.bcsmd(df, design="reversal")
    mb = ss.bcsmd(df)
    assert ab.details["D_bar"] == pytest.approx(mb.details["D_bar"], rel=1e-12)


def test_reversal_hps_batch_equals_tidy_and_twin():
    from scedsim._hps import _hps_abk
    from scedsim.between_case import _ReversalDesign

    trt = np.tile(np.repeat([0, 1, 0, 1], [4, 5, 3, 6]), (3, 1)).astype(bool)
    rng = np.random.default_rng(5)
    y = rng.normal(size=(6, 3, 18)) + trt + rng.normal(size=(6, 3, 1))
    b = ss.bcsmd_batch(y, trt, design="reversal")
    for s in (0, 5):
        rows = [(f"c{i}", t + 1, "B" if trt[i, t] else "A", y[s, i, t]) for i in range(3) for t in range(18)]
        one = ss.bcsmd(pd.DataFrame(rows, columns=["case", "session", "phase", "outcome"]), design="reversal")
        assert b.estimate[s] == pytest.approx(one.estimate, rel=1e-12)
        assert b.se[s] == pytest.approx(one.se, rel=1e-12)
    d = _ReversalDesign(np.tile(np.arange(1, 19), (3, 1)), trt.astype(float), np.full(3, 18))
    args = (d.times, d.trt, d.n, d.run, d.nrun, d.ordn, d.cell, d.ncell, d.npairs, d.lagmax)
    w = d.lagmax + 1 + len(d.nrun) + d.K + d.K * d.K
    o1, o2 = np.zeros((len(HPS_FIELDS), 6)), np.zeros((len(HPS_FIELDS), 6))
    _hps_abk(y, *args, np.zeros(w), o1)
    _hps_abk.twin(y, *args, np.zeros(w), o2)
    np.testing.assert_allclose(o1, o2, rtol=1e-13, atol=0)


def test_reversal_hps_is_unbiased_in_monte_carlo():
    # y = u_i + delta D + e, u ~ N(0, rho), AR(1) e with variance 1 - rho: total variance 1, so the
    # design-comparable SMD is delta.  g corrects the small-sample bias of D-bar / S.
    rng = np.random.default_rng(2012)
    n_sets, m, delta, rho, phi = 20_000, 4, 1.0, 0.4, 0.2
    trt = np.tile(np.repeat([0, 1, 0, 1], [5, 5, 5, 5]), (m, 1)).astype(bool)
    T = trt.shape[1]
    e = np.empty((n_sets, m, T))
    e[..., 0] = rng.normal(size=(n_sets, m))
    for t in range(1, T):
        e[..., t] = phi * e[..., t - 1] + math.sqrt(1 - phi ** 2) * rng.normal(size=(n_sets, m))
    y = rng.normal(0, math.sqrt(rho), (n_sets, m, 1)) + delta * trt + math.sqrt(1 - rho) * e
    r = ss.bcsmd_batch(y, trt, design="reversal")
    g = r.estimate
    mcse = g.std() / math.sqrt(n_sets)
    assert abs(g.mean() - delta) < 4 * mcse + 0.01, (g.mean(), mcse)
    # The uncorrected ratio is biased upwards by about 1/J - 1, which the test can see.
    assert r.delta_unadjusted.mean() - delta > 4 * mcse
    # The reported variance tracks the spread of g.
    assert np.mean(r.se ** 2) == pytest.approx(g.var(), rel=0.15)


@pytest.mark.parametrize("change,match", [
    (lambda d: d[~((d.case == "A1") & (d.session >= 23))], r"\(AB\)\^k.*case #1 has phases ABA"),
    (lambda d: d[~((d.case == "B1") & (d.session >= 17))], r"case #5 has phases AB, case #1 has 4 phases"),
    (lambda d: d[~((d.case == "A2") & (d.session <= 8))], r"case #2 has phases BAB"),
])
def test_reversal_hps_errors(change, match):
    with pytest.raises(ValueError, match=match):
        ss.bcsmd(change(ABK["lambert2006"]), design="reversal")


def test_reversal_hps_single_point_phases_are_an_error():
    rows = [(c, t, "AB"[(t - 1) % 2], float(t + i)) for i, c in enumerate("xy") for t in range(1, 5)]
    df = pd.DataFrame(rows, columns=["case", "session", "phase", "outcome"])
    with pytest.raises(ValueError, match="more than one observation in some phase"):
        ss.bcsmd(df, design="reversal")
