"""Each numba kernel equals its plain-Python twin, and the numba settings behave."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scedsim.effect_sizes import _kernels as K
from scedsim import registry
from scedsim.testing import ab_batches

Z = 1.959963984540054


def _run(kern, a, b, fields, *args):
    out_k = np.full((fields, a.shape[0]), -99.0)
    out_p = np.full((fields, a.shape[0]), -99.0)
    kern(a, b, *args, out_k)
    kern.twin(a, b, *args, out_p)
    np.testing.assert_array_equal(out_k, out_p)


# Every kernel call each registered metric declares (its KernelCase entries).
CASES = [(k.label, k.kernel, k.fields, k.args) for m in registry.metrics().values() if not m.user
         for k in m.kernels]
KERNELS = list(dict.fromkeys(k.kernel for m in registry.metrics().values() if not m.user for k in m.kernels))


def test_first_kernel_case_is_the_default_call():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 9, (50, 4)).astype(float)
    b = rng.integers(0, 9, (50, 5)).astype(float)
    for name, m in registry.metrics().items():
        if m.user:
            continue
        k = m.kernels[0]
        out = np.empty((k.fields, 50))
        k.kernel(a / k.units, b / k.units, *k.args(4, 5), out)
        np.testing.assert_array_equal(out[0], m.func(a, b, **m.required).estimate, err_msg=name)


def test_every_metric_declares_its_kernels():
    # A metric that runs a kernel must list it, so that it is compared with its twin here.
    for name, m in registry.metrics().items():
        if not m.user:
            assert m.kernels, name


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@settings(max_examples=60)
@given(batch=ab_batches(min_a=3, min_b=2))
def test_kernel_equals_twin(case, batch):
    _, kern, fields, args = case
    a, b = batch
    with np.errstate(all="ignore"):
        _run(kern, a, b, fields, *args(a.shape[1], b.shape[1]))


@given(st.lists(st.floats(-50, 50, allow_nan=False), min_size=0, max_size=12))
def test_sort_helpers_equal_twins(xs):
    x1 = np.array(xs + [0.0])
    x2 = x1.copy()
    K._insertion_sort(x1, len(xs))
    K._insertion_sort.twin(x2, len(xs))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(x1[:len(xs)], np.sort(np.array(xs)))
    if xs:
        assert K._sorted_median(x1, len(xs)) == K._sorted_median.twin(x1, len(xs)) == np.median(xs)


def test_score_ci_equals_twin():
    vals = np.arange(25) / 24.0
    o1, o2 = np.empty((2, 25)), np.empty((2, 25))
    for tol in (0.0, 1.2e-4):
        K._score_ci(vals, 3, 4, Z, tol, o1)
        K._score_ci.twin(vals, 3, 4, Z, tol, o2)
        np.testing.assert_array_equal(o1, o2)
        assert np.all(o1[0] <= vals) and np.all(vals <= o1[1])


def test_kernels_allocate_nothing_per_row():
    """A batch of 1 row and of 10^4 rows must not differ in allocations that scale with rows.

    numba cannot report allocations directly; instead we check the kernels' typed
    IR has no allocation inside loops other than the scratch buffers made before
    the row loop (np.empty calls appear only at the top of the function source).
    """
    import inspect

    for kern in KERNELS:
        src = inspect.getsource(kern.py_func)
        if "for r in range(rows):" not in src:
            continue  # a wrapper that calls another kernel (_pet_2d, _tau_bc_2d)
        body = src.split("for r in range(rows):", 1)[1]
        for token in ("np.empty", "np.zeros", "np.array", "np.sort", ".copy(", "np.full"):
            assert token not in body, (kern.py_func.__name__, token)


def test_disable_jit_switch_runs_the_twins():
    code = ("import scedsim, scedsim._numba as n; "
            "from scedsim.effect_sizes import _kernels as K; "
            "print(n.JIT_ENABLED, K._nap_2d is K._nap_2d_python, scedsim.nap([1,2],[3,4]).estimate)")
    env = dict(os.environ, SCEDSIM_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "1.0"]


def test_cache_switch():
    code = "import scedsim._numba as n; print(n.CACHE_ENABLED)"
    env = dict(os.environ, SCEDSIM_NUMBA_CACHE="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name,kw", [("nap", {}), ("tau", {"se": "hanley"}), ("ird", {}), ("pem", {}),
                                     ("tau_u", {"method": "complete"}), ("tau_bc", {"pretest_alpha": 0.1}),
                                     ("smd", {}), ("pet", {}), ("lrr", {})])
def test_threads_do_not_change_results(name, kw):
    import scedsim as ss

    rng = np.random.default_rng(7)
    a = rng.integers(0, 9, (100_003, 4)).astype(float)
    b = rng.integers(0, 9, (100_003, 5)).astype(float)
    before = ss.get_num_threads()
    try:
        ss.set_num_threads(1)
        one = getattr(ss, name)(a, b, **kw)
        ss.set_num_threads(3)
        three = getattr(ss, name)(a, b, **kw)
    finally:
        ss.set_num_threads(before)
    for f in ("estimate", "se", "ci_lower", "ci_upper"):
        np.testing.assert_array_equal(getattr(one, f), getattr(three, f))
    with pytest.raises(ValueError, match="at least 1"):
        ss.set_num_threads(0)


# --------------------------------------------------------------------------- fixed-shape kernels

def _fixed_inputs(rng, rows, m, n):
    """Tied integers, continuous rows, and rows of huge values whose sums overflow."""
    a = rng.integers(0, 5, (rows, m)).astype(float)
    b = rng.integers(0, 5, (rows, n)).astype(float)
    a[:40] = rng.normal(size=(40, m))
    b[:40] = rng.normal(size=(40, n))
    a[40:44] = 1.7e308
    b[40:44] = 1.7e308  # the sum of a row overflows
    return a, b


@pytest.mark.parametrize("m,n", [(3, 4), (1, 2)])
def test_fixed_shape_nap_equals_general_kernel(m, n):
    """The fixed-shape kernel gives the general kernel's fields bit for bit on the
    oriented data, and flags NaN and inf (and nothing else but overflowing sums)."""
    from scedsim.effect_sizes._score import ci_table, tau_ci_table

    rng = np.random.default_rng(11)
    a, b = _fixed_inputs(rng, K.FIXED_BLOCK + 300, m, n)
    rows = a.shape[0]
    for sign in (1.0, -1.0):
        for code in K.SE_CODES.values():
            for tau in (False, True):
                out_f = np.full((4, rows), -99.0)
                out_g = np.full((4, rows), -99.0)
                flag = K._nap_fixed_2d(a[44:], b[44:], (0,) * m, (0,) * n, sign, code,
                                       (tau_ci_table if tau else ci_table)(m, n, Z, 1.2e-4), tau, tuple(out_f[:, 44:]))
                K._nap_2d(sign * a, sign * b, code, ci_table(m, n, Z, 1.2e-4), tau, out_g)
                assert flag == 0
                np.testing.assert_array_equal(out_f[:, 44:], out_g[:, 44:])
    out = np.empty((4, rows))
    table = ci_table(m, n, Z, 0.0)
    assert K._nap_fixed_2d(a, b, (0,) * m, (0,) * n, 1.0, 0, table, False, tuple(out)) == 1  # the overflowing rows
    for where in ((a, (700, 0)), (b, (rows - 1, n - 1))):
        for bad in (np.nan, np.inf, -np.inf):
            x, (r, i) = where
            keep = x[r, i]
            x[r, i] = bad
            assert K._nap_fixed_2d(a[44:], b[44:], (0,) * m, (0,) * n, 1.0, 0, table, False, tuple(out[:, 44:])) == 1
            x[r, i] = keep


def _percent(rng, rows, m, n):
    a = rng.integers(0, 101, (rows, m)).astype(float)
    b = rng.integers(0, 101, (rows, n)).astype(float)
    a[:40] = rng.uniform(0, 100, (40, m))
    a[50], b[51], a[52], b[52] = 0.0, 0.0, 100.0, 100.0  # phase means at the ends of the scale
    return a, b


_FIXED_CALLS = {
    "nap": (_fixed_inputs, [{}, {"se": "hanley"}, {"se": "null"}, {"se": "none"}, {"improvement": "decrease"},
                            {"confidence": 0.8, "ci_roots": "exact"}]),
    "tau": (_fixed_inputs, [{}, {"se": "hanley", "improvement": "decrease"}]),
    "pogo": (lambda rng, rows, m, n: (rng.normal(5, 3, (rows, m)), rng.normal(6, 3, (rows, n))),
             [{"goal": 10.0}, {"goal": "per row"}, {"goal": -2.0, "confidence": 0.8}]),
    "lor": (_percent, [{}, {"improvement": "decrease", "bias_correct": False}, {"intervals": 20},
                       {"scale": "proportion"}]),
}


@pytest.mark.parametrize("name", sorted(_FIXED_CALLS))
def test_fixed_shape_path_equals_general_path(monkeypatch, name):
    """The public function gives the same fields, and the same errors, on the
    fixed-shape path (which checks the data in the kernel's pass) and the general one."""
    import scedsim as ss
    from scedsim._validation import assume_finite

    rng = np.random.default_rng(12)
    make_data, options = _FIXED_CALLS[name]
    a, b = make_data(rng, 900, 3, 4)
    f = getattr(ss, name)

    def call(x, y, kw):
        kw = dict(kw)
        if kw.get("goal") == "per row":
            kw["goal"] = np.linspace(-5, 20, x.shape[0]) if x.ndim == 2 else 4.0
        if kw.get("scale") == "proportion":
            x, y = x / 100.0, y / 100.0
        return f(x, y, **kw)

    for x, y in ((a, b), (a[5], b[5]), (a[:, :1], b[:, :2])):
        for kw in options:
            monkeypatch.setattr(K, "FIXED_MIN_ROWS", 1)
            fixed = call(x, y, kw)
            monkeypatch.setattr(K, "FIXED_MIN_ROWS", 10 ** 12)
            general = call(x, y, kw)
            for field in ("estimate", "se", "ci_lower", "ci_upper"):
                np.testing.assert_array_equal(getattr(fixed, field), getattr(general, field), err_msg=(kw, field))
            np.testing.assert_equal(fixed.options, general.options)
    kw = {"goal": 10.0} if name == "pogo" else {}
    bad = [(b, (300, 2), np.inf, "^phase B contains an infinite value at position 2 of row 300; "),
           (a, (301, 1), np.nan, "^phase A contains NaN at position 1 of row 301; ")]
    if name == "pogo":
        bad.append((a, (302, 0), 1e120, "^PoGO: the data reach magnitude 1e[+]120"))
    if name == "lor":
        bad += [(b, (303, 3), -0.5, "^LOR on the percentage scale needs values in \\[0, 100\\]; phase B holds -0.5$"),
                (a, (304, 0), 100.5, "^LOR on the percentage scale needs values in \\[0, 100\\]; phase A holds 100.5$")]
    for x, (r, i), value, match in bad:
        keep = x[r, i]
        x[r, i] = value
        for rows in (1, 10 ** 12):
            monkeypatch.setattr(K, "FIXED_MIN_ROWS", rows)
            with pytest.raises(ValueError, match=match):
                f(a, b, **kw)
            if name == "pogo":  # the data's errors come before the goal's
                with pytest.raises(ValueError, match=match):
                    f(a, b, goal="ten")
        x[r, i] = keep
    b[300, 2] = np.nan
    monkeypatch.setattr(K, "FIXED_MIN_ROWS", 1)
    with assume_finite():  # the caller vouches for the data: no scan, as before
        assert f(a, b, **kw).estimate.shape == (900,)
