"""Credit notes, on SQLite and PostgreSQL: workers removed from a paid invoice by a later roster fix
become credit of the payer (the paid invoice never changes), exactly once whatever the reruns, and
that credit pays the payer's next invoices when payments are settled."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import func, inspect, select

from iuran.db.models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    Notification,
    Payment,
    PaymentAllocation,
)
from iuran.db.session import alembic_config, get_engine, session_scope, upgrade
from iuran.generate import generate_rosters
from iuran.mail.compose import render
from iuran.money import rupiah
from iuran.payments.credit import settle
from iuran.payments.imports import import_file
from iuran.payments.rules import RECEIPT
from iuran.payments.sp2d import record_payment
from iuran.periods import Period
from iuran.programs import load_program
from iuran.status import format_status, status_report
from tests.pipeline import run

JAN, FEB = "001/TAG-JKK-JKM/LBK/I/2026", "002/TAG-JKK-JKM/LBK/II/2026"
PREMIUM = 16_800
MONTH = 10 * PREMIUM  # 2 villages x 5 workers
LEBAK = load_program("lebak")


def _roster(inbox: Path, period: str) -> Path:
    return sorted((inbox / "lebak" / period).glob("*.csv"))[0]


def _drop(inbox: Path, period: str, n: int) -> None:
    """Remove the first `n` workers of the period's first roster file."""
    path = _roster(inbox, period)
    pd.read_csv(path, dtype=str).iloc[n:].to_csv(path, index=False)


def _bill(url: str, inbox: Path, out: Path, month: int) -> dict[str, Any]:
    return run(url, LEBAK, f"2026-{month:02d}", inbox, out, render=False)


def _remove_three(url: str, inbox: Path, out: Path) -> bytes:
    """Remove 3 of January's workers and rerun January; returns January's roster as it was."""
    original = _roster(inbox, "2026-01").read_bytes()
    _drop(inbox, "2026-01", 3)
    _bill(url, inbox, out, 1)
    return original


def _bill_february(url: str, inbox: Path, out: Path) -> dict[str, Any]:
    generate_rosters(LEBAK, Period(2026, 2), inbox, villages=2, per_village=5, seed=4, xlsx_share=0)
    return _bill(url, inbox, out, 2)


def _pay(url: str, sp2d: str, amount: int, number: str, day: dt.date) -> None:
    [p] = record_payment(
        url,
        nomor_sp2d=sp2d,
        tanggal=day.strftime("%d/%m/%Y"),
        jumlah=str(amount),
        nomor_tagihan=number,
        today=day,
    )["payments"]
    assert p["result"] == "recorded", p


def _notes(url: str) -> list[dict[str, Any]]:
    with session_scope(url) as s:
        return [
            {
                "number": n.number,
                "seq": n.seq,
                "program": n.program,
                "payer": n.payer_key,
                "period": n.period,
                "source": s.get(Invoice, n.source_invoice_id).number,  # type: ignore[union-attr]
                "reason": n.reason,
                "participants": n.participants,
                "amount": int(n.amount),
                "unapplied": int(n.unapplied),
                "withdrawn": int(n.withdrawn),
                "created_at": n.created_at,
                "note": n.note,
            }
            for n in s.scalars(select(CreditNote).order_by(CreditNote.id))
        ]


def _invoice(url: str, number: str) -> tuple[int, int, str, str | None]:
    """(total, paid, payment_state, change_note) of the live invoice with this number."""
    with session_scope(url) as s:
        inv = s.scalars(
            select(Invoice).where(
                Invoice.number == number, Invoice.document_state.in_(("draft", "issued"))
            )
        ).one()
        return int(inv.total), int(inv.paid), inv.payment_state, inv.change_note


