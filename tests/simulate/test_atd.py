"""Alternating treatments designs in the simulator: the draws (uniform over the
admissible sequences), the models' structure, the ATD randomization test against
the one-series test of scedsim.designs, its exact Type I rate, and power against
an independent numpy Monte Carlo.  Tolerances: 4 Monte Carlo SEs."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from scedsim import designs
from scedsim.inference import atd_pvalues
from scedsim.simulate import Design, Study, get_model, run

Z = 4.0


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCEDSIM_CACHE_DIR", str(tmp_path / "cache"))


def _admissible(n, n_b, max_run):
    """Every 0/1 sequence of n occasions with n_b ones and no run above max_run, by brute force."""
    out = []
    for ones in itertools.combinations(range(n), n_b):
        s = np.zeros(n, dtype=np.int8)
        s[list(ones)] = 1
        if max(len(list(g)) for _, g in itertools.groupby(s.tolist())) <= max_run:
            out.append(s)
    return np.array(out)


def test_parse_describe_and_errors():
    d = Design.parse("ATD n=12 max_run=2", n_cases=3)
    assert d.is_atd and d.draws_sequences and not d.is_random and d.n_cases == 3 and d.n_time == 12
    assert d.describe() == "ATD n=12 max_run=2" and d.n_assignments() == 208 == designs.count("ATD", n_time=12)
    assert d.condition_counts == (6, 6) and [str(c) for c in d.contrasts] == ["A:B"]
    assert Design.parse(d.describe(), n_cases=3) == d
    u = Design.parse("ATD n=11 max_run=3 n_per_condition=5/6")
    assert u.n_assignments() == designs.AlternatingTreatments(11, max_run=3, n_per_condition=[5, 6]).n_assignments()
    assert Design.parse("ATD n=10 max_run=none").n_assignments() == math.comb(10, 5)
    f = Design.parse("ATD seq=ABBABAAB")
    assert not f.draws_sequences and f.describe() == "ATD seq=ABBABAAB max_run=2"
    assert f.phase_codes().tolist() == [[0, 1, 1, 0, 1, 0, 0, 1]]
    # A stays the baseline when a sequence starts with B.
    g = Design.parse("ATD seq=BAAB")
    assert g.labels == ("A", "B") and g.phase_codes().tolist() == [[1, 0, 0, 1]] and str(g.contrasts[0]) == "A:B"
    for text, msg in [("ATD n=11", "do not split"), ("ATD max_run=2", "needs n"), ("ATD n=12 maxrun=2", "cannot read"),
                      ("ATD seq=ABBBA", "run of 3"), ("ATD seq=AXB", "string of the labels"),
                      ("ATD n=8 max_run=1 n_per_condition=2/6", "no sequence")]:
        with pytest.raises(ValueError, match=msg):
            Design.parse(text)


@pytest.mark.parametrize("n, n_b, max_run", [(12, 6, 2), (11, 6, 3)])
def test_drawn_sequences_are_uniform_over_the_admissible_set(n, n_b, max_run):
    d = Design.alternating(n, max_run, n_cases=2, n_per_condition=(n - n_b, n_b))
    ref = _admissible(n, n_b, max_run)
    assert len(ref) == d.n_assignments()
    s = d.draw_sequences(np.random.default_rng(5), 100 * len(ref) // 2).reshape(-1, n)
    index = {r.tobytes(): i for i, r in enumerate(ref)}
    hits = np.bincount([index[r.tobytes()] for r in s], minlength=len(ref))  # KeyError: inadmissible
    assert hits.min() > 0
    # Uniform: a chi-square goodness of fit (a sampler choosing among the allowed
    # conditions with equal probability fails it by far).
    assert stats.chisquare(hits).pvalue > 1e-3
    # The same seed, the same sequences.
    assert np.array_equal(d.draw_sequences(np.random.default_rng(5), 10), d.draw_sequences(np.random.default_rng(5), 10))


@settings(max_examples=40, deadline=None)
@given(a=st.integers(1, 9), b=st.integers(1, 9), max_run=st.one_of(st.none(), st.integers(1, 4)),
       seed=st.integers(0, 2 ** 32 - 1))
def test_every_draw_is_admissible_and_the_count_is_exact(a, b, max_run, seed):
    exact = designs.AlternatingTreatments(a + b, max_run=max_run, n_per_condition=[a, b]) \
        if len(_admissible(a + b, b, max_run or a + b)) else None
    if exact is None:
        with pytest.raises(ValueError, match="no sequence"):
            Design.alternating(a + b, max_run, n_per_condition=(a, b))
        return
    d = Design.alternating(a + b, max_run, n_per_condition=(a, b))
    assert d.n_assignments() == exact.n_assignments() and d.condition_counts == (a, b)
    s = d.draw_sequences(np.random.default_rng(seed), 50).reshape(-1, a + b)
    assert (s.sum(axis=1) == b).all()
    assert all(exact.contains(row) for row in s)


def test_models_give_each_occasion_its_condition():
    d = Design.parse("ATD n=10 max_run=2", n_cases=2)
    seq = d.draw_sequences(np.random.default_rng(1), 50)
    used = d.realise_sequences(seq)
    model = get_model("normal_ar1")
    y = model.generate(used, {"phi": 0.5, "level": 2.0}, np.random.default_rng(2), 50)
    y0 = model.generate(used, {"phi": 0.5, "level": 0.0}, np.random.default_rng(2), 50)
    assert np.allclose(y - y0, 2.0 * seq, rtol=0, atol=1e-12)  # the same errors: the effect where B
    # A fixed sequence is the phase design of its runs (same errors, same series).
    p = {"phi": 0.4, "level": 1.5}
    y1 = get_model("normal_ar1").generate(Design.parse("ATD seq=ABBABAAB"), p, np.random.default_rng(3), 20)
    y2 = get_model("normal_ar1").generate(Design.parse("A1 B2 A1 B1 A2 B1"), p, np.random.default_rng(3), 20)
    assert np.array_equal(y1, y2)
    with pytest.raises(ValueError, match="B \\(1\\) occasions"):
        d.realise_sequences(np.zeros((2, 2, 10)))


@pytest.mark.parametrize("statistic", ["mean_diff", "nap", "median_diff"])
@pytest.mark.parametrize("alternative", ["greater", "two-sided"])
def test_batched_atd_test_equals_the_one_series_test(statistic, alternative):
    d = designs.AlternatingTreatments(10, max_run=2)
    rng = np.random.default_rng(7)
    y = np.round(rng.normal(size=(5, 10)), 1)  # rounded: ties must count the same way
    codes = d.sample(rng, 5)[:, 0, :]
    p = atd_pvalues(y, codes, statistic=statistic, alternative=alternative)
    q = [d.test(y[i], codes[i], statistic=statistic, alternative=alternative).pvalue for i in range(5)]
    assert np.allclose(p, q, rtol=0, atol=1e-12)
    assert np.allclose(atd_pvalues(y, codes, "decrease", statistic=statistic),
                       [d.test(y[i], codes[i], statistic=statistic, improvement="decrease").pvalue for i in range(5)])
    with pytest.raises(ValueError, match="longer than max_run"):
        atd_pvalues(y[:1], np.array([[0, 0, 0, 1, 1, 1, 0, 1, 0, 1]]))


def test_type1_equals_the_exact_value_under_autocorrelation():
    """Under any null (here phi = 0.5) the drawn sequence is independent of the data,
    so the observed statistic's rank among the 84 sequences is uniform:
    P(p <= .05) = floor(.05 * 84) / 84 = 4 / 84 exactly."""
    study = Study(design="ATD n=10 max_run=2", model="normal_ar1", grid={"phi": [0.5]},
                  metrics=[{"name": "atd_test", "statistic": "mean_diff"}], rules=["p_atd_mean_diff <= 0.05"],
                  n_reps=4000, seed=11, estimands=False, name="atd_t1")
    s = run(study, quiet=True).summary
    rate = s[(s.measure == "rejection_rate") & (s.scope == "case")].value.iloc[0]
    exact = 4 / 84
    assert abs(rate - exact) <= Z * math.sqrt(exact * (1 - exact) / 4000), rate
    assert s[s.measure == "min_pvalue"].value.iloc[0] == pytest.approx(1 / 84, abs=1e-15)


def test_power_matches_an_independent_monte_carlo():
    """n = 8, at most 2 in a row (34 sequences), phi = 0.3, level 1: the simulator's
    rejection rate of p <= .1 against a plain numpy simulation of the same study."""
    n, phi, level, reps = 8, 0.3, 1.0, 3000
    ref = _admissible(n, 4, 2)
    assert len(ref) == 34
    rng = np.random.default_rng(2024)
    seq = ref[rng.integers(0, len(ref), reps)]
    z = rng.standard_normal((reps, n))
    e = np.empty_like(z)
    e[:, 0] = z[:, 0]
    for t in range(1, n):
        e[:, t] = phi * e[:, t - 1] + math.sqrt(1 - phi * phi) * z[:, t]
    y = e + level * seq
    sums = y @ ref.T.astype(float)             # B sum of every admissible sequence
    obs = (y * seq).sum(axis=1)
    p = (sums >= obs[:, None] - 1e-9).mean(axis=1)
    mine = float((p <= 0.1 + 1e-12).mean())
    study = Study(design="ATD n=8 max_run=2", model="normal_ar1", grid={"phi": [phi], "level": [level]},
                  metrics=[{"name": "atd_test", "statistic": "mean_diff"}], rules=["p_atd_mean_diff <= 0.1"],
                  n_reps=reps, seed=3, estimands=False, name="atd_power")
    s = run(study, quiet=True).summary
    theirs = s[(s.measure == "rejection_rate") & (s.scope == "case")].value.iloc[0]
    se = math.sqrt(mine * (1 - mine) / reps + theirs * (1 - theirs) / reps)
    assert abs(mine - theirs) <= Z * se, (mine, theirs)
    assert 0.2 < mine < 0.8  # a power that can tell a wrong effect or sequence apart


def test_metrics_and_refusals():
    # NAP of an ATD: with a huge effect every B occasion beats every A occasion.
    study = Study(design="ATD n=8 max_run=2", model="normal_ar1", grid={"level": [50.0]}, metrics=["nap"],
                  n_reps=20, n_cases=2, seed=1, estimands=False, name="atd_nap")
    s = run(study, quiet=True).summary
    assert s[(s.measure == "mean") & (s.scope == "case")].value.iloc[0] == 1.0
    with pytest.raises(ValueError, match="alternating treatments design"):
        Study(design="A4 B4", model="normal_ar1", metrics=[{"name": "atd_test", "statistic": "mean_diff"}],
              n_reps=10, name="x").conditions
    with pytest.raises(ValueError, match="start-point randomization test"):
        Study(design="ATD n=8", model="normal_ar1", metrics=[{"name": "rand_test", "statistic": "mean_diff"}],
              n_reps=10, name="x").conditions


def test_report_facts_give_the_atd_tests_exact_type1_only_for_drawn_sequences():
    from scedsim.simulate.runner import design_facts

    study = Study(design="A3 B3", model="normal_ar1", grid={"design": ["ATD n=10 max_run=2", "ATD seq=ABBAABABBA"]},
                  metrics=[{"name": "atd_test", "statistic": "mean_diff"}, "nap"], rules=["p_atd_mean_diff <= 0.05"],
                  n_reps=10, name="atd_facts")
    names = [f["name"] for f in design_facts(study)]
    assert "Type I error of p_atd_mean_diff <= 0.05 = 1/21 (ATD n=10 max_run=2, A:B: m = 5, n = 5)" in names
    # One fixed sequence: its rank among the 84 need not be uniform, so no Type I fact.
    assert not any("Type I" in n and "seq=" in n for n in names)
    assert "E[nap] = 1/2 (ATD seq=ABBAABABBA max_run=2, A:B: m = 5, n = 5)" in names
