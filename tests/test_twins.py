"""Every numba kernel has a plain-Python twin that is pure Python all the way down.

The kernels are found by walking the package, so a new kernel cannot slip by:
a metric kernel must be declared in its metric's registry entry (its
``KernelCase`` gives the calls), any other kernel changes ``N_OTHER`` and needs
an entry in ``CALLS``.  Each twin is checked
twice for purity: statically (no global it reaches, however deep, is compiled)
and by running it while every numba dispatcher raises.  The non-metric kernels
are also compared with their twins here; the metric kernels are compared in
the kernel tests.
"""
import contextlib
import copy
import importlib
import inspect
import math
import pkgutil
import types

import numpy as np
import pytest
from numba.core.dispatcher import _DispatcherBase

import scedsim
from scedsim import _numba, registry
from scedsim.effect_sizes import _kernels as K

N_OTHER = 83   # kernels that are not a metric's (fixed-shape NAP, PoGO and LOR, helpers, simulation, permutation, between-person, mixed models, BC-SMD, Brent, Edgington)
Z = 1.959963984540054


def _discover() -> dict:
    """``{"module.name": kernel}`` for every kernel defined in the package."""
    found = {}
    for info in pkgutil.walk_packages(scedsim.__path__, "scedsim."):
        mod = importlib.import_module(info.name)
        for obj in vars(mod).values():
            if id(obj) in _numba._TWINS and obj.py_func.__module__ == mod.__name__:
                found[f"{mod.__name__}.{obj.py_func.__name__.removesuffix('_python')}"] = obj
    return found


KERNELS = _discover()


# Metric kernels and their calls come from the registry: {id(kernel): [KernelCase, ...]}.
_CASES: dict = {}
for _m in registry.metrics().values():
    for _k in _m.kernels:
        _CASES.setdefault(id(_k.kernel), []).append(_k)
METRIC_KERNELS = {name for name, k in KERNELS.items() if id(k) in _CASES}


def _is_metric(name: str) -> bool:
    return name in METRIC_KERNELS


# --------------------------------------------------------------------------- inputs