def check_ledger(url: str) -> None:
    """Money adds up: an invoice's paid is the sum of its allocations and never above its total; a
    credit note is the sum of its lines and = allocated + unapplied + withdrawn; a payment likewise
    = allocated + unallocated; every allocation has exactly one source."""
    with session_scope(url) as s:
        for inv in s.scalars(select(Invoice)):
            allocated = s.scalar(
                select(func.coalesce(func.sum(PaymentAllocation.amount), 0)).where(
                    PaymentAllocation.invoice_id == inv.id
                )
            )
            assert int(inv.paid) == int(allocated or 0) <= int(inv.total), inv.number
        for note in s.scalars(select(CreditNote)):
            lines = s.scalar(
                select(func.coalesce(func.sum(CreditNoteLine.amount), 0)).where(
                    CreditNoteLine.credit_note_id == note.id
                )
            )
            spent = s.scalar(
                select(func.coalesce(func.sum(PaymentAllocation.amount), 0)).where(
                    PaymentAllocation.credit_note_id == note.id
                )
            )
            assert int(lines or 0) == int(note.amount), note.number
            assert int(spent or 0) + int(note.unapplied) + int(note.withdrawn) == int(note.amount)
            assert note.unapplied >= 0 and note.withdrawn >= 0
        for p in s.scalars(select(Payment)):
            spent = s.scalar(
                select(func.coalesce(func.sum(PaymentAllocation.amount), 0)).where(
                    PaymentAllocation.payment_id == p.id
                )
            )
            assert int(spent or 0) + int(p.unallocated) == int(p.jumlah), p.nomor_sp2d
        both_or_none = s.scalar(
            select(func.count())
            .select_from(PaymentAllocation)
            .where(
                (PaymentAllocation.payment_id.is_(None))
                == (PaymentAllocation.credit_note_id.is_(None))
            )
        )
        assert both_or_none == 0


