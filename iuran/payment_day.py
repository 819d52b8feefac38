"""A payment day, told once: import what arrived → settle → deliver.

BKAD's SP2D lists and the BPJS branch's receipts arrive as files (dropped in the inbox and read by
the `payment-status` flow, or given to `iuran payments import|confirm`), or as one payment typed in
(`iuran payments record`). Whoever brings them, the day goes the same way: import them, settle
(credit pays unpaid invoices, receipts that waited for their SP2D are matched, every invoice's
payment state is recomputed), deliver the mail they queued. The flow (each step a Prefect task),
the command line and the crash driver (plain calls) pass their steps (`PaymentSteps`); which
programs are settled and when mail goes out is decided here. No Prefect in this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iuran.config import Settings
from iuran.mail.deliver import DeliveryReport
from iuran.payments.imports import import_file
from iuran.payments.read import inbox_files
from iuran.payments.rules import PAYMENT, RECEIPT
from iuran.programs import Program

#: Inbox sub-folders of a program: SP2D files from BKAD, receipt files from the BPJS branch.
FOLDERS = {PAYMENT: "pembayaran", RECEIPT: "penerimaan"}

#: What was imported: one result per file or typed-in payment (`iuran.payments.imports`).
Imported = list[dict[str, Any]]


def import_inbox(
    database_url: str, program: Program, inbox: Path, kind: str, today: dt.date
) -> Imported:
    """Every file of `INBOX/<program>/<pembayaran|penerimaan>/` not imported before (by content)."""
    folder = inbox / program.code / FOLDERS[kind]
    return [
        import_file(
            database_url,
            path,
            kind=kind,
            program=program.code,
            today=today,
            source=str(path.relative_to(inbox)),
            skip_known=True,
        )
        for path in inbox_files(folder)
    ]


def import_payments(database_url: str, program: Program, inbox: Path, today: dt.date) -> Imported:
    return import_inbox(database_url, program, inbox, PAYMENT, today)


def import_receipts(database_url: str, program: Program, inbox: Path, today: dt.date) -> Imported:
    return import_inbox(database_url, program, inbox, RECEIPT, today)


def nothing_arrived() -> Imported:
    return []


@dataclass(frozen=True)
class PaymentSteps:
    """One implementation of each step of a payment day, in the order the day takes them."""

    import_payments: Callable[[], Imported]  # SP2D files from BKAD, or a payment typed in
    import_receipts: Callable[[], Imported]  # receipt files from the BPJS branch
    settle: Callable[[str, str, dt.date], dict[str, Any]]  # (database URL, program code, today)
    deliver: Callable[[Settings], DeliveryReport]


@dataclass(frozen=True)
class PaymentDay:
    """What the day did: each import's result, each settled program's, the delivery's (if any)."""

    payments: Imported
    receipts: Imported
    settled: dict[str, dict[str, Any]]  # program code -> `settle`'s answer
    delivered: DeliveryReport | None

    @property
    def credits_applied(self) -> list[dict[str, Any]]:
        return [c for settled in self.settled.values() for c in settled["credits_applied"]]


def run_payment_day(
    steps: PaymentSteps, settings: Settings, today: dt.date, program: str | None = None
) -> PaymentDay:
    """Import, settle, deliver.

    `program`, the program whose day it is (the flow's): it is settled and the outbox delivered
    whatever arrived, since credit and waiting receipts may pay invoices on a day nothing arrives.
    Without one (the command line: one file, one payment), the programs of the payments recorded are
    settled, and the outbox is delivered when a payment file or payment was read.
    """
    payments = steps.import_payments()
    receipts = steps.import_receipts()
    read = [r for r in payments if r["status"] == "read"]
    programs = (
        {program}
        if program
        else {p["program"] for r in read for p in r.get("payments", []) if p.get("program")}
    )
    settled = {code: steps.settle(settings.database_url, code, today) for code in sorted(programs)}
    delivered = steps.deliver(settings) if program or read else None
    return PaymentDay(payments, receipts, settled, delivered)
