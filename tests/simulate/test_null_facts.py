"""Exact small-sample facts the simulator must reproduce (tolerance: 4 MCSE)."""
import math
from statistics import NormalDist

import pytest

from scedsim.simulate import Study, run
from scedsim.simulate.analysis import MetricSpec, metric_specs
from scedsim.simulate.design import Contrast, Design
from scedsim.simulate.estimands import analytic_limit
from scedsim.simulate.models import NormalAR1

Z = 4.0


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCEDSIM_CACHE_DIR", str(tmp_path / "cache"))


def _value(res, measure, metric, scope="case", **kw):
    d = res.measure(measure, metric=metric, scope=scope, **kw)
    assert len(d) == 1, d
    return float(d.value.iloc[0]), float(d.mcse.iloc[0])


@pytest.fixture(scope="module")
def null_run():
    study = Study(design="A3 B4", grid={"phi": [0.0], "level": [0.0]}, metrics=["ird", "pnd", "nap", "pand"],
                  n_cases=6, n_reps=10_000, seed=20241126, estimands=False)
    return run(study, quiet=True)


@pytest.mark.parametrize("metric,expected", [("ird", 11 / 30), ("pnd", 1 / 4), ("nap", 1 / 2)])
def test_null_expectations(null_run, metric, expected):
    mean, mcse = _value(null_run, "mean", metric)
    assert abs(mean - expected) <= Z * mcse, (mean, expected, mcse)


def test_null_ird_distribution(null_run):
    """14 : 14 : 6 : 1 of the 35 rank arrangements."""
    probs = null_run.measure("probability", metric="ird", scope="case")
    assert [round(a * 24) for a in probs["at"]] == [3, 10, 17, 24]
    for (_, row), k in zip(probs.iterrows(), (14, 14, 6, 1)):
        assert abs(row.value - k / 35) <= Z * row.mcse, (row["at"], row.value, k / 35)


def test_exact_nap_expectation_with_independent_errors():
    """With independent normal errors E[NAP] = Phi(d / sqrt(2)) at any phase lengths."""
    study = Study(design="A3 B4", grid={"level": [1.0]}, metrics=["nap"], n_cases=6, n_reps=5_000, seed=5,
                  estimands=False)
    mean, mcse = _value(run(study, quiet=True), "mean", "nap")
    assert abs(mean - NormalDist().cdf(1 / math.sqrt(2))) <= Z * mcse


def test_analytic_limits():
    m = NormalAR1()
    d = Design.parse("A3 B4")
    c = Contrast.parse("A:B")
    lim = lambda name, **p: analytic_limit(m, p, MetricSpec(name), d, c, 0)  # noqa: E731
    assert lim("ird", level=0.0) == pytest.approx(1 / 8)           # floor: the larger phase is kept
    assert lim("pand", level=0.0) == pytest.approx(4 / 7)
    assert lim("nap", level=1.0, phi=0.6) == pytest.approx(NormalDist().cdf(1 / math.sqrt(2)))
    # Limits rise with the effect toward 1 (at d = 8 only the normal tails overlap).
    irds = [lim("ird", level=d) for d in (0.0, 0.5, 1.0, 2.0, 8.0)]
    assert all(x < y for x, y in zip(irds, irds[1:])) and 0.9999 < irds[-1] < 1.0
    assert lim("smd", level=0.7, me_sd=1.0) == pytest.approx(0.7 / math.sqrt(2))
    assert lim("nap", level=1.0, effect_sd=1.0) == pytest.approx(NormalDist().cdf(1 / math.sqrt(3)))
    assert lim("nap", level=1.0, trend=0.1) is None  # no closed form with a trend


