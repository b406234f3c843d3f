"""The design-comparable SMD (Hedges, Pustejovsky & Shadish 2012, 2013; REML: Pustejovsky,
Hedges & Shadish 2014) as a simulator quantity: one estimate per replication from
``bcsmd_batch``, its target parameter, CI coverage and the study-file options."""
import math
import pickle

import numpy as np
import pandas as pd
import pytest

import scedsim as ss
from scedsim.simulate import Design, Study, run
from scedsim.simulate.analysis import MetricSpec, across_tests
from scedsim.simulate.estimands import across_limit
from scedsim.simulate.models import NormalAR1
from scedsim.simulate.runner import _block_seed, _start_seed
from scedsim.simulate.studyfile import load_study

BOTH = [{"name": "bcsmd", "method": "hps"}, {"name": "bcsmd", "method": "reml"}]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCEDSIM_CACHE_DIR", str(tmp_path / "cache"))


def _rows(res, metric, measure):
    s = res.summary
    return s[(s.metric == metric) & (s.measure == measure)]


def _regenerate(study, row, j):
    """Block ``j`` of condition ``row`` as the runner generates it, with the design it used."""
    design = study.design_for(row)
    used = design
    if design.is_random:
        rng = np.random.default_rng(_start_seed(study, row, j))
        used = design.realise(design.draw_starts(rng, study.block_reps(j)))
    y = study.model_for(row).generate(used, study.params_for(row), np.random.default_rng(_block_seed(study, row, j)),
                                      study.block_reps(j))
    return used, y


@pytest.mark.parametrize("design, improvement", [("A3 B4", None), ("MB n_time=8 starts=3-5", "decrease")])
def test_estimates_are_bcsmd_batch_on_the_generated_series(design, improvement):
    """Per replication the simulator's estimate, SE and interval are ``bcsmd_batch`` on the
    replication's cases (its own realised starts; data negated for a decrease), exactly,
    and the reported n, mean and coverage are those of these values."""
    study = Study(design=design, n_cases=4, grid={"phi": [0.3], "level": [1.0], "case_sd": [0.5]},
                  metrics=["nap"] + BOTH, n_reps=120, block_size=60, seed=11, improvement=improvement,
                  n_design=200)
    res = run(study, quiet=True)
    row = study.conditions.to_dict("records")[0]
    theta = across_limit(NormalAR1(), study.params_for(row), study.specs[1], study.design_for(row),
                         study.contrasts_for(study.design_for(row))[0], improvement or "increase")[0]
    assert theta == pytest.approx((-1.0 if improvement else 1.0) / math.sqrt(1.25), rel=1e-15)
    sign = -1.0 if improvement else 1.0
    for spec in study.specs[1:]:
        method = spec.options["method"]
        est, cover = [], []
        for j in range(study.n_blocks):
            used, y = _regenerate(study, row, j)
            got = across_tests(y, used, study.contrasts_for(used), [spec], improvement or "increase")
            got = got[("A:B", spec.label, "replication")]
            starts = used.realised if used.realised is not None else [used.treatment_start() - 1] * y.shape[0]
            for r in range(y.shape[0]):
                trt = np.arange(y.shape[2])[None, :] >= np.asarray(starts[r])[:, None]
                want = ss.bcsmd_batch(sign * y[r:r + 1], trt, method=method)
                for f in ("estimate", "se", "ci_lower", "ci_upper"):
                    np.testing.assert_array_equal(got[f][r], getattr(want, f)[0])
            est.append(got["estimate"])
            cover.append((got["ci_lower"] <= theta) & (theta <= got["ci_upper"]))
        est, cover = np.concatenate(est), np.concatenate(cover)
        assert _rows(res, spec.label, "n").value.item() == np.isfinite(est).sum() > 100
        assert _rows(res, spec.label, "mean").value.item() == pytest.approx(np.nanmean(est), rel=1e-12)
        assert _rows(res, spec.label, "coverage").value.item() == cover.sum() / np.isfinite(est).sum()
        assert set(_rows(res, spec.label, "n").scope) == {"replication"}


