"""The outbox against a real SMTP server on loopback (aiosmtpd): queued once, delivered once, retried
after temporary faults, failed on permanent ones, and never a password or a full NIK in logs."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import email.policy
import logging
import shutil
import sqlite3
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select, update

from iuran.config import Settings, SmtpSettings
from iuran.db.models import Notification
from iuran.db.session import get_engine, session_scope, upgrade
from iuran.mail.compose import build_message, message_id, outbox_name, render
from iuran.mail.deliver import (
    CLAIM_LEASE,
    DeliveryReport,
    _claim,
    backoff,
    deliver_pending,
    deliver_pending_sync,
)
from iuran.mail.outbox import _jsonable, queue, recipient_role, recipient_roles
from tests.smtp_server import MAIL_FROM, SmtpTestServer, smtp_server

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
BKAD = "bkad@lebak.iuran.example"
DISNAKER = "disnaker@lebak.iuran.example"
PASSWORD = "Rahasia-Sekali-42"
NIK = "3602014101900001"
PDF_BYTES = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

PAYEE = {
    "name": "BPJS Ketenagakerjaan Kantor Cabang Rangkasbitung",
    "bank": "Bank BJB",
    "account_name": "BPJS Ketenagakerjaan Cabang Rangkasbitung",
    "account_number": "0012345678",
}
INVOICE = {
    "number": "001/TAG-JKK-JKM/LBK/I/2026",
    "revision": 0,
    "kind": "regular",
    "payer": "kabupaten",
    "participants": 3450,
    "total": 57_960_000,
    "due_date": dt.date(2026, 1, 15),
    "change_note": None,
}
BASE = {
    "program_name": "Perlindungan Pekerja Rentan Kabupaten Lebak 2026",
    "regency_name": "Kabupaten Lebak",
    "period_label": "Januari 2026",
    "payee": PAYEE,
}
SAMPLES: dict[str, dict[str, Any]] = {
    "invoice_issued": BASE
    | {
        "invoices": [INVOICE],
        "total": 57_960_000,
        "due_date": dt.date(2026, 1, 15),
        "budget": {
            "pagu": 670_680_000,
            "billed_to_date": 57_960_000,
            "projected_year": 695_520_000,
            "shortfall": 24_840_000,
        },
        "villages": [
            {
                "kode_desa": "36.02.01.2001",
                "nama": "Cikatomas",
                "participants": 10,
                "total": 168_000,
            },
            {
                "kode_desa": "36.02.01.2002",
                "nama": "Sukamaju <&>",
                "participants": 10,
                "total": 168_000,
            },
        ],
    },
    "invoice_revised": BASE
    | {
        "invoices": [INVOICE | {"revision": 1, "participants": 3447, "total": 57_909_600}],
        "total": 57_909_600,
        "old_total": 57_960_000,
        "old_participants": 3450,
        "due_date": "2026-01-15",
        "change_note": "3 peserta dihapus dari roster desa 36.02.01.2001 (meninggal dunia)",
    },
    "cycle_rejections": BASE
    | {
        "rows_received": 3500,
        "rows_accepted": 3450,
        "rows_rejected": 50,
        "by_reason": [
            {"code": "NIK_TIDAK_VALID", "message": "NIK harus 16 angka", "count": 30},
            {"code": "NIK_DESA_GANDA", "message": "NIK terdaftar di dua desa", "count": 20},
        ],
        "by_village": [
            {
                "kode_desa": "36.02.01.2001",
                "nama": "Cikatomas",
                "received": 110,
                "accepted": 100,
                "rejected": 10,
            }
        ],
        "samples": [
            {"kode_desa": "36.02.01.2001", "source_row": 7, "nik": NIK, "code": "NIK_DESA_GANDA"}
        ],
        "fix_deadline": "2026-01-25",
    },
    "mutation_list": BASE
    | {
        "additions": 120,
        "terminations": 7,
        "active": 3450,
        "terminations_by_reason": [{"reason": "meninggal", "label": "Meninggal dunia", "count": 2}],
    },
    "payment_recorded": BASE
    | {
        "nomor_sp2d": "0123/SP2D/BKAD/2026",
        "tanggal_sp2d": "2026-01-14",
        "jumlah": 57_960_000,
        "status": "matched",
        "allocations": [
            {
                "number": INVOICE["number"],
                "period_label": "Januari 2026",
                "amount": 57_960_000,
                "remaining": 0,
            }
        ],
    },
    "credit_applied": BASE
    | {
        "credit_note": INVOICE["number"] + "-K1",
        "source_invoice": INVOICE["number"],
        "source_period_label": "Januari 2026",
        "participants": 3,
        "credit_amount": 50_400,
        "used": 50_400,
        "credit_left": 0,
        "allocations": [
            {
                "number": "002/TAG-JKK-JKM/LBK/II/2026",
                "period_label": "Februari 2026",
                "amount": 50_400,
                "remaining": 57_909_600,
            }
        ],
    },
    "reminder_due": BASE
    | {
        "due_date": "2026-01-15",
        "days_left": 3,
        "invoices": [{"number": INVOICE["number"], "total": 57_960_000, "outstanding": 57_960_000}],
        "outstanding": 57_960_000,
    },
    "overdue": BASE
    | {
        "due_date": "2026-01-15",
        "days_overdue": 6,
        "invoices": [{"number": INVOICE["number"], "total": 57_960_000, "outstanding": 7_960_000}],
        "outstanding": 7_960_000,
        "unpaid_months": 1,
    },
    "lapse_warning": BASE
    | {
        "unpaid_periods": ["Januari 2026", "Februari 2026"],
        "participants": 3450,
        "outstanding": 115_920_000,
        "lapse_period_label": "April 2026",
        "pay_by": "2026-03-16",
    },
    "ops_failure": {
        "flow_name": "monthly-cycle",
        "flow_run_name": "cycle-lebak-2026-01",
        "flow_run_url": "http://127.0.0.1:4200/runs/flow-run/abc?x=1&y=<2>",
        "state": "Failed",
        "error": "ValueError: roster 36.02.01.2001.csv: kolom <nik> tidak ditemukan",
        "program": "lebak",
        "period": "2026-01",
    },
}


SAMPLES["invoice_village"] = BASE | {
    "invoices": [INVOICE | {"payer": "36.02.01.2001"}],
    "total": 57_960_000,
    "total_terbilang": "lima puluh tujuh juta sembilan ratus enam puluh ribu rupiah",
    "credit_applied": 0,
    "to_pay": 57_960_000,
    "to_pay_terbilang": "lima puluh tujuh juta sembilan ratus enam puluh ribu rupiah",
    "due_date": dt.date(2026, 1, 15),
    "change_note": None,
    "kode_desa": "36.02.01.2001",
    "nama_desa": "Sukamaju <&>",
    "recipient_label": "Kepala Desa Sukamaju <&> (Bapak/Ibu Zainal Arifin)",
    "corrections": [
        {"file": "36.02.01.2001.xlsx", "row": "7", "column": "Tanggal Lahir",
         "nik": "3602********0001", "code": "USIA_DI_ATAS_BATAS", "message": "Usia di atas 65 tahun."},
    ],
    "corrections_count": 3,
    "files_rejected": [],
}  # fmt: skip
SAMPLES["invoice_issued_digest"] = SAMPLES["invoice_issued"] | {
    "reached": 2,
    "unreached": [
        {"kode_desa": "16.04.01.2003", "nama": "Tanjung Alam", "number": "003/TAG-JKK-JKM/LHT/I/2026",
         "total": 168_000, "reason": "tidak ada alamat e-mail yang sah", "district": False},
    ],
    "contact_note": None,
    "contact_problems": [
        {"row": 5, "kode": "99.99", "code": "KONTAK_KODE_TIDAK_DIKENAL", "message": "Kode 99.99 bukan kode desa"},
    ],
}  # fmt: skip

# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    get_engine(url).dispose()
    with sqlite3.connect(path) as conn:  # WAL mode: fold the log into the file before copying it
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def db(migrated: Path, tmp_path: Path) -> str:
    """A fresh migrated SQLite database (a copy of one migrated per module: faster than upgrade)."""
    path = tmp_path / "iuran.db"
    shutil.copy(migrated, path)
    return f"sqlite:///{path}"


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "out" / "001-TAG-LBK-I-2026.pdf"
    path.parent.mkdir(parents=True)
    path.write_bytes(PDF_BYTES)
    return path


@pytest.fixture
def server() -> Iterator[SmtpTestServer]:
    with smtp_server() as s:
        yield s


# --- helpers ------------------------------------------------------------------------------------


def enqueue(
    url: str,
    key: str,
    *,
    to: tuple[str, ...] = (BKAD,),
    attachments: tuple[Path, ...] = (),
    template: str = "invoice_issued",
    program: str = "lebak",
) -> bool:
    with session_scope(url) as session:
        return queue(
            session,
            key=key,
            event=template,
            program=program,
            period="2026-01",
            to=to,
            cc=(DISNAKER,),
            template=template,
            context=SAMPLES[template],
            attachments=[str(a) for a in attachments],
        )


def rows(url: str) -> dict[str, Notification]:
    with session_scope(url) as session:
        return {n.idempotency_key: n for n in session.scalars(select(Notification))}


def deliver(url: str, settings: Settings, now: dt.datetime = T0, **kw: Any) -> DeliveryReport:
    return deliver_pending_sync(url, settings, now=now, **kw)


def keys_received(server: SmtpTestServer) -> list[str]:
    return sorted(str(m.message["X-Iuran-Notification"]) for m in server.messages)


def utc(moment: dt.datetime | None) -> dt.datetime:
    assert moment is not None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def no_secret(text: str) -> bool:
    plain = base64.b64encode(f"\0iuran\0{PASSWORD}".encode()).decode()
    return (
        PASSWORD not in text
        and plain not in text
        and base64.b64encode(PASSWORD.encode()).decode() not in text
    )


# --- queueing -----------------------------------------------------------------------------------


def test_queue_twice_with_the_same_key_keeps_one_row(db: str) -> None:
    assert enqueue(db, "invoice_issued:001/TAG-JKK-JKM/LBK/I/2026:r0:bkad") is True
    assert enqueue(db, "invoice_issued:001/TAG-JKK-JKM/LBK/I/2026:r0:bkad") is False
    with session_scope(db) as session:  # and within one transaction
        for _ in range(2):
            queue(
                session,
                key="k2",
                event="ops_failure",
                program="lebak",
                period=None,
                to=["ops@x.example"],
                template="ops_failure",
                context=SAMPLES["ops_failure"],
            )
    [first, second] = rows(db).values()
    assert (first.status, first.attempts, first.to_addrs, first.cc_addrs) == (
        "pending",
        0,
        [BKAD],
        [DISNAKER],
    )
    assert first.context["due_date"] == "2026-01-15"  # dates stored as ISO strings
    assert second.idempotency_key == "k2"


def test_queue_refuses_unknown_templates_and_no_recipient(db: str) -> None:
    with pytest.raises(ValueError, match="missing"), session_scope(db) as session:
        queue(
            session,
            key="x",
            event="x",
            program="lebak",
            period=None,
            to=[BKAD],
            template="no_such",
            context={},
        )
    with pytest.raises(ValueError, match="recipient"), session_scope(db) as session:
        queue(
            session,
            key="x",
            event="x",
            program="lebak",
            period=None,
            to=[],
            template="ops_failure",
            context={},
        )
    assert rows(db) == {}


# --- templates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("template", sorted(SAMPLES))
def test_every_template_renders_subject_text_and_escaped_html(template: str) -> None:
    context = _jsonable(SAMPLES[template])  # as the sender sees it: after JSON
    subject, text, html = render(template.removesuffix("_digest"), context)
    assert subject and "\n" not in subject and len(subject) < 200
    assert "Hormat kami" in text and "Hormat kami" in html
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert NIK not in subject + text + html
    if template == "cycle_rejections":
        assert "3602********0001" in text and "3602********0001" in html
        assert "Cikatomas: 110 / 100 / 10" in text  # received / accepted / rejected
    if template == "invoice_issued":
        assert (
            "Rp57.960.000" in text
            and "lima puluh tujuh juta sembilan ratus enam puluh ribu rupiah" in text
        )
        assert "15 Januari 2026" in text and PAYEE["account_number"] in html
        assert (
            "Sukamaju &lt;&amp;&gt;" in html and "Sukamaju <&>" in text
        )  # autoescape in HTML only
    if template == "invoice_village":
        assert "Yth. Kepala Desa Sukamaju <&> (Bapak/Ibu Zainal Arifin)" in text
        assert "Sukamaju &lt;&amp;&gt;" in html and "Sukamaju" in subject
        assert "baris 7, kolom Tanggal Lahir, NIK 3602********0001: Usia di atas 65" in text
        assert "3602********0001" in html and "dan 2 baris lainnya" in text
    if template == "invoice_issued_digest":
        assert "dikirim langsung ke e-mail desa: 2 desa" in text
        assert "16.04.01.2003 Tanjung Alam" in text and "Tanjung Alam" in html
        assert "baris 5 (99.99): Kode 99.99 bukan kode desa" in text
    if template == "invoice_revised":
        assert "3 peserta dihapus" in text and "-Rp50.400" in text and "berkurang" in html
    if template == "credit_applied":
        assert "-K1" in subject and "Rp50.400" in subject
        assert "sisa yang harus dibayar Rp57.909.600" in text and "Rp57.909.600" in html
        assert "3 peserta" in text and "3 peserta" in html
    if template == "ops_failure":
        assert "&lt;nik&gt;" in html and "y=&lt;2&gt;" in html


def test_build_message_headers_parts_and_attachments(db: str, pdf: Path, tmp_path: Path) -> None:
    xlsx = tmp_path / "mutasi.xlsx"
    xlsx.write_bytes(b"PK\x03\x04 fake xlsx")
    enqueue(db, "k", attachments=(pdf, xlsx))
    [n] = rows(db).values()
    msg = build_message(n, f"Sistem Iuran <{MAIL_FROM}>", now=T0)
    assert msg["Message-ID"] == message_id("k", MAIL_FROM) == message_id("k", MAIL_FROM)
    assert msg["Message-ID"].endswith("@disnaker.example.go.id>")
    assert (msg["To"], msg["Cc"], msg["Date"]) == (
        BKAD,
        DISNAKER,
        "Mon, 05 Jan 2026 08:00:00 +0000",
    )
    body = msg.get_body(("plain",))
    assert body is not None
    parts = {p.get_filename(): p for p in msg.iter_attachments()}
    assert parts["001-TAG-LBK-I-2026.pdf"].get_content_type() == "application/pdf"
    assert (
        parts["mutasi.xlsx"].get_content_type()
        == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert message_id("k2", MAIL_FROM) != msg["Message-ID"]


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(a).total_seconds() for a in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(20) == dt.timedelta(hours=1)


# --- SMTP delivery ------------------------------------------------------------------------------


def test_delivers_once_with_text_html_and_pdf(
    db: str, pdf: Path, server: SmtpTestServer, tmp_path: Path
) -> None:
    settings = server.settings(db, tmp_path / "outbox")
    key = "invoice_issued:001/TAG-JKK-JKM/LBK/I/2026:r0:bkad"
    enqueue(db, key, attachments=(pdf,))

    report = deliver(db, settings)
    assert (report.sent, report.failed, report.pending, report.errors) == (1, 0, 0, [])
    [got] = server.messages
    assert got.mail_from == MAIL_FROM and set(got.rcpt_tos) == {BKAD, DISNAKER}
    msg: EmailMessage = got.message
    assert msg["Subject"].startswith(
        "Tagihan iuran BPJS Ketenagakerjaan Januari 2026 – 001/TAG-JKK-JKM/LBK/I/2026"
    )
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    assert "Rp57.960.000" in plain.get_content() and "<table" in html.get_content()
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF_BYTES
    row = rows(db)[key]
    assert (row.status, row.attempts, row.message_id, row.last_error) == (
        "sent",
        1,
        msg["Message-ID"],
        None,
    )
    assert utc(row.sent_at) == T0

    again = deliver(db, settings, now=T0 + dt.timedelta(days=1))
    assert (again.sent, again.pending) == (0, 0)
    assert (
        len(server.messages) == 1 and server.connections == 1
    )  # nothing due: no connection at all


def test_a_month_delivers_its_own_program_s_mail_only(
    db: str, server: SmtpTestServer, tmp_path: Path
) -> None:
    """One registry for a province: a regency's month never sends another regency's message, whose
    PDF that regency's run may not have rendered yet; the payment day (no program) sends them all."""
    enqueue(db, "lebak-1")
    enqueue(db, "serang-1", program="serang")
    settings = server.settings(db, tmp_path / "outbox")
    assert deliver(db, settings, program="lebak").sent == 1
    assert keys_received(server) == ["lebak-1"]
    assert rows(db)["serang-1"].status == "pending"
    assert deliver(db, settings).sent == 1
    assert keys_received(server) == ["lebak-1", "serang-1"]


