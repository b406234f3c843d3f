"""The app in a real browser: headless Chromium (Debian's chromium and chromium-driver),
driven by selenium, against ``scedsim app --no-browser`` started as a user starts it.

Without Chromium, its driver or selenium these tests skip with the reason; under
CI=true (where .ci/run installs them) they fail instead.  One server and one
browser serve the whole module.
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import pandas as pd
import pytest
from helpers_app import PVD_A, PVD_B, fmt, need

import scedsim as ss
from scedsim.cli import main

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WAIT = 30  # seconds for a page or a download; the pages take ~1 s on a loaded 2-core machine


def _require_browser():
    need("flask", "app")
    need("selenium", "test")
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        msg = f"needs Chromium and its driver ({', '.join(missing)} missing): apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="module")
def server():
    """``scedsim app --no-browser --port 0``: the command itself, on a free port."""
    _require_browser()
    cmd = [sys.executable, "-c", "import sys; from scedsim.cli import main; sys.exit(main())",
           "app", "--no-browser", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert m, f"scedsim app printed {line!r}"
        url = m.group(0)
        deadline = time.monotonic() + WAIT
        while True:
            try:
                with urllib.request.urlopen(url + "single", timeout=WAIT) as resp:
                    assert resp.status == 200
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def downloads():
    with tempfile.TemporaryDirectory(prefix="scedsim_dl_") as d:
        yield pathlib.Path(d)


@pytest.fixture(scope="module")
def browser(server, downloads):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="scedsim_chromium_")
    # Without the networking flags Chromium keeps trying to reach Google's hosts.
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1300,1000"):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(WAIT)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _by(kind):
    from selenium.webdriver.common.by import By

    return getattr(By, kind)


def _wait_new_page(browser, old):
    """Wait until the page whose root element is ``old`` has been replaced and loaded."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def gone(_):
        # The old page is gone once its root cannot be queried: usually a stale-element
        # error, but while the new document loads Chromium may instead answer "Node with
        # given id does not belong to the document" (an unknown error) - gone as well.
        try:
            old.is_enabled()
        except WebDriverException:
            return True
        return False

    WebDriverWait(browser, WAIT).until(gone)
    WebDriverWait(browser, WAIT).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _click_and_wait(browser, element_id):
    """Click a submit button and wait for the next page."""
    old = browser.find_element(_by("TAG_NAME"), "html")
    browser.find_element(_by("ID"), element_id).click()
    _wait_new_page(browser, old)


def _text(browser, css):
    return browser.find_element(_by("CSS_SELECTOR"), css).text


def _errors(browser):
    return [e.text for e in browser.find_elements(_by("CSS_SELECTOR"), "p.error")]


def _wait_file(folder: pathlib.Path, name: str) -> pathlib.Path:
    path = folder / name
    deadline = time.monotonic() + WAIT
    while not path.exists() or any(folder.glob("*.crdownload")):
        if time.monotonic() > deadline:
            raise AssertionError(f"no download {name} in {sorted(p.name for p in folder.iterdir())}")
        time.sleep(0.1)
    return path


def test_paste_the_pvd_example_and_read_nap(browser, server):
    browser.get(server + "single")
    browser.find_element(_by("ID"), "example-pvd").click()  # the page's script fills the example in
    assert browser.find_element(_by("ID"), "a").get_attribute("value") == PVD_A
    _click_and_wait(browser, "compute")
    assert not _errors(browser)
    # Parker, Vannest & Davis (2011): NAP = 38.5/42 = .9167.
    a = [float(v) for v in PVD_A.split()]
    b = [float(v) for v in PVD_B.split()]
    nap = _text(browser, 'tr[data-metric="NAP"] td.estimate')
    assert nap == "0.9167" == fmt(38.5 / 42) == fmt(ss.nap(a, b).estimate)
    for label, f in (("Tau", ss.tau), ("SMD (baseline SD)", ss.smd), ("PND", ss.pnd)):
        assert _text(browser, f'tr[data-metric="{label}"] td.estimate') == fmt(f(a, b).estimate), label
    assert browser.find_element(_by("ID"), "figure").get_attribute("naturalWidth") != "0"
    assert "scedsim ab --a '20 20 26 25 22 23'" in _text(browser, "#cli-command")


def test_null_distribution_for_3_plus_4(browser, server):
    browser.get(server + "single")
    browser.find_element(_by("ID"), "a").send_keys("1 2 3")
    browser.find_element(_by("ID"), "b").send_keys("4 5 6 7")
    _click_and_wait(browser, "compute")
    ird = browser.find_element(_by("CSS_SELECTOR"), 'div.null[data-metric="IRD (robust)"]')
    counts = [td.text for td in ird.find_elements(_by("CSS_SELECTOR"), "td.count")]
    assert counts == ["14/35", "14/35", "6/35", "1/35"]
    assert _text(browser, 'tr[data-metric="NAP"] td.pge') == "1/35"


