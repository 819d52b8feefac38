"""No full NIK and no password leaves the system except where it must.

A whole month through the Prefect flows on a real (temporary) Prefect server, with a real SMTP
server (STARTTLS + AUTH) and a payment import: then every log line (captured in-process and read back
from the Prefect API), every Prefect artifact, every flow run's parameters and state message, every
e-mail (text and HTML parts, the text of PDF attachments, the village reports in the zip), the JSON
the command line prints (`iuran cycle --json`, `iuran payments import --json`, `iuran status
--json`) and the stored e-mail errors are searched for each 16-digit NIK of the rosters, for the SMTP
password and for the database password (PostgreSQL with a password where IURAN_TEST_POSTGRES_URL is
set, else SQLite and the SMTP password only). Only the XLSX detail sheet and the mutation list for
BPJS may carry full NIKs: they are the one place BPJS gets them from.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import io
import json
import logging
import os
import re
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pypdf
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.settings import PREFECT_API_URL
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from flows.monthly_cycle import monthly_cycle
from flows.payment_status import payment_status
from iuran.db.models import Notification
from iuran.db.session import get_engine, session_scope, upgrade
from iuran.generate import generate_rosters
from iuran.locks import CycleBusy, acquire
from iuran.periods import Period
from iuran.programs import load_program
from iuran.rosters.read import collect_rosters
from tests.conftest import POSTGRES_URL
from tests.smtp_server import smtp_server

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

ROOT = Path(__file__).resolve().parents[2]
SMTP_PASSWORD = "s3cret-P4ss"
DB_PASSWORD = "pg-S3cret-W0rd"
BPJS = "rangkasbitung@bpjs.iuran.example"
OPS = "ops@iuran.example"


@pytest.fixture(scope="module")
def secret_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """A database whose URL carries a password: PostgreSQL (a role with a password and its own
    database) where IURAN_TEST_POSTGRES_URL is set, else SQLite. Yields (url, secrets)."""
    if not POSTGRES_URL:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'iuran.db'}"
        upgrade(url)
        yield url, [SMTP_PASSWORD]
        return
    suffix = uuid.uuid4().hex[:10]
    role, name = f"iuran_pd_{suffix}", f"iuran_pd_{suffix}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD '{DB_PASSWORD}'"))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER {role}'))
    url = (
        make_url(POSTGRES_URL)
        .set(username=role, password=DB_PASSWORD, database=name)
        .render_as_string(hide_password=False)
    )
    try:
        upgrade(url)
        yield url, [SMTP_PASSWORD, DB_PASSWORD]
    finally:
        get_engine(url).dispose()
        get_engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def encoded(secret: str) -> list[str]:
    """A secret and the forms it travels in: base64 alone and in an AUTH PLAIN/LOGIN exchange."""
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(f"\0iuran\0{secret}".encode()).decode(),
    ]


def pdf_text(data: bytes) -> str:
    return "".join(
        "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages).split()
    )


def xlsx_text(data: bytes) -> str:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return " ".join(
        str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v
    )


def mail_texts(messages: list[Any]) -> dict[str, str]:
    """Per message: its text and HTML parts, the text of its PDFs and of the zipped village
    reports. The XLSX detail sheet and mutation list (full NIKs for BPJS) are left out, by design."""
    found: dict[str, str] = {}
    for i, received in enumerate(messages):
        msg = received.message
        parts = [str(msg["Subject"])]
        for part in msg.walk():
            kind, name = part.get_content_type(), part.get_filename() or ""
            if kind in ("text/plain", "text/html") and not name:
                parts.append(part.get_content())
            elif kind == "application/pdf":
                parts.append(pdf_text(part.get_content()))
            elif name.endswith(".zip"):
                with zipfile.ZipFile(io.BytesIO(part.get_content())) as z:
                    parts += [xlsx_text(z.read(n)) for n in z.namelist()]
            elif name.endswith(".xlsx") and not name.startswith(("mutasi-", "0")):
                parts.append(xlsx_text(part.get_content()))  # the data-quality table
        found[f"mail {i} {msg['X-Iuran-Notification']}"] = "\n".join(parts)
    return found


async def prefect_records(since: dt.datetime) -> dict[str, str]:
    """What the Prefect server keeps of the runs since `since`: their parameters and state
    messages, every log line shipped to it, and every artifact."""
    found: dict[str, str] = {}
    async with get_client() as client:
        runs = [
            r for r in await client.read_flow_runs(limit=200) if r.created and r.created >= since
        ]
        for run in runs:
            found[f"run {run.name} parameters"] = json.dumps(run.parameters, default=str)
            found[f"run {run.name} state"] = str(run.state.message if run.state else "")
            logs = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])), limit=200
            )
            found[f"run {run.name} logs"] = "\n".join(log.message for log in logs)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[r.id for r in runs])
            )
        )
        for artifact in artifacts:
            found[f"artifact {artifact.key}"] = json.dumps(
                [artifact.data, artifact.description], default=str
            )
        assert artifacts, "no artifact recorded"
    assert runs, "no flow run recorded"
    return found


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "iuran.cli", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    json.loads(done.stdout)  # exactly one JSON object on stdout
    return done.stdout + "\n" + done.stderr


def all_niks(inbox: Path, periods: list[str]) -> set[str]:
    """Every 16-digit NIK written to the rosters (valid or not)."""
    niks: set[str] = set()
    for period in periods:
        rows = collect_rosters(str(inbox / "lebak" / period)).rows
        niks |= {n for n in rows["nik"].dropna() if re.fullmatch(r"\d{16}", n)}
    return niks


class Records(logging.Handler):
    """Every log record of the system's loggers (not the test SMTP server's own `mail.log`)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("mail.log"):
            self.format(record)  # fills exc_text
            self.records.append(record)


