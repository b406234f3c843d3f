"""scedsim.effect_sizes and scedsim.summarize on study tables."""
import math
import warnings
from fractions import Fraction as F

import dataclasses

import numpy as np
import pandas as pd
import pytest

import scedsim as ss
from scedsim import registry, tidy
from scedsim.datasets import BURNOUT_SCALES, load_burnout_example

DIRECTIONS = {k: v[2] for k, v in BURNOUT_SCALES.items()}
CONTRASTS = {"A:B": ("A",), "A:C": ("C",), "A:B+C": ("B", "C")}


@pytest.fixture(scope="module")
def burnout():
    return load_burnout_example()


@pytest.fixture(scope="module")
def full_table(burnout):
    # Rows shuffled: effect_sizes must sort sessions itself.
    shuffled = burnout.sample(frac=1.0, random_state=3).reset_index(drop=True)
    return ss.effect_sizes(shuffled, metrics="all", contrast=list(CONTRASTS), improvement=DIRECTIONS,
                           options=REQUIRED)


# The example value of every option a metric cannot run without (PoGO's goal), so that "all" is every metric.
REQUIRED = {n: dict(m.required) for n, m in registry.metrics().items() if m.required}


def _direct(df, case, outcome, comp, metric, improvement):
    s = df[(df["case"] == case) & (df["outcome"] == outcome)].sort_values("session")
    a = s.loc[s["phase"] == "A", "value"].to_numpy(float)
    b = s.loc[s["phase"].isin(comp), "value"].to_numpy(float)
    return getattr(ss, metric)(a, b, improvement=improvement, **REQUIRED.get(metric, {}))


def test_agrees_with_single_series_calls_for_every_metric_outcome_and_contrast(burnout, full_table):
    t = full_table
    assert len(t) == 3 * 5 * 6 * len(registry.metric_names())
    assert set(t["metric"]) == set(registry.metric_names())
    for row in t.itertuples():
        comp = {"A:B": ("B",), "A:C": ("C",), "A:B+C": ("B", "C")}[row.contrast]
        r = _direct(burnout, row.case, row.outcome, comp, row.metric, DIRECTIONS[row.outcome])
        got = [row.estimate, row.se, row.ci_lower, row.ci_upper]
        want = [r.estimate, r.se, r.ci_lower, r.ci_upper]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, equal_nan=True,
                                   err_msg=f"{row.case} {row.outcome} {row.contrast} {row.metric}")
        assert (row.n_a, row.n_b) == (r.n_a, r.n_b)
        assert row.improvement == DIRECTIONS[row.outcome]


def test_output_columns_and_order(burnout):
    t = ss.effect_sizes(burnout, contrast=list(CONTRASTS), improvement=DIRECTIONS)
    assert list(t.columns) == ["case", "outcome", "contrast", "metric", "estimate", "se", "ci_lower",
                               "ci_upper", "n_a", "n_b", "improvement", "notes"]
    assert list(t["contrast"].unique()) == list(CONTRASTS)
    assert list(t["outcome"].unique()) == list(BURNOUT_SCALES)
    assert list(t["case"].unique()) == [f"P{i}" for i in range(1, 7)]   # order of appearance
    assert t["n_a"].dtype.kind == "i"


def test_trend_metrics_say_when_the_comparison_does_not_follow_the_baseline(full_table):
    t = full_table
    ac = t[t["contrast"] == "A:C"]
    trend = [n for n, m in registry.metrics().items() if m.time_ordered]
    assert {"pet", "tau_u", "tau_bc", "cdc", "plm"} <= set(trend)
    assert ac.loc[ac["metric"].isin(trend), "notes"].str.contains("between A and C").all()
    assert (ac.loc[~ac["metric"].isin(trend), "notes"] == "").all()
    assert (t.loc[t["contrast"] != "A:C", "notes"] == "").all()


