"""The command line at scale and under interruption: large tables, many panels,
big grids, Ctrl-C and kill -9 (issue 16, "hangs and crashes")."""
import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

import scedsim
from scedsim import cli

SRC = str(pathlib.Path(scedsim.__file__).resolve().parents[1])


def _table(n_cases, n_time=8, seed=0):
    """A wide table of n_cases x n_time, phases A (first half) and B."""
    rng = np.random.default_rng(seed)
    case = np.repeat([f"p{i:03d}" for i in range(n_cases)], n_time)
    sess = np.tile(np.arange(1, n_time + 1), n_cases)
    return pd.DataFrame({"case": case, "session": sess, "phase": np.where(sess <= n_time // 2, "A", "B"),
                         "EE": rng.normal(20, 5, n_cases * n_time).round(1)})


@pytest.fixture
def big_csv(tmp_path):
    path = tmp_path / "big.csv"
    _table(30).to_csv(path, index=False)
    return path


def test_es_cuts_a_long_table_and_says_where_the_rest_is(big_csv, tmp_path, capsys):
    out = tmp_path / "res.csv"
    assert cli.main(["es", str(big_csv), "--outcome", "EE", "--metrics", "nap,pnd", "--max-rows", "5",
                     "--out", str(out)]) == 0
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if re.match(r"p\d{3} ", line)]
    assert [r.split()[0] for r in rows] == ["p000", "p001", "p002", "p003", "p004"]
    assert f"... 25 more row(s) of 30 not shown; all rows in {out}" in text
    assert "Across cases" in text
    # The file has every case.
    assert pd.read_csv(out)["case"].nunique() == 30


def test_es_shows_every_row_up_to_the_default_limit_and_with_max_rows_0(big_csv, capsys):
    assert cli.MAX_ROWS >= 30
    for extra in ([], ["--max-rows", "0"]):
        assert cli.main(["es", str(big_csv), "--outcome", "EE", "--metrics", "nap", *extra]) == 0
        text = capsys.readouterr().out
        assert len([line for line in text.splitlines() if re.match(r"p\d{3} ", line)]) == 30
        assert "not shown" not in text


def test_es_cut_without_out_says_how_to_get_every_row(big_csv, capsys):
    assert cli.main(["es", str(big_csv), "--outcome", "EE", "--metrics", "nap", "--max-rows", "3"]) == 0
    assert "... 27 more row(s) of 30 not shown; --out FILE.csv writes them all" in capsys.readouterr().out


def test_es_quiet_prints_only_what_it_wrote(big_csv, tmp_path, capsys):
    out = tmp_path / "res.csv"
    assert cli.main(["es", str(big_csv), "--outcome", "EE", "--metrics", "nap", "--quiet",
                     "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert re.fullmatch(rf"wrote {re.escape(str(out))} \(30 rows\), "
                        rf"{re.escape(str(tmp_path / 'res_summary.csv'))} \(\d+ rows\)", text.strip())
    assert cli.main(["es", str(big_csv), "--outcome", "EE", "--quiet"]) == 2
    assert "--quiet prints no table, so it needs --out" in capsys.readouterr().err
    assert cli.main(["es", str(big_csv), "--outcome", "EE", "--max-rows", "-1"]) == 2


def test_format_cases_is_the_same_table_as_cell_by_cell_lookup():
    """The reshaped table holds, row by row, each case's estimate of each metric
    (a NaN estimate prints NA), whatever order the rows come in."""
    import scedsim as ss

    df = _table(7, seed=3)
    df.loc[df["case"] == "p002", "EE"] = 5.0     # constant series: some metrics are NA
    cases = ss.effect_sizes(df, outcomes=["EE"], metrics=["nap", "smd", "pnd"])
    shuffled = cases.sample(frac=1.0, random_state=2)
    text = cli.format_cases(shuffled)
    assert len(re.findall(r"(?m)^p\d{3} ", text)) == 7 and re.search(r"(?m)^p002 .* NA", text)
    for line in text.splitlines():
        m = re.match(r"(p\d{3}) +EE +higher(.*)", line)
        if not m:
            continue
        got = m.group(2).split()
        for metric, cell in zip(list(dict.fromkeys(shuffled["metric"])), got):
            v = cases[(cases["case"] == m.group(1)) & (cases["metric"] == metric)]["estimate"].item()
            assert cell == ("NA" if v != v else f"{v:.3f}")


# ------------------------------------------------------------------ simulate

def _proc_table():
    """{pid: (ppid, state)} of every process, from /proc (psutil is not a dependency)."""
    table = {}
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: split after it.
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(d.name)] = (int(fields[1]), fields[0])
    return table


def _descendants(pid):
    table = _proc_table()
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, (pp, _) in table.items() if pp == p]
        found.update(kids)
        todo.extend(kids)
    return found


def _alive(pids):
    table = _proc_table()
    return {p for p in pids if p in table and table[p][1] != "Z"}


SLOW_STUDY = """
    name = "slow"
    design = "A3 B4"
    n_cases = 6
    n_reps = 200000
    block_size = 200
    chunk_size = 200
    seed = 11
    estimands = false
    metrics = ["nap"]
    [grid]
    phi = [0.0, 0.3]
    """


