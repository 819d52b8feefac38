"""The counter in a real browser (headless Chromium through Selenium), served by uvicorn on a
loopback port: a village operator logs in, uploads a roster with two bad rows, reads both reasons,
uploads the fixed file and sees it accepted. Screenshots at phone and desk widths go to
`test-output/web/` (git-ignored)."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from iuran.config import Settings
from iuran.web.app import create_app
from iuran.web.runs import Prefect
from tests.web.conftest import DESA, PASSWORD, niks, roster

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "web"
WIDTHS = {"ponsel": (390, 844), "meja": (1366, 900)}

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver (.ci/run)"
)


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The browser test on SQLite only: the routes' database work is tested on both elsewhere."""
    return sqlite_url


@pytest.fixture
def server(settings: Settings, prefect: Prefect) -> Iterator[str]:
    config = uvicorn.Config(  # log_config=None: the access log goes to the root logger (caplog)
        create_app(settings, prefect), host="127.0.0.1", port=0, log_level="info", log_config=None
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = running.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    return tmp_path / "unduhan"


@pytest.fixture
def browser(downloads: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(DRIVER or ""), options=options)
    driver.implicitly_wait(10)
    try:
        yield driver
    finally:
        driver.quit()


def _shoot(browser: webdriver.Chrome, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        browser.set_window_size(width, height)
        body = browser.find_element(By.TAG_NAME, "body")
        browser.set_window_size(width, max(height, body.size["height"] + 140))
        browser.save_screenshot(str(SHOTS / f"{name}-{label}.png"))


def _log_in(browser: webdriver.Chrome, server: str, username: str) -> None:
    browser.get(server + "/masuk")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    before = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, "masuk").click()
    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(before))


def _upload(browser: webdriver.Chrome, path: Path) -> None:
    """Send the file and wait for the page that answers it (not the one it was sent from)."""
    before = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, "berkas").send_keys(str(path))
    browser.find_element(By.ID, "unggah").click()
    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(before))
    browser.find_element(By.ID, "hasil")


def test_a_village_operator_fixes_a_roster(
    server: str,
    browser: webdriver.Chrome,
    tmp_path: Path,
    downloads: Path,
    caplog: pytest.LogCaptureFixture,
    corrected_january: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    browser.get(server + "/desa")
    assert browser.current_url.endswith("/masuk")  # nobody logged in: the login form
    _shoot(browser, "1-masuk")
    browser.find_element(By.ID, "username").send_keys("desa-cilangkahan")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    before = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, "masuk").click()
    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(before))
    assert browser.find_element(By.TAG_NAME, "h2").text == "Unggah roster bulanan"

    bad = tmp_path / "roster desember.xlsx"
    bad.write_bytes(roster(bad=True))
    _upload(browser, bad)
    assert browser.find_element(By.ID, "diterima").text == "4"
    assert browser.find_element(By.ID, "ditolak").text == "2"
    rows = browser.find_elements(By.CSS_SELECTOR, "#baris-ditolak tbody tr")
    cells = [[td.text for td in r.find_elements(By.TAG_NAME, "td")] for r in rows]
    assert [c[0] for c in cells] == ["3", "5"]
    assert "NIK harus 16 digit" in cells[0][4]
    assert "Tanggal lahir 'bukan tanggal' tidak dikenali" in cells[1][4]
    _shoot(browser, "2-dua-baris-ditolak")

    fixed = tmp_path / "roster desember perbaikan.xlsx"
    fixed.write_bytes(roster())
    _upload(browser, fixed)
    assert browser.find_element(By.ID, "diterima").text == "6"
    assert browser.find_element(By.ID, "ditolak").text == "0"
    assert not browser.find_elements(By.ID, "baris-ditolak")
    history = browser.find_elements(By.CSS_SELECTOR, "#riwayat tbody tr")
    assert len(history) == 2
    _shoot(browser, "3-diterima")
    # January's cycle refused two rows of the village: its correction list, from the village page
    browser.find_element(By.ID, f"perbaikan-2026-01-{DESA}").click()
    deadline = time.monotonic() + 60
    while not [p for p in downloads.glob("penolakan-*.xlsx")]:
        assert time.monotonic() < deadline, "the correction list was not downloaded"
        time.sleep(0.2)
    time.sleep(0.5)  # Chromium renames the .crdownload when it is whole
    listed = next(downloads.glob("penolakan-*.xlsx"))
    assert listed.name == f"penolakan-{DESA}.xlsx" and listed.read_bytes().startswith(b"PK")
    # the server's log: every request, never a NIK
    assert "POST /desa/unggah" in caplog.text
    assert not any(nik in caplog.text for nik in niks())


def test_bkad_downloads_an_invoice_and_pays_it(
    server: str,
    browser: webdriver.Chrome,
    downloads: Path,
    tmp_path: Path,
    january: dict[str, object],
) -> None:
    _log_in(browser, server, "bkad")
    row = browser.find_element(By.CSS_SELECTOR, "#tagihan tbody tr")
    assert str(january["number"]) in row.text
    assert row.find_element(By.CLASS_NAME, "status").text in ("belum dibayar", "lewat jatuh tempo")
    row.find_element(By.LINK_TEXT, "PDF").click()
    deadline = time.monotonic() + 60
    while not [p for p in downloads.glob("*.pdf")]:
        assert time.monotonic() < deadline, "the invoice PDF was not downloaded"
        time.sleep(0.2)
    pdf = next(downloads.glob("*.pdf"))
    time.sleep(0.5)  # Chromium renames the .crdownload when it is whole
    assert pdf.read_bytes().startswith(b"%PDF")
    _shoot(browser, "4-bkad-tagihan")

    sipd = tmp_path / "sp2d-januari.csv"
    sipd.write_text(
        "nomor_sp2d,tanggal_sp2d,jumlah,nomor_tagihan,keterangan\n"
        f"0042/SP2D/BKAD/2026,14/01/2026,{january['total']},{january['number']},Iuran Januari\n"
    )
    _upload(browser, sipd)
    paid = browser.find_element(By.CSS_SELECTOR, "#sp2d tbody tr").text
    assert "0042/SP2D/BKAD/2026" in paid and "cocok" in paid and "(lunas)" in paid
    status = browser.find_element(By.CSS_SELECTOR, "#tagihan tbody tr .status").text
    assert status.startswith("lunas")
    _shoot(browser, "5-bkad-lunas")