def _ab(rng, rows=40, m=4, n=3):
    """Integer-valued series (ties on purpose) and a few continuous ones."""
    a = rng.integers(0, 5, (rows, m)).astype(float)
    b = rng.integers(0, 5, (rows, n)).astype(float)
    a[: rows // 4] = rng.normal(size=(rows // 4, m))
    b[: rows // 4] = rng.normal(size=(rows // 4, n))
    return a, b


def _ar1_calls(rng):
    u = rng.standard_normal((60, 7))
    return [(u, phi, np.empty_like(u)) for phi in (0.0, 0.6, -0.5, 0.95)]


def _irwin_hall_calls(rng):
    out = []
    for k in (1, 2, 6, 7, 20):
        s = np.concatenate([rng.uniform(0, k, 30), np.arange(k + 1.0), [1e-12, k - 1e-12, k / 2.0]])
        coef = np.array([(-1) ** j * math.comb(k, j) for j in range(k + 1)], dtype=np.float64)
        out.append((s, k, coef, float(math.factorial(k)), np.empty_like(s)))
    return out


def _row_nanmean_calls(rng):
    x = rng.normal(size=(50, 6))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[3] = np.nan  # a row with nothing observed: NaN
    return [(x, np.empty(50))]


def _power_sums_calls(rng):
    x = rng.normal(2.0, 3.0, size=(300, 6))
    x[rng.random(x.shape) < 0.2] = np.nan
    x[:, 5] = np.nan  # a column with nothing observed
    centre = np.r_[np.nanmean(x[:, :5], axis=0), 0.0]
    return [(x, centre, np.full((5, 6), -99.0))]


def _few_values_calls(rng):
    # Discrete metric values (k/12, k/30) with float noise, and too many values.
    twelfths = rng.integers(0, 13, 400) / 12.0
    thirtieths = (rng.integers(0, 31, 400) * 7.0) / 210.0 + rng.choice([0.0, 1e-13, -1e-13], 400)
    many = rng.normal(size=200)
    return [(x, np.zeros(64), np.zeros(64, dtype=np.int64)) for x in (twelfths, thirtieths, many)]


def _perm_calls(rng):
    from scedsim.inference.permutation import _u_tables, arrangements

    out = []
    for m, n in ((3, 4), (4, 3)):
        idx_a, idx_b = arrangements(m + n, m)
        ge, le = _u_tables(m, n)
        a, b = _ab(rng, rows=30, m=m, n=n)
        for alt in (0, 1, 2):
            out.append((a, b, idx_a, idx_b, ge, le, alt, alt == 1, np.full((2, a.shape[0]), -99.0)))
    return out


def _sort_calls(rng):
    out = []
    for k in (0, 1, 2, 5, 10):
        x = np.r_[rng.integers(-3, 4, k).astype(float), 7.0, 7.0]  # ties, and a tail left alone
        out.append((x, k))
    out.append((rng.normal(size=12), 12))
    return out


def _fields(rows):
    """The output of a fixed-shape kernel: a tuple of four contiguous fields."""
    return tuple(np.full((4, rows), -99.0))


def _nap_fixed_calls(rng):
    """The fixed-shape NAP kernel at 3 + 4 and 1 + 2 points, over more rows than one
    block (the last one partial), with ties, a NaN and an infinite row, both signs,
    every SE code and both scales."""
    from scedsim.effect_sizes._score import ci_table, tau_ci_table

    out = []
    for m, n in ((3, 4), (1, 2)):
        a, b = _ab(rng, rows=K.FIXED_BLOCK * 2 + 37, m=m, n=n)
        a[7, 0] = np.nan
        b[600, n - 1] = -np.inf
        for sign in (1.0, -1.0):
            for code in K.SE_CODES.values():
                for tau in (False, True):
                    table = (tau_ci_table if tau else ci_table)(m, n, Z, 1.2e-4)
                    out.append((a, b, (0,) * m, (0,) * n, sign, code, table, tau, _fields(a.shape[0])))
        clean = np.isfinite(a).all(1) & np.isfinite(b).all(1)
        out.append((a[clean], b[clean], (0,) * m, (0,) * n, 1.0, K.SE_UNBIASED, ci_table(m, n, Z, 0.0), False,
                    _fields(int(clean.sum()))))
    return out


def _mean_fixed_data(rng, m, n, top):
    """Data for the fixed-shape PoGO and LOR kernels: more rows than one block, phase
    means at 0 and at the top of the scale, a NaN, an infinity and a value out of range."""
    rows = K.FIXED_BLOCK + 37
    a = rng.uniform(0, top, (rows, m))
    b = rng.integers(0, int(top) + 1, (rows, n)).astype(float)
    a[3], b[4], a[5], b[5] = 0.0, 0.0, top, top
    a[7, 0], b[500, n - 1], a[501, 0] = np.nan, np.inf, -1.0
    return a, b


def _pogo_fixed_calls(rng):
    out = []
    for m, n in ((3, 4), (1, 2)):
        a, b = _mean_fixed_data(rng, m, n, 20.0)
        a[8, 0] = 1e120
        for goal in (np.array([10.0]), rng.normal(5, 5, a.shape[0])):
            out.append((a, b, (0,) * m, (0,) * n, goal, Z, 1e-100, 1e100, _fields(a.shape[0])))
        out.append((a[9:10], b[9:10], (0,) * m, (0,) * n, np.array([3.0]), Z, 1e-100, 1e100, _fields(1)))
    return out


def _lor_fixed_calls(rng):
    out = []
    for m, n in ((3, 4), (1, 2)):
        for top in (100.0, 1.0):
            a, b = _mean_fixed_data(rng, m, n, top)
            for k_int, bc, sign in ((0.0, True, 1.0), (0.0, False, -1.0), (20.0, True, -1.0)):
                out.append((a, b, (0,) * m, (0,) * n, 1.0 / top, k_int, bc, sign, Z, top, _fields(a.shape[0])))
        out.append((a[9:10], b[9:10], (0,) * m, (0,) * n, 1.0, 0.0, True, 1.0, Z, 1.0, _fields(1)))
    return out


def _median_calls(rng):
    return [(np.sort(rng.normal(size=k)), k) for k in (1, 2, 3, 4, 9)]


def _nap_se_calls(rng):
    out = []
    for m, n in ((3, 2), (3, 4), (5, 5)):
        a, b = _ab(rng, rows=4, m=m, n=n)
        for r in range(a.shape[0]):
            q2 = (b[r][None, :] > a[r][:, None]).astype(int) + (b[r][None, :] >= a[r][:, None])
            pieces = (int(q2.sum()), int((q2 ** 2).sum()), int((q2.sum(1) ** 2).sum()), int((q2.sum(0) ** 2).sum()))
            out += [(*pieces, m, n, code) for code in K.SE_CODES.values()]
    return out


def _newcombe_calls(rng):
    return [(x, nap, 12.0, Z * Z, 2.5, mode)
            for x in (0.0, 0.3, 0.77, 1.0) for nap in (0.0, 0.4, 1.0) for mode in (0, 1, 2)]


def _brent_calls(rng):
    out = []
    for nap in (0.1, 0.5, 0.9):
        for tol in (0.0, 1.2e-4):
            out += [(0.0, nap, nap, 12.0, Z * Z, 2.5, 0, tol), (nap, 1.0, nap, 12.0, Z * Z, 2.5, 0, tol)]
    return out + [(0.0, 1.0, 0.0, 12.0, Z * Z, 2.5, 1, 0.0), (0.0, 1.0, 1.0, 12.0, Z * Z, 2.5, 2, 0.0)]


def _score_ci_calls(rng):
    return [(np.arange(2 * m * n + 1) / (2.0 * m * n), m, n, Z, tol, np.full((2, 2 * m * n + 1), -99.0))
            for m, n in ((3, 4), (2, 2), (6, 5)) for tol in (0.0, 1.2e-4)]


def _trend_s_calls(rng):
    a, _ = _ab(rng, rows=10, m=6)
    return [(a, r) for r in range(a.shape[0])]


def _two_prod_calls(rng):
    xs = list(rng.normal(size=6) * 10.0 ** rng.integers(-8, 8, 6)) + [1 / 3, 0.1, 1e16, -2.5]
    return [(x, y) for x in xs for y in xs[::3]]


def _sum_sign_calls(rng):
    # Cancellation that a naive sum gets wrong: the exact sign needs the expansion.
    cases = [[1e16, 1.0, -1e16], [1e16, -1.0, -1e16], [0.1, 0.2, -0.3], [1.0, -1.0], [],
             list(rng.normal(size=7))]
    return [(np.array(c + [0.0]), len(c), np.zeros(len(c) + 1)) for c in cases]


def _dot_sign_calls(rng):
    third = 1 / 3
    cases = [([1.0, -2.0, 1.0], [third, 2 * third, 1.0]),      # a near tie off the integer path
             ([1.0, -2.0, 1.0], [1.0, 2.0, 3.0]),              # an exact integer tie
             ([3.0, -1.0], [0.1, 0.3]), (list(rng.integers(-5, 5, 4).astype(float)), list(rng.normal(size=4)))]
    return [(np.array(c), np.array(x), len(c), np.zeros(2 * len(c)), np.zeros(2 * len(c))) for c, x in cases]


def _exact_values_calls(rng):
    a = np.array([[59.9337748344409, 59.933774834441, 1 / 3], [1.0, 2.0, 3.0], [0.1, 0.2, 0.3]])
    b = np.array([[59.9337748344411, 60.0], [4.0, 5.5], [0.4, 1e-17]])
    return [(a, b, r, np.zeros(5)) for r in range(3)]


def _recorded(outer, inner):
    """The calls that the twin of metric kernel ``outer`` makes of helper ``inner``, on
    near-tied decimal data (the exact-arithmetic paths)."""
    def calls(rng):
        from scedsim.effect_sizes._score import ci_table

        a = np.array([[59.9337748344409, 59.933774834441, 59.9337748344411, 60.1],
                      [1 / 3, 2 / 3, 1.0, 4 / 3], [0.1, 0.2, 0.3, 0.4], [3.0, 3.0, 4.0, 4.0]])
        b = np.array([[59.9337748344412, 60.2, 59.9], [5 / 3, 2.0, 1.0], [0.5, 0.6, 0.35], [5.0, 4.0, 6.0]])
        times = np.arange(1.0, 8.0).reshape(1, -1)
        args = (a, b, times, False, 0.5, K.SE_UNBIASED, ci_table(4, 3, Z, 1.2e-4), Z, np.zeros((8, 4)))
        twin = getattr(K, outer).twin
        with np.errstate(all="ignore"):
            twin(*copy.deepcopy(args))          # fills the twin's globals
            g = twin.__globals__
            real, seen = g[inner], []

            def record(*xs):
                seen.append(copy.deepcopy(xs))
                return real(*xs)

            g[inner] = record
            try:
                twin(*copy.deepcopy(args))
            finally:
                g[inner] = real
        assert seen, f"{outer} made no call of {inner}"
        return seen[:40]
    return calls


_kp = "scedsim.effect_sizes._kernels."
def _mean_var_calls(rng):
    x = np.vstack([rng.normal(size=6), np.full(6, 2.5), np.arange(6.0)])
    return [(x, r, k) for r in range(3) for k in (1, 2, 6)]


def _smd_moments_calls(rng):
    # Ordinary rows, rows near overflow and underflow, and the power-of-two factors used there.
    a = np.vstack([rng.normal(size=4), rng.normal(size=4) * 1e154, rng.normal(size=4) * 1e-170, np.full(4, 2.5)])
    b = np.vstack([rng.normal(size=3), rng.normal(size=3) * 1e154, rng.normal(size=3) * 1e-170, np.full(3, 2.5)])
    factors = ((1.0, 1.0), (2.0 ** -256, 2.0 ** -256), (2.0 ** 282, 2.0 ** 282))
    return [(a, b, r, m, n, f1, f2) for r in range(4) for m, n in ((1, 1), (4, 3)) for f1, f2 in factors]


_cdc = "scedsim.effect_sizes.cdc."


def _grow_calls(rng):
    cases = [[1e16, 1.0, -1e16], [0.1, 0.2, -0.3], [], [2.0 ** -60, 1.0, 2.0 ** 60], list(rng.normal(size=7))]
    return [(np.array(c + [0.0]), len(c)) for c in cases]


def _mul_calls(rng):
    e = [np.array([]), np.array([1.0]), np.array([2.0 ** -70, 1.0 / 3]), np.array([1e-20, 0.1, 1e16])]
    return [(x, y) for x in e for y in e]


def _beyond_exact_calls(rng):
    # (1 B - mean) / 1 against c SD: exact ties at c = 1/4 (SD 4, B - mean = 1) and near them.
    xv = np.array([0.0, 4.0, 8.0, 5.0])
    out = []
    for bv, kc, pc in ((5.0, 25.0, 100.0), (5.0 + 2 ** -40, 25.0, 100.0), (4.0, 0.0, 1.0), (5.0, 1 / 3, 1.0)):
        coef = np.array([3.0, -1.0, -1.0, -1.0])
        vals = np.array([bv, 0.0, 4.0, 8.0])
        out.append((coef, vals, 4, 3.0, kc, pc, xv, 3, np.zeros(8), np.zeros(8)))
    out.append((np.array([1.0, -1.0]), np.array([2.0, 2.0]), 2, 1.0, 1.0, 1.0, np.array([2.0, 2.0]), 2,
                np.zeros(4), np.zeros(4)))
    return out


def _group_median_calls(rng):
    a = rng.integers(0, 4, (3, 7)).astype(float)
    return [(a, r, lo, hi, np.zeros(7, dtype=np.int64)) for r in range(3) for lo, hi in ((0, 1), (0, 2), (3, 7), (2, 5))]


def _plm_profile_calls(rng):
    import sys

    mod = sys.modules["scedsim.effect_sizes.plm"]
    out = []
    for model, m, n in (("W", 3, 4), ("JW", 3, 2), ("B&L-B", 6, 5)):
        X, _, _, G, grid, *_ = mod._kernel_args(m, n, model, 1)
        # Noise, ties, and an exact fit (the whitened-residual path and Q~ = 0).
        for y in (rng.normal(size=m + n), rng.integers(0, 5, m + n).astype(float), X @ [1.0, 2.0, -3.0, 0.5]):
            z = y - y[0]
            hq = np.empty((3, 5))
            for j in range(5):
                u = X[:, j] if j < 4 else z
                hq[:, j] = (u @ z, u[:-1] @ z[1:] + u[1:] @ z[:-1], u[1:-1] @ z[1:-1])
            for theta in (0.0, 0.7, -2.5, grid[0], grid[-1]):
                out.append((theta, G, hq, np.zeros((5, 5)), m + n, X, z, np.zeros(4)))
    return out


def _plm_factor_calls(rng):
    # Positive definite, and not (|phi| = 1 with a design whose X'TX is then singular).
    return [(math.tanh(theta), G, hq, L) for theta, G, hq, L, *_ in _plm_profile_calls(rng)] + [
        (phi, G, hq, L) for _, G, hq, L, *_ in _plm_profile_calls(rng)[:3] for phi in (1.0, -1.0)]


def _mixed_calls(name):
    """Calls of the mixed-model kernels (scedsim._mixed) on a 3-case, 6-session data set."""
    def calls(rng):
        from scedsim import _mixed as mx
        from scedsim.multilevel import _Work, _design

        k, n_t = 3, 6
        t1 = np.arange(1.0, n_t + 1)
        X = np.vstack([_design(t1, (np.arange(n_t) >= m).astype(float), "W") for m in (2, 3, 4)])
        y = rng.normal(size=k * n_t) + np.repeat(rng.normal(size=k), n_t)
        xy, off, t = np.column_stack([X, y]), np.array([0, 6, 12, 18]), np.tile(t1, k)
        z1, z2 = np.zeros(1, np.int64), np.array([0, 2])

        def work(q):
            w = _Work(k, q)
            mx.crossprods(xy, off, t, 0.3, w.C, w.ldr)
            w.L[...] = 0.5 * np.tril(np.ones((q, q)))
            return w

        w1, w2 = work(1), work(2)

        def full(w, zc, reml):
            return (w.C, w.ldr, zc, w.L, float(k * n_t), reml, w.S, w.M, w.U, w.K, w.KX, w.beta)

        spd = np.cov(rng.normal(size=(4, 12)))
        if name == "crossprods":
            return [(xy, off, t, phi, np.empty((k, 5, 5)), np.empty(k)) for phi in (0.0, 0.4, -0.3)]
        if name == "chol":
            return [(spd, 4, np.empty((4, 4))), (-spd, 4, np.empty((4, 4))), (spd, 2, np.empty((2, 2)))]
        if name == "accumulate":
            return [(w.C, w.ldr, zc, w.L, w.S, w.M, w.U, w.K) for w, zc in ((w1, z1), (w2, z2))]
        if name == "gls":
            return [(np.cov(rng.normal(size=(5, 12))), np.empty((4, 4)), np.empty(4)), (np.ones((5, 5)),
                    np.empty((4, 4)), np.empty(4))]
        if name == "loglik":
            return [(3.0, 1.0, 2.0, 18.0, 4, r) for r in (False, True)] + [(0.0, 1.0, 2.0, 18.0, 4, False)]
        if name == "profile":
            return [full(w, zc, r) for w, zc in ((w1, z1), (w2, z2)) for r in (False, True)]
        if name == "_ll_lam":
            return [(lam, *full(w1, z1, r)) for lam in (0.0, 0.7) for r in (False, True)]
        if name == "_brent_lam":
            return [(-3.0, 2.0, True, *full(w1, z1, False)), (0.0, 0.5, False, *full(w1, z1, True))]
        if name == "_dll_dtheta":
            return [(0.7, *full(w1, z1, r)) for r in (False, True)]
        if name == "_polish":
            return [(0.7, -40.0, *full(w1, z1, r)) for r in (False, True)]
        if name in ("max_lambda", "search_lambda"):
            return [full(w1, z1, r) for r in (False, True)]
        if name == "_ll_phi":
            return [(z, pol, xy, off, t, *full(w1, z1, False)) for z in (-0.5, 0.3) for pol in (False, True)]
        if name == "_ll_phi_near":
            return [(0.3, lam0, xy, off, t, *full(w1, z1, False)) for lam0 in (0.0, 0.5, 1e-9)]
        if name == "max_phi_lambda":
            return [(xy, off, t, *full(w1, z1, False))]
        if name == "inv_diag":
            return [(np.linalg.cholesky(spd), np.empty((4, 4)), np.empty(4))]
        assert name == "fit_batch"
        Y = rng.normal(size=(2, k * n_t))
        return [(X, Y, off, t, reml, False, np.empty((2, 12)), np.empty((k * n_t, 5)), w1.C, w1.ldr, z1, w1.L,
                 w1.S, w1.M, w1.U, w1.K, w1.KX, np.empty((4, 4)), w1.beta, np.empty(4)) for reml in (False, True)]
    return calls


_MIXED = ("crossprods", "chol", "accumulate", "gls", "loglik", "profile", "_ll_lam", "_brent_lam", "_dll_dtheta",
          "_polish", "max_lambda", "search_lambda", "_ll_phi", "_ll_phi_near", "max_phi_lambda", "inv_diag", "fit_batch")

def _bcsmd_sets(rng, n_sets=2):
    """Staggered multiple baseline, 3 cases x 7 sessions, the second with gaps in its sessions."""
    from scedsim.between_case import _Design

    k, T = 3, 7
    trt = (np.arange(T) >= np.array([[2], [3], [4]])).astype(float)
    times = np.tile(np.arange(1, T + 1), (k, 1))
    times[1] += np.arange(T) // 3
    d = _Design(times, trt, np.full(k, T))
    Y = rng.normal(size=(n_sets, k, T)) + 0.8 * trt + rng.normal(size=(n_sets, k, 1))
    Y[-1, :, :] = rng.integers(0, 4, (k, T))  # ties
    return Y, d


def _hps_calls(rng):
    Y, d = _bcsmd_sets(rng, 4)
    work = np.zeros(d.lagmax + 1 + d.K + d.K * d.K)
    return [(Y, d.times, d.trt, d.n, d.cell, d.ncell, d.lagmax, work, np.full((11, 4), -99.0))]


def _hps_abk_calls(rng):
    from scedsim.between_case import _ReversalDesign

    k, T = 3, 14
    trt = np.tile(np.repeat([0.0, 1.0, 0.0, 1.0], [3, 4, 3, 4]), (k, 1))
    trt[1] = np.repeat([0.0, 1.0, 0.0, 1.0], [4, 3, 2, 5])  # unequal phases: cells left out
    times = np.tile(np.arange(1, T + 1), (k, 1))
    times[2] += np.arange(T) // 4  # skipped sessions
    d = _ReversalDesign(times, trt, np.full(k, T))
    Y = rng.normal(size=(4, k, T)) + 0.8 * trt + rng.normal(size=(4, k, 1))
    Y[-1, :, :] = rng.integers(0, 4, (k, T))  # ties
    work = np.zeros(d.lagmax + 1 + len(d.nrun) + d.K + d.K * d.K)
    return [(Y, d.times, d.trt, d.n, d.run, d.nrun, d.ordn, d.cell, d.ncell, d.npairs, d.lagmax, work,
             np.full((11, 4), -99.0))]


def _reml_calls(rng):
    from scedsim._reml_ar1 import _work_size

    Y, d = _bcsmd_sets(rng)
    return [(Y, d.times, d.trt, d.n, np.zeros(_work_size(d.k, 7)), np.full((13, 2), -99.0))]


def _reml_forms(rng, phi=0.3):
    from scedsim._reml_ar1 import _forms

    Y, d = _bcsmd_sets(rng, 1)
    q = np.zeros(6 * d.k)
    ldr = _forms(Y[0], d.times, d.trt, d.n, phi, q)
    return Y[0], d, q, ldr


def _forms_calls(rng):
    Y, d = _bcsmd_sets(rng, 1)
    return [(Y[0], d.times, d.trt, d.n, phi, np.zeros(6 * d.k)) for phi in (0.0, 0.4, -0.6)]


def _lam_crit_calls(rng):
    y, d, q, ldr = _reml_forms(rng)
    return [(lam, q, d.k, d.g, ldr, np.zeros(6)) for lam in (0.0, 0.3, 5.0)]


def _brent_lam_calls(rng):
    y, d, q, ldr = _reml_forms(rng)
    return [(0.0, 0.01, True, q, d.k, d.g, ldr, np.zeros(6)), (-3.0, 3.0, False, q, d.k, d.g, ldr, np.zeros(6))]


def _best_lam_calls(rng):
    y, d, q, ldr = _reml_forms(rng)
    return [(q, d.k, d.g, ldr, np.zeros(6))]


def _phi_crit_calls(rng):
    y, d, q, ldr = _reml_forms(rng)
    return [(z, y, d.times, d.trt, d.n, d.g, q, np.zeros(6), np.array([lam, 0.0]), warm)
            for z in (-0.5, 0.0, 1.2) for lam, warm in ((0.0, False), (0.8, True), (1e-6, True))]


def _brent_phi_calls(rng):
    y, d, q, ldr = _reml_forms(rng)
    return [(-1.0, 1.0, y, d.times, d.trt, d.n, d.g, q, np.zeros(6), np.zeros(2))]


def _reml_loglik_calls(rng):
    y, d, q, ldr = _reml_forms(rng)
    return [(y, d.times, d.trt, d.n, lam, phi, np.zeros(6 * d.k + 6)) for lam in (0.0, 1.5) for phi in (0.0, -0.3)]


def _case_winv_calls(rng):
    y, d, q, ldr = _reml_forms(rng)
    return [(d.times, d.trt, d.n, i, 0.4, 0.7, np.zeros(7), np.zeros(49), 7) for i in range(d.k)]


def _no_residual_calls(rng):
    Y, d = _bcsmd_sets(rng, 1)
    exact = 2.0 + 1.5 * d.trt + np.arange(d.k)[:, None]
    return [(Y[0], d.trt, d.n), (exact, d.trt, d.n), (np.full_like(exact, 3.0), d.trt, d.n)]


_kr = "scedsim._reml_ar1."
def _t_lbeta(df):
    from scedsim.inference.between import _t_lbeta as f

    return f(df)


def _rank_tables(k):
    from scedsim.inference.between import _signed_rank_tables as f

    return f(k)


def _gray_steps(k):
    from scedsim.inference.between import _gray_steps as g

    return g(k)


def _between_calls(rng):
    # Ties, zeros, a sum on the tie tolerance and random values; k = 1, 2, 3, 4, 6, 7, 8, 9.
    xs = [np.array([[1.0, -1.0, 2.0, 0.0, 2.0, -2.0]]), rng.normal(size=(5, 6)), rng.integers(-2, 3, (5, 2)) * 1.0,
          np.array([[0.1, 0.2, -0.3]]), np.zeros((2, 4)), rng.normal(size=(3, 1)),
          rng.integers(-2, 3, (4, 8)) * 1.0, rng.normal(size=(3, 9)), np.round(rng.normal(size=(4, 7)), 1)]
    return xs


def _brent_states():
    # A fresh start, a parabola's start, a converged bracket, and a state after steps.
    return [(0.0, 1.0, 0.382, 0.3, 0.382, 0.3, 0.382, 0.3, 0.0, 0.0),
            (0.0, 1.0, 0.5, 0.1, 0.0, 0.4, 1.0, 0.7, 0.0, 1.0),
            (0.3, 0.3 + 1e-12, 0.3, 1.0, 0.3, 1.0, 0.3, 1.0, 0.0, 0.0),
            (0.2, 0.9, 0.6, -1.0, 0.4, -0.5, 0.8, -0.2, 0.1, 0.3)]


CALLS = {
    "scedsim._brent.brent_state": lambda rng: [(0.0, 1.0, 0.4, 2.0, 0.1, 3.0, 0.9, 4.0, e) for e in (0.0, 1.0)],
    "scedsim._brent.brent_next": lambda rng: [(st, rtol, atol) for st in _brent_states()
                                              for rtol, atol in ((1.5e-8, 1e-12), (1e-6, 1e-6))],
    "scedsim._brent.brent_update": lambda rng: [(st, u, fu) for st in _brent_states() for u in (0.25, 0.7)
                                                for fu in (-2.0, 0.35, np.nan)],
    "scedsim.inference.between._flip_test": lambda rng: [
        (x, np.empty((x.shape[0], 0)), *_gray_steps(x.shape[1] - 6), 1e-9, alt, np.empty((2, x.shape[0])))
        for x in _between_calls(rng) if x.shape[1] >= 6 for alt in (0, 1, 2)],
    "scedsim.inference.between._flip_test_small": lambda rng: [
        (x, np.empty((x.shape[0], 0)), 1e-9, alt, np.empty((2, x.shape[0])))
        for x in _between_calls(rng) if x.shape[1] <= 6 for alt in (0, 1, 2)],
    "scedsim.inference.between._row_flips": lambda rng: [
        (x, r, *_gray_steps(x.shape[1] - 6), 1e-9) for x in _between_calls(rng) if x.shape[1] >= 6
        for r in range(x.shape[0])],
    "scedsim.inference.between._row_flips_small": lambda rng: [
        (x, r, 1e-9) for x in _between_calls(rng) if x.shape[1] <= 6 for r in range(x.shape[0])],
    "scedsim.inference.between._count64": lambda rng: [
        (x, r, h, *x[r, :3], x[r, 0] + x[r, 1], x[r, 0] + x[r, 2], x[r, 1] + x[r, 2], x[r, :3].sum(), c)
        for x in _between_calls(rng) if x.shape[1] >= 6 for r in range(x.shape[0]) for h in (0.0, -0.5)
        for c in (0.0, 1e-9)],
    "scedsim.inference.between._count8": lambda rng: [
        (h, *rng.normal(size=7), c) for h in (0.0, 0.3, -1.0) for c in (0.0, 0.5)],
    "scedsim.inference.between._p_from_counts": lambda rng: [
        (g, lo, 64.0, alt) for g, lo in ((1, 64), (64, 1), (33, 33), (40, 30)) for alt in (0, 1, 2)],
    "scedsim.inference.between._t_tail": lambda rng: [(t, df, _t_lbeta(df))
                                                      for t in (0.0, 1e-9, -0.7, 1.5, -3.0, 3.0, 80.0, np.inf,
                                                                -np.inf, np.nan)
                                                      for df in (1.0, 2.0, 5.0, 6.0, 12.0, 2.5, 250.0)],
    "scedsim.inference.between._t_test": lambda rng: [
        (x, np.empty((x.shape[0], 0)), alt, _t_lbeta(x.shape[1] - 1.0), np.empty((2, x.shape[0])))
        for x in _between_calls(rng) if x.shape[1] > 1 for alt in (0, 1, 2)],
    "scedsim.inference.between._t_sf": lambda rng: [(t, df, _t_lbeta(df))
                                                    for t in (0.0, 1e-9, -0.7, 3.0, 80.0, np.inf, np.nan)
                                                    for df in (1.0, 2.0, 5.0, 12.0)],
    "scedsim.inference.between._betacf": lambda rng: [(a, b, x) for a, b in ((2.5, 0.5), (0.5, 2.5), (0.5, 0.5))
                                                      for x in (1e-12, 0.3, 0.6)],
    "scedsim.effect_sizes.lor._lor_truncate": lambda rng: [
        (mean, v, 4, inv, kk) for mean in (0.0, 0.3, 1.0, 45.0) for v in (0.0, 0.02, np.nan) for inv in (0.01, 1.0)
        for kk in (0.0, 10.0)],
    "scedsim.effect_sizes.lor._edge_logit": lambda rng: [
        (mean, v, 4, bc) for mean in (0.0, 0.3, 1.0) for v in (0.0, 0.02, np.nan) for bc in (True, False)],
    "scedsim.inference.between._wilcoxon": lambda rng: [
        (x, np.empty((x.shape[0], 0)), *_rank_tables(x.shape[1]), *_gray_steps(x.shape[1] - 6), 1e-9, alt,
         np.empty(x.shape), np.empty((2, x.shape[0])))
        for x in _between_calls(rng) if x.shape[1] >= 6 for alt in (0, 1, 2)],
    "scedsim.inference.between._wilcoxon_small": lambda rng: [
        (x, np.empty((x.shape[0], 0)), *_rank_tables(x.shape[1]), 1e-9, alt, np.empty(x.shape),
         np.empty((2, x.shape[0])))
        for x in _between_calls(rng) if x.shape[1] <= 6 for alt in (0, 1, 2)],
    "scedsim.inference.between._signed_rank_row": lambda rng: [
        (x, r, np.empty(x.shape)) for x in _between_calls(rng) for r in range(x.shape[0])],
    "scedsim.inference.between._signed_ranks": lambda rng: [(x, np.empty_like(x)) for x in _between_calls(rng)],
    _cdc + "_grow": _grow_calls,
    _cdc + "_mul": _mul_calls,
    _cdc + "_beyond_exact": _beyond_exact_calls,
    _cdc + "_group_median": _group_median_calls,
    "scedsim.effect_sizes.plm._plm_profile": _plm_profile_calls,
    "scedsim.effect_sizes.plm._plm_dprofile": _plm_profile_calls,
    "scedsim.effect_sizes.plm._plm_factor": _plm_factor_calls,
    **{"scedsim._mixed." + n: _mixed_calls(n) for n in _MIXED},
    "scedsim._hps._hps_mb": _hps_calls,
    "scedsim._hps._hps_abk": _hps_abk_calls,
    "scedsim._hps._g_var": lambda rng: [(d, th, nu, jt) for d in (0.0, 1.3) for th in (0.2,) for nu in (1.5, 2.0005, 9.0)
                                        for jt in (False, True)],
    "scedsim._hps._hps_finish": lambda rng: [(np.full((11, 2), -99.0), 1, rng.random(9), np.array([2.0, 3.0, 4.0]), t, nn,
                                              0.3, 0.9, 1.0, 1.5, 0.2, 1.1, 0.4)
                                             for t in (0.5, -30.0) for nn in (36, 49.0)],
    _kr + "_reml_bcsmd": _reml_calls,
    _kr + "_forms": _forms_calls,
    _kr + "_lam_crit": _lam_crit_calls,
    _kr + "_brent_lam": _brent_lam_calls,
    _kr + "_best_lam": _best_lam_calls,
    _kr + "_phi_crit": _phi_crit_calls,
    _kr + "_brent_phi": _brent_phi_calls,
    _kr + "_reml_loglik": _reml_loglik_calls,
    _kr + "_case_winv": _case_winv_calls,
    _kr + "_no_residual": _no_residual_calls,
    _kp + "_mean_var": _mean_var_calls,
    _kp + "_mean_var_flat": lambda rng: [(x.ravel(), r * 6, k) for x, r, k in _mean_var_calls(rng)],
    "scedsim.effect_sizes.pogo._pogo_fixed_2d": _pogo_fixed_calls,
    "scedsim.effect_sizes.lor._lor_fixed_2d": _lor_fixed_calls,
    _kp + "_smd_moments": _smd_moments_calls,
    _kp + "_two_prod": _two_prod_calls,
    _kp + "_sum_sign": _sum_sign_calls,
    _kp + "_dot_sign": _dot_sign_calls,
    _kp + "_exact_values": _exact_values_calls,
    _kp + "_slope_cmp": _recorded("_tau_bc_times_2d", "_slope_cmp"),
    _kp + "_res_sign": _recorded("_tau_bc_times_2d", "_res_sign"),
    "scedsim.simulate.models._ar1": _ar1_calls,
    "scedsim.simulate.analysis._row_nanmean": _row_nanmean_calls,
    "scedsim.simulate.measures._power_sums": _power_sums_calls,
    "scedsim.simulate.measures._few_values": _few_values_calls,
    "scedsim.inference.combine._irwin_hall": _irwin_hall_calls,
    "scedsim.inference.permutation._perm_u_2d": _perm_calls,
    _kp + "_insertion_sort": _sort_calls,
    _kp + "_sorted_median": _median_calls,
    _kp + "_nap_se": _nap_se_calls,
    _kp + "_nap_fixed_2d": _nap_fixed_calls,
    _kp + "_newcombe_g": _newcombe_calls,
    _kp + "_brent_root": _brent_calls,
    _kp + "_score_ci": _score_ci_calls,
    _kp + "_trend_s": _trend_s_calls,
}


def _case_calls(cases):
    """Calls of a metric kernel from its registry KernelCases, at 3 + 2, 4 + 3 and 5 + 4 points
    (m = 4, 5 takes the sorting paths)."""
    def calls(rng):
        out = []
        for k in cases:
            for m, n in ((3, 2), (4, 3), (5, 4)):
                a, b = _ab(rng, m=m, n=n)
                out.append((a, b, *k.args(m, n), np.full((k.fields, a.shape[0]), -99.0)))
        return out
    return calls


# Metric kernels: run here only to prove their twins pure.
CALLS.update({name: _case_calls(_CASES[id(KERNELS[name])]) for name in METRIC_KERNELS})

# --------------------------------------------------------------------------- tests

def test_every_kernel_is_found_and_has_inputs():
    assert len(KERNELS) - len(METRIC_KERNELS) == N_OTHER, sorted(set(KERNELS) - METRIC_KERNELS)
    made = {id(k) for k in _numba._KERNELS if k.py_func.__module__.startswith("scedsim.")}
    assert {id(k) for k in KERNELS.values()} == made  # none hides outside a module namespace
    assert set(CALLS) == set(KERNELS)


def _compiled(value) -> bool:
    return isinstance(value, _DispatcherBase) or _numba._TWINS.get(id(value), value) is not value


def _globals_reached(fn):
    """``(function, name, value)`` for every global that ``fn``'s code can look up,
    following scedsim's own functions recursively (a module's attributes named
    in the code count too, for calls such as ``mod.kernel(...)``)."""
    stack, seen, reached = [fn], set(), []
    while stack:
        f = stack.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        codes, names = [f.__code__], set()
        while codes:
            code = codes.pop()
            names |= set(code.co_names)
            codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        for name in sorted(names):
            try:
                value = f.__globals__[name]
            except KeyError:  # an attribute name, not a global
                continue
            reached.append((f.__qualname__, name, value))
            if isinstance(value, types.ModuleType):
                reached += [(f.__qualname__, f"{name}.{attr}", getattr(value, attr))
                            for attr in names if hasattr(value, attr)]
            if isinstance(value, types.FunctionType) and (value.__module__ or "").startswith("scedsim"):
                stack.append(value)
    return reached


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_twin_reaches_no_compiled_code(name):
    twin = KERNELS[name].twin
    assert isinstance(twin, types.FunctionType)
    assert inspect.getsource(twin) == inspect.getsource(KERNELS[name].py_func)
    bad = [(where, g) for where, g, value in _globals_reached(twin) if _compiled(value)]
    assert not bad, f"{name}.twin reaches compiled code: {bad}"


@contextlib.contextmanager
def _compiled_code_raises():
    """Make every numba dispatcher raise when called."""
    assert "__call__" not in vars(_DispatcherBase)

    def poisoned(self, *args, **kwargs):
        raise AssertionError(f"a twin called the compiled {self.py_func.__name__}")

    _DispatcherBase.__call__ = poisoned
    try:
        yield
    finally:
        del _DispatcherBase.__call__


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_twin_runs_without_compiled_code(name):
    calls = CALLS[name](np.random.default_rng(1))
    with _compiled_code_raises(), np.errstate(all="ignore"):
        if _numba.JIT_ENABLED:  # the poison itself works
            with pytest.raises(AssertionError, match="a twin called"):
                K._sorted_median(np.zeros(1), 1)
        for args in calls:
            KERNELS[name].twin(*args)


def _flat(v):
    """A return value with nested tuples (Brent's state) as one flat tuple."""
    if isinstance(v, tuple) and any(isinstance(x, tuple) for x in v):
        return tuple(y for x in v for y in (_flat(x) if isinstance(x, tuple) else (x,)))
    return v


@pytest.mark.parametrize("name", sorted(k for k in KERNELS if not _is_metric(k)))
def test_twin_equals_kernel(name):
    """Same return value and the same arrays afterwards (outputs and in-place sorts)."""
    kern = KERNELS[name]
    for args in CALLS[name](np.random.default_rng(2024)):
        args_k, args_t = copy.deepcopy(args), copy.deepcopy(args)
        with np.errstate(all="ignore"):
            got_k = kern(*args_k)
            got_t = kern.twin(*args_t)
        np.testing.assert_array_equal(np.asarray(_flat(got_k)), np.asarray(_flat(got_t)), err_msg=name)
        for x, y in zip(args_k, args_t):
            if isinstance(x, np.ndarray):
                np.testing.assert_array_equal(x, y, err_msg=name)
            elif isinstance(x, tuple) and x and all(isinstance(v, np.ndarray) for v in x):  # the fields of an out
                for v, w in zip(x, y):
                    np.testing.assert_array_equal(v, w, err_msg=name)