@pytest.fixture
def paid_january(database_url: str, tmp_path: Path) -> tuple[str, Path, Path]:
    """Lebak billed for January 2026 (2 villages x 5 workers, CSV rosters) and paid in full."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(LEBAK, Period(2026, 1), inbox, villages=2, per_village=5, seed=4, xlsx_share=0)
    assert _bill(database_url, inbox, out, 1)["total_due"] == MONTH
    _pay(database_url, "100/SP2D/2026", MONTH, JAN, dt.date(2026, 1, 14))
    assert _invoice(database_url, JAN)[1:3] == (MONTH, "paid")
    return database_url, inbox, out


def test_removed_workers_become_one_credit_per_fix_whatever_the_reruns(
    paid_january: tuple[str, Path, Path],
) -> None:
    url, inbox, out = paid_january
    _drop(inbox, "2026-01", 3)
    s = _bill(url, inbox, out, 1)
    [inv] = s["invoices"]
    assert (inv["number"], inv["revision"], inv["status"]) == (JAN, 0, "unchanged")
    [note] = _notes(url)
    assert note | {"created_at": None, "note": None} == {
        "number": f"{JAN}-K1",
        "seq": 1,
        "program": "lebak",
        "payer": "kabupaten",
        "period": "2026-01",
        "source": JAN,
        "reason": "peserta_dikeluarkan",
        "participants": 3,
        "amount": 3 * PREMIUM,
        "unapplied": 3 * PREMIUM,
        "withdrawn": 0,
        "created_at": None,
        "note": None,
    }
    assert note["created_at"] is not None and "3 peserta dikeluarkan" in note["note"]
    total, paid, state, change = _invoice(url, JAN)
    assert (total, paid, state) == (MONTH, MONTH, "paid")  # the paid invoice is never changed
    assert change is not None and f"{JAN}-K1 Rp50.400 (3 peserta)" in change
    assert "3 peserta tidak lagi ditagih" in change and "kredit" in change

    # Rerun, nothing changed: still one credit note, same change note.
    again = _bill(url, inbox, out, 1)
    assert again["status"] == "unchanged"
    assert [n["number"] for n in _notes(url)] == [f"{JAN}-K1"]
    assert _invoice(url, JAN)[3] == change

    # A second fix removes 2 more: a second credit note for those 2 only.
    _drop(inbox, "2026-01", 2)
    _bill(url, inbox, out, 1)
    _bill(url, inbox, out, 1)
    notes = _notes(url)
    assert [(n["number"], n["participants"], n["amount"]) for n in notes] == [
        (f"{JAN}-K1", 3, 3 * PREMIUM),
        (f"{JAN}-K2", 2, 2 * PREMIUM),
    ]
    change = _invoice(url, JAN)[3]
    assert change is not None and "5 peserta tidak lagi ditagih" in change
    assert f"{JAN}-K1" in change and f"{JAN}-K2 Rp33.600 (2 peserta)" in change
    with session_scope(url) as ses:
        assert ses.scalar(select(func.count()).select_from(CreditNoteLine)) == 5
    check_ledger(url)


def test_credit_pays_the_next_invoice_when_payments_are_settled(
    paid_january: tuple[str, Path, Path],
) -> None:
    url, inbox, out = paid_january
    _remove_three(url, inbox, out)
    assert settle(url, "lebak", dt.date(2026, 1, 20))["credits_applied"] == []  # nothing open

    # The credit pays February as February is issued (#18), not at a later settle run.
    assert _bill_february(url, inbox, out)["total_due"] == MONTH
    assert _invoice(url, FEB)[1:3] == (3 * PREMIUM, "partial")
    assert _notes(url)[0]["unapplied"] == 0
    assert settle(url, "lebak", dt.date(2026, 2, 2))["credits_applied"] == []  # spent once
    with session_scope(url) as s:
        feb = s.scalars(select(Invoice).where(Invoice.number == FEB)).one()
        assert int(feb.credit_applied) == 3 * PREMIUM
    # BKAD is told to pay only the rest: one message, whatever the settles
    with session_scope(url) as s:
        [told] = s.scalars(select(Notification).where(Notification.event == "credit_applied"))
        assert set(told.to_addrs) == set(LEBAK.recipients.bkad) | set(LEBAK.recipients.bpjs)
        subject, text, _ = render(told.template, told.context)
    assert f"{JAN}-K1" in subject
    assert f"{FEB} (Februari 2026): dibayar dengan kredit Rp50.400, sisa yang harus dibayar" in text
    assert rupiah(MONTH - 3 * PREMIUM) in text
    check_ledger(url)

    report = status_report(url, LEBAK, today=dt.date(2026, 2, 3))
    feb = next(i for i in report["invoices"] if i["number"] == FEB)
    assert (feb["paid"], feb["paid_by_credit_note"], feb["outstanding"]) == (
        3 * PREMIUM,
        3 * PREMIUM,
        MONTH - 3 * PREMIUM,
    )
    [note] = report["credit_notes"]
    assert (note["number"], note["source_invoice"], note["applied"], note["unapplied"]) == (
        f"{JAN}-K1",
        JAN,
        3 * PREMIUM,
        0,
    )
    assert note["allocations"] == [
        {"number": FEB, "revision": 0, "period": "2026-02", "amount": 3 * PREMIUM}
    ]
    assert report["totals"]["outstanding"] == MONTH - 3 * PREMIUM
    assert report["totals"]["credit"] == 0
    text = format_status(report)
    assert f"{JAN}-K1 dari {JAN}: 3 peserta, Rp50.400 -> {FEB} Rp50.400" in text
    # The period's own view shows the credit note that paid it.
    [only] = status_report(url, LEBAK, "2026-02", today=dt.date(2026, 2, 3))["credit_notes"]
    assert only["number"] == f"{JAN}-K1"

    # BKAD pays the rest of February: the invoice is paid, by an SP2D and the credit together.
    _pay(url, "101/SP2D/2026", MONTH - 3 * PREMIUM, FEB, dt.date(2026, 2, 10))
    assert _invoice(url, FEB)[1:3] == (MONTH, "paid")
    check_ledger(url)


def test_unspent_credit_shows_in_the_status_totals(paid_january: tuple[str, Path, Path]) -> None:
    url, inbox, out = paid_january
    _remove_three(url, inbox, out)
    report = status_report(url, LEBAK, today=dt.date(2026, 1, 20))
    t = report["totals"]
    assert (t["credit"], t["credit_overpaid"], t["credit_notes"]) == (3 * PREMIUM, 0, 3 * PREMIUM)
    assert "nota kredit Rp50.400" in format_status(report)
    assert report["credit_notes"][0]["unapplied"] == 3 * PREMIUM


def test_a_partly_paid_invoice_is_settled_by_its_own_credit_first(
    database_url: str, tmp_path: Path
) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(LEBAK, Period(2026, 1), inbox, villages=2, per_village=5, seed=4, xlsx_share=0)
    _bill(database_url, inbox, out, 1)
    _pay(database_url, "110/SP2D/2026", 100_000, JAN, dt.date(2026, 1, 14))
    assert _invoice(database_url, JAN)[1:3] == (100_000, "partial")
    _drop(inbox, "2026-01", 3)
    _bill(database_url, inbox, out, 1)
    [used] = settle(database_url, "lebak", dt.date(2026, 1, 20))["credits_applied"]
    # January now owes 7 workers (117.600), of which 100.000 came by SP2D and 50.400 is credit.
    assert [(a["number"], a["amount"]) for a in used["allocations"]] == [(JAN, 3 * PREMIUM)]
    assert _invoice(database_url, JAN)[1:3] == (100_000 + 3 * PREMIUM, "partial")
    check_ledger(database_url)


def test_workers_billed_again_take_the_unspent_credit_back(
    paid_january: tuple[str, Path, Path],
) -> None:
    url, inbox, out = paid_january
    original = _remove_three(url, inbox, out)
    _roster(inbox, "2026-01").write_bytes(original)  # the fix was wrong: the 3 workers are back
    s = _bill(url, inbox, out, 1)
    assert {i["status"] for i in s["invoices"]} == {"unchanged"}  # no supplementary invoice
    [note] = _notes(url)
    assert (note["amount"], note["unapplied"], note["withdrawn"]) == (3 * PREMIUM, 0, 3 * PREMIUM)
    change = _invoice(url, JAN)[3]
    assert change is not None and "ditarik kembali" in change
    assert settle(url, "lebak", dt.date(2026, 1, 20))["credits_applied"] == []
    # Removed again: credited again, once.
    _remove_three(url, inbox, out)
    _bill(url, inbox, out, 1)
    assert [(n["number"], n["unapplied"]) for n in _notes(url)] == [
        (f"{JAN}-K1", 0),
        (f"{JAN}-K2", 3 * PREMIUM),
    ]
    assert _invoice(url, JAN)[3] == (
        "3 peserta tidak lagi ditagih setelah tagihan ini dibayar. Tagihan ini tidak diubah: "
        f"iuran mereka Rp50.400 menjadi kredit untuk tagihan berikutnya (nota kredit {JAN}-K2 "
        "Rp50.400 (3 peserta)). Kredit Rp50.400 ditarik kembali karena pesertanya ditagih lagi."
    )
    check_ledger(url)


def test_workers_billed_again_after_their_credit_was_spent_are_flagged(
    paid_january: tuple[str, Path, Path],
) -> None:
    url, inbox, out = paid_january
    original = _remove_three(url, inbox, out)
    _bill_february(url, inbox, out)
    settle(url, "lebak", dt.date(2026, 2, 2))  # the credit pays February
    _roster(inbox, "2026-01").write_bytes(original)
    _bill(url, inbox, out, 1)
    [note] = _notes(url)
    assert (note["unapplied"], note["withdrawn"]) == (0, 0)  # spent: nothing to take back
    change = _invoice(url, JAN)[3]
    assert change is not None
    assert "3 peserta ditagih lagi setelah kreditnya (Rp50.400) terpakai" in change
    _drop(inbox, "2026-01", 3)  # removed once more: they are credited already
    _bill(url, inbox, out, 1)
    assert len(_notes(url)) == 1
    check_ledger(url)


def test_credit_from_a_confirmed_invoice_confirms_what_it_pays(
    paid_january: tuple[str, Path, Path], tmp_path: Path
) -> None:
    url, inbox, out = paid_january
    _remove_three(url, inbox, out)
    _bill_february(url, inbox, out)
    settle(url, "lebak", dt.date(2026, 2, 2))
    _pay(url, "101/SP2D/2026", MONTH - 3 * PREMIUM, FEB, dt.date(2026, 2, 10))

    def receive(sp2d: str, amount: int) -> None:
        path = tmp_path / f"terima-{sp2d[:3]}.csv"
        path.write_text(f"nomor_sp2d,tanggal_terima,jumlah\n{sp2d},11/02/2026,{amount}\n")
        import_file(url, path, kind=RECEIPT, program="lebak", today=dt.date(2026, 2, 11))

    receive("101/SP2D/2026", MONTH - 3 * PREMIUM)
    assert _invoice(url, FEB)[2] == "paid"  # the credit's source (January) is not confirmed yet
    receive("100/SP2D/2026", MONTH)
    assert _invoice(url, JAN)[2] == "confirmed"
    assert _invoice(url, FEB)[2] == "confirmed"  # followed its source
    check_ledger(url)


def test_migration_0004_down_and_up_again(paid_january: tuple[str, Path, Path]) -> None:
    url, inbox, out = paid_january
    _remove_three(url, inbox, out)
    _bill_february(url, inbox, out)
    settle(url, "lebak", dt.date(2026, 2, 2))
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(PaymentAllocation)) == 2

    command.downgrade(alembic_config(url), "0003")
    get_engine(url).dispose()
    with get_engine(url).connect() as conn:
        schema = inspect(conn)
        assert not {"credit_note", "credit_note_line"} & set(schema.get_table_names())
        columns = {c["name"]: c for c in schema.get_columns("payment_allocation")}
        assert "credit_note_id" not in columns and not columns["payment_id"]["nullable"]
        assert conn.exec_driver_sql("SELECT count(*) FROM payment_allocation").scalar() == 1

    upgrade(url)
    get_engine(url).dispose()
    with get_engine(url).connect() as conn:
        schema = inspect(conn)
        assert {"credit_note", "credit_note_line"} <= set(schema.get_table_names())
        assert [c["name"] for c in schema.get_check_constraints("payment_allocation")] == [
            "ck_payment_allocation_one_source"
        ]
    # The credit notes are gone with 0004's tables; the next rerun credits the workers again.
    _bill(url, inbox, out, 1)
    [note] = _notes(url)
    assert (note["number"], note["unapplied"]) == (f"{JAN}-K1", 3 * PREMIUM)
    settle(url, "lebak", dt.date(2026, 2, 3))
    assert _invoice(url, FEB)[1:3] == (3 * PREMIUM, "partial")
    check_ledger(url)


def test_the_command_line_shows_credit_notes(paid_january: tuple[str, Path, Path]) -> None:
    import json

    from typer.testing import CliRunner

    from iuran.cli import app

    url, inbox, out = paid_january
    _remove_three(url, inbox, out)
    _bill_february(url, inbox, out)
    runner = CliRunner(env={"IURAN_OUTBOX": str(out / "outbox"), "IURAN_SMTP_HOST": None})
    args = ["--program", "lebak", "--db", url, "--today", "2026-02-02"]
    before = json.loads(runner.invoke(app, ["status", *args, "--json"]).stdout)
    assert [n["number"] for n in before["credit_notes"]] == [f"{JAN}-K1"]

    # The credit note paid February when it was issued (#18); a payment for February adds to it.
    sp2d = inbox / "sp2d.csv"
    sp2d.write_text(
        f"nomor_sp2d,tanggal_sp2d,jumlah,nomor_tagihan\n102/SP2D/2026,02/02/2026,1000,{FEB}\n"
    )
    done = runner.invoke(app, ["payments", "import", str(sp2d), *args])
    assert done.exit_code == 0, done.output
    after = runner.invoke(app, ["status", *args])
    assert f"{JAN}-K1 dari {JAN}: 3 peserta, Rp50.400 -> {FEB} Rp50.400" in after.stdout
    assert _invoice(url, FEB)[1:3] == (1_000 + 3 * PREMIUM, "partial")
    check_ledger(url)