def test_wide_layout_gives_the_long_result(burnout):
    wide = burnout.pivot_table(index=["case", "session", "phase"], columns="outcome",
                               values="value").reset_index()
    wide = wide.rename(columns={"case": "participant", "session": "occasion"})
    outs = ["EE", "DP", "PA"]
    a = ss.effect_sizes(wide, case="participant", session="occasion", outcomes=outs,
                        improvement={o: DIRECTIONS[o] for o in outs}, metrics=["nap", "ird", "smd"])
    b = ss.effect_sizes(burnout, outcomes=outs, improvement={o: DIRECTIONS[o] for o in outs},
                        metrics=["nap", "ird", "smd"])
    pd.testing.assert_frame_equal(a, b)


def test_mixed_directions(burnout):
    imp = {o: "increase" for o in BURNOUT_SCALES}
    up = ss.effect_sizes(burnout, improvement=imp, metrics=["nap", "pnd", "tau_u"])
    imp["EE"] = "decrease"
    mixed = ss.effect_sizes(burnout, improvement=imp, metrics=["nap", "pnd", "tau_u"])
    ee = mixed["outcome"] == "EE"
    pd.testing.assert_frame_equal(mixed[~ee], up[~ee])
    # NAP reverses exactly when the direction flips.
    nap = (mixed["metric"] == "nap") & ee
    np.testing.assert_allclose(mixed.loc[nap, "estimate"], 1 - up.loc[nap, "estimate"], atol=1e-12)
    assert (mixed.loc[ee, "improvement"] == "decrease").all()
    neg = burnout.assign(value=np.where(burnout["outcome"] == "EE", -burnout["value"], burnout["value"]))
    imp_neg = dict(imp, EE="increase")
    again = ss.effect_sizes(neg, improvement=imp_neg, metrics=["nap", "pnd", "tau_u"])
    np.testing.assert_allclose(again["estimate"], mixed["estimate"], atol=1e-12)


def test_improvement_mapping_must_match_the_outcomes(burnout):
    with pytest.raises(ValueError, match="improvement names outcome 'XX'"):
        ss.effect_sizes(burnout, improvement=dict(DIRECTIONS, XX="increase"))
    partial = dict(DIRECTIONS)
    del partial["QoL"]
    with pytest.raises(ValueError, match="no direction for outcome 'QoL'"):
        ss.effect_sizes(burnout, improvement=partial)
    with pytest.raises(ValueError, match="unknown improvement for 'EE'"):
        ss.effect_sizes(burnout, improvement=dict(DIRECTIONS, EE="down"))
    with pytest.raises(ValueError, match="unknown improvement"):
        ss.effect_sizes(burnout, improvement="lower")


def test_batched_calls(burnout, monkeypatch):
    calls = []
    entry = registry.get_metric("nap")

    def counting(a, b, **kw):
        calls.append(np.ndim(a))
        return entry.func(a, b, **kw)

    monkeypatch.setitem(registry._METRICS, "nap", dataclasses.replace(entry, func=counting))
    ss.effect_sizes(burnout, metrics=["nap"], improvement=DIRECTIONS)
    # One option check, then one 2-D call per outcome (all six cases share 3 + 2 points).
    assert calls.count(2) == 5 and calls.count(1) == 1


def _table(series):
    """Long table from {case: (A values, B values)}."""
    rows = []
    for c, (a, b) in series.items():
        for i, v in enumerate(list(a) + list(b)):
            rows.append((c, i + 1, "A" if i < len(a) else "B", "y", v))
    return pd.DataFrame(rows, columns=["case", "session", "phase", "outcome", "value"])


HAND = {"X": ([1, 2, 3], [4, 5]), "Y": ([2, 4, 3, 5], [3, 6, 7]), "Z": ([5, 6], [4, 5, 7, 8])}


