"""Bad input raises a ValueError that names the problem."""
import functools
import math

import numpy as np
import pytest

import scedsim as ss

from scedsim import registry

# Every built-in metric: a new one is validated without edits here.
FUNCS = [n for n, m in registry.metrics().items() if not m.user]
A, B = [3.0, 4.0, 3.0], [6.0, 7.0, 5.0, 8.0]


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("bad,match", [
    ([1.0, float("nan"), 2.0], "phase A contains NaN"),
    ([1.0, float("inf"), 2.0], "phase A contains an infinite value"),
    ([], "phase A is empty"),
    (["x", "y", "z"], "non-numeric"),
    ([None, 1.0, 2.0], "phase A contains NaN at position 0;"),  # None is a missing value
    ([{"x": 1}, 1.0, 2.0], "non-numeric"),
])
def test_bad_phase_a(name, bad, match):
    with pytest.raises(ValueError, match=match):
        m = registry.get_metric(name)
        m.func(bad, B, **m.required)


@pytest.mark.parametrize("name", FUNCS)
def test_bad_phase_b_and_direction(name):
    m = registry.get_metric(name)
    fn = functools.partial(m.func, **m.required)  # the example of each option it cannot run without
    with pytest.raises(ValueError, match="phase B contains NaN"):
        fn(A, [1.0, np.nan])
    with pytest.raises(ValueError, match="phase B is empty"):
        fn(A, [])
    with pytest.raises(ValueError, match="unknown improvement 'up'"):
        fn(A, B, improvement="up")
    with pytest.raises(ValueError, match="same number of rows"):
        fn(np.ones((3, 3)), np.ones((4, 4)))
    with pytest.raises(ValueError, match="must both be 1-D"):
        fn(np.ones((3, 3)), np.ones(4))
    with pytest.raises(ValueError, match="must both be 1-D"):
        fn(np.ones((2, 3, 3)), np.ones((2, 3, 4)))


def test_nan_position_is_named_in_batches():
    a = np.ones((5, 3))
    a[3, 1] = np.nan
    with pytest.raises(ValueError, match="position 1 of row 3"):
        ss.nap(a, np.ones((5, 4)))


def test_large_finite_values_are_not_mistaken_for_inf():
    # Their sum overflows, but every value is finite.
    a = np.array([1e308, 1e308, 1e308])
    assert ss.nap(a, np.array([1.0, 2.0]), se="hanley").estimate == 0.0


@pytest.mark.parametrize("call,match", [
    (lambda: ss.nap(A, B, se="wald"), "unknown se 'wald'"),
    (lambda: ss.tau(A, B, se="Unbiased"), "unknown se"),
    (lambda: ss.tau_u(A, B, method="bogus"), "unknown method 'bogus'"),
    (lambda: ss.tau_u(A, B, contrast="a_vs_b"), "unknown contrast 'a_vs_b'"),
    (lambda: ss.pem(A, B, ties="some"), "unknown ties"),
    (lambda: ss.pem(A, B, center="mode"), "unknown center"),
    (lambda: ss.smd(A, B, std_dev="both"), "unknown std_dev"),
    (lambda: ss.lrr(A, B, kind="lrr"), "unknown kind"),
    (lambda: ss.nap(A, B, confidence=95), r"confidence must be in \(0, 1\)"),
    (lambda: ss.tau_bc(A, B, pretest_alpha=5), "pretest_alpha"),
    (lambda: ss.tau_bc(A, B, kendall="yes"), "kendall must be True or False"),
])
def test_unknown_options(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call,match", [
    (lambda: ss.pet([1.0], B), "PET needs at least 2 points in phase A"),
    (lambda: ss.tau_bc([1.0], B), "Tau-BC needs at least 2 points in phase A"),
    (lambda: ss.tau_bc([1.0, 2.0], B, pretest_alpha=0.05), "at least 3 points in phase A"),
    (lambda: ss.tau_u([1.0], B, contrast="trend_a"), "at least 2 points in phase A"),
    (lambda: ss.tau_u(A, [1.0], contrast="trend_b"), "at least 2 points in phase B"),
    (lambda: ss.smd([1.0], B), "at least 2 points in phase A"),
    (lambda: ss.smd([1.0], [2.0], std_dev="pool"), "at least 3 points"),
])
def test_too_few_points(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_one_point_phases_work_where_defined():
    assert ss.nap([1.0], [2.0], se="hanley").estimate == 1.0
    # The unbiased SE needs 2 points per phase; the estimate and interval do not.
    r = ss.nap([1.0], B)
    assert r.estimate == 1.0 and np.isnan(r.se) and 0 < r.ci_lower < r.ci_upper == 1.0
    assert ss.pnd([1.0], [2.0]).estimate == 1.0
    assert ss.ird([1.0], [0.0]).estimate == 0.0


def test_results_are_frozen_and_batches_read_only():
    r = ss.nap(A, B)
    with pytest.raises(AttributeError):
        r.estimate = 0.0
    rb = ss.nap(np.array([A, A]), np.array([B, B]))
    assert isinstance(rb.estimate, np.ndarray) and rb.estimate.shape == (2,)
    with pytest.raises(ValueError):
        rb.estimate[0] = 0.0
    assert isinstance(r.estimate, float) and math.isfinite(r.se)


def test_integer_and_list_input_accepted_unchanged():
    a = np.array([3, 4, 3])
    r = ss.nap(a, [6, 7, 5, 8], improvement="decrease")
    assert r.estimate == 0.0
    assert a.tolist() == [3, 4, 3]  # the caller's array is not negated in place
