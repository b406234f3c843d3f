"""The bundled example datasets."""
from fractions import Fraction as F

import numpy as np
import pandas as pd
import pytest

import scedsim as ss
from scedsim.datasets import BURNOUT_SCALES, load_burnout_example, load_pvd2011, make_burnout_example


def test_shipped_burnout_csv_is_the_generators_output():
    pd.testing.assert_frame_equal(load_burnout_example(), make_burnout_example())


def test_burnout_example_has_the_study_shape():
    df = load_burnout_example()
    assert list(df.columns) == ["case", "session", "phase", "outcome", "value"]
    assert sorted(df["case"].unique()) == [f"P{i}" for i in range(1, 7)]
    assert list(df["outcome"].unique()) == list(BURNOUT_SCALES)
    assert len(df) == 6 * 7 * 5
    phase_of = df.drop_duplicates(["session", "phase"]).set_index("session")["phase"].sort_index()
    assert list(phase_of) == list("AAABBCC")
    assert df["value"].dtype.kind == "i"
    for scale, (lo, hi, *_rest) in BURNOUT_SCALES.items():
        v = df.loc[df["outcome"] == scale, "value"]
        assert v.between(lo, hi).all(), scale
    # Realistic ties: some series repeat a value.
    ties = df.groupby(["case", "outcome"])["value"].agg(lambda s: s.nunique() < len(s))
    assert ties.mean() > 0.3


def test_burnout_generator_is_seeded():
    assert make_burnout_example(seed=1).equals(make_burnout_example(seed=1))
    assert not make_burnout_example(seed=1).equals(make_burnout_example(seed=2))


def test_pvd2011_known_values():
    df = load_pvd2011()
    t = ss.effect_sizes(df, metrics=["nap", "tau", "pnd", "pand", "pem", "ird", "tau_u"])
    est = dict(zip(t["metric"], t["estimate"]))
    expected = {"nap": F(77, 84), "tau": F(35, 42), "pnd": F(5, 7), "pand": F(11, 13), "pem": F(1),
                "ird": F(6, 7) - F(1, 6), "tau_u": F(31, 42)}
    for k, v in expected.items():
        assert est[k] == pytest.approx(float(v), abs=1e-12), k
    assert list(t["n_a"].unique()) == [6] and list(t["n_b"].unique()) == [7]
    a = df.loc[df["phase"] == "A", "value"].to_numpy()
    assert np.array_equal(a, [20, 20, 26, 25, 22, 23])


def test_module_docstring_says_the_burnout_data_are_synthetic():
    doc = ss.datasets.__doc__
    assert "SYNTHETIC" in doc and "load_burnout_example" in doc and "not public" in doc
