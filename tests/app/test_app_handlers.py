"""The app's request handlers through Flask's test client: the numbers on each page
are the library's, the shown code and command give the same numbers, and bad
input becomes a message on the page."""
import io
import math
import re
import sys

import numpy as np
import pandas as pd
import pytest
from helpers_app import (BURNOUT_DECREASE, PVD_A, PVD_B, code_block, effect_rows, errors, fmt, need,
                         null_table)

import scedsim as ss
from scedsim.cli import ab_rows, main


@pytest.fixture(scope="module")
def client():
    need("flask", "app")
    from scedsim.app import create_app

    app = create_app()
    return app.test_client()


def _vals(text):
    return np.array([float(v) for v in text.split()])


@pytest.fixture(scope="module")
def pvd_page(client):
    r = client.post("/single", data={"a": PVD_A, "b": PVD_B, "direction": "increase"})
    assert r.status_code == 200
    return r.get_data(as_text=True)


def test_single_series_numbers_are_the_librarys(pvd_page):
    rows = effect_rows(pvd_page)
    a, b = _vals(PVD_A), _vals(PVD_B)
    # Parker, Vannest & Davis (2011): NAP = 38.5/42, Tau = 35/42, PND = 5/7.
    assert rows["NAP"][0] == fmt(38.5 / 42) == "0.9167"
    assert rows["Tau"][0] == fmt(35 / 42)
    assert rows["PND"][0] == fmt(5 / 7)
    checked = 0
    for label, entry, kw in ab_rows():
        if entry.required:
            assert label not in rows  # PoGO needs a goal: a message, not numbers
            continue
        r = entry.func(a, b, improvement="increase", **kw)
        est, se, ci, _ = rows[label]
        assert est == fmt(r.estimate) and se == fmt(r.se), label
        if r.ci_lower == r.ci_lower:
            assert ci == f"[{fmt(r.ci_lower)}, {fmt(r.ci_upper)}]", label
        checked += 1
    assert checked >= 15


def test_single_series_null_distribution_3_plus_4(client):
    """IRD takes 1/8, 5/12, 17/24, 1 in 14, 14, 6, 1 of the 35 arrangements; NAP's tail is 1/35."""
    page = client.post("/single", data={"a": "1 2 3", "b": "4 5 6 7", "direction": "increase"}).get_data(
        as_text=True)
    assert null_table(page, "IRD (robust)") == [("0.1250 = 1/8", "14/35"), ("0.4167 = 5/12", "14/35"),
                                                ("0.7083 = 17/24", "6/35"), ("1.0000", "1/35")]
    rows = effect_rows(page)
    assert rows["NAP"][3] == "1/35" and rows["IRD (robust)"][3] == "1/35"
    nap = null_table(page, "NAP")
    assert sum(int(c.split("/")[0]) for _, c in nap) == 35 and nap[-1] == ("1.0000", "1/35")
    assert "1/35 = 0.0286" in page


def test_null_distribution_is_the_permutation_distribution(client):
    """With ties the counts are those of the user's own values, as the exact permutation test's."""
    from scedsim.inference import permutation_test

    page = client.post("/single", data={"a": PVD_A, "b": PVD_B}).get_data(as_text=True)
    p = permutation_test(_vals(PVD_A), _vals(PVD_B), statistic="nap", method="exact").pvalue
    k, total = effect_rows(page)["NAP"][3].split("/")
    assert int(total) == math.comb(13, 6) and int(k) == round(p * int(total))


def test_direction_decrease(client):
    page = client.post("/single", data={"a": "5 6 7", "b": "1 2 3 4", "direction": "decrease"}).get_data(
        as_text=True)
    assert effect_rows(page)["NAP"][0] == "1.0000"
    assert "--decrease" in code_block(page, "cli-command")


