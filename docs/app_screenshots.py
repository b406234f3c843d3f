"""Take README's screenshots of the app: docs/app_*.png.

    python docs/app_screenshots.py

Needs the app extra, selenium, and Debian's chromium + chromium-driver.  The
app is served on a free loopback port and driven as the browser tests drive it.
"""
import pathlib
import shutil
import tempfile
import threading

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

import scedsim as ss
from scedsim.app import make_server

DOCS = pathlib.Path(__file__).resolve().parent


def main():
    server = make_server(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="scedsim_shots_"))
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp / 'profile'}", "--window-size=1200,900", "--hide-scrollbars"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                              options=opts)

    def submit(element_id):
        old = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.ID, element_id).click()
        WebDriverWait(driver, 60).until(ec.staleness_of(old))

    try:
        driver.get(url + "single")
        driver.find_element(By.ID, "example-pvd").click()
        submit("compute")
        driver.save_screenshot(str(DOCS / "app_single.png"))

        data = tmp / "burnout.csv"
        ss.datasets.load_burnout_example().to_csv(data, index=False)
        driver.get(url + "study")
        driver.find_element(By.ID, "file").send_keys(str(data))
        submit("upload")
        for o in ("EE", "DP"):
            driver.find_element(By.ID, f"decrease-{o}").click()
        submit("analyse")
        driver.execute_script("window.scrollTo(0, document.getElementById('figure').offsetTop - 60)")
        driver.save_screenshot(str(DOCS / "app_study.png"))

        driver.get(url + "tests")
        driver.find_element(By.ID, "file").send_keys(str(data))
        submit("upload")
        for o in ("EE", "DP"):
            driver.find_element(By.ID, f"decrease-{o}").click()
        submit("run-tests")
        driver.execute_script("window.scrollTo(0, document.getElementById('test-results').offsetTop - 400)")
        driver.save_screenshot(str(DOCS / "app_tests.png"))

        # The form's defaults (AB, normal AR(1) with phi = 0, d = 2, the exact NAP test,
        # power .8, at most 12 occasions), with the sensitivity analysis of 5 + 5.
        driver.get(url + "plan")
        driver.find_element(By.ID, "sensitivity").click()
        submit("run-plan")
        driver.execute_script("window.scrollTo(0, document.getElementById('rule-result-0').offsetTop - 10)")
        driver.save_screenshot(str(DOCS / "app_plan.png"))
    finally:
        driver.quit()
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