def test_one_connection_for_a_batch_and_limit(
    db: str, server: SmtpTestServer, tmp_path: Path
) -> None:
    for i in range(5):
        enqueue(db, f"k{i}")
    settings = server.settings(db, tmp_path / "outbox")
    assert deliver(db, settings, limit=3).sent == 3
    assert server.connections == 1
    report = deliver(db, settings)
    assert (report.sent, report.pending) == (2, 0)
    assert keys_received(server) == [f"k{i}" for i in range(5)]


def test_auth_login_works_and_the_password_is_never_logged(
    db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with smtp_server(auth=("iuran", PASSWORD)) as server:
        enqueue(db, "good")
        assert deliver(db, server.settings(db, tmp_path / "outbox")).sent == 1
        assert server.auth_attempts == [("iuran", True)]

        enqueue(db, "bad")
        wrong = server.settings(db, tmp_path / "outbox", password=PASSWORD + "x")
        report = deliver(db, wrong)
        assert (report.sent, report.pending) == (0, 1)
        assert server.auth_attempts[-1] == ("iuran", False)
        assert len(server.messages) == 1
    row = rows(db)["bad"]
    assert row.status == "pending" and row.attempts == 1 and row.last_error
    assert "535" in row.last_error
    assert no_secret(row.last_error) and no_secret(" ".join(report.errors))
    client_side = [
        r for r in caplog.records if not r.name.startswith("mail.log")
    ]  # not the test server
    assert any(
        r.name == "iuran.mail" and "sent good to ['bkad@lebak.iuran.example'" in r.getMessage()
        for r in client_side
    )
    assert all(no_secret(r.getMessage()) for r in client_side)
    assert "Rahasia" not in repr(wrong.smtp)


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_tls_modes_with_a_private_ca(tls: str, db: str, tmp_path: Path) -> None:
    with smtp_server(tls=tls, auth=("iuran", PASSWORD), tls_dir=tmp_path / "tls") as server:
        enqueue(db, "untrusted")
        settings = server.settings(db, tmp_path / "outbox")
        report = deliver(db, settings)  # the system trust store does not know the test CA
        assert report.sent == 0 and len(server.messages) == 0
        assert "CERTIFICATE_VERIFY_FAILED" in (rows(db)["untrusted"].last_error or "")

        assert server.tls_files is not None
        settings = server.settings(db, tmp_path / "outbox", ca_file=str(server.tls_files.ca_file))
        report = deliver(db, settings, now=T0 + backoff(1))
        assert (report.sent, report.pending) == (1, 0)
        assert keys_received(server) == ["untrusted"] and server.auth_attempts == [("iuran", True)]


@pytest.mark.parametrize(
    "fault", ["refuse_connections", "refuse_transactions", "tempfail_data", "drop_data"]
)
def test_temporary_faults_leave_rows_pending_then_deliver_each_once(
    fault: str, db: str, server: SmtpTestServer, tmp_path: Path
) -> None:
    settings = server.settings(db, tmp_path / "outbox")
    for key in ("a", "b", "c"):
        enqueue(db, key)
    setattr(server.faults, fault, 99)  # the server is sick for the whole first run

    report = deliver(db, settings)
    assert (report.sent, report.failed, report.pending) == (0, 0, 3)
    assert len(report.errors) == 3 and server.messages == []
    for row in rows(db).values():
        assert (row.status, row.attempts) == ("pending", 1)
        assert utc(row.next_attempt_at) == T0 + backoff(1)
        assert row.last_error
    if fault in ("refuse_connections", "refuse_transactions"):
        assert server.connections == 1  # a 421 defers the whole batch: no hammering
        assert "421" in (rows(db)["c"].last_error or "")

    setattr(server.faults, fault, 0)  # the server recovers
    early = deliver(db, settings, now=T0 + dt.timedelta(seconds=10))
    assert (early.sent, early.pending) == (0, 3)  # backoff not over yet: nothing is tried
    late = deliver(db, settings, now=T0 + backoff(1))
    assert (late.sent, late.pending, late.errors) == (3, 0, [])
    assert keys_received(server) == ["a", "b", "c"]
    for row in rows(db).values():
        assert (row.status, row.attempts) == ("sent", 2)
    assert deliver(db, settings, now=T0 + dt.timedelta(days=1)).sent == 0
    assert keys_received(server) == ["a", "b", "c"]


@pytest.mark.parametrize("fault", ["tempfail_data", "drop_data"])
def test_one_bad_transaction_does_not_stop_the_batch(
    fault: str, db: str, server: SmtpTestServer, tmp_path: Path
) -> None:
    settings = server.settings(db, tmp_path / "outbox")
    for key in ("a", "b", "c"):
        enqueue(db, key)
    setattr(server.faults, fault, 1)
    report = deliver(db, settings)
    assert (report.sent, report.pending) == (2, 1)
    assert keys_received(server) == ["b", "c"]
    assert server.connections == (1 if fault == "tempfail_data" else 2)  # reconnects after a drop
    assert deliver(db, settings, now=T0 + backoff(1)).sent == 1
    assert keys_received(server) == ["a", "b", "c"]


def test_a_421_mid_batch_defers_the_rest(db: str, server: SmtpTestServer, tmp_path: Path) -> None:
    settings = server.settings(db, tmp_path / "outbox")
    for key in ("a", "b", "c"):
        enqueue(db, key)
    server.faults.refuse_transactions = 1
    report = deliver(db, settings)
    assert (report.sent, report.pending) == (0, 3) and server.connections == 1
    assert deliver(db, settings, now=T0 + backoff(1)).sent == 3
    assert keys_received(server) == ["a", "b", "c"]


def test_a_lost_reply_resends_with_the_same_message_id(
    db: str, server: SmtpTestServer, tmp_path: Path
) -> None:
    """The one duplicate an outbox cannot rule out (the server took it, its 250 never arrived) is
    recognisable: the resend carries the first attempt's Message-ID."""
    settings = server.settings(db, tmp_path / "outbox", timeout=0.3)
    enqueue(db, "a")
    enqueue(db, "b")
    server.faults.stall_data, server.faults.stall_seconds = 1, 0.6
    report = deliver(db, settings)
    assert (report.sent, report.pending) == (0, 2)  # a timeout defers the batch
    assert "SMTPReadTimeoutError" in (rows(db)["a"].last_error or "")
    assert deliver(db, settings, now=T0 + backoff(1)).sent == 2
    assert keys_received(server) == ["a", "a", "b"]
    first, again = (m.message for m in server.messages if m.message["X-Iuran-Notification"] == "a")
    assert first["Message-ID"] == again["Message-ID"] == rows(db)["a"].message_id


def test_550_recipient_fails_that_row_only(db: str, server: SmtpTestServer, tmp_path: Path) -> None:
    bad = "tidak.ada@lebak.iuran.example"
    server.faults.reject_recipients = {bad}
    settings = server.settings(db, tmp_path / "outbox")
    enqueue(db, "a")
    with session_scope(db) as session:
        queue(
            session,
            key="bad",
            event="ops_failure",
            program="lebak",
            period=None,
            to=[bad],
            template="ops_failure",
            context=SAMPLES["ops_failure"],
        )
        queue(
            session,
            key="half",
            event="ops_failure",
            program="lebak",
            period=None,
            to=[bad, "ops@lebak.iuran.example"],
            template="ops_failure",
            context=SAMPLES["ops_failure"],
        )
    enqueue(db, "z")

    report = deliver(db, settings)
    assert (report.sent, report.failed, report.pending) == (3, 1, 0)
    got = rows(db)
    assert got["bad"].status == "failed" and got["bad"].next_attempt_at is None
    assert (
        got["bad"].last_error is not None
        and "550" in got["bad"].last_error
        and bad in got["bad"].last_error
    )
    assert (got["a"].status, got["z"].status, got["half"].status) == ("sent", "sent", "sent")
    assert (
        got["half"].last_error is not None and bad in got["half"].last_error
    )  # partial: noted, not resent
    assert keys_received(server) == ["a", "half", "z"]
    assert (
        deliver(db, settings, now=T0 + dt.timedelta(days=1)).sent == 0
    )  # failed rows are not retried
    assert len(server.messages) == 3


def test_gives_up_after_max_attempts(db: str, server: SmtpTestServer, tmp_path: Path) -> None:
    settings = server.settings(db, tmp_path / "outbox")
    enqueue(db, "a")
    server.faults.tempfail_data = 99
    assert deliver(db, settings, max_attempts=2).pending == 1
    report = deliver(db, settings, max_attempts=2, now=T0 + dt.timedelta(hours=1))
    assert (report.failed, report.pending) == (1, 0)
    row = rows(db)["a"]
    assert row.status == "failed" and row.attempts == 2
    assert row.last_error is not None and row.last_error.startswith("gave up after 2 attempts: 451")


def test_missing_attachment_is_retried_not_sent_without_it(
    db: str, server: SmtpTestServer, tmp_path: Path
) -> None:
    later = tmp_path / "out" / "later.pdf"
    enqueue(db, "a", attachments=(later,))
    settings = server.settings(db, tmp_path / "outbox")
    assert deliver(db, settings).pending == 1 and server.messages == []
    later.parent.mkdir(parents=True)
    later.write_bytes(PDF_BYTES)  # the render step caught up
    assert deliver(db, settings, now=T0 + backoff(1)).sent == 1


def test_two_senders_at_once_send_each_row_once(
    db: str, server: SmtpTestServer, tmp_path: Path
) -> None:
    settings = server.settings(db, tmp_path / "outbox")
    keys = [f"k{i:02d}" for i in range(12)]
    for key in keys:
        enqueue(db, key)

    async def both() -> list[DeliveryReport]:
        return list(
            await asyncio.gather(
                deliver_pending(db, settings, now=T0),
                deliver_pending(db, settings, now=T0),
            )
        )

    reports = asyncio.run(both())
    assert sum(r.sent for r in reports) == 12
    assert rows(db)["k00"].attempts == 1  # no row was tried twice
    assert keys_received(server) == keys


def test_a_claim_left_by_a_dead_sender_expires(
    db: str, server: SmtpTestServer, tmp_path: Path
) -> None:
    settings = server.settings(db, tmp_path / "outbox")
    enqueue(db, "a")
    with session_scope(db) as session:  # a sender claimed it and died
        session.execute(
            update(Notification).values(status="sending", next_attempt_at=T0 + CLAIM_LEASE)
        )
    assert _claim(db, 1, T0) is None  # still leased: a second sender cannot take it
    assert deliver(db, settings).sent == 0
    assert deliver(db, settings, now=T0 + CLAIM_LEASE).sent == 1
    assert keys_received(server) == ["a"]


# --- file outbox --------------------------------------------------------------------------------


def test_file_outbox_when_no_host(db: str, pdf: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    settings = Settings(
        database_url=db,
        inbox=tmp_path / "inbox",
        out=tmp_path,
        outbox=outbox,
        smtp=SmtpSettings(
            host=None, port=25, tls="none", username=None, password=None, mail_from=MAIL_FROM
        ),
        ops_recipients=(),
    )
    enqueue(db, "invoice_issued:001/TAG-JKK-JKM/LBK/I/2026:r0:bkad", attachments=(pdf,))
    enqueue(db, "ops", template="ops_failure")
    report = deliver(db, settings)
    assert (report.sent, report.pending) == (2, 0)
    files = sorted(outbox.iterdir())
    assert [f.name for f in files] == sorted(
        [
            outbox_name("invoice_issued:001/TAG-JKK-JKM/LBK/I/2026:r0:bkad"),
            outbox_name("ops"),
        ]
    )
    assert all(f.suffix == ".eml" and "/" not in f.name for f in files)
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["X-Iuran-Notification"] == "invoice_issued:001/TAG-JKK-JKM/LBK/I/2026:r0:bkad"
    assert [p.get_content() for p in msg.iter_attachments()] == [PDF_BYTES]
    stamps = {f.name: f.stat().st_mtime_ns for f in files}

    assert deliver(db, settings, now=T0 + dt.timedelta(days=1)).sent == 0
    assert {
        f.name: f.stat().st_mtime_ns for f in outbox.iterdir()
    } == stamps  # nothing new, nothing rewritten
    assert rows(db)["ops"].status == "sent"


# --- both backends (PostgreSQL where IURAN_TEST_POSTGRES_URL is set) ---------------------------


def test_outbox_on_each_backend(database_url: str, server: SmtpTestServer, tmp_path: Path) -> None:
    """ON CONFLICT, the claim's rowcount and timestamptz comparisons, on SQLite and PostgreSQL."""
    settings = server.settings(database_url, tmp_path / "outbox")
    assert enqueue(database_url, "a") is True
    assert enqueue(database_url, "a") is False
    enqueue(database_url, "b")
    server.faults.tempfail_data = 1
    report = deliver(database_url, settings)
    assert (report.sent, report.pending) == (1, 1)
    row = rows(database_url)["a"]
    assert utc(row.next_attempt_at) == T0 + backoff(1)
    assert _claim(database_url, row.id, T0) is None  # not due yet
    claimed = _claim(database_url, row.id, T0 + backoff(1))
    assert claimed is not None and claimed.status == "sending"
    assert _claim(database_url, row.id, T0 + backoff(1)) is None  # one sender only
    assert deliver(database_url, settings, now=T0 + backoff(1) + CLAIM_LEASE).sent == 1
    assert keys_received(server) == ["a", "b"]
    assert {n.status for n in rows(database_url).values()} == {"sent"}


def test_the_recipient_party_comes_from_the_key_or_the_addresses() -> None:
    """`iuran status` lists undelivered mail by party: a credit note's key ends with the amount it
    used and a reminder's with a digest, so the party comes from the addresses then (it used to
    print `ke 16800`)."""
    recipients = SimpleNamespace(
        bkad=("bkad@lebakkab.go.id",), bpjs=("rangkasbitung@bpjsketenagakerjaan.go.id",),
        disnaker=("disnaker@lebakkab.go.id",),
    )  # fmt: skip
    roles = recipient_roles(recipients)
    to = ["bkad@lebakkab.go.id", "rangkasbitung@bpjsketenagakerjaan.go.id"]
    assert recipient_role("credit_note_applied:NK-1:17:16800", to, roles) == "bkad, bpjs"
    assert recipient_role("reminder_due:lebak:2026-01:2026-02-05:ab12", to[:1], roles) == "bkad"
    assert recipient_role("invoice_issued:TAG-1:r0:bkad", [], roles) == "bkad"
    assert recipient_role("invoice_village:TAG-2:r0:36.02:desa", ["desa@x.id"], roles) == "desa"
    assert recipient_role("lapse_warning:lebak:36.02:2026-01", ["kades@x.id"], roles) == "-"
