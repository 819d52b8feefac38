"""An invoice's payment state, derived from its allocations and receipts, never accumulated.

`refresh_invoices` recomputes `paid` and `payment_state` (unpaid → partial → paid → confirmed) of the
touched invoices; `confirmed` means fully paid and every SP2D that paid it has a matching BPJS
receipt. Overdue is not stored: `iuran.status.payment_state` derives it from the due date.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pandas as pd
from sqlalchemy import and_, case, func, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from iuran.db.models import LIVE, CreditNote, Invoice, PaymentAllocation, Receipt
from iuran.payments.match import INVOICE_COLUMNS


def begin_write(session: Session) -> None:
    """Start the transaction as a writer. SQLite: takes the write lock now, so what is read next
    cannot change before this transaction commits (pysqlite would otherwise begin only at the first
    write, after the reads). PostgreSQL: nothing (the rows read are locked FOR UPDATE instead)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE payment_import SET rows = rows WHERE 0 = 1"))


def load_invoices(
    session: Session, programs: Collection[str], numbers: Collection[str]
) -> pd.DataFrame:
    """INVOICE_COLUMNS for the live invoices of `programs` and any invoice numbered `numbers`; `paid`
    is summed from the allocations (never trusted from the invoice row). Locked on PostgreSQL."""
    cond = or_(
        and_(Invoice.program.in_(list(programs)), Invoice.document_state.in_(LIVE)),
        Invoice.number.in_(list(numbers)),
    )
    ids_stmt = select(Invoice.id).where(cond)
    if session.get_bind().dialect.name == "postgresql":
        ids_stmt = ids_stmt.order_by(Invoice.id).with_for_update()
    ids = list(session.scalars(ids_stmt))
    if not ids:
        return pd.DataFrame(columns=INVOICE_COLUMNS)
    paid = (
        select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount).label("paid"))
        .where(PaymentAllocation.invoice_id.in_(ids))
        .group_by(PaymentAllocation.invoice_id)
        .subquery()
    )
    result = session.execute(
        select(
            Invoice.id,
            Invoice.number,
            Invoice.revision,
            Invoice.program,
            Invoice.period,
            Invoice.payer_key,
            Invoice.payer_name,
            Invoice.kind,
            Invoice.due_date,
            Invoice.total,
            func.coalesce(paid.c.paid, 0).label("paid"),
            Invoice.document_state,
        )
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(Invoice.id.in_(ids))
    )
    frame = pd.DataFrame(result.fetchall(), columns=INVOICE_COLUMNS)
    return frame.astype({"id": "int64", "total": "int64", "paid": "int64", "revision": "int64"})


def refresh_invoices(session: Session, invoice_ids: Collection[int]) -> int:
    """Recompute `paid` and `payment_state` of these invoices from allocations and receipts.

    unpaid (nothing allocated) → partial → paid (allocations cover the total) → confirmed (paid, and
    every SP2D that paid it has a receipt from BPJS for its exact amount; money from a credit note
    counts as received once the invoice it came from is confirmed, or when it pays that invoice
    itself). An invoice paid by a credit note follows its source: when the source changes, it is
    recomputed too. Returns the number of invoices changed.
    """
    ids = {int(i) for i in invoice_ids}
    changed: set[int] = set()
    for _ in range(10):  # source -> the invoices its credit notes paid -> ...: chains are short
        if not ids:
            break
        now = _refresh(session, sorted(ids))
        changed |= now
        ids = set(
            session.scalars(
                select(PaymentAllocation.invoice_id)
                .join(CreditNote, CreditNote.id == PaymentAllocation.credit_note_id)
                .where(
                    CreditNote.source_invoice_id.in_(list(now)),
                    PaymentAllocation.invoice_id != CreditNote.source_invoice_id,
                )
            )
        )
    return len(changed)


def _refresh(session: Session, ids: list[int]) -> set[int]:
    confirmed = (
        select(Receipt.payment_id)
        .where(Receipt.status == "confirmed", Receipt.payment_id.is_not(None))
        .scalar_subquery()
    )
    source = aliased(Invoice)
    received = case(
        (PaymentAllocation.payment_id.in_(confirmed), 0),
        (CreditNote.source_invoice_id == PaymentAllocation.invoice_id, 0),
        (source.payment_state == "confirmed", 0),
        else_=1,
    )
    sums = session.execute(
        select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount), func.sum(received))
        .outerjoin(CreditNote, CreditNote.id == PaymentAllocation.credit_note_id)
        .outerjoin(source, source.id == CreditNote.source_invoice_id)
        .where(PaymentAllocation.invoice_id.in_(ids))
        .group_by(PaymentAllocation.invoice_id)
    ).all()
    by_id = {int(i): (int(p or 0), int(u or 0)) for i, p, u in sums}
    current = session.execute(
        select(Invoice.id, Invoice.total, Invoice.paid, Invoice.payment_state).where(
            Invoice.id.in_(ids)
        )
    ).all()
    changes: list[dict[str, Any]] = []
    for i, total, was_paid, was_state in current:
        paid, unconfirmed = by_id.get(int(i), (0, 0))
        state = (
            "unpaid"
            if paid <= 0
            else "partial"
            if paid < total
            else "paid"
            if unconfirmed
            else "confirmed"
        )
        if (paid, state) != (was_paid, was_state):
            changes.append({"id": int(i), "paid": paid, "payment_state": state})
    if changes:
        session.execute(update(Invoice), changes)
    return {int(c["id"]) for c in changes}