def test_ci_coverage_is_nominal_where_theory_says_so():
    """A staggered multiple baseline of 5 cases x 16 occasions, independent errors and
    random intercepts: both intervals cover the parameter delta = level /
    sqrt(case_sd^2 + 1) about 95% of the time (within 4 MCSE of .95, the MCSE at
    .95), and the estimates are unbiased for it within 4 MCSE."""
    n = 2000
    study = Study(design=Design.multiple_baseline([4, 6, 8, 10, 12], 16), grid={"level": [1.0], "case_sd": [0.5]},
                  metrics=BOTH, n_reps=n, block_size=500, seed=5, n_design=200)
    res = run(study, quiet=True)
    mcse = math.sqrt(0.95 * 0.05 / n)
    for label in ("bcsmd_hps", "bcsmd_reml"):
        cov = _rows(res, label, "coverage")
        assert cov.estimand.item() == "limit"
        assert abs(cov.value.item() - 0.95) <= 4 * mcse, (label, cov.value.item())
        bias = _rows(res, label, "bias")
        assert abs(bias.value.item()) <= 4 * bias.mcse.item(), (label, bias.value.item())
        assert _rows(res, label, "estimand").value.item() == pytest.approx(1 / math.sqrt(1.25), rel=1e-15)
        # An unbounded estimator: its error quantiles are reported too.
        assert {"median_error", "median_abs_error", "error_iqr"} <= set(res.summary[res.summary.metric == label]
                                                                       .measure)


def test_parameter_matches_a_direct_simulation_of_the_model():
    """delta = level * sd / sqrt(case_sd^2 sd^2 + sigma_e^2 + me_sd^2 sd^2) against the
    mean phase difference over the root mean square of the baseline points of 40,000
    simulated series (innovation scale, phi = .6: sigma_e^2 = sd^2 / (1 - phi^2)),
    within 4 delta-method standard errors computed over independent series."""
    params = dict(phi=0.6, scale="innovation", sd=1.3, level=0.8, case_sd=0.7, me_sd=0.4, effect_sd=0.3)
    model = NormalAR1()
    design = Design.parse("A10 B10", n_cases=1)
    spec = MetricSpec("bcsmd")
    theta, kind = across_limit(model, params, spec, design, design.contrasts[0])
    sigma_e2 = 1.3 ** 2 / (1 - 0.36)
    assert kind == "analytic"
    assert theta == pytest.approx(0.8 * 1.3 / math.sqrt((0.7 * 1.3) ** 2 + sigma_e2 + (0.4 * 1.3) ** 2), rel=1e-14)
    y = model.generate(design, params, np.random.default_rng(2026), 40_000)[:, 0]
    d = y[:, 10:].mean(axis=1) - y[:, :10].mean(axis=1)   # per series: the treatment effect
    q = (y[:, :10] ** 2).mean(axis=1)                     # per series: baseline mean square (mean 0)
    D, Q = d.mean(), q.mean()
    grad = np.array([1 / math.sqrt(Q), -D / (2 * Q ** 1.5)])
    se = math.sqrt(grad @ np.cov(np.vstack([d, q])) @ grad / d.size)
    assert abs(D / math.sqrt(Q) - theta) <= 4 * se, (D / math.sqrt(Q), theta, se)


def test_no_parameter_where_no_closed_form_holds():
    """Trend, slope, onset, outliers and non-normal models get NaN with the reason,
    so that no coverage is reported against a wrong target.  A shock or selection is
    a threat, not an effect: the target is the parameter without it."""
    spec = MetricSpec("bcsmd", {"method": "reml"})
    design = Design.parse("A3 B4", n_cases=6)
    c = design.contrasts[0]
    for extra, why in [({"trend": 0.1}, "trend"), ({"slope": 0.2}, "slope"), ({"onset": 0.5}, "onset"),
                       ({"outlier_rate": 0.1}, "outliers")]:
        v, kind = across_limit(NormalAR1(), {"level": 1.0, **extra}, spec, design, c)
        assert math.isnan(v) and kind.startswith("none") and why in kind, (extra, kind)
    plain = across_limit(NormalAR1(), {"level": 1.0, "phi": 0.5}, spec, design, c)
    for extra in ({"shock": 1.0}, {"shock_sd": 1.0, "shock_at": 5}, {"select": 1.0}):
        assert across_limit(NormalAR1(), {"level": 1.0, "phi": 0.5, **extra}, spec, design, c) == plain
    from scedsim.simulate.models import get_model

    v, kind = across_limit(get_model("poisson"), {"level": 1.0}, spec, design, c)
    assert math.isnan(v) and "poisson" in kind
    # A contrast of two treatment phases is not baseline against treatment.
    d3 = Design.parse("A3 B2 C2", n_cases=6, contrasts=["B:C"])
    assert "contrast" in across_limit(NormalAR1(), {"level": 1.0}, spec, d3, d3.contrasts[0])[1]
    # An alternating treatments design is not estimated: no target, NaN estimates.
    atd = Design.parse("ATD n=10 max_run=2", n_cases=3)
    assert "alternating" in across_limit(NormalAR1(), {"level": 1.0}, spec, atd, atd.contrasts[0])[1]
    res = run(Study(design="ATD n=10 max_run=2", n_cases=3, grid={"level": [1.0]}, metrics=BOTH[:1],
                    n_reps=100, block_size=100, n_design=200), quiet=True)
    assert _rows(res, "bcsmd_hps", "n").value.item() == 0
    # Such a condition still reports the estimates, without bias or coverage.
    res = run(Study(design="A3 B4", n_cases=3, grid={"level": [1.0], "trend": [0.2]}, metrics=BOTH[:1],
                    n_reps=100, block_size=100, n_design=200), quiet=True)
    got = set(res.summary[res.summary.metric == "bcsmd_hps"].measure)
    assert {"n", "mean", "ci_width"} <= got and not {"bias", "coverage"} & got
    assert res.estimands.limit_kind.str.contains("trend").any()


