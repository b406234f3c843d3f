"""The SCED panel graph, checked through the matplotlib objects it returns."""
import struct

import numpy as np
import pandas as pd
import pytest

import scedsim as ss
from scedsim.plotting import sced_plot, theil_sen

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def burnout():
    return ss.datasets.load_burnout_example()


def _lines(ax, gid):
    return [ln for ln in ax.get_lines() if ln.get_gid() == gid]


def _png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_one_panel_per_case_with_phase_lines_and_no_line_across_a_change(burnout, tmp_path):
    fig = sced_plot(burnout, outcomes=["EE"], trend=True, figsize=(4, 7))
    assert len(fig.axes) == 6
    for ax in fig.axes:
        phase_lines = _lines(ax, "phase-change")
        assert [ln.get_xdata()[0] for ln in phase_lines] == [3.5, 5.5]
        assert all(ln.get_linestyle() == "--" for ln in phase_lines)
        data = _lines(ax, "data")
        # One connected line per phase, each within its phase: none joins two phases.
        assert [list(ln.get_xdata()) for ln in data] == [[1, 2, 3], [4, 5], [6, 7]]
        assert all(ln.get_color() == "black" for ln in data)
        assert len(_lines(ax, "trend")) == 1
        assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
    # Shared time axis.
    assert len({ax.get_xlim() for ax in fig.axes}) == 1
    # Phase labels above the top panel only (all cases change at the same sessions).
    top = [t.get_text() for t in fig.axes[0].texts]
    assert top[:3] == ["A", "B", "C"] and "P1" in top
    assert [t.get_text() for t in fig.axes[1].texts] == ["P2"]

    out = tmp_path / "fig.png"
    fig.savefig(out, dpi=50)
    assert out.stat().st_size > 1000
    assert _png_size(out) == (200, 350)
    assert tuple(fig.get_size_inches()) == (4, 7)


def test_several_outcomes_are_columns(burnout):
    fig = sced_plot(burnout, outcomes=["EE", "PA", "QoL"])
    assert len(fig.axes) == 18
    assert [fig.axes[i].get_title() for i in range(3)] == ["EE", "PA", "QoL"]
    assert sum(len(_lines(ax, "phase-change")) for ax in fig.axes) == 36
    assert sum(len(_lines(ax, "trend")) for ax in fig.axes) == 0


def test_multiple_baseline_labels_every_panel():
    rows = []
    for c, start in (("Ann", 3), ("Bob", 5)):
        for t in range(1, 9):
            rows.append((c, t, "A" if t <= start else "B", float(t > start) * 5 + t % 2))
    df = pd.DataFrame(rows, columns=["case", "session", "phase", "value"])
    fig = sced_plot(df, outcomes=["value"])
    assert [_lines(ax, "phase-change")[0].get_xdata()[0] for ax in fig.axes] == [3.5, 5.5]
    for ax in fig.axes:
        assert [t.get_text() for t in ax.texts][:2] == ["A", "B"]


def test_trend_is_the_baseline_theil_sen_line(burnout):
    s = burnout[(burnout["case"] == "P4") & (burnout["outcome"] == "PA")]
    fig = sced_plot(s, trend=True)
    (ln,) = _lines(fig.axes[0], "trend")
    a = s.loc[s["phase"] == "A", "value"].to_numpy(float)
    r = ss.tau_bc(a, s.loc[s["phase"] != "A", "value"].to_numpy(float))
    xs = np.asarray(ln.get_xdata(), float)
    assert list(xs) == [1, 7]     # projected through B and C
    np.testing.assert_allclose(ln.get_ydata(), r.intercept + r.slope * xs)
    assert theil_sen([1, 2, 3], [1, 3, 2]) == (0.5, 0.5)   # slopes 2, .5, -1; y - .5x = .5, 2, .5
    with pytest.raises(ValueError, match="two points at different times"):
        theil_sen([1, 1], [2, 3])


def test_bad_input(burnout):
    with pytest.raises(ValueError, match="outcome 'XX' not found"):
        sced_plot(burnout, outcomes=["XX"])
    with pytest.raises(ValueError, match=r"column 'when' \(session\) not found"):
        sced_plot(burnout, session="when")


def test_trend_with_an_unknown_baseline_label_is_an_error(burnout):
    with pytest.raises(ValueError, match=r"baseline phase 'Z' \(for the trend\) not found in column "
                                         r"'phase'; it holds: A, B, C"):
        sced_plot(burnout, outcomes=["EE"], trend=True, baseline="Z")
    # Without trend the label is not used.
    assert len(sced_plot(burnout, outcomes=["EE"], baseline="Z").axes) == 6


def test_abab_trend_is_fit_on_the_first_baseline_run_only():
    y = [1.0, 2.0, 4.0, 8.0, 9.0, 8.5, 20.0, 18.0, 25.0, 7.0, 9.0, 8.0]
    df = pd.DataFrame({"case": "W", "session": range(1, 13), "phase": list("AAABBBAAABBB"), "value": y})
    fig = sced_plot(df, outcomes=["value"], trend=True)
    (ln,) = _lines(fig.axes[0], "trend")
    slope, icpt = theil_sen([1, 2, 3], y[:3])
    xs = np.asarray(ln.get_xdata(), float)
    assert list(xs) == [1, 12]   # from the first A run, projected to the last session
    np.testing.assert_allclose(ln.get_ydata(), icpt + slope * xs)


def test_a_case_missing_an_outcome_keeps_its_row(burnout):
    df = burnout[~((burnout["case"] == "P1") & (burnout["outcome"] == "EE"))]
    fig = sced_plot(df, outcomes=["EE", "PA"])
    assert len(fig.axes) == 12
    # Row 0 is still P1: "no data" under EE, its series under PA.
    assert "no data" in [t.get_text() for t in fig.axes[0].texts]
    assert "P1" in [t.get_text() for t in fig.axes[1].texts]
    assert _lines(fig.axes[1], "data")
    assert "P6" in [t.get_text() for t in fig.axes[11].texts]
