"""What a user sees: help texts, figure paths and labels (issue 16, "cosmetic but visible")."""
import pathlib
import re

import numpy as np
import pytest

from scedsim import cli
from scedsim.simulate import studyfile


def test_simulate_help_lists_every_study_file_key_with_its_meaning(capsys):
    with pytest.raises(SystemExit):
        cli.main(["simulate", "--help"])
    text = capsys.readouterr().out
    listed = text.split("study file keys", 1)[1]
    keys = studyfile._STUDY_KEYS | set(studyfile.RUN_KEYS)
    for key in keys:
        m = re.search(rf"(?m)^  {key} +(\S.*)$", listed)
        assert m, f"{key} is not listed"
        assert len(m.group(1)) > 10
    # The meanings come from Study's docstring: one changed there changes here.
    assert dict(studyfile.key_help())["n_reps"] == "Replications per condition"
    assert len(studyfile.key_help()) == len(keys)


# ------------------------------------------------------------------ the single-case graph

def _three_point_fall():
    """A 3-point baseline falling steeply (10, 6, 2): its trend, projected, goes below 0."""
    import pandas as pd

    return pd.DataFrame({"case": ["c1"] * 7, "session": range(1, 8), "phase": list("AAABBBB"),
                         "outcome": ["count"] * 7, "value": [10, 6, 2, 3, 4, 3, 5]})


def test_graph_starts_at_the_floor_and_stops_the_trend_there():
    from scedsim.plotting import sced_plot

    fig = sced_plot(_three_point_fall(), trend=True)
    ax = fig.axes[0]
    assert ax.get_ylim()[0] == 0.0
    (trend,) = [ln for ln in ax.get_lines() if ln.get_gid() == "trend"]
    # slope -4, intercept 14: it reaches 0 at session 3.5, and stops there.
    assert list(trend.get_xdata()) == [1.0, 3.5]
    assert list(trend.get_ydata()) == [10.0, 0.0]
    # Unclipped when asked: the old projection to the last session.
    fig = sced_plot(_three_point_fall(), trend=True, limits=None)
    (trend,) = [ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "trend"]
    assert list(trend.get_xdata()) == [1.0, 7.0] and trend.get_ydata()[-1] == -14.0


def test_graph_takes_a_bounded_scale():
    from scedsim.plotting import sced_plot

    df = _three_point_fall()
    df["value"] = [4.5, 3.0, 1.5, 2, 2, 3, 2]            # a 1-5 rating scale, falling 1.5 a session
    fig = sced_plot(df, trend=True, limits=(1, 5))
    ax = fig.axes[0]
    assert ax.get_ylim() == (1.0, 5.0)
    (trend,) = [ln for ln in ax.get_lines() if ln.get_gid() == "trend"]
    np.testing.assert_allclose(trend.get_xdata(), [1.0, 1 + 3.5 / 1.5])
    for bad in ((5, 1), "zero", (1,)):
        with pytest.raises(ValueError, match="limits"):
            sced_plot(df, limits=bad)


def test_every_outcome_column_has_a_y_label():
    import scedsim as ss
    from scedsim.plotting import sced_plot

    df = ss.datasets.load_burnout_example()
    fig = sced_plot(df, outcomes=["EE", "PA"])
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["EE", "PA"]
    fig = sced_plot(df, outcomes=["EE"])
    assert fig._supylabel.get_text() == "EE"


def test_plot_command_takes_limits(tmp_path, capsys):
    data = tmp_path / "d.csv"
    _three_point_fall().to_csv(data, index=False)
    for lim in ("1,12", "0,", "none", "auto"):
        assert cli.main(["plot", str(data), "--trend", "--limits", lim, "--out", str(tmp_path / "f.svg")]) == 0
    assert cli.main(["plot", str(data), "--limits", "1", "--out", str(tmp_path / "f.svg")]) == 2
    assert "--limits takes LOW,HIGH" in capsys.readouterr().err


# ------------------------------------------------------------------ report figures

def test_report_draws_every_contrast_and_keeps_rates_within_0_and_1(tmp_path, monkeypatch):
    import matplotlib.figure

    from scedsim.simulate import Study, run
    from scedsim.simulate.report import write_report

    monkeypatch.setenv("SCEDSIM_CACHE_DIR", str(tmp_path / "cache"))
    study = Study(design="A3 B2 C2", contrasts=["A:B", "A:C"], grid={"level": [0.0, 2.0]},
                  metrics=["nap", "ird"], n_cases=1, n_reps=100, block_size=100, seed=3, estimands=False,
                  rules=["ird >= 0.7"], name="two")
    run(study, out=tmp_path / "res", quiet=True)
    drawn = {}
    real = matplotlib.figure.Figure.savefig

    def save(fig, fname, *a, **kw):
        drawn[pathlib.Path(fname).name] = [ax.get_ylim() for ax in fig.axes if ax.axison]
        return real(fig, fname, *a, **kw)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", save)
    report = write_report(tmp_path / "res").read_text()
    for c in ("A-B", "A-C"):
        assert f"means_{c}.png" in report and f"rejections_{c}.png" in report
    assert "### contrast A:C" in report
    for name in ("rejections_A-B.png", "rejections_A-C.png"):
        for lo, hi in drawn[name]:
            assert 0.0 <= lo < hi <= 1.0


@pytest.mark.parametrize("command", ["_cmd_es", "_cmd_plot"])
def test_ctrl_c_in_any_command_is_one_line_and_exit_130(monkeypatch, capsys, command):
    """Ctrl-C during es or plot: one line and 130, not a KeyboardInterrupt traceback."""
    from scedsim import cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, command, interrupted)
    argv = {"_cmd_es": ["es", "data.csv"], "_cmd_plot": ["plot", "data.csv", "--out", "fig.png"]}[command]
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert err.strip() == "scedsim: interrupted" and "Traceback" not in err
