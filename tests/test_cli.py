"""The scedsim command: es, plot and demo, end to end."""
import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import scedsim as ss
from scedsim import cli
from scedsim.datasets import BURNOUT_SCALES, make_burnout_example

SRC = str(pathlib.Path(ss.__file__).resolve().parents[1])
DIRECTIONS = {k: v[2] for k, v in BURNOUT_SCALES.items()}
GOAL = 30.5  # --goal for every outcome: with it "--metrics all" is every metric


def run(*args, cwd):
    """Run the command as a user would, against this checkout's code."""
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-m", "scedsim.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A long CSV that is not in the repository: another seed, other column names, rows shuffled."""
    d = tmp_path_factory.mktemp("study")
    df = make_burnout_example(seed=7).rename(columns={"case": "participant", "session": "occasion",
                                                      "outcome": "scale", "value": "score"})
    df = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    df.to_csv(d / "long.csv", index=False)
    wide = df.pivot_table(index=["participant", "occasion", "phase"], columns="scale",
                          values="score").reset_index()
    wide.to_csv(d / "data.csv", index=False)
    return d, df, wide


def test_es_end_to_end_reproduces_the_single_series_functions(study):
    d, df, _ = study
    r = run("es", "long.csv", "--case", "participant", "--session", "occasion", "--outcome-column", "scale",
            "--value", "score", "--outcome", "EE,DP,PA,QoL", "--decrease", "EE,DP", "--metrics", "all",
            "--contrast", "A:B,A:C,A:B+C", "--out", "results.csv", "--json", "--goal", GOAL, cwd=d)
    assert r.returncode == 0, r.stderr
    assert "Effect sizes, phase A vs B" in r.stdout and "Across cases" in r.stdout
    # 6 cases x 4 outcomes x 3 contrasts, one row per registered metric.
    assert f"wrote results.csv ({72 * len(ss.registry.metric_names())} rows)" in r.stdout
    out = pd.read_csv(d / "results.csv", keep_default_na=False, na_values=[""])
    assert len(out) == 3 * 4 * 6 * len(ss.registry.metric_names())
    assert list(out.columns) == ["case", "outcome", "contrast", "metric", "estimate", "se", "ci_lower",
                                 "ci_upper", "n_a", "n_b", "improvement", "notes"]
    comp = {"A:B": ["B"], "A:C": ["C"], "A:B+C": ["B", "C"]}
    for row in out.itertuples():
        s = df[(df["participant"] == row.case) & (df["scale"] == row.outcome)].sort_values("occasion")
        a = s.loc[s["phase"] == "A", "score"].to_numpy(float)
        b = s.loc[s["phase"].isin(comp[row.contrast]), "score"].to_numpy(float)
        want = getattr(ss, row.metric)(a, b, improvement=DIRECTIONS[row.outcome],
                                       **({"goal": GOAL} if "goal" in ss.get_metric(row.metric).required else {}))
        # CSV keeps 17 significant digits: the values round-trip.
        np.testing.assert_allclose([row.estimate, row.se, row.ci_lower, row.ci_upper],
                                   [want.estimate, want.se, want.ci_lower, want.ci_upper],
                                   rtol=1e-15, atol=0, equal_nan=True)
    summary = pd.read_csv(d / "results_summary.csv")
    assert set(summary["method"]) == {"mean", "median", "random effects (DL)", "inverse-variance (fixed effect)",
                                      "between-person t-test", "pooled counts"}
    js = json.loads((d / "results.json").read_text())
    assert len(js["effect_sizes"]) == len(out) and len(js["summary"]) == len(summary)
    assert js["effect_sizes"][1]["metric"] == "tau" and js["effect_sizes"][2]["se"] is None


def test_es_on_a_wide_table_as_in_the_issue(study):
    d, _, wide = study
    r = run("es", "data.csv", "--case", "participant", "--session", "occasion", "--phase", "phase",
            "--outcome", "EE,DP,PA", "--decrease", "EE,DP", "--out", "wide_results.csv", cwd=d)
    assert r.returncode == 0, r.stderr
    got = pd.read_csv(d / "wide_results.csv", keep_default_na=False, na_values=[""])
    want = ss.effect_sizes(wide, case="participant", session="occasion", outcomes=["EE", "DP", "PA"],
                           improvement={"EE": "decrease", "DP": "decrease", "PA": "increase"})
    np.testing.assert_allclose(got["estimate"], want["estimate"], rtol=1e-15, equal_nan=True)
    assert list(got["metric"].unique()) == list(ss.registry.default_metrics())


@pytest.mark.parametrize("args, message", [
    (["es", "data.csv", "--case", "who", "--outcome", "EE"], "column 'who' (case) not found"),
    (["es", "text.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE"],
     "outcome column 'EE' holds text 'seven' at case 'P1', session 2"),
    (["es", "data.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE",
      "--contrast", "A:X"], "unknown phase label 'X' in contrast 'A:X'; column 'phase' holds: A, B, C"),
    (["plot", "nofile.csv", "--out", "x.png"], "no such file: 'nofile.csv'"),
])
def test_bad_input_gives_one_line_and_no_traceback(study, args, message):
    d, _, wide = study
    t = wide.astype({"EE": object})
    t.loc[(t["participant"] == "P1") & (t["occasion"] == 2), "EE"] = "seven"
    t.to_csv(d / "text.csv", index=False)
    r = run(*args, cwd=d)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scedsim: error: ")
    assert message in lines[0]


@pytest.mark.parametrize("args, message", [
    (["es", "data.csv", "--case", "participant", "--session", "occasion"],
     "no column 'outcome' naming the outcome; for a wide table list its score columns with --outcome"),
    (["es", "data.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE",
      "--decrease", "DP"], "--decrease names 'DP', which is not an outcome"),
    (["es", "data.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE,XX"],
     "outcome column 'XX' not found"),
    (["es", "data.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE",
      "--metrics", "nap,foo"], "unknown metric 'foo'"),
    (["es", "data.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE",
      "--out", "r.txt"], "--out must name a .csv file"),
    (["es", "data.xyz", "--outcome", "EE"], "unknown file type '.xyz'"),
    (["es", "empty.csv", "--outcome", "EE"], "'empty.csv' is empty"),
    (["es", "header.csv", "--outcome", "EE"], "the table has no rows"),
    (["plot", "data.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE",
      "--out", "f.jpg"], "--out must end in .png, .svg, .pdf"),
    (["plot", "data.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE",
      "--width", "3", "--out", "f.png"], "give both --width and --height"),
    (["plot", "data.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE",
      "--width", "0", "--height", "0", "--out", "f.png"], "--width must be a positive number of inches, got 0"),
    (["plot", "data.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE",
      "--width", "4", "--height", "-1", "--out", "f.png"], "--height must be a positive number of inches"),
    (["plot", "data.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE",
      "--trend", "--baseline", "Z", "--out", "f.png"],
     "baseline phase 'Z' (for the trend) not found in column 'phase'; it holds: A, B, C"),
])
def test_more_bad_input_in_process(study, monkeypatch, capsys, args, message):
    d, _, _ = study
    monkeypatch.chdir(d)
    (d / "data.xyz").write_text("x")
    (d / "empty.csv").write_text("")
    (d / "header.csv").write_text("case,session,phase,EE\n")
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_missing_values_and_missing_phases(study, monkeypatch, capsys):
    d, _, wide = study
    monkeypatch.chdir(d)
    t = wide.copy()
    t.loc[(t["participant"] == "P2") & (t["occasion"] == 4), "EE"] = np.nan
    t = t[~((t["participant"] == "P3") & (t["phase"] == "A"))]
    t.to_csv("holes.csv", index=False)
    base = ["es", "holes.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE",
            "--metrics", "nap,pnd"]
    assert cli.main(base) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("scedsim: error: missing value for outcome 'EE' at case 'P2', session 4; "
                   "pass missing='drop' (command line: --missing drop) to leave it out")
    assert cli.main(base + ["--missing", "drop", "--out", "holes_out.csv"]) == 0
    cap = capsys.readouterr()
    assert cap.err.startswith("scedsim: warning: dropped 1 missing value(s) (outcome 'EE', case 'P2', session 4)")
    assert "no phase 'A' for this case [P3 EE A:B; NAP, PND]" in cap.out
    out = pd.read_csv("holes_out.csv", keep_default_na=False, na_values=[""]).set_index(["case", "metric"])
    assert math.isnan(out.loc[("P3", "nap"), "estimate"])
    assert out.loc[("P3", "nap"), "notes"] == "no phase 'A' for this case"
    assert out.loc[("P2", "pnd"), "notes"] == "missing value dropped at session 4"
    assert out.loc[("P2", "pnd"), "n_b"] == 1


def test_tsv_excel_and_json_to_stdout(study, monkeypatch, capsys):
    d, _, wide = study
    monkeypatch.chdir(d)
    wide.to_csv("data.tsv", sep="\t", index=False)
    wide.to_csv("semicolon.csv", sep=";", index=False)
    args = ["--case", "participant", "--session", "occasion", "--outcome", "PA", "--metrics", "nap", "--json"]
    assert cli.main(["es", "data.tsv", *args]) == 0
    from_tsv = json.loads(capsys.readouterr().out)
    assert len(from_tsv["effect_sizes"]) == 6
    assert cli.main(["es", "semicolon.csv", *args]) == 0
    assert json.loads(capsys.readouterr().out) == from_tsv
    # Without an Excel reader: a one-line message saying what to install.
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    (d / "data.xlsx").write_bytes(b"not really")
    assert cli.main(["es", "data.xlsx", *args]) == 2
    err = capsys.readouterr().err
    assert "needs the package openpyxl: pip install openpyxl" in err and len(err.strip().splitlines()) == 1


def test_excel_reads_as_tsv(study, openpyxl, monkeypatch, capsys):
    d, _, wide = study
    monkeypatch.chdir(d)
    wide.to_csv("data.tsv", sep="\t", index=False)
    wide.to_excel("data.xlsx", index=False)
    args = ["--case", "participant", "--session", "occasion", "--outcome", "PA", "--metrics", "nap", "--json"]
    assert cli.main(["es", "data.tsv", *args]) == 0
    from_tsv = json.loads(capsys.readouterr().out)
    assert cli.main(["es", "data.xlsx", *args]) == 0
    assert json.loads(capsys.readouterr().out) == from_tsv


@pytest.mark.parametrize("content", [b"x\n", "zip"])
def test_a_corrupt_excel_file_is_one_line(study, openpyxl, monkeypatch, capsys, content):
    import zipfile

    d, _, _ = study
    monkeypatch.chdir(d)
    if content == "zip":   # a zip archive, but not a workbook
        with zipfile.ZipFile("bad.xlsx", "w") as z:
            z.writestr("hello.txt", "hi")
    else:
        (d / "bad.xlsx").write_bytes(content)
    with pytest.raises(ValueError, match=r"^cannot read 'bad.xlsx' as an Excel workbook: "):
        ss.io.read_table("bad.xlsx")
    assert cli.main(["es", "bad.xlsx", "--outcome", "EE"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("scedsim: error: cannot read 'bad.xlsx' as an Excel workbook: ")


def test_es_refuses_to_write_over_its_input(study, monkeypatch, capsys):
    d, _, wide = study
    monkeypatch.chdir(d)
    wide.to_csv("in.csv", index=False)
    wide.to_csv("res_summary.csv", index=False)
    before = {f: (d / f).read_bytes() for f in ("in.csv", "res_summary.csv")}
    args = ["--case", "participant", "--session", "occasion", "--outcome", "EE", "--metrics", "nap"]
    for data, out, message in (("in.csv", "in.csv", "--out would overwrite the input file 'in.csv'"),
                               ("in.csv", "./sub/../in.csv", "--out would overwrite the input file"),
                               ("res_summary.csv", "res.csv",
                                "the summary of --out would overwrite the input file 'res_summary.csv'")):
        (d / "sub").mkdir(exist_ok=True)
        assert cli.main(["es", data, *args, "--out", out]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert {f: (d / f).read_bytes() for f in before} == before
    assert not (d / "in_summary.csv").exists() and not (d / "res.csv").exists()


def test_blanks_around_labels_do_not_drop_sessions(study, monkeypatch, capsys):
    d, df, _ = study
    monkeypatch.chdir(d)
    messy = df.copy()
    messy.loc[messy["phase"] == "B", "phase"] = "B "
    messy["scale"] = messy["scale"] + " "
    messy.to_csv("messy.csv", index=False)
    args = ["--case", "participant", "--session", "occasion", "--outcome-column", "scale", "--value", "score",
            "--decrease", "EE,DP", "--metrics", "nap,pnd", "--json"]
    assert cli.main(["es", "messy.csv", *args]) == 0
    got = json.loads(capsys.readouterr().out)
    assert cli.main(["es", "long.csv", *args]) == 0
    assert got == json.loads(capsys.readouterr().out)
    assert {r["n_b"] for r in got["effect_sizes"]} == {2}


def test_summary_header_gives_the_confidence_level(study, monkeypatch, capsys):
    d, _, _ = study
    monkeypatch.chdir(d)
    args = ["es", "data.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE",
            "--metrics", "nap"]
    assert cli.main(args + ["--confidence", "0.8"]) == 0
    out = capsys.readouterr().out
    assert "weighted [80% CI]" in out and "95%" not in out
    assert cli.main(args) == 0
    assert "weighted [95% CI]" in capsys.readouterr().out


def test_plot_writes_a_figure(study):
    d, _, _ = study
    r = run("plot", "data.csv", "--case", "participant", "--session", "occasion", "--outcome", "EE,PA",
            "--trend", "--width", "6", "--height", "7", "--dpi", "50", "--out", "figure.png", cwd=d)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "wrote figure.png (12 panels)"
    png = (d / "figure.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert int.from_bytes(png[16:20], "big") == 300 and int.from_bytes(png[20:24], "big") == 350


def test_demo_runs_and_writes_its_figure(tmp_path, monkeypatch):
    # By default in the temporary folder, not the current one (a checkout, after README's install).
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    r = run("demo", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("scedsim demo: SYNTHETIC data")
    assert "Across cases, phase A vs C" in r.stdout
    assert f"figure: {tmp / 'scedsim_demo.png'} (EE, DP and PA" in r.stdout
    assert (tmp / "scedsim_demo.png").stat().st_size > 10_000
    assert not (tmp_path / "scedsim_demo.png").exists()
    r = run("demo", "--out", "d.svg", cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "d.svg").read_text().lstrip().startswith("<?xml")


def test_help_lists_every_subcommand_with_an_example(capsys):
    parser = cli.build_parser()
    names = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for name in names:
        assert f"\n  scedsim {name}" in text, name
        assert name in text.split("examples:")[0]
    for name, example in (("es", "data.csv"), ("plot", "data.csv"), ("simulate", "simulations/null_3x4.toml"),
                          ("report", "results/null")):
        with pytest.raises(SystemExit):
            cli.main([name, "--help"])
        assert f"scedsim {name} {example}" in capsys.readouterr().out


def test_es_weighting_and_tau2_reach_the_summary(study):
    d, df, _ = study
    r = run("es", "long.csv", "--case", "participant", "--session", "occasion", "--outcome-column", "scale",
            "--value", "score", "--outcome", "EE,PA", "--decrease", "EE", "--metrics", "nap,smd",
            "--weighting", "nA, 1/nA+1/nB", "--tau2", "REML", "--out", "w.csv", cwd=d)
    assert r.returncode == 0, r.stderr
    assert "REML tau^2" in r.stdout and "weighted mean (1/nA+1/nB)" in r.stdout
    summary = pd.read_csv(d / "w_summary.csv")
    methods = set(summary["method"])
    assert {"weighted mean (nA)", "weighted mean (1/nA+1/nB)", "random effects (REML)"} <= methods
    assert "random effects (DL)" not in methods
    r = run("es", "long.csv", "--case", "participant", "--session", "occasion", "--outcome-column", "scale",
            "--value", "score", "--outcome", "EE", "--weighting", "nC", cwd=d)
    assert r.returncode == 2 and "unknown weighting 'nC'" in r.stderr


def test_bcsmd_subcommand(tmp_path, capsys):
    from scedsim.testing import reference_cases

    raw = reference_cases("mb_sets_data")
    d = raw[raw.set_id == "mb_001"].rename(columns={"case": "id", "time": "day", "treatment": "cond"})
    d[["id", "day", "cond", "outcome"]].to_csv(tmp_path / "mb.csv", index=False)
    args = ["bcsmd", str(tmp_path / "mb.csv"), "--case", "id", "--session", "day", "--phase", "cond",
            "--baseline", "baseline", "--treatment", "treatment"]
    assert cli.main(args + ["--method", "both"]) == 0
    out = capsys.readouterr().out
    assert "5 cases, 100 observations" in out
    assert "hps      -0.0259" in out and "reml     -0.1125" in out
    assert cli.main(args + ["--json"]) == 0
    import json

    (r,) = json.loads(capsys.readouterr().out)
    assert abs(r["estimate"] - -0.025919962593124287) < 1e-12 and r["method"] == "hps"
    assert cli.main(args[:2]) == 2   # default column names are missing
    assert "no column" in capsys.readouterr().err
