"""Error quantiles for estimators whose variance may be infinite (issue 13): median
error, median absolute error and IQR of the error, from additive per-block sparse
histograms, with order-statistic MCSEs."""
import math

import numpy as np
import pytest

from scedsim.simulate.measures import ERROR_BIN, add_stats, block_stats, error_quantile_rows, measures_from_stats


def _rows(x, theta=0.0, blocks=1):
    """Measures of values ``x`` (n x 1) against ``theta``, reduced over ``blocks`` blocks."""
    est = {("A:B", "smd", "case"): {"limit": theta}}
    total = {}
    for part in np.array_split(x, blocks):
        add_stats(total, block_stats({("A:B", "smd", "case"): {"estimate": part[:, None]}}, est, (), set(), {"smd"}))
    rows = measures_from_stats(total, est)
    return {r["measure"]: (r["value"], r["mcse"]) for r in rows}


def test_exact_quantiles_of_a_grid():
    """Errors -5, -4.9999, ..., 5 (100 001 values): median 0, median |error| 2.5 and
    IQR 5, each within half a bin (the histogram's resolution)."""
    e = np.linspace(-5.0, 5.0, 100_001)
    m = _rows(e + 0.7, theta=0.7)
    assert m["median_error"][0] == pytest.approx(0.0, abs=ERROR_BIN)
    assert m["median_abs_error"][0] == pytest.approx(2.5, abs=ERROR_BIN)
    assert m["error_iqr"][0] == pytest.approx(5.0, abs=2 * ERROR_BIN)


def test_blocks_add_up_to_one_block():
    x = np.random.default_rng(1).standard_t(2, 30_000)
    one, many = _rows(x, blocks=1), _rows(x, blocks=7)
    for k in ("median_error", "median_abs_error", "error_iqr"):
        assert one[k] == many[k]


@pytest.mark.parametrize("seed", [2, 3])
def test_cauchy_errors_infinite_variance(seed):
    """Standard Cauchy errors (no mean, no variance): median |error| = 1 and IQR = 2
    exactly; the estimates lie within 4 of their own MCSEs, and the median's MCSE is
    near the asymptotic sqrt(q (1 - q) / n) / f = (pi / 2) / sqrt(n)."""
    n = 40_000
    x = np.random.default_rng(seed).standard_cauchy(n)
    m = _rows(x)
    for k, want in (("median_error", 0.0), ("median_abs_error", 1.0), ("error_iqr", 2.0)):
        v, se = m[k]
        assert abs(v - want) <= 4 * se, (k, v, se)
    asym = (math.pi / 2) / math.sqrt(n)
    assert 0.8 * asym <= m["median_error"][1] <= 1.25 * asym
    # IQR: quartiles at -1 and 1, density 1 / (2 pi) there: s = sqrt(3/16 / n) 2 pi each, correlation 1/3.
    s = math.sqrt(3 / 16 / n) * 2 * math.pi
    assert 0.8 <= m["error_iqr"][1] / math.sqrt(2 * s * s - 2 / 3 * s * s) <= 1.25


def test_no_histogram_without_a_limit_or_outside_robust():
    x = np.random.default_rng(4).normal(size=(500, 2))
    st = block_stats({("A:B", "smd", "case"): {"estimate": x}}, {}, (), set(), {"smd"})
    assert "ehist" not in st[("A:B", "smd", "case")]
    st = block_stats({("A:B", "smd", "case"): {"estimate": x}}, {("A:B", "smd", "case"): {"limit": 0.0}}, (), set())
    assert "ehist" not in st[("A:B", "smd", "case")]
    assert error_quantile_rows({}) == []