def test_pooling_against_hand_computed_values():
    cases, summ = ss.effect_sizes(_table(HAND), metrics=["nap", "tau", "ird"],
                                  options={"nap": {"se": "null"}, "tau": {"se": "null"}}, summary=True)
    # Per case, by hand.  PAND removals: X none; Y drop B's 3 (r=1); Z drop B's 4 and 5 (r=2).
    ird = {"X": F(1), "Y": 1 - F(7 * 1, 2 * 4 * 3), "Z": 1 - F(6 * 2, 2 * 2 * 4)}
    nap = {"X": F(1), "Y": F(19, 24), "Z": F(9, 16)}        # Y: 9.5/12 pairs, Z: 4.5/8
    var = {"X": F(6, 72), "Y": F(8, 144), "Z": F(7, 96)}    # null variance (m + n + 1)/(12 m n)
    got = cases.set_index(["case", "metric"])["estimate"]
    for c in HAND:
        assert got[(c, "ird")] == pytest.approx(float(ird[c]), abs=1e-12)
        assert got[(c, "nap")] == pytest.approx(float(nap[c]), abs=1e-12)

    s = summ.set_index(["metric", "method"])
    # Pooled counts: R = 0 + 1 + 2, M = 3 + 4 + 2, N = 2 + 3 + 4;  1 - (M + N) R / (2 M N) = 2/3.
    assert s.loc[("ird", "pooled counts"), "estimate"] == pytest.approx(2 / 3, abs=1e-12)
    assert "R = 3 removals, M = 9, N = 9" in s.loc[("ird", "pooled counts"), "notes"]
    assert s.loc[("ird", "mean"), "estimate"] == pytest.approx(float(sum(ird.values()) / 3), abs=1e-12)
    assert s.loc[("ird", "median"), "estimate"] == pytest.approx(float(ird["Y"]), abs=1e-12)
    # Inverse-variance weights 1/var: 12, 18, 96/7.
    w = {c: 1 / var[c] for c in HAND}
    mean = sum(w[c] * nap[c] for c in HAND) / sum(w.values())
    se = math.sqrt(1 / float(sum(w.values())))
    row = s.loc[("nap", "inverse-variance (fixed effect)")]
    assert row["estimate"] == pytest.approx(float(mean), abs=1e-12)
    assert float(mean) == pytest.approx(237.75 / 306, abs=1e-12)
    assert row["se"] == pytest.approx(se, abs=1e-12)
    z = 1.959963984540054
    assert row["ci_lower"] == pytest.approx(float(mean) - z * se, abs=1e-9)
    assert float(mean) + z * se > 1 and row["ci_upper"] == 1.0      # cut to NAP's range
    assert row["n_cases"] == 3
    # Tau = 2 NAP - 1 with SE doubled: the same weights.
    tau_row = s.loc[("tau", "inverse-variance (fixed effect)")]
    assert tau_row["estimate"] == pytest.approx(2 * float(mean) - 1, abs=1e-12)
    assert tau_row["se"] == pytest.approx(2 * se, abs=1e-12)
    assert list(summ["method"].unique()) == ["mean", "median", "random effects (DL)",
                                             "inverse-variance (fixed effect)", "between-person t-test",
                                             "pooled counts"]
    bt = s.loc[("ird", "between-person t-test")]
    from scedsim.inference import between_person_test, null_centre

    excess = [float(ird[c]) - null_centre("ird", len(HAND[c][0]), len(HAND[c][1])) for c in HAND]
    assert bt["estimate"] == pytest.approx(sum(excess) / 3, abs=1e-12)
    assert bt["pvalue"] == pytest.approx(between_person_test(excess).pvalue, abs=1e-12)
    # Random effects by hand: DerSimonian-Laird tau^2 = max(0, (Q - (k - 1)) / C).
    q = sum(w[c] * (nap[c] - mean) ** 2 for c in HAND)
    cc = sum(w.values()) - sum(x * x for x in w.values()) / sum(w.values())
    tau2 = max(0.0, float((q - 2) / cc))
    wr = {c: 1 / (float(var[c]) + tau2) for c in HAND}
    re_mean = sum(wr[c] * float(nap[c]) for c in HAND) / sum(wr.values())
    re = s.loc[("nap", "random effects (DL)")]
    assert re["estimate"] == pytest.approx(re_mean, abs=1e-12)
    assert re["se"] == pytest.approx(1 / math.sqrt(sum(wr.values())), abs=1e-12)
    assert f"tau^2 = {tau2:.4g}" in re["notes"]


