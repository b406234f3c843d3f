"""The registry: one declaration per metric, and a user's metric through the whole machine."""
import dataclasses
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import scedsim as ss
from scedsim import registry
from scedsim.inference import permutation_test
from scedsim.simulate import Study, run
from scedsim.testing import check_metric

SRC = str(pathlib.Path(ss.__file__).resolve().parents[1])


def above_median(a, b):
    """Share of B points above the A median (a toy median-split metric)."""
    return (b > np.median(a, axis=1)[:, None]).mean(axis=1)


@pytest.fixture
def toy():
    entry = ss.register_metric("above_median", above_median, label="AbM", bounds=(0, 1), discrete=True)
    yield entry
    ss.unregister_metric("above_median")


def test_builtins_are_declared_once_with_their_functions():
    names = registry.metric_names()
    assert names[:11] == ("nap", "tau", "pnd", "pem", "pand", "ird", "pet", "tau_u", "tau_bc", "smd", "lrr")
    for n in names:
        m = registry.get_metric(n)
        assert m.func is getattr(ss, n), n   # the public function is the registered one
    assert "lrr" not in registry.default_metrics() and set(names[:10]) - {"lrr"} <= set(registry.default_metrics())
    assert {"perm_test", "rand_test", "mbd_test", "between_test"} <= set(registry.test_names())


def test_unknown_names_are_one_line_errors():
    with pytest.raises(ValueError, match=r"unknown metric 'napp' \(did you mean 'nap'\?\); known: nap,"):
        registry.get_metric("napp")
    with pytest.raises(ValueError, match="unknown metric 'napp'"):
        check_metric(lambda a, b: 0.5, "napp")
    with pytest.raises(ValueError, match="unknown metric or test 'napp'"):
        Study(metrics=["napp"])
    with pytest.raises(ValueError, match="unknown statistic 'napp'"):
        permutation_test([1, 2, 3], [4, 5, 6], statistic="napp")