def test_single_series_code_and_command_reproduce_the_page(pvd_page, capsys):
    rows = effect_rows(pvd_page)
    ns = {}
    exec(code_block(pvd_page, "python-code"), ns)  # the code the page shows
    assert set(ns["results"]) == {k for k in rows}
    for label, r in ns["results"].items():
        assert (fmt(r.estimate), fmt(r.se)) == rows[label][:2], label
    capsys.readouterr()
    command = code_block(pvd_page, "cli-command")
    import shlex

    args = shlex.split(command)
    assert args[:2] == ["scedsim", "ab"]
    assert main(args[1:]) == 0
    out = capsys.readouterr().out
    for label, (est, se, _, _) in rows.items():
        line = next(ln for ln in out.splitlines() if ln.startswith(label + " "))
        assert line.split()[len(label.split())] == est, label


@pytest.mark.parametrize("a,b,message", [
    ("1 NA 3", "4 5", "phase A has a missing value"),
    ("", "4 5", "phase A is empty"),
    ("1 2", "4 x", "phase B: 'x' is not a number"),
])
def test_single_series_bad_input_is_a_message(client, a, b, message):
    r = client.post("/single", data={"a": a, "b": b})
    assert r.status_code == 400
    assert any(message in e for e in errors(r.get_data(as_text=True)))