def test_study_file_options_and_errors(tmp_path):
    f = tmp_path / "s.toml"
    base = 'n_reps = 50\nn_cases = 3\nmetrics = [{m}]\n'
    f.write_text(base.format(m='{ name = "bcsmd", method = "reml" }, { name = "bcsmd" }, '
                                '{ name = "bcsmd", confidence = 0.9, label = "g90" }'))
    study, _ = load_study(f)
    assert [s.label for s in study.specs] == ["bcsmd_reml", "bcsmd_hps", "g90"]
    spec = pickle.loads(pickle.dumps(study.specs[0]))   # travels to workers by name
    assert spec.entry is study.specs[0].entry and spec.across_estimate and not spec.is_test
    for bad, msg in [('{ name = "bcsmd", method = "bayes" }', "method"),
                     ('{ name = "bcsmd", foo = 1 }', "no option 'foo'"),
                     ('{ name = "bcsmd", confidence = 1.5 }', "confidence"),
                     ('{ name = "bcsmd", method = "reml", label = "x", bogus = 2 }', "no option 'bogus'")]:
        f.write_text(base.format(m=bad))
        with pytest.raises(ValueError, match=msg) as exc:
            load_study(f)
        assert "\n" not in str(exc.value)
    with pytest.raises(ValueError, match="needs at least 2 cases"):
        Study(n_cases=1, n_reps=10, metrics=["nap", {"name": "bcsmd"}])
    # Rules may use the interval: "the BC-SMD's interval excludes 0"; the planner reads the label.
    Study(n_cases=3, n_reps=10, metrics=BOTH, rules=["bcsmd_hps.ci_lower > 0"])
    from scedsim.plan import spec_for_label

    assert spec_for_label("bcsmd_reml") == MetricSpec("bcsmd", {"method": "reml"})
    with pytest.raises(ValueError, match="unknown method 'bayes'"):
        spec_for_label("bcsmd_bayes")


def test_skipped_with_too_few_cases_and_independent_of_jobs_and_chunks(tmp_path):
    """Stacked grids with one and three cases: no BC-SMD rows where one case; the results
    do not depend on n_jobs, chunking or the backend; the report shows the coverage."""
    base = dict(design="MB n_time=8 starts=3-5", metrics=["smd"] + BOTH, n_reps=300, block_size=100, seed=3,
                grid=[{"n_cases": [1], "level": [1.0]}, {"n_cases": [3], "phi": [0.0, 0.5], "level": [0.0, 1.0]}],
                rules=["bcsmd_reml.ci_lower > 0"], n_design=300)
    ref = run(Study(**base, chunk_size=100), quiet=True, out=tmp_path / "r")
    from scedsim.simulate.report import write_report

    text = write_report(tmp_path / "r").read_text()
    cov = text.split("## Coverage of the across-case estimates' intervals", 1)[1].split("##", 1)[0]
    assert cov.count("| bcsmd_") == 4, cov
    assert set(ref.summary[ref.summary.metric.str.startswith("bcsmd")].n_cases) == {3}
    assert set(ref.summary[ref.summary.metric == "smd"].n_cases) == {1, 3}
    assert len(_rows(ref, "bcsmd_reml", "rejection_rate")) == 4
    other = run(Study(**base, chunk_size=300), n_jobs=2, backend="threading", quiet=True)
    pd.testing.assert_frame_equal(ref.summary, other.summary, check_exact=True)
    pd.testing.assert_frame_equal(ref.estimands, other.estimands, check_exact=True)