def test_weighted_mean_needs_ses():
    summ = ss.effect_sizes(_table(HAND), metrics=["nap"], options={"nap": {"se": "none"}},
                           summary=True).summary
    row = summ[summ["method"] == "inverse-variance (fixed effect)"].iloc[0]
    assert math.isnan(row["estimate"]) and "SE missing or 0" in row["notes"]


def test_missing_value_is_an_error_naming_case_session_and_outcome(burnout):
    df = burnout.copy()
    df.loc[(df["case"] == "P3") & (df["session"] == 4) & (df["outcome"] == "PA"), "value"] = np.nan
    with pytest.raises(ValueError, match=r"outcome 'PA' at case 'P3', session 4.*missing='drop'"):
        ss.effect_sizes(df, improvement=DIRECTIONS)


def test_missing_drop_drops_reports_and_warns(burnout):
    df = burnout.copy()
    df.loc[(df["case"] == "P3") & (df["session"] == 4) & (df["outcome"] == "PA"), "value"] = np.nan
    with pytest.warns(UserWarning, match="dropped 1 missing"):
        t = ss.effect_sizes(df, improvement=DIRECTIONS, metrics=["nap", "ird"], missing="drop",
                            contrast=["A:B", "A:C"])
    hit = (t["case"] == "P3") & (t["outcome"] == "PA") & (t["contrast"] == "A:B")
    assert t.loc[hit, "notes"].str.contains("missing value dropped at session 4").all()
    assert (t.loc[hit, "n_b"] == 1).all()
    # The follow-up contrast does not involve session 4: no note there.
    assert (t.loc[~hit, "notes"] == "").all()
    s = df[(df["case"] == "P3") & (df["outcome"] == "PA")].dropna()
    a = s.loc[s["phase"] == "A", "value"].to_numpy()
    b = s.loc[s["phase"] == "B", "value"].to_numpy()
    assert t.loc[hit & (t["metric"] == "ird"), "estimate"].iloc[0] == ss.ird(a, b).estimate
    # NAP's unbiased SE needs 2 points per phase: the estimate stays, the SE is NaN, with a reason.
    nap = t.loc[hit & (t["metric"] == "nap")].iloc[0]
    assert nap["estimate"] == ss.nap(a, b, se="none").estimate and math.isnan(nap["se"])
    assert "SE needs 2 points per phase" in nap["notes"]


def test_missing_phase_and_short_phase_give_reasons_not_errors():
    df = _table({"ok": ([1, 2, 3], [5, 6]), "short": ([4], [6, 7, 8])})
    df = pd.concat([df, pd.DataFrame({"case": "noA", "session": [1, 2], "phase": "B", "outcome": "y",
                                      "value": [3, 4]})], ignore_index=True)
    t = ss.effect_sizes(df, metrics=["nap", "pnd", "pet"]).set_index(["case", "metric"])
    assert t.loc[("ok", "nap"), "estimate"] == 1.0 and t.loc[("ok", "nap"), "notes"] == ""
    assert t.loc[("short", "pnd"), "estimate"] == 1.0
    assert t.loc[("short", "nap"), "estimate"] == 1.0 and math.isnan(t.loc[("short", "nap"), "se"])
    assert "SE needs 2 points per phase" in t.loc[("short", "nap"), "notes"]
    assert math.isnan(t.loc[("short", "pet"), "estimate"])
    assert "needs at least 2 points in phase A" in t.loc[("short", "pet"), "notes"]
    for m in ("nap", "pnd", "pet"):
        assert math.isnan(t.loc[("noA", m), "estimate"])
        assert t.loc[("noA", m), "notes"] == "no phase 'A' for this case"
        assert t.loc[("noA", m), "n_a"] == 0 and t.loc[("noA", m), "n_b"] == 2


