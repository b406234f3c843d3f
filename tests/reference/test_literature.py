"""Worked examples from the papers that define the metrics."""
import numpy as np
import pytest

import scedsim as ss
from scedsim.testing import literature_cases

CASES = list(literature_cases().itertuples(index=False))


def _kwargs(options):
    if not isinstance(options, str) or not options:
        return {}
    return dict(part.split("=", 1) for part in options.split(";"))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.example}-{c.metric}")
def test_literature_value(case):
    a = np.array(case.A.split(), float)
    b = np.array(case.B.split(), float)
    fn = getattr(ss, case.metric)
    res = fn(a, b, improvement=case.improvement, **_kwargs(case.options))
    # The CSV stores the published fractions to 15 digits.
    assert res.estimate == pytest.approx(case.expected, rel=1e-12, abs=1e-14)


def test_pvd2011_exact_fractions():
    a = [20, 20, 26, 25, 22, 23]
    b = [28, 25, 24, 27, 30, 30, 29]
    assert ss.nap(a, b).estimate * 42 == pytest.approx(38.5)
    assert ss.tau(a, b).estimate * 42 == pytest.approx(35)
    assert ss.pnd(a, b).estimate * 7 == pytest.approx(5)
    assert ss.pand(a, b).estimate * 13 == pytest.approx(11)
    assert ss.ird(a, b).estimate == pytest.approx(6 / 7 - 1 / 6)
    assert ss.tau_u(a, b).estimate * 42 == pytest.approx(31)


def test_ird_formula_example():
    assert ss.ird([5, 7, 10, 5, 12], [7, 10, 18, 15, 14, 19]).estimate == pytest.approx(0.6333333333, rel=1e-9)


def test_ird_takes_four_values_for_3_plus_4():
    """Under exchangeability the 35 rank arrangements give 1/8, 5/12, 17/24, 1 in 14, 14, 6, 1."""
    from itertools import combinations

    from collections import Counter
    vals = Counter()
    a_rows, b_rows = [], []
    for idx in combinations(range(7), 3):
        a_rows.append([float(i) for i in idx])
        b_rows.append([float(i) for i in range(7) if i not in idx])
    est = ss.ird(np.array(a_rows), np.array(b_rows)).estimate
    for v in est:
        vals[round(v * 24)] += 1
    assert vals == Counter({3: 14, 10: 14, 17: 6, 24: 1})
    assert est.mean() == pytest.approx(11 / 30)
    assert ss.pnd(np.array(a_rows), np.array(b_rows)).estimate.mean() == pytest.approx(1 / 4)
    assert ss.nap(np.array(a_rows), np.array(b_rows)).estimate.mean() == pytest.approx(1 / 2)
