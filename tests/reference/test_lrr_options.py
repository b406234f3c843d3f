"""LRR's recording-procedure options (scale, truncation, percent change), issue 10.

SingleCaseES's LRRi/LRRd rows of public_lrr_lrm.csv.gz are compared row by row
in test_r_reference.py; here: that every one of them is mapped and agrees, the
generic ``transform=x/k`` and ``units`` handling of the reference rows, the
definition's identities and edge cases, and the bad-input errors.
"""
import math
from collections import Counter, namedtuple

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scedsim as ss
from scedsim import registry
from scedsim.effect_sizes import _kernels as K
from scedsim.testing import (_data_transform, ab_series, compare_reference, reference_call, reference_cases,
                             reference_data)

A, B = [18, 20], [19, 18, 20, 19, 18]


def _lrr_rows():
    df = reference_cases("lrr_lrm").assign(kind="lrr_lrm")
    for col in ("estimate", "se", "ci_lower", "ci_upper"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df[df.metric.str.startswith("LRR")]


def test_every_lrr_row_of_the_lrr_file_is_mapped_and_agrees():
    rows = _lrr_rows()
    assert len(rows) == 13832
    tally = Counter()
    for row in rows.itertuples(index=False):
        call = reference_call(row)
        assert call is not None, row.option
        a, b = reference_data(row)
        if min(np.min(a), np.min(b)) < 0:
            # scedsim refuses negative data (issue 16): SingleCaseES's floors turn a negative
            # mean into a large value of the wrong sign.  Every such row, and only those, raise.
            with pytest.raises(ValueError, match="LRR needs non-negative data"):
                ss.lrr(a, b, **call[1])
            tally[(row.status, "refused: negative data")] += 1
            continue
        tally[(row.status, compare_reference(row, ss.lrr))] += 1
    # R's "na" rows (a zero mean left by the truncation) are NaN here too.
    assert tally == {("ok", "ok"): 12408, ("na", "ok"): 64, ("ok", "refused: negative data"): 1172,
                     ("na", "refused: negative data"): 188}, tally


def test_pct_change_rows_are_percent_in_r():
    row = next(r for r in _lrr_rows().itertuples(index=False)
               if r.metric == "LRRi_pct_change" and r.A == "18 20" and r.improvement == "increase"
               and r.option.startswith("scale=count;bias_correct=TRUE"))
    assert row.estimate == pytest.approx(-1.17001, abs=1e-5)  # percent
    assert compare_reference(row, ss.lrr) == "ok"
    # Read as a proportion it would not agree: the units are what makes it match.
    assert compare_reference(row._replace(estimate=row.estimate / 100), ss.lrr).startswith("estimate")


def test_transform_option():
    assert _data_transform({})(5.0) == 5.0
    assert _data_transform({"transform": "x/10"})(5.0) == 0.5
    assert _data_transform({"transform": "x / 100"})(5.0) == 0.05
    assert _data_transform({"transform": "x*2"})(5.0) == 10.0
    for bad in ("log(x)", "x/0", "x/abc", "x-1"):
        assert _data_transform({"transform": bad}) is None
    rows = [r for r in _lrr_rows().itertuples(index=False) if "transform=x/10;" in r.option]
    row = rows[0]
    assert reference_call(row) is not None and compare_reference(row, ss.lrr) == "ok"
    a, b = reference_data(row)
    np.testing.assert_array_equal(a, np.array(row.A.split(), float) / 10)
    # Without the transform the proportions would be 10 times too big (complements 1 - 10 M):
    # most rows would then disagree.
    raw = [compare_reference(r._replace(option=r.option.replace("transform=x/10;", "")), ss.lrr) for r in rows]
    assert sum(s != "ok" for s in raw) > len(rows) / 2
    # A transform scedsim cannot apply leaves the row unmapped rather than compared wrongly.
    odd = row._replace(option=row.option.replace("x/10", "sqrt(x)"))
    assert reference_call(odd) is None and compare_reference(odd, ss.lrr) == "unmapped"
    with pytest.raises(ValueError, match="cannot apply"):
        reference_data(odd)


def test_unknown_r_option_is_unmapped():
    row = next(r for r in _lrr_rows().itertuples(index=False))
    assert reference_call(row._replace(option=row.option + ";floor=2")) is None


# --------------------------------------------------------------------------- the definition

def _definition(a, b, improvement, kind, scale, intervals=None, observation_length=None, d_const=None,
                bias_correct=True, pct_change=False, z=1.959963984540054):
    """METRICS_NEW.md's steps 1-6, written out plainly."""
    flip = (kind == "lrri") != (improvement == "increase")
    top = {"proportion": 1.0, "percentage": 100.0}.get(scale)
    if d_const is not None:
        d = d_const
    elif scale == "count":
        d = 1.0
    elif scale == "rate":
        d = math.inf if observation_length is None else observation_length
    else:
        d = math.inf if intervals is None else (intervals if scale == "proportion" else intervals / 100)
    ls, terms = [], []
    for x in (a, b):
        x = np.asarray(x, float)
        n = len(x)
        mean, var = x.mean(), x.var(ddof=1)
        if top is not None and flip:
            mean = top - mean
        if d > 0:
            mean = max(mean, 1 / (2 * d * n))
            var = max(var, 1 / (d * d * n ** 3))
        ls.append(math.log(mean) + (var / (2 * n * mean * mean) if bias_correct else 0.0))
        terms.append(var / (n * mean * mean))
    est = ls[1] - ls[0]
    if top is None and flip:
        est = -est
    se = math.sqrt(sum(terms))
    lo, hi = est - z * se, est + z * se
    if pct_change:
        return math.expm1(est), math.nan, math.expm1(lo), math.expm1(hi)
    return est, se, lo, hi


OPTIONS = [dict(scale="count"), dict(scale="count", d_const=5.0), dict(scale="count", d_const=0.0),
           dict(scale="rate", observation_length=20.0), dict(scale="rate", observation_length=0.5),
           dict(scale="percentage", intervals=20), dict(scale="percentage", intervals=20, d_const=0.5),
           dict(scale="proportion", intervals=10), dict(scale="count", pct_change=True),
           dict(scale="percentage", intervals=20, bias_correct=False, pct_change=True)]


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@given(ab=ab_series(min_a=2, max_a=6, min_b=2, max_b=6, low=1, high=10),
       improvement=st.sampled_from(["increase", "decrease"]), kind=st.sampled_from(["lrri", "lrrd"]))
def test_equals_the_definition(opts, ab, improvement, kind):
    a, b = ab
    if opts["scale"] == "proportion":
        a, b = a / 10, b / 10
    got = ss.lrr(a, b, improvement=improvement, kind=kind, **opts)
    want = _definition(a, b, improvement, kind, **opts)
    np.testing.assert_allclose([got.estimate, got.se, got.ci_lower, got.ci_upper], want, rtol=1e-12, atol=1e-14)


@given(ab=ab_series(min_a=1, max_a=6, min_b=1, max_b=6, low=0, high=12),
       scale=st.sampled_from(["count", "rate", "proportion", "percentage"]),
       improvement=st.sampled_from(["increase", "decrease"]))
def test_lrri_is_lrrd_with_the_other_direction(ab, scale, improvement):
    a, b = ab
    other = "decrease" if improvement == "increase" else "increase"
    x = ss.lrr(a, b, improvement=improvement, kind="lrri", scale=scale, intervals=10, observation_length=3)
    y = ss.lrr(a, b, improvement=other, kind="lrrd", scale=scale, intervals=10, observation_length=3)
    np.testing.assert_array_equal([x.estimate, x.se, x.ci_lower, x.ci_upper],
                                  [y.estimate, y.se, y.ci_lower, y.ci_upper])


def test_worked_examples():
    r = ss.lrr(A, B)
    assert (r.estimate, r.se) == (pytest.approx(-0.01176910, abs=5e-9), pytest.approx(0.0562689, abs=5e-8))
    # Rates at any D that does not bite, and counts whatever intervals / observation length say.
    for kw in (dict(scale="rate"), dict(scale="rate", observation_length=20), dict(intervals=3, observation_length=0.1),
               dict(scale="percentage", intervals=60), dict(scale="percentage", intervals=20, d_const=0.5)):
        assert ss.lrr(A, B, **kw).estimate == r.estimate, kw
    p = ss.lrr(A, B, pct_change=True)
    assert p.estimate == pytest.approx(math.expm1(r.estimate), rel=1e-15) and math.isnan(p.se)
    assert (p.ci_lower, p.ci_upper) == (pytest.approx(math.expm1(r.ci_lower)), pytest.approx(math.expm1(r.ci_upper)))
    pc = ss.lrr(A, B, scale="percentage", intervals=20)
    assert (pc.estimate, pc.se) == (pytest.approx(-0.0125482, abs=1e-7), pytest.approx(0.0687340, abs=1e-7))
    pr = ss.lrr(np.array(A) / 100, np.array(B) / 100, scale="proportion", intervals=20)
    assert pr.estimate == pytest.approx(pc.estimate, rel=1e-12) and pr.se == pytest.approx(pc.se, rel=1e-12)
    dec = ss.lrr(A, B, scale="percentage", improvement="decrease")   # complements 81 and 81.2
    assert (dec.estimate, dec.se) == (pytest.approx(0.0024005, abs=1e-7), pytest.approx(0.0131776, abs=1e-7))
    assert ss.lrr(A, B, scale="percentage", kind="lrrd").estimate == dec.estimate
    z = ss.lrr([0, 0, 0], [2, 3, 4])
    assert (z.estimate, z.se) == (pytest.approx(2.686668, abs=1e-6), pytest.approx(0.693889, abs=1e-6))
    assert math.isnan(ss.lrr([0, 0, 0], [2, 3, 4], scale="rate").estimate)


def test_default_call_is_unchanged():
    """The count scale with D = 1 is the LRR scedsim always had (SingleCaseES's default rows)."""
    rng = np.random.default_rng(5)
    a = rng.integers(0, 9, (500, 4)).astype(float)
    b = rng.integers(0, 9, (500, 5)).astype(float)
    x, y = ss.lrr(a, b), ss.lrr(a, b, scale="count", d_const=1)
    np.testing.assert_array_equal(x.estimate, y.estimate)
    np.testing.assert_array_equal(x.se, y.se)


# --------------------------------------------------------------------------- edge cases

def test_one_point_phase_on_every_scale():
    for kw in (dict(), dict(scale="rate", observation_length=2), dict(scale="percentage", intervals=20),
               dict(scale="percentage"), dict(scale="count", d_const=0), dict(pct_change=True)):
        r = ss.lrr([10.0, 20.0, 30.0], [40.0], **kw)
        assert math.isnan(r.se) and math.isnan(r.estimate) and math.isnan(r.ci_lower), kw
        r = ss.lrr([10.0, 20.0, 30.0], [40.0], bias_correct=False, **kw)
        assert math.isfinite(r.estimate) and math.isnan(r.se), kw


def test_no_range_check_and_zero_or_negative_means():
    # Percentages above 100: a negative complement, floored at 1/(2 D n) like any small mean.
    r = ss.lrr([120, 130], [50, 60], scale="percentage", improvement="decrease", intervals=10)
    want = _definition([120, 130], [50, 60], "decrease", "lrri", "percentage", intervals=10)
    assert r.estimate == pytest.approx(want[0], rel=1e-12) and r.se == pytest.approx(want[1], rel=1e-12)
    # Without intervals D = inf: the complement is floored at 0, ln 0 = -inf.
    r = ss.lrr([120, 130], [50, 60], scale="percentage", improvement="decrease", bias_correct=False)
    assert r.estimate == math.inf and r.se == math.inf
    assert math.isnan(ss.lrr([120, 130], [50, 60], scale="percentage", improvement="decrease").estimate)
    # Negative data are refused (R gives NaN here with D = 0, and a value with truncation).
    with pytest.raises(ValueError, match="LRR needs non-negative data"):
        ss.lrr([-3, -1], [2, 4], d_const=0)
    # The kernel keeps R's arithmetic: D = 0 with a negative mean, the log is NaN, the SE is not.
    out = np.empty((4, 1))
    K._lrr_2d(np.array([[-3.0, -1]]), np.array([[2.0, 4]]), 0.0, 0.0, 1.0, True, False, 1.96, out)
    assert math.isnan(out[0, 0]) and math.isfinite(out[1, 0])
    # Both means 0 without truncation: -inf - (-inf).
    assert math.isnan(ss.lrr([0, 0], [0, 0], d_const=0, bias_correct=False).estimate)


def test_pct_change_overflows_to_inf():
    # A floored negative mean with a huge variance: a bias term of about 6e6.  The public
    # function refuses such data; the kernel (and its twin) must still not raise.
    with pytest.raises(ValueError, match="non-negative"):
        ss.lrr([4, 5, 6], [-1000, 1000, -1000], pct_change=True)
    out = np.empty((4, 1))
    a, b = np.array([[4.0, 5, 6]]), np.array([[-1000.0, 1000, -1000]])
    with np.errstate(all="raise"):
        K._lrr_2d(a, b, 0.0, 1.0, 1.0, True, True, 1.96, out)
    assert out[0, 0] == math.inf and out[3, 0] == math.inf and math.isnan(out[1, 0])
    K._lrr_2d.twin(a, b, 0.0, 1.0, 1.0, True, True, 1.96, out)   # plain Python: no OverflowError
    assert out[0, 0] == math.inf


@pytest.mark.parametrize("case", [k for k in registry.get_metric("lrr").kernels], ids=lambda k: k.label)
def test_kernel_equals_twin_with_one_point_phases(case):
    rng = np.random.default_rng(11)
    for m, n in ((1, 3), (3, 1), (1, 1), (2, 2)):
        a = rng.integers(0, 5, (30, m)).astype(float)
        b = rng.integers(0, 5, (30, n)).astype(float)
        o1, o2 = np.full((4, 30), -9.0), np.full((4, 30), -9.0)
        with np.errstate(all="ignore"):
            case.kernel(a, b, *case.args(m, n), o1)
            case.kernel.twin(a, b, *case.args(m, n), o2)
        np.testing.assert_array_equal(o1, o2)


@pytest.mark.parametrize("kw,match", [
    (dict(scale="counts"), "unknown scale"),
    (dict(intervals=0), "intervals must be a positive number"),
    (dict(intervals=-5), "intervals must be a positive number"),
    (dict(intervals="ten"), "intervals must be a positive number"),
    (dict(observation_length=0.0), "observation_length must be a positive number"),
    (dict(observation_length=float("nan")), "observation_length must be a positive number"),
    (dict(observation_length=math.inf), "observation_length must be a positive number"),
    (dict(d_const=-1), "d_const must be a number >= 0"),
    (dict(d_const=float("nan")), "d_const must be a number >= 0"),
    (dict(pct_change="yes"), "pct_change must be True or False"),
    (dict(kind="lrr"), "unknown kind"),
])
def test_bad_options(kw, match):
    with pytest.raises(ValueError, match=match) as exc:
        ss.lrr(A, B, **kw)
    assert "\n" not in str(exc.value)


def test_tidy_options():
    df = ss.datasets.load_burnout_example()
    opts = {"scale": "rate", "observation_length": 20, "pct_change": True, "kind": "lrrd"}
    t = ss.effect_sizes(df, outcomes=["EE"], improvement="decrease", metrics=["lrr"], options={"lrr": opts})
    assert len(t) > 0 and t.metric.eq("lrr").all()
    for row in t.itertuples():
        one = df[(df.case == row.case) & (df.outcome == "EE")].sort_values("session")
        a = one[one.phase == "A"].value.to_numpy(float)
        b = one[one.phase == "B"].value.to_numpy(float)
        r = ss.lrr(a, b, improvement="decrease", **opts)
        assert row.estimate == r.estimate and math.isnan(row.se)
        assert (row.ci_lower, row.ci_upper) == (r.ci_lower, r.ci_upper)
    with pytest.raises(ValueError, match="unknown scale"):
        ss.effect_sizes(df, outcomes=["EE"], metrics=["lrr"], options={"lrr": {"scale": "minutes"}})
