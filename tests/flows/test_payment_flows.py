"""The payment_status and reminders flows on a real (temporary) Prefect server: files from the inbox
imported once, states updated, mail delivered once, however often the flows run."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path

import pytest

from flows.payment_status import payment_status
from flows.reminders import reminders
from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.programs import load_program
from tests.pipeline import run

JAN, FEB = "001/TAG-JKK-JKM/LBK/I/2026", "002/TAG-JKK-JKM/LBK/II/2026"
MONTH = 10 * 16_800


@pytest.fixture
def billed(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Lebak billed for January and February 2026; returns the inbox."""
    monkeypatch.setenv("IURAN_OUTBOX", str(tmp_path / "outbox"))
    lebak = load_program("lebak")
    inbox = tmp_path / "inbox"
    for month in (1, 2):
        generate_rosters(lebak, Period(2026, month), inbox, villages=2, per_village=5, seed=4)
        run(sqlite_url, lebak, f"2026-0{month}", inbox, tmp_path / "out")
    return inbox


def _payment_mail(outbox: Path) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted(outbox.glob("payment_*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.append(msg)
    return found  # type: ignore[return-value]


def test_payment_status_imports_the_inbox_once(
    sqlite_url: str, billed: Path, tmp_path: Path
) -> None:
    payments = billed / "lebak" / "pembayaran"
    payments.mkdir(parents=True)
    (payments / "sp2d-januari.csv").write_text(
        "No. SP2D;Tanggal SP2D;Jumlah;Nomor Tagihan\n"
        f"100/SP2D/2026;14/01/2026;Rp168.000;{JAN}\n"
        "101/SP2D/2026;14/02/2026;Rp200.000;\n"  # no invoice 200.000: unmatched
        f"102/SP2D/2026;14/02/2026;Rp200.000,75;{FEB}\n",  # cents: refused
        encoding="utf-8",
    )
    receipts = billed / "lebak" / "penerimaan"
    receipts.mkdir(parents=True)
    (receipts / "bpjs-januari.csv").write_text(
        "nomor_sp2d,tanggal_terima,jumlah\n100/SP2D/2026,16/01/2026,168.000\n", encoding="utf-8"
    )
    args = dict(program="lebak", inbox=str(billed), db=sqlite_url, today=dt.date(2026, 2, 20))

    first = payment_status(**args)
    assert first["files"] == {"payments": 1, "receipts": 1, "skipped": 0, "rejected": []}
    p = first["payments"]
    assert (p["recorded"], p["matched"], p["unmatched"], p["rejected"]) == (2, 1, 1, 1)
    assert first["receipts"]["confirmed"] == 1
    assert {x["code"] for x in first["problems"]} == {"JUMLAH_TIDAK_COCOK", "JUMLAH_DESIMAL"}
    mail = _payment_mail(tmp_path / "outbox")
    assert len(mail) == 2  # recorded (to BPJS and BKAD) and unmatched (to Disnaker)
    assert first["notifications"]["sent"] >= 2

    again = payment_status(**args)
    assert again["files"]["skipped"] == 2 and again["payments"]["recorded"] == 0
    assert again["problems"] == []
    assert len(_payment_mail(tmp_path / "outbox")) == 2

    from iuran.status import status_report

    status = status_report(sqlite_url, load_program("lebak"), today=dt.date(2026, 2, 20))
    states = {i["number"]: i["state"] for i in status["invoices"]}
    assert states == {JAN: "confirmed", FEB: "overdue"}


def test_reminders_flow_sends_each_reminder_once(sqlite_url: str, billed: Path) -> None:
    args = dict(program="lebak", db=sqlite_url, today=dt.date(2026, 2, 17))
    first = reminders(**args)
    assert first["queued"] == {"reminder_due": 0, "overdue": 2, "lapse_warning": 1}
    assert first["notifications"]["failed"] == 0
    again = reminders(**args)
    assert again["queued"] == {"reminder_due": 0, "overdue": 0, "lapse_warning": 0}
    assert again["notifications"]["sent"] == 0


def test_payment_status_pays_an_invoice_from_a_sipd_export(
    sqlite_url: str, billed: Path, tmp_path: Path
) -> None:
    """SIPD RI's SP2D export (XLSX, the invoice number only in `keterangan_sp_2_d`) in the inbox."""
    import openpyxl

    from iuran.status import status_report

    sipd = "36.02/04.0/000117/LS/5.02.0.00.0.00.01.0000/M/1/2026"
    payments = billed / "lebak" / "pembayaran"
    payments.mkdir(parents=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(
        [
            "id_sp_2_d",
            "tahun",
            "nomor_sp_2_d",
            "tanggal_sp_2_d",
            "jenis_sp_2_d",
            "nama_skpd",
            "nomor_spm",
            "tanggal_spm",
            "nilai_sp_2_d",
            "keterangan_sp_2_d",
        ]
    )
    ws.append(
        [
            "90117",
            "2026",
            sipd,
            "2026-01-13 00:00:00",
            "LS",
            "DINAS TENAGA KERJA",
            "36.02/03.0/000101/LS",
            "2026-01-12 00:00:00",
            str(MONTH),
            f"Pembayaran iuran JKK JKM pekerja rentan Jan 2026 sesuai tagihan {JAN}",
        ]
    )
    wb.save(payments / "sp2d-sipd-januari.xlsx")  # fmt: skip
    receipts = billed / "lebak" / "penerimaan"
    receipts.mkdir(parents=True)
    (receipts / "kwitansi-bpjs.csv").write_text(
        f'nomor_sp2d,tanggal_terima,jumlah\n{sipd},16-JAN-2026,"Rp 168,000.00"\n', encoding="utf-8"
    )

    done = payment_status(
        program="lebak", inbox=str(billed), db=sqlite_url, today=dt.date(2026, 2, 20)
    )
    assert done["files"] == {"payments": 1, "receipts": 1, "skipped": 0, "rejected": []}
    assert (done["payments"]["recorded"], done["payments"]["matched"]) == (1, 1)
    assert done["receipts"]["confirmed"] == 1 and done["problems"] == []
    status = status_report(sqlite_url, load_program("lebak"), today=dt.date(2026, 2, 20))
    states = {i["number"]: i["state"] for i in status["invoices"]}
    assert states == {JAN: "confirmed", FEB: "overdue"}
