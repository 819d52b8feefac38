"""Importing a payment or receipt file: read it, register it once by content, apply its rows.

One transaction per file: the `PaymentImport` row (unique by kind and content hash), the payments or
receipts it records and the e-mails they queue commit together. The inbox flow skips a file whose
bytes were imported before; the command line reports "already recorded" instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from iuran import faults
from iuran.db.models import PaymentImport
from iuran.db.session import session_scope
from iuran.db.upsert import insert_or_ignore
from iuran.intake.refusal import FileRefused
from iuran.payments.read import read_payment_table
from iuran.payments.receipts import apply_receipts
from iuran.payments.rules import PAYMENT, RECEIPT
from iuran.payments.sp2d import apply_payments
from iuran.payments.state import begin_write

log = logging.getLogger("iuran.payments")


def _import_row(
    session: Session, kind: str, program: str | None, path: str, sha: str, rows: int
) -> tuple[int, bool]:
    """The PaymentImport row for this file: (id, created now)."""
    created = session.execute(
        insert_or_ignore(session, PaymentImport, ["kind", "sha256"])
        .values(
            kind=kind,
            program=program,
            path=path,
            sha256=sha,
            rows=rows,
            imported_at=dt.datetime.now(dt.UTC),
        )
        .returning(PaymentImport.id)
    ).scalar_one_or_none()
    if created is not None:
        return int(created), True
    found = session.scalar(
        select(PaymentImport.id).where(PaymentImport.kind == kind, PaymentImport.sha256 == sha)
    )
    assert found is not None
    return int(found), False


def already_imported(database_url: str, kind: str, sha256: str) -> bool:
    with session_scope(database_url) as session:
        return (
            session.scalar(
                select(PaymentImport.id).where(
                    PaymentImport.kind == kind, PaymentImport.sha256 == sha256
                )
            )
            is not None
        )


#: What each kind of file's rows are recorded with.
APPLY: dict[str, Callable[..., dict[str, Any]]] = {PAYMENT: apply_payments, RECEIPT: apply_receipts}


def import_file(
    database_url: str,
    path: str | Path,
    *,
    kind: str = PAYMENT,
    program: str | None = None,
    today: dt.date | None = None,
    source: str | None = None,
    skip_known: bool = False,
) -> dict[str, Any]:
    """Read a payment (`kind="pembayaran"`) or BPJS receipt (`"penerimaan"`) file, register it
    (`PaymentImport`) and record its rows, all in one transaction. `skip_known`: a file whose bytes
    were imported before is not read again (the inbox flow); otherwise a re-import reports
    "already recorded"."""
    today = today or dt.date.today()
    shown = source or str(path)
    faulty = kind == PAYMENT  # the crash suite's fault points lie on the payment import's path
    try:
        raw, sha = read_payment_table(path, kind)
    except FileRefused as exc:
        return {
            "file": shown,
            "kind": kind,
            "status": "rejected",
            "code": exc.code,
            "message": exc.message,
        }
    with session_scope(database_url) as session:
        begin_write(session)
        import_id, created = _import_row(session, kind, program, shown, sha, len(raw))
        if faulty:
            faults.point("payments.file_registered")
        if skip_known and not created:
            return {"file": shown, "kind": kind, "sha256": sha, "status": "skipped"}
        result = APPLY[kind](
            session, raw, today=today, program=program, source=shown, import_id=import_id
        )
        # The file's record says what it recorded: a re-import that records nothing leaves it be.
        if created or result["summary"]["recorded"]:
            session.execute(
                update(PaymentImport)
                .where(PaymentImport.id == import_id)
                .values(summary=result["summary"])
            )
        if faulty:
            faults.point("payments.before_commit")
    log.info("%s %s: %s", "payments" if faulty else "receipts", shown, result["summary"])
    return {"file": shown, "kind": kind, "sha256": sha, "status": "read", **result}