def test_upload_the_burnout_example_and_download_results(browser, server, downloads, tmp_path, capsys, openpyxl):
    src = tmp_path / "burnout.csv"
    ss.datasets.load_burnout_example().to_csv(src, index=False)
    browser.get(server + "study")
    browser.find_element(_by("ID"), "file").send_keys(str(src))
    _click_and_wait(browser, "upload")
    assert not _errors(browser)
    assert _text(browser, "#filename") == "burnout.csv"
    for o in ("EE", "DP"):
        browser.find_element(_by("ID"), f"decrease-{o}").click()
    _click_and_wait(browser, "analyse")
    assert not _errors(browser), _errors(browser)
    browser.find_element(_by("ID"), "dl-csv").click()
    got = _wait_file(downloads, "results.csv")
    # The same analysis by the command line the page shows.
    import shlex

    args = shlex.split(_text(browser, "#cli-command"))
    assert args[:3] == ["scedsim", "es", "burnout.csv"] and "--decrease" in args
    args[2], args[-1] = str(src), str(tmp_path / "results.csv")
    assert main(args[1:]) == 0
    capsys.readouterr()
    assert got.read_bytes() == (tmp_path / "results.csv").read_bytes()
    # A number on the page equals the library's.
    res = pd.read_csv(got)
    r = res[(res.case == "P2") & (res.outcome == "EE") & (res.contrast == "A:B") & (res.metric == "nap")].iloc[0]
    assert _text(browser, 'tr[data-key="A:B|EE|P2"] td[data-metric="nap"]') == fmt(r.estimate)
    browser.find_element(_by("ID"), "dl-png").click()
    assert _wait_file(downloads, "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    browser.find_element(_by("ID"), "dl-xlsx").click()
    book = pd.read_excel(_wait_file(downloads, "results.xlsx"), sheet_name=None)
    assert list(book) == ["cases", "summary"] and len(book["cases"]) == len(res)


def test_malformed_upload_shows_a_message_and_the_app_keeps_working(browser, server, tmp_path):
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"not a workbook at all")
    browser.get(server + "study")
    browser.find_element(_by("ID"), "file").send_keys(str(bad))
    _click_and_wait(browser, "upload")
    assert any("cannot read broken.xlsx" in e for e in _errors(browser))
    browser.get(server + "single")
    browser.find_element(_by("ID"), "a").send_keys("3 4 3")
    browser.find_element(_by("ID"), "b").send_keys("6 7 5 8")
    _click_and_wait(browser, "compute")
    assert _text(browser, 'tr[data-metric="NAP"] td.estimate') == "1.0000"


def test_tests_page_on_an_upload(browser, server, tmp_path):
    src = tmp_path / "pvd.csv"
    ss.datasets.load_pvd2011().to_csv(src, index=False)
    browser.get(server + "tests")
    browser.find_element(_by("ID"), "file").send_keys(str(src))
    _click_and_wait(browser, "upload")
    _click_and_wait(browser, "run-tests")
    assert not _errors(browser), _errors(browser)
    from scedsim.inference import permutation_test

    a = [float(v) for v in PVD_A.split()]
    b = [float(v) for v in PVD_B.split()]
    ref = permutation_test(a, b, statistic="nap")
    row = 'tr[data-key="PVD2011|exact permutation"]'
    assert _text(browser, f"{row} td.minp") == fmt(ref.min_pvalue) == fmt(1 / 1716)
    assert _text(browser, f"{row} td.p") == fmt(ref.pvalue)


def test_plan_page(browser, server):
    """A small planner question through the form: the page's chosen design and power are
    ``scedsim.plan``'s with the same arguments, and the "running" note shows while it runs."""
    browser.get(server + "plan")
    for field, value in (("effect", "2"), ("power", "0.6"), ("max-occasions", "8"), ("reps", "100"),
                         ("max-reps", "200"), ("type1-reps", "100"), ("seed", "3")):
        box = browser.find_element(_by("ID"), field)
        box.clear()
        box.send_keys(value)
    assert browser.find_element(_by("ID"), "rule-0").is_selected()  # p_perm_nap <= 0.05, the default
    assert not browser.find_element(_by("ID"), "running").is_displayed()
    # Submit by script: the submit handler runs at once, so its "running" note can be read before
    # the answer replaces the page (kept in sessionStorage, which outlives the page).
    old = browser.find_element(_by("TAG_NAME"), "html")
    browser.execute_script("document.getElementById('plan-form').requestSubmit();"
                           "sessionStorage.setItem('running', !document.getElementById('running').hidden"
                           " && document.getElementById('run-plan').disabled);")
    _wait_new_page(browser, old)
    assert browser.execute_script("return sessionStorage.getItem('running');") == "true"
    assert not _errors(browser), _errors(browser)
    ref = ss.plan("AB", "normal_ar1", {"phi": 0.0}, effect=2.0, rules=["p_perm_nap <= 0.05"], power=0.6,
                  cases="1", max_occasions=8, min_phase=3, type1="nominal", reps=100, max_reps=200, type1_reps=100,
                  seed=3)
    assert ref.best is not None
    assert _text(browser, "#best-0 .design") == ref.best["design"]
    assert (_text(browser, "#best-0 .m"), _text(browser, "#best-0 .n")) == (str(ref.best["m"]), str(ref.best["n"]))
    assert _text(browser, "#best-0 .power") == f"{ref.best['power']:.3f}"
    assert _text(browser, "#best-0 .mcse") == f"{ref.best['mcse']:.3f}"
    assert browser.find_element(_by("ID"), "figure-0").get_attribute("naturalWidth") != "0"
    assert "ss.plan(design='AB'" in _text(browser, "#python-code")
    assert _text(browser, "#cli-command").startswith("scedsim plan --design AB --model normal_ar1 --phi 0 --effect 2")
