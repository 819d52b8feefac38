"""BKAD at the counter (and a village that pays its own invoices): the program's invoices with their payment state, their PDF and XLSX served
through the counter only, and an SP2D list (the SIPD export) recorded by the payment day's own
import (`iuran.payments.imports.import_file`), whose answer says what each SP2D paid and what stays
unmatched and why.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.orm import Session

from iuran.db.models import Invoice
from iuran.files import private_folder, write_atomic
from iuran.intake.read import check_file
from iuran.intake.refusal import FileRefused
from iuran.payments.imports import import_file
from iuran.payments.read import LIMITS
from iuran.payments.rules import PAYMENT, RESULT_LABELS, STATUS_LABELS
from iuran.programs import Program
from iuran.status import STATE_LABELS, display_states, load_invoices

KINDS = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def invoices(session: Session, program: str, today: dt.date) -> list[dict[str, Any]]:
    """The program's live invoices, oldest first, each with the state to show (overdue derived)."""
    frame = load_invoices(session, program)
    frame["state"] = display_states(frame, today).map(lambda s: STATE_LABELS.get(s, s))
    return frame.to_dict("records")


def village_invoices(
    session: Session, program: Program, villages: Sequence[str], today: dt.date
) -> list[dict[str, Any]]:
    """The live invoices addressed to `villages` (`payer_key`), where the program's villages pay
    their own (`payer: village`, Lahat); none where BKAD pays for all of them (Lebak)."""
    if program.payer != "village":
        return []
    return [i for i in invoices(session, program.code, today) if i["payer_key"] in villages]


def document(
    session: Session,
    program: str,
    invoice_id: int,
    kind: str,
    out: Path,
    payers: Sequence[str] | None = None,
) -> Path | None:
    """An invoice's PDF or XLSX, when the invoice is the program's (and, with `payers`, addressed
    to one of them: a village's own) and the file lies inside the documents folder (`out`); None
    otherwise: a download never leaves its folder."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.program != program or kind not in KINDS or not invoice.pdf_path:
        return None
    if payers is not None and invoice.payer_key not in payers:
        return None
    path = Path(invoice.pdf_path).with_suffix(f".{kind}")
    real, root = os.path.realpath(path), os.path.realpath(out)
    if os.path.commonpath([real, root]) != root or not os.path.isfile(real):
        return None
    return Path(real)


def import_sp2d(
    database_url: str,
    data: bytes,
    original_name: str,
    program: str,
    staging: Path,
    kind: str = PAYMENT,
) -> dict[str, Any]:
    """Record an SP2D list (or, `kind=RECEIPT`, BPJS's receipts) handed in at the counter, as
    `iuran payments import` would; the file is staged owner-only under a server-chosen name and
    removed afterwards (its record is the import's)."""
    suffix = PurePosixPath(original_name).suffix.lower()
    try:
        check_file(suffix, len(data), LIMITS)
    except FileRefused as exc:
        return {"status": "rejected", "code": exc.code, "message": exc.message}
    work = Path(tempfile.mkdtemp(dir=private_folder(staging)))
    try:
        staged = write_atomic(work / f"{kind}{suffix}", data, mode=0o600)
        result = import_file(
            database_url, staged, kind=kind, program=program, source=original_name[:200]
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for p in [*result.get("payments", []), *result.get("receipts", [])]:
        p["label"] = (
            STATUS_LABELS.get(p.get("status"), p.get("status"))
            if p.get("result") == "recorded"
            else RESULT_LABELS.get(p.get("result"), p.get("result"))
        )
    return result