def test_cli_and_toml_unknown_metric_is_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=SRC)
    data = tmp_path / "d.csv"
    pd.DataFrame({"case": ["x"] * 6, "session": range(1, 7), "phase": list("AAABBB"),
                  "outcome": "y", "value": [1, 2, 3, 4, 5, 6]}).to_csv(data, index=False)
    r = subprocess.run([sys.executable, "-m", "scedsim.cli", "es", str(data), "--metrics", "nap,foo"],
                       capture_output=True, text=True, env=env)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "unknown metric 'foo'" in r.stderr
    toml = tmp_path / "s.toml"
    toml.write_text('metrics = ["nap", "foo"]\nn_reps = 10\n')
    r = subprocess.run([sys.executable, "-m", "scedsim.cli", "simulate", str(toml), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, env=env)
    assert r.returncode != 0 and "Traceback" not in r.stderr and "unknown metric or test 'foo'" in r.stderr


def test_registered_metric_end_to_end(toy):
    a, b = [1.0, 5.0, 3.0], [2.0, 4.0, 6.0, 7.0]
    assert ss.get_metric("above_median").func(a, b).estimate == 0.75
    # Direction: decrease equals negated data.
    assert ss.get_metric("above_median").func(a, b, improvement="decrease").estimate == 0.25
    with pytest.raises(ValueError, match="phase A contains NaN"):
        toy.func([1.0, np.nan], b)

    df = ss.datasets.load_burnout_example()
    t = ss.effect_sizes(df, outcomes=["EE"], improvement="decrease", metrics=["nap", "above_median"])
    mine = t[t.metric == "above_median"]
    assert len(mine) == 6 and mine.estimate.between(0, 1).all()

    p = permutation_test(a, b, statistic="above_median")
    assert 0 < p.pvalue <= 1 and p.method == "exact"

    report = check_metric(lambda x, y: float(np.mean(np.asarray(y) > np.median(x))), "above_median",
                          reference=False, max_examples=40)
    assert report.ok, str(report)
    bad = check_metric(lambda x, y: 2.0, "above_median", reference=False, max_examples=20)
    assert not bad.ok and any("outside [0.0, 1.0]" in f for f in bad.failures)
    with pytest.raises(ValueError, match="no reference values"):
        check_metric(above_median, "above_median")


@pytest.mark.slow
def test_registered_metric_in_a_study_has_expectation_one_half(toy):
    # m = 3 (odd), continuous data, no effect: P(B > median(A)) = 1/2 exactly.
    study = Study(design="A3 B4", grid={"phi": [0.0], "level": [0.0]}, metrics=["nap", "above_median"],
                  n_cases=2, n_reps=4000, block_size=1000, seed=5, estimands=False)
    one = run(study, quiet=True)
    two = run(study, n_jobs=2, quiet=True)   # worker processes see the metric registered here
    pd.testing.assert_frame_equal(one.summary, two.summary)
    m = one.measure("mean", metric="above_median", scope="case").iloc[0]
    assert abs(m.value - 0.5) <= 4 * m.mcse
    probs = one.measure("probability", metric="above_median", scope="case")
    assert np.allclose(sorted(probs["at"]), [0, 0.25, 0.5, 0.75, 1.0])
    assert abs(probs.value.sum() - 1.0) < 1e-12


def test_registration_rules(toy):
    with pytest.raises(ValueError, match="already registered"):
        ss.register_metric("above_median", above_median)
    ss.register_metric("above_median", above_median, label="AbM2", replace=True)
    assert ss.get_metric("above_median").label == "AbM2"
    with pytest.raises(ValueError, match="built-in metric"):
        ss.register_metric("nap", above_median)
    with pytest.raises(ValueError, match="lower-case identifier"):
        ss.register_metric("My Metric", above_median)
    with pytest.raises(ValueError, match="built in and cannot be unregistered"):
        ss.unregister_metric("nap")
    ss.register_metric("bad_shape", lambda a, b: np.zeros(3))
    try:
        with pytest.raises(ValueError, match="one value per row"):
            ss.get_metric("bad_shape").func([1.0, 2.0], [3.0])
    finally:
        ss.unregister_metric("bad_shape")


def test_entry_point_plugins_reach_cli(tmp_path):
    site = tmp_path / "site"
    (site / "myplug").mkdir(parents=True)
    (site / "myplug" / "__init__.py").write_text(textwrap.dedent("""
        import numpy as np
        import scedsim

        def register():
            scedsim.register_metric("b_above_a_max", lambda a, b: (b > a.max(axis=1)[:, None]).mean(axis=1),
                                    label="BaM", bounds=(0, 1))
    """))
    dist = site / "myplug-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[scedsim.metrics]\nbam = myplug:register\n")
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{SRC}")
    code = "import scedsim; print(scedsim.registry.metric_names()[-1])"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.stdout.strip() == "b_above_a_max", r.stderr
    r = subprocess.run([sys.executable, "-m", "scedsim.cli", "ab", "--a", "1 2 3", "--b", "2 4 5"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "BaM" in r.stdout and "0.6667" in r.stdout, r.stderr


def test_broken_plugin_warns_and_scedsim_still_works(tmp_path):
    site = tmp_path / "site"
    dist = site / "broken-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[scedsim.metrics]\nx = no_such_module:register\n")
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{SRC}")
    code = "import scedsim; print(len(scedsim.registry.metric_names()))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip() == str(len(registry.metric_names()))
    assert "plug-in 'x'" in r.stderr and "failed to load" in r.stderr


def test_study_is_frozen_and_derived_state_follows_fields():
    s = Study(metrics=["nap", "ird"], n_reps=10, estimands=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.metrics = ["ird"]
    with pytest.raises(TypeError, match="frozen"):
        s.params["sd"] = 2.0
    t = dataclasses.replace(s, metrics=["ird"])
    assert [x.label for x in t.specs] == ["ird"] and t.fingerprint() != s.fingerprint()
    assert [x.label for x in s.specs] == ["nap", "ird"]


def test_estimand_cache_key_follows_the_code(tmp_path, monkeypatch):
    """A changed limit must never reuse a cached estimand."""
    from scedsim.simulate import estimands as E

    study = Study(design="A3 B4", model="poisson", grid={"level": [0.5]}, metrics=["nap"], n_reps=10,
                  estimands=True, n_design=200)
    spec = study.specs
    args = (study.model_obj, study.params_for(study.conditions.iloc[0].to_dict()), study.design_for({}),
            study.contrasts_for(study.design_for({})), spec, "increase", 1, "k")
    first = E.compute_estimands(*args, n_design=200, cache_root=tmp_path)
    files = list((tmp_path / "estimands").glob("*.json"))
    assert len(files) == 1
    again = E.compute_estimands(*args, n_design=200, cache_root=tmp_path)
    assert again == first and len(list((tmp_path / "estimands").glob("*.json"))) == 1
    # Same inputs, different code: a new key.
    monkeypatch.setattr(registry, "_PKG_HASH", ["different source"])
    E.compute_estimands(*args, n_design=200, cache_root=tmp_path)
    assert len(list((tmp_path / "estimands").glob("*.json"))) == 2


@pytest.mark.slow
def test_user_statistic_reaches_worker_processes(toy):
    # A test naming a user's metric as its statistic: the workers must know the name.
    study = Study(metrics=["nap", {"name": "perm_test", "statistic": "above_median"},
                           {"name": "between_test", "statistic": "above_median", "centre": 0.5}],
                  n_cases=3, n_reps=1000, block_size=500, seed=3, estimands=False)
    one = run(study, quiet=True)
    two = run(study, n_jobs=2, quiet=True)
    pd.testing.assert_frame_equal(one.summary, two.summary)
    n = one.measure("n", metric="p_perm_above_median", scope="case")
    assert float(n.value.iloc[0]) == 3000
    pickled = run(study, n_jobs=2, backend="multiprocessing", quiet=True)
    pd.testing.assert_frame_equal(one.summary, pickled.summary)


def test_user_code_changes_the_fingerprints():
    def make(k):
        return lambda a, b: (b > np.median(a, axis=1)[:, None]).mean(axis=1) + k

    ss.register_metric("shifted", make(0.0))
    try:
        s0 = Study(metrics=["shifted"], n_reps=10, estimands=False)
        f0, c0 = s0.fingerprint(), s0.code_fingerprint({})
        ss.register_metric("shifted", make(10.0), replace=True)
        s1 = Study(metrics=["shifted"], n_reps=10, estimands=False)
        # Same code, another closure value: the study and its estimands are different.
        assert s1.fingerprint() != f0 and s1.code_fingerprint({}) != c0
    finally:
        ss.unregister_metric("shifted")


def test_review_guards():
    with pytest.raises(ValueError, match="built-in test statistic"):
        ss.register_metric("mean_diff", above_median)
    with pytest.raises(ValueError, match="needs at least 2 cases"):
        Study(metrics=[{"name": "between_test", "statistic": "mean_diff"}], n_cases=1, n_reps=10)
    with pytest.raises(ValueError, match="not a discrete metric"):
        Study(metrics=["nap"], report={"distributions": ["nap"]}, n_reps=10)
    with pytest.raises(ValueError, match="must be a list"):
        Study(metrics=["ird"], report={"distributions": "ird"}, n_reps=10)
    s = Study(metrics=[{"name": "tau_u", "method": "complete"}], n_reps=10, estimands=False)
    with pytest.raises(TypeError, match="frozen"):
        s.specs[0].options["method"] = "parker"
    # Per-design contrasts are part of the study's identity.
    a = Study(design="A3 B2 C2", contrasts={"A3 B2 C2": ["A:B"]}, n_reps=10, estimands=False)
    b = Study(design="A3 B2 C2", contrasts={"A3 B2 C2": ["A:C"]}, n_reps=10, estimands=False)
    assert a.fingerprint() != b.fingerprint()


def test_rank_null_of_p_values_only_for_rank_statistics():
    from scedsim.inference.permutation import _perm_null

    assert _perm_null({"statistic": "nap"}, 3, 4) is not None
    assert _perm_null({"statistic": "mean_diff"}, 3, 4) is None
    assert _perm_null({"statistic": "smd"}, 3, 4) is None
