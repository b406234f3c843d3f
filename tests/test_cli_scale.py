"""The command line at scale and under interruption: large tables, many panels,
big grids, Ctrl-C and kill -9 (issue 16, "hangs and crashes")."""
import re

import numpy as np
import pandas as pd
import pytest

from scedsim import cli


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
