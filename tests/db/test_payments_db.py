"""Payments on real invoices, on SQLite and PostgreSQL: matching, idempotent imports, credit,
receipts, the payment state machine across periods, reminders, lapse warnings and `iuran status`."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from iuran.config import Settings
from iuran.db.models import Invoice, Notification, Payment, PaymentAllocation, Receipt
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.mail.compose import render
from iuran.mail.deliver import deliver_pending_sync
from iuran.payments.credit import settle
from iuran.payments.imports import import_file
from iuran.payments.rules import RECEIPT
from iuran.payments.sp2d import record_payment
from iuran.periods import Period
from iuran.programs import load_program
from iuran.reminders import queue_reminders
from iuran.status import format_status, status_report
from tests.pipeline import run
from tests.smtp_server import smtp_server

JAN, FEB, MAR = (
    "001/TAG-JKK-JKM/LBK/I/2026",
    "002/TAG-JKK-JKM/LBK/II/2026",
    "003/TAG-JKK-JKM/LBK/III/2026",
)
MONTH = 10 * 16_800  # 2 villages x 5 workers
PAYMENT_EVENTS = ("payment_recorded", "reminder_due", "overdue", "lapse_warning")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _invoices(url: str) -> dict[str, tuple[int, str]]:
    """number -> (paid, payment_state) of the live invoices."""
    with session_scope(url) as s:
        rows = s.execute(
            select(Invoice.number, Invoice.paid, Invoice.payment_state).where(
                Invoice.document_state.in_(("draft", "issued"))
            )
        ).all()
    return {n: (int(p), st) for n, p, st in rows}


def _count(url: str, model: type, *where: Any) -> int:
    with session_scope(url) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _mail(url: str, *events: str) -> list[Notification]:
    with session_scope(url) as s:
        return list(
            s.scalars(
                select(Notification)
                .where(Notification.event.in_(events or PAYMENT_EVENTS))
                .order_by(Notification.id)
            )
        )


@pytest.fixture
def lebak(database_url: str, tmp_path: Path) -> str:
    """Lebak billed for January, February and March 2026 (Rp168.000 a month), nothing paid."""
    program = load_program("lebak")
    inbox = tmp_path / "inbox"
    for month in (1, 2, 3):
        generate_rosters(program, Period(2026, month), inbox, villages=2, per_village=5, seed=4)
        run(database_url, program, f"2026-{month:02d}", inbox, tmp_path / "out", render=False)
    assert _invoices(database_url) == {n: (0, "unpaid") for n in (JAN, FEB, MAR)}
    return database_url


def test_import_matches_exact_partial_and_multi_invoice_payments_once(
    lebak: str, tmp_path: Path
) -> None:
    sp2d = _write(
        tmp_path / "sp2d.csv",
        "nomor_sp2d;tanggal_sp2d;jumlah;nomor_tagihan;keterangan\n"
        f"900/SP2D/2026;14/01/2026;Rp168.000;{JAN};Januari\n"
        f"901/SP2D/2026;13/02/2026;100.000;{FEB};sebagian\n"
        f"902/SP2D/2026;20/02/2026;236.000;{FEB}, {MAR};sisa Februari dan Maret\n"
        "903/SP2D/2026;21/02/2026;168.000,50;;\n",
    )
    first = import_file(lebak, sp2d, today=dt.date(2026, 2, 25))
    s = first["summary"]
    assert (s["recorded"], s["matched"], s["partial"], s["rejected"]) == (3, 2, 1, 1)
    rejected = next(p for p in first["payments"] if p["result"] == "rejected")
    assert rejected["row"] == 5 and rejected["code"] == "JUMLAH_DESIMAL"
    multi = next(p for p in first["payments"] if p["nomor_sp2d"] == "902/SP2D/2026")
    assert [(a["number"], a["amount"], a["remaining"]) for a in multi["allocations"]] == [
        (FEB, 68_000, 0),
        (MAR, 168_000, 0),
    ]
    assert _invoices(lebak) == {
        JAN: (MONTH, "paid"),
        FEB: (MONTH, "paid"),
        MAR: (MONTH, "paid"),
    }
    mails = _mail(lebak, "payment_recorded")
    assert [m.idempotency_key for m in mails] == [
        "payment_recorded:900/SP2D/2026:bpjs",
        "payment_recorded:901/SP2D/2026:bpjs",
        "payment_recorded:902/SP2D/2026:bpjs",
    ]
    assert mails[0].to_addrs == ["rangkasbitung@bpjs.iuran.example", "bkad@lebak.iuran.example"]
    assert mails[2].context["allocations"][1]["period_label"] == "Maret 2026"

    again = import_file(lebak, sp2d, today=dt.date(2026, 2, 26))
    assert again["summary"]["recorded"] == 0 and again["summary"]["already_recorded"] == 3
    assert _count(lebak, Payment) == 3 and _count(lebak, PaymentAllocation) == 4
    assert len(_mail(lebak, "payment_recorded")) == 3

    changed = _write(
        tmp_path / "sp2d-2.csv",
        f"nomor_sp2d,tanggal_sp2d,jumlah,nomor_tagihan\n900/SP2D/2026,14/01/2026,170.000,{JAN}\n",
    )
    conflict = import_file(lebak, changed, today=dt.date(2026, 2, 26))
    [row] = conflict["payments"]
    assert row["result"] == "conflict" and row["code"] == "SP2D_KONFLIK"
    assert "Rp168.000" in row["message"] and "Rp170.000" in row["message"]
    assert _count(lebak, Payment) == 3


def test_overpayment_becomes_credit_that_pays_the_next_invoice(lebak: str) -> None:
    r = record_payment(
        lebak,
        nomor_sp2d="910/SP2D/2026",
        tanggal="14/01/2026",
        jumlah="Rp300.000",
        nomor_tagihan=JAN,
        today=dt.date(2026, 1, 20),
    )
    [p] = r["payments"]
    assert (p["status"], p["unallocated"]) == ("credit", 300_000 - MONTH)
    assert _invoices(lebak)[FEB] == (0, "unpaid")

    settled = settle(lebak, "lebak", dt.date(2026, 1, 20))
    [credit] = settled["credits_applied"]
    assert credit["used"] == 132_000 and credit["credit_left"] == 0
    assert _invoices(lebak)[FEB] == (132_000, "partial")
    with session_scope(lebak) as s:
        pay = s.scalars(select(Payment)).one()
        assert (pay.status, pay.unallocated) == ("matched", 0)
    [mail] = [m for m in _mail(lebak) if m.idempotency_key.startswith("payment_credit:")]
    assert mail.context["credit_applied"] == 132_000
    subject, text, html = render(mail.template, mail.context)
    assert subject.startswith("Kredit SP2D 910/SP2D/2026 Rp132.000 dipakai untuk tagihan")
    assert f"{FEB} (Februari 2026): Rp132.000, sisa Rp36.000" in text and FEB in html
    assert settle(lebak, "lebak", dt.date(2026, 1, 21))["credits_applied"] == []  # idempotent


def test_unmatched_payment_is_reported_and_matched_when_the_row_comes_again(
    lebak: str, tmp_path: Path
) -> None:
    args = dict(nomor_sp2d="920/SP2D/2026", tanggal="14/01/2026", jumlah="168.000")
    first = record_payment(lebak, **args, today=dt.date(2026, 1, 20))  # no program, no number
    [p] = first["payments"]
    assert (p["status"], p["code"]) == ("unmatched", "PROGRAM_TIDAK_DIKETAHUI")
    assert _invoices(lebak)[JAN] == (0, "unpaid")
    assert _mail(lebak) == []  # no program, no recipients: reported on the command line only

    by_payer = record_payment(lebak, **args, program="lebak", today=dt.date(2026, 1, 21))
    [p] = by_payer["payments"]
    assert (p["result"], p["status"], p["matched_by"]) == ("recorded", "matched", "pembayar")
    assert [a["number"] for a in p["allocations"]] == [JAN]  # oldest unpaid with that amount
    assert _count(lebak, Payment) == 1


def test_a_payment_for_a_revised_invoice_pays_its_live_revision(
    database_url: str, tmp_path: Path
) -> None:
    import pandas as pd

    program = load_program("lebak")
    inbox = tmp_path / "inbox"
    generate_rosters(
        program, Period(2026, 1), inbox, villages=2, per_village=5, seed=4, xlsx_share=0
    )
    run(database_url, program, "2026-01", inbox, tmp_path / "out", render=False)
    roster = sorted((inbox / "lebak" / "2026-01").glob("*.csv"))[0]
    pd.read_csv(roster, dtype=str).iloc[1:].to_csv(roster, index=False)
    run(database_url, program, "2026-01", inbox, tmp_path / "out", render=False)  # revision 1

    r = record_payment(
        database_url,
        nomor_sp2d="930/SP2D/2026",
        tanggal="14/01/2026",
        jumlah=str(MONTH - 16_800),
        nomor_tagihan=JAN,
        today=dt.date(2026, 1, 20),
    )
    [p] = r["payments"]
    assert p["status"] == "matched" and p["allocations"][0]["revision"] == 1
    with session_scope(database_url) as s:
        states = dict(s.execute(select(Invoice.revision, Invoice.payment_state)).all())
    assert states == {0: "unpaid", 1: "paid"}


def test_village_payers_are_matched_by_village_code_and_amount(
    database_url: str, tmp_path: Path
) -> None:
    lahat = load_program("lahat")
    inbox = tmp_path / "inbox"
    generate_rosters(lahat, Period(2025, 9), inbox, villages=3, per_village=4, seed=2)
    summary = run(database_url, lahat, "2025-09", inbox, tmp_path / "out", render=False)
    invoices = {i["payer"]: i for i in summary["invoices"]}
    village, other = sorted(invoices)[:2]
    amount = invoices[village]["total"]
    path = _write(
        tmp_path / "sp2d-desa.csv",
        "nomor_sp2d,tanggal_sp2d,jumlah,kode_desa\n"
        f"D-1,10/09/2025,{amount},{village.replace('.', '')}\n"
        f"D-2,10/09/2025,{amount},\n",
    )
    result = import_file(database_url, path, program="lahat", today=dt.date(2025, 9, 12))
    by = {p["nomor_sp2d"]: p for p in result["payments"]}
    assert by["D-1"]["status"] == "matched" and by["D-1"]["payer"] == village
    assert by["D-2"]["status"] == "unmatched" and by["D-2"]["code"] == "PEMBAYAR_KOSONG"
    states = {k: v for k, v in _invoices(database_url).items()}
    assert states[invoices[village]["number"]] == (amount, "paid")
    assert states[invoices[other]["number"]] == (0, "unpaid")


def test_receipts_confirm_payments_and_report_mismatches(lebak: str, tmp_path: Path) -> None:
    receipts = _write(
        tmp_path / "penerimaan.csv",
        "nomor_sp2d,tanggal_terima,jumlah\n"
        "940/SP2D/2026,16/01/2026,168.000\n"
        "941/SP2D/2026,16/02/2026,160.000\n"
        "942/SP2D/2026,17/02/2026,50.000\n",
    )
    for sp2d, number, day in (("940", JAN, "14/01/2026"), ("941", FEB, "14/02/2026")):
        record_payment(
            lebak,
            nomor_sp2d=f"{sp2d}/SP2D/2026",
            tanggal=day,
            jumlah="168.000",
            nomor_tagihan=number,
            today=dt.date(2026, 2, 20),
        )
    result = import_file(lebak, receipts, kind=RECEIPT, program="lebak", today=dt.date(2026, 2, 20))
    by = {r["nomor_sp2d"]: r for r in result["receipts"]}
    assert by["940/SP2D/2026"]["status"] == "confirmed"
    assert by["941/SP2D/2026"]["status"] == "mismatch"
    assert "selisih -Rp8.000" in by["941/SP2D/2026"]["message"]
    assert by["942/SP2D/2026"]["status"] == "unmatched"  # its SP2D is not recorded yet
    assert _invoices(lebak)[JAN] == (MONTH, "confirmed")
    assert _invoices(lebak)[FEB] == (MONTH, "paid")  # a mismatch never confirms

    # the receipt that came first is matched when its SP2D arrives
    record_payment(
        lebak,
        nomor_sp2d="942/SP2D/2026",
        tanggal="15/02/2026",
        jumlah="50.000",
        nomor_tagihan=MAR,
        today=dt.date(2026, 2, 20),
    )
    with session_scope(lebak) as s:
        r = s.scalars(select(Receipt).where(Receipt.nomor_sp2d == "942/SP2D/2026")).one()
        assert r.status == "confirmed" and r.payment_id is not None
    assert _invoices(lebak)[MAR] == (50_000, "partial")

    again = import_file(lebak, receipts, kind=RECEIPT, program="lebak", today=dt.date(2026, 2, 21))
    assert again["summary"]["recorded"] == 0 and again["summary"]["already_recorded"] == 3
    report = status_report(lebak, load_program("lebak"), today=dt.date(2026, 2, 21))
    assert [r["nomor_sp2d"] for r in report["receipts"]] == ["941/SP2D/2026"]
    assert "selisih" in format_status(report)


def test_state_machine_across_periods_with_reminders_overdue_and_lapse(lebak: str) -> None:
    plan = load_program("lebak")

    def remind(day: dt.date) -> dict[str, int]:
        return queue_reminders(lebak, plan, day)

    # 9 January: a week before January's due date (15 January).
    assert remind(dt.date(2026, 1, 8)) == {"reminder_due": 1, "overdue": 0, "lapse_warning": 0}
    assert remind(dt.date(2026, 1, 8)) == {"reminder_due": 0, "overdue": 0, "lapse_warning": 0}
    assert remind(dt.date(2026, 1, 12))["reminder_due"] == 0  # same window
    assert remind(dt.date(2026, 1, 13))["reminder_due"] == 1  # the two-day window
    # After the due date: overdue once.
    assert remind(dt.date(2026, 1, 16))["overdue"] == 1
    assert remind(dt.date(2026, 1, 20))["overdue"] == 0
    status = status_report(lebak, plan, "2026-01", today=dt.date(2026, 1, 20))
    [jan] = status["invoices"]
    assert (jan["payment_state"], jan["state"], jan["days_overdue"]) == ("unpaid", "overdue", 5)

    # February unpaid too: a lapse warning (once), naming March as the last chance.
    counts = remind(dt.date(2026, 2, 17))
    assert counts["overdue"] == 1 and counts["lapse_warning"] == 1
    assert remind(dt.date(2026, 2, 18))["lapse_warning"] == 0
    [lapse] = _mail(lebak, "lapse_warning")
    assert lapse.idempotency_key == "lapse_warning:lebak:kabupaten:2026-02"
    assert lapse.context["unpaid_periods"] == ["Januari 2026", "Februari 2026"]
    assert lapse.context["lapse_period_label"] == "April 2026"
    assert lapse.context["pay_by"] == "2026-03-16"
    assert lapse.context["outstanding"] == 2 * MONTH
    [overdue_feb] = [m for m in _mail(lebak, "overdue") if m.period == "2026-02"]
    assert overdue_feb.context["unpaid_months"] == 2
    report = status_report(lebak, plan, today=dt.date(2026, 2, 18))
    assert report["lapse"][0]["state"] == "peringatan"

    # January paid in part, then February in full: the states move, the streak ends.
    record_payment(
        lebak, nomor_sp2d="950/SP2D/2026", tanggal="18/02/2026", jumlah="100.000",
        nomor_tagihan=JAN, today=dt.date(2026, 2, 18),
    )  # fmt: skip
    record_payment(
        lebak, nomor_sp2d="951/SP2D/2026", tanggal="18/02/2026", jumlah="168.000",
        nomor_tagihan=FEB, today=dt.date(2026, 2, 18),
    )  # fmt: skip
    assert _invoices(lebak) == {
        JAN: (100_000, "partial"),
        FEB: (MONTH, "paid"),
        MAR: (0, "unpaid"),
    }
    report = status_report(lebak, plan, today=dt.date(2026, 2, 19))
    assert [i["state"] for i in report["invoices"]] == ["overdue", "paid", "unpaid"]
    assert report["totals"]["outstanding"] == MONTH - 100_000 + MONTH
    assert report["lapse"] == []  # February (the latest past-due month) is paid

    # A paid invoice gets no reminder; March's does.
    counts = remind(dt.date(2026, 3, 9))
    assert counts == {"reminder_due": 1, "overdue": 0, "lapse_warning": 0}
    [due_mar] = [m for m in _mail(lebak, "reminder_due") if m.period == "2026-03"]
    assert due_mar.idempotency_key == f"reminder_due:{MAR}:r0:2026-03-09"
    assert due_mar.context["days_left"] == 7  # due Monday 16 March (the 15th is a Sunday)


def test_village_reminders_are_one_digest_per_period(database_url: str, tmp_path: Path) -> None:
    lahat = load_program("lahat")
    inbox = tmp_path / "inbox"
    for month in (Period(2025, 9), Period(2025, 10)):
        generate_rosters(lahat, month, inbox, villages=3, per_village=4, seed=2)
        run(database_url, lahat, str(month), inbox, tmp_path / "out", render=False)
    counts = queue_reminders(database_url, lahat, dt.date(2025, 10, 16))
    assert counts == {"reminder_due": 0, "overdue": 2, "lapse_warning": 1}
    [lapse] = _mail(database_url, "lapse_warning")
    assert len(lapse.context["payers"]) == 3
    assert lapse.to_addrs == ["bkad@lahat.iuran.example", "disnakertrans@lahat.iuran.example"]
    overdue = _mail(database_url, "overdue")
    assert [len(m.context["invoices"]) for m in overdue] == [3, 3]
    assert all("payer_name" in i for i in overdue[0].context["invoices"])
    _, text, html = render(lapse.template, lapse.context)
    names = [p["name"] for p in lapse.context["payers"]]
    assert all(n in text and n in html for n in names)
    assert "NONAKTIF mulai Desember 2025" in " ".join(text.split())
    _, text, _ = render(overdue[0].template, overdue[0].context)
    assert names[0] in text and "(saat ini 2 bulan)" in " ".join(text.split())
    assert queue_reminders(database_url, lahat, dt.date(2025, 10, 17)) == {
        "reminder_due": 0,
        "overdue": 0,
        "lapse_warning": 0,
    }


def test_status_shows_a_permanent_smtp_rejection(lebak: str, tmp_path: Path) -> None:
    record_payment(
        lebak,
        nomor_sp2d="960/SP2D/2026",
        tanggal="14/01/2026",
        jumlah="168.000",
        nomor_tagihan=JAN,
        today=dt.date(2026, 1, 20),
    )
    with session_scope(lebak) as s:  # only the payment mail goes out in this test
        for n in s.scalars(select(Notification).where(Notification.event != "payment_recorded")):
            n.status = "cancelled"
    bpjs = "rangkasbitung@bpjs.iuran.example"
    with smtp_server() as server:
        server.faults.reject_recipients = {
            bpjs,
            "bkad@lebak.iuran.example",
            "disnaker@lebak.iuran.example",
        }
        settings: Settings = server.settings(lebak, tmp_path / "outbox")
        report = deliver_pending_sync(lebak, settings)
        assert (report.sent, report.failed) == (0, 1)
        assert server.messages == []
    status = status_report(lebak, load_program("lebak"), today=dt.date(2026, 1, 20))
    [failed] = status["failed_notifications"]
    assert failed["key"] == "payment_recorded:960/SP2D/2026:bpjs"
    assert "550" in failed["last_error"] and bpjs in failed["last_error"]
    assert status["notifications"]["failed"] == 1
    text = format_status(status)
    assert "E-mail gagal payment_recorded:960/SP2D/2026:bpjs" in text


def test_payment_mail_is_delivered_with_the_settled_invoices(lebak: str, tmp_path: Path) -> None:
    record_payment(
        lebak,
        nomor_sp2d="970/SP2D/2026",
        tanggal="14/01/2026",
        jumlah="336.000",
        nomor_tagihan=f"{JAN};{FEB}",
        keterangan="Januari dan Februari",
        today=dt.date(2026, 1, 20),
    )
    with session_scope(lebak) as s:
        for n in s.scalars(select(Notification).where(Notification.event != "payment_recorded")):
            n.status = "cancelled"
    with smtp_server() as server:
        deliver_pending_sync(lebak, server.settings(lebak, tmp_path / "outbox"))
        [received] = server.messages
    msg = email.message_from_bytes(received.data, policy=email.policy.default)
    assert "SP2D 970/SP2D/2026" in msg["Subject"] and "Rp336.000" in msg["Subject"]
    body = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert JAN in body and FEB in body and "Januari dan Februari" in body
    assert set(received.rcpt_tos) == {
        "rangkasbitung@bpjs.iuran.example",
        "bkad@lebak.iuran.example",
        "disnaker@lebak.iuran.example",
    }


def test_cli_prints_one_json_object_and_tables_for_people(sqlite_url: str, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    program = load_program("lebak")
    inbox = tmp_path / "inbox"
    generate_rosters(program, Period(2026, 1), inbox, villages=2, per_village=5, seed=4)
    run(sqlite_url, program, "2026-01", inbox, tmp_path / "out", render=False)
    sp2d = _write(
        tmp_path / "sp2d.csv",
        f"nomor_sp2d,tanggal_sp2d,jumlah,nomor_tagihan\n980/SP2D/2026,14/01/2026,200.000,{JAN}\n",
    )
    env = {
        **os.environ,
        "IURAN_VAR": str(tmp_path / "var"),
        "IURAN_OUTBOX": str(tmp_path / "outbox"),
    }
    env.pop("IURAN_SMTP_HOST", None)
    root = Path(__file__).resolve().parents[2]

    def iuran(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "iuran.cli", *args, "--db", sqlite_url, "--today", "2026-01-20"],
            env=env, cwd=root, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    done = iuran("payments", "import", str(sp2d), "--program", "lebak", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # exactly one JSON object on stdout
    assert result["summary"]["recorded"] == 1 and result["summary"]["credit"] == 1
    assert result["payments"][0]["unallocated"] == 200_000 - MONTH
    assert result["notifications"]["sent"] >= 1

    again = json.loads(iuran("payments", "import", str(sp2d), "--json").stdout)
    assert again["summary"] == again["summary"] | {"recorded": 0, "already_recorded": 1}

    bad = iuran(
        "payments", "record", "--sp2d", "981/SP2D/2026", "--tanggal", "15/01/2026",
        "--jumlah", "Rp10.000,50", "--json",
    )  # fmt: skip
    [row] = json.loads(bad.stdout)["payments"]
    assert row["result"] == "rejected" and "Rupiah bulat" in row["message"]

    status = json.loads(
        iuran("status", "--program", "lebak", "--period", "2026-01", "--json").stdout
    )
    [inv] = status["invoices"]
    assert (inv["number"], inv["payment_state"], inv["paid"]) == (JAN, "paid", MONTH)
    assert status["totals"]["credit"] == 200_000 - MONTH

    people = iuran("status", "--program", "lebak")
    assert people.returncode == 0, people.stderr
    assert "Nomor" in people.stdout and "lunas" in people.stdout and JAN in people.stdout
    missing = iuran("payments", "import", str(tmp_path / "tidak-ada.csv"))
    assert missing.returncode != 0


def test_a_sipd_export_pays_its_invoice_through_the_command_line(
    sqlite_url: str, tmp_path: Path
) -> None:
    """SIPD RI's SP2D export as BKAD downloads it: the invoice number only in the description."""
    import json
    import os
    import subprocess
    import sys

    program = load_program("lebak")
    inbox = tmp_path / "inbox"
    generate_rosters(program, Period(2026, 1), inbox, villages=2, per_village=5, seed=4)
    run(sqlite_url, program, "2026-01", inbox, tmp_path / "out", render=False)
    sipd = "36.02/04.0/000117/LS/5.02.0.00.0.00.01.0000/M/1/2026"
    sp2d = _write(
        tmp_path / "sp2d-sipd.csv",
        "id_sp_2_d,tahun,nomor_sp_2_d,tanggal_sp_2_d,jenis_sp_2_d,nama_skpd,nomor_spm,"
        "tanggal_spm,nilai_sp_2_d,keterangan_sp_2_d\n"
        f"90117,2026,{sipd},2026-01-13 00:00:00,LS,DINAS TENAGA KERJA,36.02/03.0/000101/LS,"
        f'2026-01-12 00:00:00,{MONTH},"Pembayaran iuran JKK JKM pekerja rentan Jan 2026, '
        f'sesuai tagihan {JAN}"\n'
        "90118,2026,36.02/04.0/000118/LS/5.02.0.00.0.00.01.0000/M/1/2026,0001-01-01 00:00:00,LS,"
        "DINAS TENAGA KERJA,36.02/03.0/000102/LS,2026-01-12 00:00:00,5000,belum terbit\n",
    )
    env = {**os.environ, "IURAN_VAR": str(tmp_path / "var"), "IURAN_OUTBOX": str(tmp_path / "o")}
    env.pop("IURAN_SMTP_HOST", None)
    done = subprocess.run(
        [sys.executable, "-m", "iuran.cli", "payments", "import", str(sp2d), "--program", "lebak",
         "--json", "--db", sqlite_url, "--today", "2026-01-20"],
        env=env, cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["summary"]["recorded"], result["summary"]["rejected"]) == (1, 1)
    paid, rejected = sorted(result["payments"], key=lambda p: p["result"] == "rejected")
    assert paid["nomor_sp2d"] == sipd and paid["unallocated"] == 0
    assert rejected["code"] == "TANGGAL_KOSONG"
    assert _invoices(sqlite_url) == {JAN: (MONTH, "paid")}
    with session_scope(sqlite_url) as s:
        payment = s.scalars(select(Payment)).one()
        assert (payment.nomor_sp2d, payment.tanggal_sp2d, payment.jumlah) == (
            sipd,
            dt.date(2026, 1, 13),
            MONTH,
        )
        assert payment.nomor_tagihan == JAN