@pytest.mark.skipif(not pathlib.Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_kill_9_of_simulate_leaves_no_workers(tmp_path):
    study = tmp_path / "slow.toml"
    study.write_text(textwrap.dedent(SLOW_STUDY))
    env = dict(os.environ, PYTHONPATH=SRC, SCEDSIM_CACHE_DIR=str(tmp_path / "cache"))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "scedsim.cli", "simulate", str(study), "--out", str(out),
                             "--n-jobs", "2", "--quiet"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        # Wait until both workers and the resource tracker exist, and the workers have
        # had time to start (kill -9 at any moment must work, but this is the case
        # that orphaned them: workers waiting for or running tasks).
        deadline = time.time() + 120
        while time.time() < deadline and len(_descendants(proc.pid)) < 3:
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        time.sleep(0.5)
        children = _descendants(proc.pid)
        assert len(children) >= 3, "no worker processes to orphan"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.time() + 10
    while _alive(children) and time.time() < deadline:
        time.sleep(0.1)
    left = _alive(children)
    for p in left:  # do not leave them running if the test fails
        os.kill(p, signal.SIGKILL)
    assert not left, f"{len(left)} process(es) outlived the killed parent"


SMALL_STUDY = """
    name = "small"
    design = "A3 B4"
    n_cases = 3
    n_reps = 600
    block_size = 100
    chunk_size = 100
    seed = 5
    estimands = false
    metrics = ["nap", "ird"]
    [grid]
    phi = [0.0, 0.5]
    """


def test_ctrl_c_is_one_line_exit_130_and_resume_finishes_bit_identically(tmp_path, monkeypatch, capsys):
    from scedsim.simulate import runner

    study = tmp_path / "small.toml"
    study.write_text(textwrap.dedent(SMALL_STUDY))
    monkeypatch.setenv("SCEDSIM_CACHE_DIR", str(tmp_path / "cache"))
    fresh, resumed = tmp_path / "fresh", tmp_path / "resumed"
    assert cli.main(["simulate", str(study), "--out", str(fresh), "--quiet"]) == 0

    real = runner._chunk_task
    calls = []

    def interrupted(*a, **kw):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(runner, "_chunk_task", interrupted)
    capsys.readouterr()
    assert cli.main(["simulate", str(study), "--out", str(resumed)]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last == (f"scedsim: interrupted; 4 finished chunk(s) kept in {resumed}/; continue with: "
                    f"scedsim simulate {study} --out {resumed} --resume")
    assert len(list((resumed / "chunks").glob("*.pkl"))) == 4
    monkeypatch.setattr(runner, "_chunk_task", real)
    assert cli.main(["simulate", str(study), "--out", str(resumed), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "4 chunk(s) done before, 8 to run" in err
    assert (resumed / "summary.csv").read_bytes() == (fresh / "summary.csv").read_bytes()


def test_simulate_says_its_size_first_and_the_time_left_early(tmp_path, monkeypatch, capsys):
    from scedsim.simulate import runner

    study = tmp_path / "small.toml"
    study.write_text(textwrap.dedent(SMALL_STUDY))
    monkeypatch.setenv("SCEDSIM_CACHE_DIR", str(tmp_path / "cache"))
    # Every chunk counts as past the pilot, so the estimate comes with the second one
    # (the rate is measured from the first on).
    monkeypatch.setattr(runner._Progress, "PILOT_SECONDS", 0.0)
    monkeypatch.setattr(runner._Progress, "MIN_LEFT_SECONDS", 0.0)
    assert cli.main(["simulate", str(study), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "scedsim: small: 2 condition(s) x 600 replications = 1,200 replications in 12 chunk(s)"
    assert re.fullmatch(r"scedsim: small: 2 of 12 chunks in \d+ s; about \d+ s left", err[1])
    assert cli.main(["simulate", str(study), "--out", str(tmp_path / "q"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------ plot

def test_plot_splits_many_cases_into_several_figures_with_a_warning(tmp_path, capsys):
    data = tmp_path / "seven.csv"
    _table(7, n_time=6).to_csv(data, index=False)
    out = tmp_path / "fig.png"
    assert cli.main(["plot", str(data), "--outcome", "EE", "--out", str(out), "--max-panels", "3",
                     "--dpi", "30"]) == 0
    cap = capsys.readouterr()
    assert "7 cases x 1 outcome(s) is more than --max-panels 3 panels: drawing 3 figures" in cap.err
    assert not out.exists()
    for k, n in ((1, 3), (2, 3), (3, 1)):
        path = tmp_path / f"fig_p{k:02d}.png"
        assert path.read_bytes()[1:4] == b"PNG"
        assert f"wrote {path} ({n} panels)" in cap.out


def test_plot_draws_the_cases_asked_for(tmp_path, capsys, monkeypatch):
    figs = []
    real = cli._save
    monkeypatch.setattr(cli, "_save", lambda fig, *a: (figs.append(fig), real(fig, *a)))
    data = tmp_path / "seven.csv"
    _table(7, n_time=6).to_csv(data, index=False)
    out = tmp_path / "fig.png"
    assert cli.main(["plot", str(data), "--outcome", "EE", "--out", str(out), "--max-panels", "3",
                     "--cases", "p005,p001", "--dpi", "30"]) == 0
    cap = capsys.readouterr()
    assert cap.err == "" and f"wrote {out} (2 panels)" in cap.out
    assert [t.get_text() for ax in figs[0].axes for t in ax.texts if t.get_text().startswith("p")] == ["p005", "p001"]
    assert cli.main(["plot", str(data), "--outcome", "EE", "--out", str(out), "--cases", "p009"]) == 2
    assert "--cases names 'p009', which is not a case" in capsys.readouterr().err
    assert cli.main(["plot", str(data), "--outcome", "EE", "--out", str(out), "--max-panels", "0"]) == 2
    assert cli.main(["plot", str(data), "--outcome", "EE", "--out", str(tmp_path / "no" / "f.png")]) == 2
    assert "of --out does not exist" in capsys.readouterr().err
