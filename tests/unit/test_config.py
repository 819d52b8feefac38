"""Settings: read from the environment when loaded (not when imported), with the documented defaults,
and those defaults also where a function is called without settings."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.monthly_cycle import ask_approval
from iuran.config import ROOT, load_settings
from iuran.db.session import SqliteOptions, configure_sqlite, get_engine
from iuran.locks import acquire, held
from tasks.report import document_link, documents_markdown

MOVED = (
    "IURAN_CYCLE_LEASE_MINUTES",
    "IURAN_APPROVAL_TIMEOUT_HOURS",
    "IURAN_APPROVAL_POLL_SECONDS",
    "IURAN_DOCUMENTS_URL",
    "IURAN_LOKET_URL",
    "IURAN_SQLITE_BUSY_TIMEOUT",
    "IURAN_SQLITE_CACHE_MB",
    "IURAN_SOURCE",
    "IURAN_WORK_POOL",
    "IURAN_PREFECT_PORT",
    "IURAN_CRASH_AFTER_SECONDS",
    "IURAN_SMTP_CA_FILE",
    "IURAN_SMTP_VALIDATE_CERTS",
)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """None of the settings set; the engines back to the default SQLite options afterwards."""
    for name in MOVED:
        monkeypatch.delenv(name, raising=False)
    yield
    configure_sqlite(SqliteOptions())


def pragmas(url: str) -> tuple[int, int]:
    with get_engine(url).connect() as conn:
        busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
        cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    assert isinstance(busy, int) and isinstance(cache, int)
    return busy, cache


def test_a_setting_changed_after_import_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IURAN_APPROVAL_TIMEOUT_HOURS", "1.5")
    monkeypatch.setenv("IURAN_APPROVAL_POLL_SECONDS", "2")
    monkeypatch.setenv("IURAN_CYCLE_LEASE_MINUTES", "0.5")
    settings = load_settings()
    assert settings.approval_timeout == dt.timedelta(minutes=90)
    assert settings.approval_poll_seconds == 2
    assert settings.cycle_lease == dt.timedelta(seconds=30)

    monkeypatch.setenv("IURAN_APPROVAL_TIMEOUT_HOURS", "24")
    assert load_settings().approval_timeout == dt.timedelta(hours=24)


def test_the_documented_defaults() -> None:
    settings = load_settings()
    assert settings.cycle_lease == dt.timedelta(minutes=15)
    assert settings.approval_timeout == dt.timedelta(hours=72)
    assert settings.approval_poll_seconds == 10
    assert settings.loket_url == ""
    assert settings.sqlite == SqliteOptions(busy_timeout=30.0, cache_mb=256)
    assert settings.source == str(ROOT)
    assert settings.work_pool == "iuran"
    assert settings.prefect_port == 4200
    assert settings.crash_after is None
    assert settings.smtp.ca_file is None and settings.smtp.validate_certs


def test_each_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "IURAN_LOKET_URL": "https://loket.lebakkab.go.id/",
        "IURAN_SQLITE_BUSY_TIMEOUT": "1.5",
        "IURAN_SQLITE_CACHE_MB": "64",
        "IURAN_SOURCE": "https://git.example.go.id/disnaker/iuran.git",
        "IURAN_WORK_POOL": "iuran-prod",
        "IURAN_PREFECT_PORT": "4300",
        "IURAN_CRASH_AFTER_SECONDS": "60",
        "IURAN_SMTP_CA_FILE": "/etc/ssl/ca.pem",
        "IURAN_SMTP_VALIDATE_CERTS": "off",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.loket_url == "https://loket.lebakkab.go.id"  # no trailing slash
    assert settings.sqlite == SqliteOptions(busy_timeout=1.5, cache_mb=64)
    assert settings.source == "https://git.example.go.id/disnaker/iuran.git"
    assert settings.work_pool == "iuran-prod"
    assert settings.prefect_port == 4300
    assert settings.crash_after == dt.timedelta(seconds=60)
    assert settings.smtp.ca_file == "/etc/ssl/ca.pem" and not settings.smtp.validate_certs


def test_sqlite_engines_take_the_options_of_the_settings_loaded_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'options.db'}"
    assert pragmas(url) == (30_000, -256 * 1024)  # no settings loaded: the defaults

    monkeypatch.setenv("IURAN_SQLITE_BUSY_TIMEOUT", "1.5")
    monkeypatch.setenv("IURAN_SQLITE_CACHE_MB", "64")
    load_settings()
    assert pragmas(url) == (1_500, -64 * 1024)  # the engine made before is not reused

    monkeypatch.delenv("IURAN_SQLITE_BUSY_TIMEOUT")
    monkeypatch.delenv("IURAN_SQLITE_CACHE_MB")
    load_settings()
    assert pragmas(url) == (30_000, -256 * 1024)
    get_engine(url).dispose()


def test_functions_called_without_settings_use_the_documented_defaults() -> None:
    lease = dt.timedelta(minutes=15)
    assert inspect.signature(acquire).parameters["stale_after"].default == lease
    assert inspect.signature(held).parameters["stale_after"].default == lease
    approval = inspect.signature(ask_approval).parameters
    assert approval["timeout"].default == dt.timedelta(hours=72)
    assert approval["poll_seconds"].default == 10


def test_the_counters_address_must_be_a_web_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IURAN_LOKET_URL", "loket.lebakkab.go.id")
    with pytest.raises(ValueError, match="IURAN_LOKET_URL"):
        load_settings()


def test_the_documents_folder_address_is_no_longer_read(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """IURAN_DOCUMENTS_URL served the documents folder (full NIKs) to anyone with the address: it is
    not taken as the counter's address, and whoever still sets it is told why."""
    monkeypatch.setenv("IURAN_DOCUMENTS_URL", "https://dokumen.example.go.id/iuran")
    with caplog.at_level("WARNING", logger="iuran.config"):
        settings = load_settings()
    assert settings.loket_url == ""
    assert "IURAN_DOCUMENTS_URL is no longer read" in caplog.text


def test_artifact_links_go_to_the_counter_when_there_is_one(tmp_path: Path) -> None:
    pdf = tmp_path / "lebak" / "2026-01" / "TAG 001.pdf"
    summary = {
        "program": "lebak",
        "period": "2026-01",
        "invoices": [
            {"id": 7, "number": "001", "revision": 0, "status": "issued", "payer": "kabupaten",
             "participants": 3, "total": 100, "pdf": str(pdf)},
        ],
    }  # fmt: skip
    invoice = summary["invoices"][0]
    assert document_link(invoice, "pdf") == pdf.resolve().as_uri()
    assert pdf.with_suffix(".xlsx").resolve().as_uri() in documents_markdown(summary)
    loket = "https://loket.lebakkab.go.id"
    assert document_link(invoice, "pdf", loket) == f"{loket}/bkad/tagihan/7/pdf"
    markdown = documents_markdown(summary, loket)
    assert f"[XLSX]({loket}/bkad/tagihan/7/xlsx)" in markdown
    assert "file://" not in markdown and str(tmp_path) not in markdown
    kept = invoice | {"id": None}  # a kept summary from before summaries held the invoice's id
    assert document_link(kept, "xlsx", loket) == f"{loket}/bkad"
