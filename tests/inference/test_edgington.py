"""Edgington's combination: the compiled Irwin-Hall CDF against exact rational values."""
import math
import sys
from fractions import Fraction

import numpy as np
import pytest

from scedsim.inference import combine_pvalues
from scedsim.inference.combine import _edgington_cdf, _irwin_hall

EPS = sys.float_info.epsilon


def _exact(s: Fraction, k: int) -> Fraction:
    """P(U_1 + ... + U_k <= s) as a fraction: sum_{j <= s} (-1)^j C(k, j) (s - j)^k / k!."""
    if s <= 0:
        return Fraction(0)
    if s >= k:
        return Fraction(1)
    return sum(((-1) ** j * math.comb(k, j) * (s - j) ** k for j in range(math.floor(s) + 1)),
               Fraction(0)) / math.factorial(k)


def _scalar_before(v: float, k: int) -> float:
    """The per-element Python loop the kernel replaced (k <= 20), kept here to show
    that the kernel gives the same floats, bit for bit."""
    upper = v > k / 2.0
    x = k - v if upper else v
    acc = 0.0
    for j in range(int(math.floor(x)) + 1):
        acc += (-1) ** j * math.comb(k, j) * (x - j) ** k
    f = min(max(acc / math.factorial(k), 0.0), 1.0)
    return 1.0 - f if upper else f


def _grid(k: int) -> np.ndarray:
    """Both tails, the middle, and values at and next to every integer."""
    s = [0.0, 1e-300, 1e-12, 1e-3, 0.05, 0.3, k / 2.0, k - 1e-3, k - 1e-12, float(k)]
    for j in range(k + 1):
        for d in (-1e-9, -2.0 ** -40, 0.0, 2.0 ** -40, 1e-9, 0.25):
            if 0.0 <= j + d <= k:
                s.append(j + d)
    s += list(np.random.default_rng(k).uniform(0, k, 20))
    return np.array(sorted(set(s)))


@pytest.mark.parametrize("k", [1, 2, 3, 6, 7, 12, 20])
def test_kernel_is_bit_identical_to_the_scalar_loop(k):
    s = _grid(k)
    got = _edgington_cdf(s, k)
    np.testing.assert_array_equal(got, [_scalar_before(v, k) for v in s])
    # The twin agrees with the kernel.
    coef = np.array([(-1) ** j * math.comb(k, j) for j in range(k + 1)], dtype=np.float64)
    twin = np.empty_like(s)
    _irwin_hall.twin(s, k, coef, float(math.factorial(k)), twin)
    np.testing.assert_array_equal(got, twin)


@pytest.mark.parametrize("k", [1, 2, 3, 6, 7, 12, 20])
def test_against_rational_arithmetic(k):
    """Error bound of the float sum on the nearer tail: each of the <= k/2 + 1 terms
    carries a relative error of a few eps (pow, the product, the sum, the division),
    so |F - F_exact| <= (k + 4) eps * (sum of |terms| / k!); in the lower tail
    (x < 1: a single term) that is a relative error of a few eps."""
    s = _grid(k)
    got = _edgington_cdf(s, k)
    for v, g in zip(s, got):
        fv = Fraction(float(v))
        exact = _exact(fv, k)
        x = min(fv, k - fv)
        mass = sum((math.comb(k, j) * (x - j) ** k for j in range(math.floor(x) + 1)), Fraction(0))
        bound = (k + 4) * EPS * float(mass / math.factorial(k)) + EPS
        assert abs(Fraction(g) - exact) <= Fraction(bound), (k, v, g, float(exact))
        if fv < 1 and exact >= sys.float_info.min:
            # Lower tail, one term: relative accuracy, as a small combined p-value needs
            # (below the normal range the float underflows, as it must).
            assert abs(Fraction(g) - exact) <= 4 * EPS * exact, (k, v)


@pytest.mark.parametrize("k", [21, 30])
def test_beyond_twenty_is_exact(k):
    """Beyond k = 20 each distinct sum is evaluated in rational arithmetic: the
    float nearest the exact value (repeats share one evaluation)."""
    s = np.array([0.5, 3.0 - 1e-9, k / 2.0, k / 2.0 + 0.5, k - 2.25, k - 1e-9, 0.5, 3.0 - 1e-9])
    got = _edgington_cdf(s, k)
    for v, g in zip(s, got):
        exact = _exact(Fraction(float(v)), k)
        if v <= k / 2.0:
            assert g == float(exact), (k, v)
        else:  # returned as 1 - F(k - s): one rounding of the exact complement
            assert g == 1.0 - float(1 - exact), (k, v)
    assert got[0] == got[6] and got[1] == got[7]


def test_combine_on_exact_test_pvalues():
    """Six exact 3 + 4 permutation p-values (multiples of 1/35): the value is the
    exact Irwin-Hall CDF at their sum, batch or not."""
    rng = np.random.default_rng(5)
    p = rng.integers(1, 36, (200, 6)) / 35.0
    got = combine_pvalues(p, "edgington")
    assert got.shape == (200,)
    for row, g in zip(p, got):
        s = float(row.sum())
        assert g == combine_pvalues(row, "edgington")
        assert abs(Fraction(g) - _exact(Fraction(s), 6)) <= Fraction(10 * EPS)