def test_estimands_reported_with_limits_and_design_expectations():
    study = Study(design="A3 B4", grid={"level": [0.0, 1.0]},
                  metrics=["ird", "nap", "lrr", {"name": "tau_u", "method": "complete"}], n_cases=2,
                  n_reps=2000, seed=9, n_design=40_000)
    res = run(study, quiet=True)
    e = res.estimands.set_index(["level", "metric", "scope"])
    assert e.loc[(0.0, "ird", "case"), "limit"] == pytest.approx(1 / 8)
    assert e.loc[(0.0, "ird", "case"), "limit_kind"] == "analytic"
    assert abs(e.loc[(0.0, "ird", "case"), "design_length"] - 11 / 30) <= Z * e.loc[(0.0, "ird", "case"),
                                                                                   "design_length_mcse"]
    assert e.loc[(0.0, "lrr", "case"), "limit_kind"] == "none"   # a ratio of means near 0: no target
    assert e.loc[(0.0, "tau_u[method=complete]", "case"), "limit_kind"].startswith("long_run")  # no closed form
    bias = res.measure("bias", metric="ird", scope="case", estimand="limit", level=0.0)
    assert float(bias.value.iloc[0]) > 0.2  # robust IRD sits far above its limit with 3 + 4 points
    cov = res.measure("coverage", metric="nap", scope="case", estimand="limit", level=1.0)
    assert 0.85 < float(cov.value.iloc[0]) <= 1.0


def test_estimands_table_keeps_the_conditions_design():
    """A grid over designs: each estimands row keeps its condition's design string,
    and the design-length expectation has a column of its own (it used to overwrite
    the condition's ``design``)."""
    study = Study(grid={"design": ["A3 B4", "A5 B5"]}, metrics=["nap"], n_reps=200, seed=4, n_design=2000)
    res = run(study, quiet=True)
    est = res.estimands
    assert list(est.design.unique()) == ["A3 B4", "A5 B5"] and est.design.notna().all()
    assert {"design_length", "design_length_mcse", "limit", "limit_kind"} <= set(est.columns)
    assert (est.design_length - 0.5).abs().max() < 0.05 and (est.limit == 0.5).all()
    with pytest.raises(ValueError, match="design_length clash with output column"):
        Study(grid={"design_length": [1, 2]}, metrics=["nap"])


def test_estimands_leave_the_threats_out():
    """A shared shock and selection on the first score are threats, not effects: a
    condition with one has the estimands of the same condition without it (for every
    built-in model: analytic, long-run and design-length alike), so its bias is the
    threat's doing.  A user's model keeps its parameters whatever their names."""
    from scedsim.simulate.estimands import THREATS, compute_estimands, target_params
    from scedsim.simulate.models import get_model

    design = Design.parse("A3 B4", n_cases=2)
    specs = metric_specs(["nap", "pnd", "smd"])
    for name, base in [("normal_ar1", {"level": 1.0, "phi": 0.3}), ("poisson", {"rate": 2.0, "level": 0.5})]:
        model = get_model(name)
        ref = compute_estimands(model, base, design, design.contrasts, specs, "increase", 5, "k", 4000,
                                use_cache=False)
        threats = [{"shock": 1.0}, {"shock_sd": 1.0, "shock_at": 5}] + ([{"select": 1.0}] if name == "normal_ar1" else [])
        for extra in threats:
            got = compute_estimands(model, {**base, **extra}, design, design.contrasts, specs, "increase", 5, "k",
                                    4000, use_cache=False)
            assert got == ref, (name, extra)
    assert set(THREATS) == {"shock", "shock_sd", "shock_at", "select"}
    user = get_model(lambda d, p, rng, n: rng.normal(size=(n, d.n_cases, d.n_time)))
    assert target_params(user, {"shock": 1.0}) == {"shock": 1.0}
    # In a study: the shock moves NAP's mean and so its bias, not its estimands.
    study = Study(design="A3 B4", n_cases=2, grid={"shock": [0.0, 1.0]}, metrics=["nap"], n_reps=2000, seed=8,
                  n_design=4000)
    res = run(study, quiet=True)
    est = res.estimands[res.estimands.scope == "case"].set_index("shock")
    assert est.loc[0.0, "limit"] == est.loc[1.0, "limit"] == 0.5
    # The shock's condition gets its threat-free twin's estimands: the same stream, the same numbers.
    assert est.loc[0.0, "design_length"] == est.loc[1.0, "design_length"]
    bias = res.measure("bias", metric="nap", scope="case", estimand="design").set_index("shock").value
    assert abs(bias[0.0]) < 0.02 and bias[1.0] > 0.15  # a 1-SD shift at the first treatment occasion
