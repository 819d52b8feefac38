# ruff: noqa: F811  (pytest fixtures imported from their modules share the parameters' names)
"""Disnaker starts a rerun from the counter and sees it complete (the issue's Done-when), in headless
Chromium, against a real `prefect server start` and a `prefect worker start` running Lebak's cycle
deployment (the fixture and the deployment as `tests/e2e/test_deployment.py` makes them).

Lebak's January has a roster of two villages; Disnaker opens the board (nothing billed, the cycle
not run), starts a dry run and then a rerun, follows the run's state on the board (reloaded as an
operator would) until the run completes, and sees both villages billed. Screenshots at phone and
desk widths go to `test-output/web/`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from deployments.local import client_env, start_worker
from iuran.config import Settings
from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.programs import load_program
from iuran.web.runs import Prefect
from tests.e2e.test_deployment import POOL, Stack, stack  # noqa: F401 (the server fixture)
from tests.web.test_browser import (  # noqa: F401 (fixtures)
    _log_in,
    _shoot,
    browser,
    database_url,
    downloads,
    server,
)

RUN_TIMEOUT = 300


@pytest.fixture
def prefect(stack: Stack) -> Prefect:
    return Prefect(stack.api_url)


@pytest.fixture
def deployed(stack: Stack, settings: Settings, tmp_path: Path) -> Iterator[None]:
    """Lebak's deployments on the test's folders and database, and a worker to run them."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from deployments.deploy import deploy_all

    generate_rosters(load_program("lebak"), Period(2026, 1), settings.inbox, 2, 3, 0.0, 1)
    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        deploy_all(
            POOL,
            only=["lebak"],
            parameters={
                "inbox": str(settings.inbox), "db": settings.database_url,
                "out": str(settings.out),
            },
            job_variables={
                "env": {"IURAN_OUTBOX": str(tmp_path / "outbox"), "IURAN_VAR": str(tmp_path / "var")}
            },
            scheduled=False,
        )  # fmt: skip
    worker = start_worker(
        POOL,
        client_env(
            stack.api_url,
            stack.home,
            {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "1"},
        ),
        stack.worker_log,
        name="loket-worker",
    )
    stack.pids.append(worker.pid)  # stopped with the server, whatever happens
    yield


def _start(browser: webdriver.Chrome, button: str) -> str:
    before = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, button).click()
    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(before))
    return browser.find_element(By.ID, "tautan-run").get_attribute("href") or ""


def _wait_until_final(browser: webdriver.Chrome, server: str, link: str, stack: Stack) -> str:
    """Reload the board until the run `link` points at shows a final state; that state."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        browser.get(server + "/disnaker?periode=2026-01")
        for row in browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr"):
            if row.find_element(By.TAG_NAME, "a").get_attribute("href") == link:
                state = row.find_element(By.CLASS_NAME, "status").text
                if state in ("Completed", "Failed", "Crashed", "Cancelled"):
                    return state
        time.sleep(2)
    raise AssertionError(f"the run did not end within {RUN_TIMEOUT} s\n{stack.logs()}")


def test_disnaker_starts_a_rerun_and_sees_it_complete(
    deployed: None,
    server: str,
    browser: webdriver.Chrome,
    stack: Stack,
) -> None:
    _log_in(browser, server, "disnaker")
    browser.get(server + "/disnaker?periode=2026-01")
    assert "belum berjalan" in browser.find_element(By.ID, "siklus").text
    assert not browser.find_elements(By.ID, "prefect-masalah")  # the server answers

    dry = _start(browser, "jalankan-uji")
    assert dry.startswith(stack.api_url.removesuffix("/api") + "/runs/flow-run/")
    assert _wait_until_final(browser, server, dry, stack) == "Completed"
    assert (
        "belum berjalan" in browser.find_element(By.ID, "siklus").text
    )  # a dry run writes nothing

    link = _start(browser, "jalankan-ulang")
    _shoot(browser, "4-disnaker-mulai")
    assert _wait_until_final(browser, server, link, stack) == "Completed"
    board = browser.find_element(By.ID, "desa-ringkas").text
    assert board.startswith("Desa: 2 ditagih") and "6 pekerja ditagih" in board
    assert "dijalankan 1 kali" in browser.find_element(By.ID, "siklus").text
    _shoot(browser, "5-disnaker-selesai")