@pytest.fixture(scope="module")
def month(
    secret_db: tuple[str, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The whole scenario, once: what it left behind, by where it was found."""
    handler = Records()
    loggers = [
        logging.getLogger(n) for n in ("", "prefect", "iuran", "flows", "tasks", "aiosmtplib")
    ]
    with pytest.MonkeyPatch.context() as monkeypatch:
        for logger in loggers:
            logger.addHandler(handler)
            monkeypatch.setattr(logger, "level", logging.DEBUG)
        try:
            yield scenario(secret_db, tmp_path_factory.mktemp("month"), monkeypatch, handler)
        finally:
            for logger in loggers:
                logger.removeHandler(handler)


def scenario(
    secret_db: tuple[str, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    handler: Records,
) -> dict[str, Any]:
    url, secrets = secret_db
    lebak = load_program("lebak")
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    for month in (1, 2):
        generate_rosters(
            lebak, Period(2026, month), inbox, villages=4, per_village=5, faults=0.3, seed=31
        )
    niks = all_niks(inbox, ["2026-01", "2026-02"])
    assert len(niks) >= 20

    since = dt.datetime.now(dt.UTC)

    with smtp_server(
        tls="starttls", auth=("iuran", SMTP_PASSWORD), tls_dir=tmp_path / "tls"
    ) as server:
        assert server.tls_files is not None
        env = {
            "IURAN_DATABASE_URL": url,
            "IURAN_INBOX": str(inbox),
            "IURAN_OUT": str(out),
            "IURAN_SMTP_HOST": server.host,
            "IURAN_SMTP_PORT": str(server.port),
            "IURAN_SMTP_TLS": "starttls",
            "IURAN_SMTP_USERNAME": "iuran",
            "IURAN_SMTP_PASSWORD": SMTP_PASSWORD,
            "IURAN_SMTP_CA_FILE": str(server.tls_files.ca_file),
            "IURAN_OPS_EMAIL": OPS,
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        server.faults.reject_recipients = {BPJS}  # a permanent failure (550) to show in status

        # January through the flow, as a deployment runs it: settings from the environment.
        first = monthly_cycle(program="lebak", period="2026-01", today=dt.date(2026, 1, 5))
        assert first["status"] == "issued" and first["rows"]["rejected"] > 0
        [invoice] = first["invoices"]
        payments = inbox / "lebak" / "pembayaran"
        payments.mkdir(parents=True)
        (payments / "sp2d-januari.csv").write_text(
            "nomor_sp2d;tanggal_sp2d;jumlah;nomor_tagihan;keterangan\n"
            f"501/SP2D/2026;14/01/2026;{invoice['total']};{invoice['number']};Januari\n",
            encoding="utf-8",
        )
        paid = payment_status(program="lebak", today=dt.date(2026, 1, 20))
        assert paid["payments"]["recorded"] == 1
        # A run that fails (its cycle held by another run): operations get an e-mail.
        acquire(url, "lebak", "2026-03", "cycle-lebak-2026-03 (other run) @worker-2:4242")
        with pytest.raises(CycleBusy):
            monthly_cycle(program="lebak", period="2026-03")

        # February and the status through the command line, on the same Prefect server.
        cli_env = {
            **os.environ,
            **env,
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "IURAN_VAR": str(tmp_path / "var"),
        }
        texts: dict[str, str] = {
            "cli cycle": cli(
                cli_env, "cycle", "--program", "lebak", "--period", "2026-02", "--json"
            ),
            "cli payments": cli(
                cli_env,
                "payments",
                "import",
                str(payments / "sp2d-januari.csv"),
                "--program",
                "lebak",
                "--json",
                "--today",
                "2026-02-20",
            ),
        }
        status_out = cli(cli_env, "status", "--program", "lebak", "--json", "--today", "2026-02-20")
        texts["cli status"] = status_out
        received = list(server.messages)
        assert server.auth_attempts and all(ok for _, ok in server.auth_attempts)

    texts |= mail_texts(received)
    texts |= asyncio.run(prefect_records(since))
    texts["log records"] = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in handler.records
    )
    with session_scope(url) as s:
        errors = s.scalars(
            select(Notification.last_error).where(Notification.last_error.is_not(None))
        )
        texts["stored mail errors"] = "\n".join(errors)
    return {
        "texts": texts,
        "niks": niks,
        "secrets": secrets,
        "status": json.loads(status_out.split("\n", 1)[0]),
        "kinds": {m.message["X-Iuran-Notification"].split(":")[0] for m in received},
    }


def leaks(month: dict[str, Any], where: str, found: str) -> list[str]:
    squeezed = "".join(found.split())
    niks = sorted(n for n in month["niks"] if n in found or n in squeezed)
    secrets = [s for s in month["secrets"] if any(form in found for form in encoded(s))]
    return [f"full NIK in {where}: {niks[:3]}" for _ in niks[:1]] + [
        f"password in {where}" for _ in secrets[:1]
    ]


def test_every_place_was_searched(month: dict[str, Any]) -> None:
    texts = month["texts"]
    assert month["kinds"] >= {
        "invoice_issued",
        "cycle_rejections",
        "payment_recorded",
        "ops_failure",
    }
    assert any(k.startswith("artifact ") for k in texts) and texts["log records"]
    assert texts["stored mail errors"]  # the 550 at least
    everything = "\n".join(texts.values())
    assert re.search(r"\d{4}\*{8}\d{4}", everything)  # masked NIKs are there
    assert any("%PDF" not in t and "Rp" in t for k, t in texts.items() if "invoice_issued" in k)


def test_no_full_nik_and_no_password_anywhere_but_the_run_parameters(
    month: dict[str, Any],
) -> None:
    found = [
        leak
        for where, found in month["texts"].items()
        if not where.endswith(" parameters")
        for leak in leaks(month, where, found)
    ]
    assert not found


def test_no_full_nik_in_the_run_parameters(month: dict[str, Any]) -> None:
    niks = month["niks"]
    for where, found in month["texts"].items():
        if where.endswith(" parameters"):
            assert not [n for n in niks if n in found], where


def test_no_password_in_the_run_parameters(month: dict[str, Any]) -> None:
    found = [
        leak
        for where, found in month["texts"].items()
        if where.endswith(" parameters")
        for leak in leaks(month, where, found)
        if leak.startswith("password")
    ]
    assert not found


def test_a_permanent_smtp_failure_is_visible_in_iuran_status(month: dict[str, Any]) -> None:
    failed = [n for n in month["status"]["failed_notifications"] if BPJS in n["to"]]
    assert failed
    for n in failed:
        assert "550" in n["last_error"] and BPJS in n["last_error"]