def test_separate_runs_of_a_phase_are_reported():
    df = pd.DataFrame({"case": "W", "session": range(1, 9), "phase": list("AABBAABB"),
                       "outcome": "y", "value": [1, 2, 5, 6, 2, 1, 6, 7]})
    t = ss.effect_sizes(df, metrics=["nap"])
    assert math.isnan(t["estimate"].iloc[0])
    assert "occurs in 2 separate runs (sessions 1-2 and 5-6)" in t["notes"].iloc[0]


def test_undefined_values_say_why():
    df = _table({"flat": ([3, 3, 3], [5, 6])})
    t = ss.effect_sizes(df, metrics=["smd"])
    assert math.isnan(t["estimate"].iloc[0]) and "standardizing SD is 0" in t["notes"].iloc[0]


@pytest.mark.parametrize("kwargs, message", [
    (dict(contrast="A:D"), r"unknown phase label 'D' in contrast 'A:D'; column 'phase' holds: A, B, C"),
    (dict(contrast="AB"), "must look like 'A:B'"),
    (dict(contrast="A:A"), "both baseline and comparison"),
    (dict(case="participant"), r"column 'participant' \(case\) not found"),
    (dict(outcomes=["EE", "XX"]), "outcome 'XX' not found in column 'outcome'"),
    (dict(metrics=["nap", "npa"]), "unknown metric 'npa'"),
    (dict(metrics=[]), "metrics is empty"),
    (dict(options={"nap": {"se": "bogus"}}), "bad option for nap: unknown se 'bogus'"),
    (dict(options={"tau_u": {"methd": "complete"}}), "bad option for tau_u"),
    (dict(options={"nope": {}}), "unknown metric 'nope'"),
    (dict(missing="impute"), "unknown missing 'impute'"),
    (dict(confidence=95), r"confidence must be in \(0, 1\)"),
])
def test_bad_arguments_name_the_problem(burnout, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ss.effect_sizes(burnout, **kwargs)


def test_bad_tables_name_the_problem(burnout):
    df = burnout.astype({"value": object})
    df.loc[5, "value"] = "n/a?"
    with pytest.raises(ValueError, match=r"holds text 'n/a\?' at case 'P1', session 6"):
        ss.effect_sizes(df)
    dup = pd.concat([burnout, burnout.iloc[[0]]])
    with pytest.raises(ValueError, match="case 'P1', session 1 appears more than once for outcome 'EE'"):
        ss.effect_sizes(dup)
    nophase = burnout.astype({"phase": object})
    nophase.loc[3, "phase"] = None
    with pytest.raises(ValueError, match=r"column 'phase' \(phase\) is empty at case 'P1', session 4"):
        ss.effect_sizes(nophase)
    badsession = burnout.astype({"session": object})
    badsession.loc[0, "session"] = "first"
    with pytest.raises(ValueError, match="must hold numbers giving the time order; found 'first'"):
        ss.effect_sizes(badsession)
    with pytest.raises(ValueError, match="expected a pandas DataFrame"):
        ss.effect_sizes({"case": [1]})


def test_baseline_and_treatment_arguments(burnout):
    df = burnout.replace({"phase": {"A": "base", "B": "tx", "C": "fu"}})
    t1 = ss.effect_sizes(df, baseline="base", treatment=("tx", "fu"), metrics=["nap"],
                         improvement=DIRECTIONS)
    t2 = ss.effect_sizes(burnout, contrast="A:B+C", metrics=["nap"], improvement=DIRECTIONS)
    np.testing.assert_array_equal(t1["estimate"], t2["estimate"])
    assert t1["contrast"].iloc[0] == "base:tx+fu"


def test_numeric_phase_labels_and_int_cases():
    df = pd.DataFrame({"case": [1] * 5, "session": [1, 2, 3, 4, 5], "phase": [0, 0, 1, 1, 1],
                       "outcome": "y", "value": [1, 2, 3, 4, 5]})
    t = ss.effect_sizes(df, baseline="0", treatment="1", metrics=["nap"])
    assert t["estimate"].iloc[0] == 1.0 and t["case"].iloc[0] == 1


def test_summarize_checks_its_input():
    with pytest.raises(ValueError, match="column 'outcome' is missing"):
        ss.summarize(pd.DataFrame({"case": [1]}))


def test_summary_names_cases_left_out():
    df = _table({"X": ([1, 2, 3], [4, 5]), "Y": ([2], [6, 7])})
    summ = ss.effect_sizes(df, metrics=["nap", "smd", "ird"],
                           summary=True).summary.set_index(["metric", "method"])
    assert summ.loc[("smd", "mean"), "n_cases"] == 1
    assert "left out (no estimate): Y" in summ.loc[("smd", "mean"), "notes"]
    # Y's NAP has an estimate but no SE (one baseline point): in the mean, not in the weighted mean.
    assert summ.loc[("nap", "mean"), "n_cases"] == 2
    row = summ.loc[("nap", "inverse-variance (fixed effect)")]
    assert row["n_cases"] == 1 and "left out (SE missing or 0): Y" in row["notes"]
    assert summ.loc[("ird", "pooled counts"), "n_cases"] == 2


def test_effect_sizes_is_quick_on_a_study(burnout):
    import time

    ss.effect_sizes(burnout, improvement=DIRECTIONS)   # warm
    t0 = time.perf_counter()
    ss.effect_sizes(burnout, metrics="all", improvement=DIRECTIONS, contrast=list(CONTRASTS), summary=True)
    assert time.perf_counter() - t0 < 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ss.effect_sizes(burnout, improvement=DIRECTIONS)


# ------------------------------------------------------------------ review fixes

def test_long_table_whose_outcome_names_are_also_columns_is_read_as_long(burnout):
    # Outcomes named like other columns of the table ("age", "session"): still long.
    df = burnout.replace({"outcome": {"EE": "age", "DP": "session"}})
    df["age"] = 40
    t = ss.effect_sizes(df, outcomes=["age", "session"], metrics=["nap"],
                        improvement={"age": "decrease", "session": "decrease"})
    want = ss.effect_sizes(burnout, outcomes=["EE", "DP"], metrics=["nap"],
                           improvement={"EE": "decrease", "DP": "decrease"})
    np.testing.assert_array_equal(t["estimate"], want["estimate"])
    assert list(t["outcome"].unique()) == ["age", "session"]


def test_a_table_that_reads_both_long_and_wide_is_an_error(burnout):
    # One outcome, so one row per case x session: column "age" could be the scores as well.
    df = burnout[burnout["outcome"] == "EE"].replace({"outcome": {"EE": "age"}})
    df = df.assign(age=40)
    with pytest.raises(ValueError, match=r"cannot tell whether the table is long or wide: 'age' is both "
                                         r"a column and a label in column 'outcome'; to read it as long, "
                                         r"rename or drop column 'age'"):
        ss.effect_sizes(df, outcomes=["age"])
    t = ss.effect_sizes(df.drop(columns="age"), outcomes=["age"], metrics=["nap"])
    assert len(t) == 6
    # A wide table (no outcome/value columns) is read as wide, as before.
    wide = burnout.pivot_table(index=["case", "session", "phase"], columns="outcome",
                               values="value").reset_index()
    assert len(ss.effect_sizes(wide, outcomes=["EE"], metrics=["nap"])) == 6


def test_labels_are_stripped_of_blanks(burnout):
    df = burnout.copy()
    p1 = df["case"] == "P1"
    df.loc[p1 & (df["phase"] == "B"), "phase"] = "B "
    df.loc[p1, "case"] = " P1"
    df.loc[df["outcome"] == "EE", "outcome"] = "EE  "
    t = ss.effect_sizes(df, metrics=["nap", "pnd"], improvement=DIRECTIONS)
    want = ss.effect_sizes(burnout, metrics=["nap", "pnd"], improvement=DIRECTIONS)
    pd.testing.assert_frame_equal(t, want)
    blank = burnout.astype({"phase": object})
    blank.loc[3, "phase"] = "  "
    with pytest.raises(ValueError, match=r"column 'phase' \(phase\) is empty at case 'P1', session 4"):
        ss.effect_sizes(blank)


def test_a_case_missing_an_outcome_gets_visible_nan_rows(burnout):
    df = burnout[~((burnout["case"] == "P3") & (burnout["outcome"] == "PA"))]
    cases, summ = ss.effect_sizes(df, metrics=["nap", "ird", "pet"], contrast=["A:B", "A:C"],
                                  improvement=DIRECTIONS, summary=True)
    assert len(cases) == 2 * 5 * 6 * 3
    gap = cases[(cases["case"] == "P3") & (cases["outcome"] == "PA")]
    assert len(gap) == 2 * 3   # every contrast and metric
    assert gap["estimate"].isna().all() and (gap["n_a"] == 0).all() and (gap["n_b"] == 0).all()
    assert (gap["notes"] == "no data for this outcome").all()
    # Case order is the table's, also in the outcome that lacks P3.
    assert list(cases.loc[cases["outcome"] == "PA", "case"].unique()) == [f"P{i}" for i in range(1, 7)]
    s = summ[(summ["outcome"] == "PA") & (summ["method"] == "mean")]
    assert (s["n_cases"] == 5).all() and s["notes"].str.contains("left out (no estimate): P3", regex=False).all()


def test_comparison_before_the_baseline_gives_no_trend_metrics():
    df = pd.DataFrame({"case": "R", "session": range(1, 8), "phase": list("BBBAAAA"), "outcome": "y",
                       "value": [5, 6, 7, 1, 2, 2, 3]})
    t = ss.effect_sizes(df, metrics=["nap", "pnd", "pet", "tau_u", "tau_bc"]).set_index("metric")
    a, b = np.array([1, 2, 2, 3.0]), np.array([5, 6, 7.0])
    assert t.loc["nap", "estimate"] == ss.nap(a, b).estimate and t.loc["nap", "notes"] == ""
    assert t.loc["pnd", "estimate"] == ss.pnd(a, b).estimate
    for m in ("pet", "tau_u", "tau_bc"):
        assert math.isnan(t.loc[m, "estimate"]) and math.isnan(t.loc[m, "se"])
        assert t.loc[m, "notes"].startswith("comparison phase precedes the baseline"), t.loc[m, "notes"]
        assert "between" not in t.loc[m, "notes"]
    # The same rows among series that follow the usual order: only the reversed one is NaN.
    ok = pd.DataFrame({"case": "S", "session": range(1, 8), "phase": list("AAAABBB"), "outcome": "y",
                       "value": [1, 2, 2, 3, 5, 6, 7]})
    both = ss.effect_sizes(pd.concat([df, ok]), metrics=["pet"]).set_index("case")
    assert math.isnan(both.loc["R", "estimate"]) and both.loc["S", "estimate"] == ss.pet(a, b).estimate


def test_one_point_phase_keeps_nap_tau_and_tau_bc_without_se():
    df = _table({"oneB": ([4, 5, 3], [6]), "oneA": ([4], [6, 7, 8])})
    t = ss.effect_sizes(df, metrics=["nap", "tau", "tau_bc"]).set_index(["case", "metric"])
    for case, (a, b) in {"oneB": ([4, 5, 3], [6]), "oneA": ([4], [6, 7, 8])}.items():
        for m in ("nap", "tau", "tau_bc"):
            row = t.loc[(case, m)]
            if case == "oneA" and m == "tau_bc":
                # Its baseline trend needs 2 points: no estimate at all, the first reason stands.
                assert math.isnan(row["estimate"]) and "needs at least 2 points in phase A" in row["notes"]
                continue
            r = getattr(ss, m)(a, b, se="none")
            assert (row["estimate"], row["ci_lower"], row["ci_upper"]) == (r.estimate, r.ci_lower, r.ci_upper)
            assert math.isnan(row["se"]) and "SE needs 2 points per phase" in row["notes"]
    # An SE type that does not need 2 points is used as asked.
    h = ss.effect_sizes(df, metrics=["nap"], options={"nap": {"se": "hanley"}}).set_index("case")
    assert h.loc["oneA", "se"] == ss.nap([4], [6, 7, 8], se="hanley").se and h.loc["oneA", "notes"] == ""