def test_short_series_warns_and_keeps_going(client):
    r = client.post("/single", data={"a": "3", "b": "5 6"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Very short series" in page
    assert effect_rows(page)["NAP"][0] == "1.0000"
    assert "not defined here" in page  # e.g. SMD needs 2 baseline points


# ------------------------------------------------------------------ study table

def _upload(client, endpoint, name, data):
    r = client.post(endpoint, data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")
    if r.status_code != 302:
        return r, None
    token = re.search(r"token=(\w+)", r.location).group(1)
    return client.get(r.location), token


BURNOUT_FORM = {"case": "case", "session": "session", "phase": "phase", "layout": "long",
                "outcome_column": "outcome", "value": "value", "decrease": BURNOUT_DECREASE,
                "contrasts": "A:B,A:C", "metrics": ["nap", "tau", "ird", "smd"], "tau2": "DL",
                "confidence": "0.95", "missing": "error", "action": "run"}


def _burnout():
    """Four of the six people and three of the five scales: a smaller figure, the same paths."""
    df = ss.datasets.load_burnout_example()
    return df[df.case.isin(["P1", "P2", "P3", "P4"]) & df.outcome.isin(["EE", "DP", "PA"])]


@pytest.fixture(scope="module")
def burnout_study(client):
    csv = _burnout().to_csv(index=False).encode()
    r, token = _upload(client, "/study", "burnout.csv", csv)
    assert r.status_code == 200 and token
    page = r.get_data(as_text=True)
    # The mapping is guessed from the column names; the outcomes can be marked lower-is-better.
    assert 'id="decrease-EE"' in page and 'selected>outcome</option>' in page
    r = client.post("/study", data=dict(BURNOUT_FORM, token=token))
    assert r.status_code == 200, errors(r.get_data(as_text=True))
    return token, csv, r.get_data(as_text=True)


def _download(client, page, ident):
    href = re.search(rf'id="{ident}" href="([^"]+)"', page).group(1)
    r = client.get(href)
    assert r.status_code == 200
    return r.data


def test_study_download_equals_scedsim_es(client, burnout_study, tmp_path, capsys):
    _, csv, page = burnout_study
    (tmp_path / "burnout.csv").write_bytes(csv)
    command = code_block(page, "cli-command")
    import shlex

    args = shlex.split(command)
    assert args[:3] == ["scedsim", "es", "burnout.csv"] and args[-2:] == ["--out", "results.csv"]
    args[2] = str(tmp_path / "burnout.csv")
    args[-1] = str(tmp_path / "results.csv")
    assert main(args[1:]) == 0
    capsys.readouterr()
    assert _download(client, page, "dl-csv") == (tmp_path / "results.csv").read_bytes()
    assert _download(client, page, "dl-summary") == (tmp_path / "results_summary.csv").read_bytes()


def test_study_page_numbers_are_the_librarys(burnout_study):
    _, _, page = burnout_study
    res = ss.effect_sizes(_burnout(), contrast=["A:B", "A:C"], metrics=["nap", "tau", "ird", "smd"],
                          improvement={"EE": "decrease", "DP": "decrease", "PA": "increase"})
    shown = 0
    for r in res.itertuples():
        row = re.search(rf'<tr data-key="{r.contrast}\|{r.outcome}\|{r.case}">(.*?)</tr>', page, re.S).group(1)
        cell = re.search(rf'<td data-metric="{r.metric}">([^<]*)</td>', row).group(1)
        assert cell == fmt(r.estimate), (r.case, r.outcome, r.contrast, r.metric)
        shown += 1
    assert shown == 4 * 3 * 2 * 4


def test_study_shown_python_reproduces_the_downloads(client, burnout_study, tmp_path, monkeypatch):
    _, csv, page = burnout_study
    (tmp_path / "burnout.csv").write_bytes(csv)
    monkeypatch.chdir(tmp_path)
    exec(code_block(page, "python-code"), {})
    assert (tmp_path / "results.csv").read_bytes() == _download(client, page, "dl-csv")
    assert (tmp_path / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_study_downloads_are_valid_files(client, burnout_study, openpyxl):
    _, _, page = burnout_study
    assert _download(client, page, "dl-png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert _download(client, page, "dl-pdf")[:5] == b"%PDF-"
    assert b"<svg" in _download(client, page, "dl-svg")[:1000]
    book = pd.read_excel(io.BytesIO(_download(client, page, "dl-xlsx")), sheet_name=None)
    assert list(book) == ["cases", "summary"]
    cases = pd.read_csv(io.BytesIO(_download(client, page, "dl-csv")))
    pd.testing.assert_frame_equal(book["cases"], cases, check_dtype=False)


def test_excel_upload_with_sheet_choice(client, openpyxl):
    df = ss.datasets.load_pvd2011()
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        pd.DataFrame({"note": ["read me"]}).to_excel(xw, sheet_name="about", index=False)
        df.to_excel(xw, sheet_name="data", index=False)
    r, token = _upload(client, "/study", "study.xlsx", buf.getvalue())
    assert r.status_code == 200 and 'id="sheet"' in r.get_data(as_text=True)
    form = dict(BURNOUT_FORM, token=token, sheet="data", decrease=[], contrasts="A:B", metrics=["nap"])
    r = client.post("/study", data=form)
    page = r.get_data(as_text=True)
    assert r.status_code == 200, errors(page)
    assert re.search(r'<td data-metric="nap">0.9167</td>', page)
    assert "sheet_name='data'" in code_block(page, "python-code")
    r = client.post("/study", data=dict(form, sheet="nope"))
    assert r.status_code == 400 and "no sheet 'nope'" in errors(r.get_data(as_text=True))[0]


@pytest.mark.parametrize("name,data,message", [
    ("broken.xlsx", b"this is not a workbook", "cannot read broken.xlsx"),
    ("notes.pdf", b"%PDF-1.4", "unknown file type"),
    ("empty.csv", b"", "empty.csv is empty"),
    ("one.csv", b"just one column\n1\n2\n", "has no table"),
])
def test_malformed_uploads_are_messages(client, name, data, message):
    r, token = _upload(client, "/study", name, data)
    assert token is None and r.status_code == 400
    assert any(message in e for e in errors(r.get_data(as_text=True))), errors(r.get_data(as_text=True))
    assert client.get("/study").status_code == 200  # and the app keeps working


def test_bad_mapping_and_missing_values_are_messages(client):
    df = ss.datasets.load_pvd2011()
    df.loc[3, "value"] = np.nan
    r, token = _upload(client, "/study", "gap.csv", df.to_csv(index=False).encode())
    form = dict(BURNOUT_FORM, token=token, decrease=[], contrasts="A:B", metrics=["nap"])
    r = client.post("/study", data=form)
    assert r.status_code == 400 and "missing" in errors(r.get_data(as_text=True))[0]
    r = client.post("/study", data=dict(form, missing="drop"))
    assert r.status_code == 200
    assert "dropped" in r.get_data(as_text=True)
    r = client.post("/study", data=dict(form, value="case"))
    assert r.status_code == 400 and errors(r.get_data(as_text=True))
    r = client.post("/study", data=dict(form, token="forgotten"))
    assert r.status_code == 400 and "upload it again" in errors(r.get_data(as_text=True))[0]
    assert client.get("/download/nothing/results.csv").status_code == 404


# ------------------------------------------------------------------------ tests

def test_tests_page_smallest_p_first_and_reproduced(client, burnout_study):
    token = burnout_study[0]
    form = dict(BURNOUT_FORM, token=token, test_outcome="EE", statistic="nap", alternative="greater",
                min_phase="2")
    r = client.post("/tests", data=form)
    page = r.get_data(as_text=True)
    assert r.status_code == 200, errors(page)
    head = re.search(r'<table id="test-results"><thead><tr>(.*?)</tr>', page).group(1)
    assert re.findall(r"<th>([^<]*)</th>", head)[2:4] == ["smallest attainable p", "p"]
    ns = {}
    code = code_block(page, "python-code")
    assert "df = ss.io.read_table('burnout.csv', text=('case', 'phase', 'outcome'))" in code
    ns["burnout"] = _burnout
    exec(code.replace("df = ss.io.read_table('burnout.csv', text=('case', 'phase', 'outcome'))",
                      "df = burnout()"), ns)
    # Phases A B C: per person the permutation and the AB randomization test (C left out),
    # across people the multiple-baseline test and three between-person tests.
    assert len(ns["results"]) == 4 + 4 + 1 + 3
    for (who, test), res in ns["results"].items():
        row = re.search(rf'<tr data-key="{who}\|{test}"[^>]*>(.*?)</tr>', page, re.S).group(1)
        assert re.search(r'class="minp">([^<]*)<', row).group(1) == fmt(res.min_pvalue)
        assert re.search(r'class="p">([^<]*)<', row).group(1) == fmt(res.pvalue)
    # Independently of the shown code: the library's exact test of P1's EE (lower is better).
    from scedsim.inference import permutation_test

    s = ss.datasets.load_burnout_example().query("case == 'P1' and outcome == 'EE'")
    ref = permutation_test(s.value[s.phase == "A"].to_numpy(float), s.value[s.phase == "B"].to_numpy(float),
                           statistic="nap", improvement="decrease")
    assert ns["results"][("P1", "exact permutation")].pvalue == ref.pvalue


def test_tests_page_ab_randomization_for_one_series(client):
    r, token = _upload(client, "/tests", "pvd.csv", ss.datasets.load_pvd2011().to_csv(index=False).encode())
    form = dict(BURNOUT_FORM, token=token, decrease=[], test_outcome="score", statistic="mean_diff",
                alternative="greater", min_phase="3")
    page = client.post("/tests", data=form).get_data(as_text=True)
    from scedsim.inference import randomization_test

    ref = randomization_test(_vals(PVD_A), _vals(PVD_B), min_phase=3)
    row = re.search(r'<tr data-key="PVD2011\|randomization AB"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'class="minp">([^<]*)<', row).group(1) == fmt(1 / 8)  # 8 admissible start points
    assert re.search(r'class="p">([^<]*)<', row).group(1) == fmt(ref.pvalue)


def test_tests_page_abab(client):
    """Two ABAB series of 12 points: 35 admissible cuts each (Onghena 1992), no multiple-baseline test."""
    from scedsim.inference import abab_test

    y = [1.0, 2, 1, 5, 6, 5, 2, 1, 2, 6, 5, 7]
    df = pd.DataFrame({"id": ["c1"] * 12 + ["c2"] * 12, "day": list(range(1, 13)) * 2,
                       "cond": list("AAABBBAAABBB") * 2, "y": y + y[::-1][6:] + y[::-1][:6]})
    r, token = _upload(client, "/tests", "abab.csv", df.to_csv(index=False).encode())
    form = {"token": token, "case": "id", "session": "day", "phase": "cond", "layout": "wide",
            "outcomes": ["y"], "test_outcome": "y", "statistic": "mean_diff", "alternative": "greater",
            "min_phase": "2", "action": "run"}
    page = client.post("/tests", data=form).get_data(as_text=True)
    assert not errors(page)
    ref = abab_test([np.array(y[0:3]), np.array(y[3:6]), np.array(y[6:9]), np.array(y[9:12])])
    row = re.search(r'<tr data-key="c1\|randomization ABAB"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'class="minp">([^<]*)<', row).group(1) == fmt(1 / 35) == fmt(ref.min_pvalue)
    assert re.search(r'class="p">([^<]*)<', row).group(1) == fmt(ref.pvalue)
    assert "multiple baseline" not in page.split('id="test-results"')[1].split("</table>")[0]
    r = client.post("/tests", data=dict(form, min_phase="5"))
    assert r.status_code == 400 and "min_phase=5" in errors(r.get_data(as_text=True))[0]


def test_long_series_skip_the_listing(client):
    r = client.post("/single", data={"a": " ".join(map(str, range(10))), "b": " ".join(map(str, range(3, 15)))})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "too many to list" in page
    assert effect_rows(page)["NAP"][0] == fmt(ss.nap(np.arange(10.0), np.arange(3.0, 15)).estimate)


def test_bundled_example_and_its_code(client, monkeypatch, tmp_path):
    r = client.post("/study", data={"example": "pvd2011"})
    token = re.search(r"token=(\w+)", r.location).group(1)
    form = dict(BURNOUT_FORM, token=token, decrease=[], contrasts="A:B", metrics=["nap", "pnd"])
    page = client.post("/study", data=form).get_data(as_text=True)
    assert re.search(r'<td data-metric="nap">0.9167</td>', page)
    code = code_block(page, "python-code")
    assert "df = ss.datasets.load_pvd2011()" in code
    monkeypatch.chdir(tmp_path)
    exec(code, {})
    assert (tmp_path / "results.csv").read_bytes() == _download(client, page, "dl-csv")
    assert "scedsim es pvd2011.csv" in code_block(page, "cli-command") and "save the example first" in page


def test_pogo_goal_through_the_page_and_the_command(client, burnout_study, tmp_path, capsys):
    token, csv, _ = burnout_study
    form = dict(BURNOUT_FORM, token=token, contrasts="A:B", metrics=["pogo"], goal="")
    r = client.post("/study", data=form)
    assert r.status_code == 400 and "needs a goal" in errors(r.get_data(as_text=True))[0]
    r = client.post("/study", data=dict(form, goal="EE=10, DP=5, PA=40"))
    page = r.get_data(as_text=True)
    assert r.status_code == 200, errors(page)
    import shlex

    (tmp_path / "burnout.csv").write_bytes(csv)
    args = shlex.split(code_block(page, "cli-command"))
    assert args[args.index("--goal") + 1] == "EE=10,DP=5,PA=40"
    args[2], args[-1] = str(tmp_path / "burnout.csv"), str(tmp_path / "results.csv")
    assert main(args[1:]) == 0
    capsys.readouterr()
    assert _download(client, page, "dl-csv") == (tmp_path / "results.csv").read_bytes()
    r = client.post("/study", data=dict(form, goal="EE=10"))
    assert r.status_code == 400 and "no goal for outcome 'DP'" in errors(r.get_data(as_text=True))[0]


def test_only_loopback_names_are_served(client):
    assert client.get("/single", headers={"Host": "evil.example:8765"}).status_code == 403
    assert client.get("/single", headers={"Host": "127.0.0.1:8765"}).status_code == 200


def test_unknown_page_is_a_message(client):
    r = client.get("/nowhere")
    assert r.status_code == 404 and errors(r.get_data(as_text=True))


# -------------------------------------------------------------------- the command

def test_cli_without_flask_prints_a_hint(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "flask", None)  # import flask now raises ImportError
    assert main(["app", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'pip install -e ".[app]"' in err
