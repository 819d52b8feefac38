"""Spending credit, and settling a program's payments.

Credit is an overpayment (a `credit` payment with a known payer) or a credit note (workers removed
from a paid invoice, `iuran.credit_notes`); it pays the same payer's unpaid invoices, oldest first,
the oldest credit first. Each use is announced once: an overpayment's with `payment_recorded`, a
credit note's with `credit_applied`, so that BKAD pays only what is left. `settle` brings a
program up to date: credit spent, waiting receipts linked, every live invoice's state recomputed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from iuran import faults
from iuran.db.models import LIVE, CreditNote, Invoice, Payment, PaymentAllocation, PaymentStatus
from iuran.db.session import session_scope
from iuran.mail.outbox import queue
from iuran.money import rupiah
from iuran.payments.match import Ledger, oldest_first
from iuran.payments.receipts import link_receipts
from iuran.payments.rules import tanggal
from iuran.payments.state import begin_write, load_invoices, refresh_invoices
from iuran.periods import Period
from iuran.programs import Program, known_programs


def _credit_mail(
    session: Session, plan: Program, p: Payment, used: int, entry: dict[str, Any]
) -> None:
    """`payment_recorded` (`credit_applied`) to BPJS and BKAD: an overpayment now pays invoices."""
    left = entry["credit_left"]
    _credit_use_mail(
        session,
        plan,
        entry,
        key=f"payment_credit:{p.nomor_sp2d}:{_paid_key(entry)}:bpjs",
        event="payment_recorded",
        to=(*plan.recipients.bpjs, *plan.recipients.bkad),
        context={
            "nomor_sp2d": p.nomor_sp2d,
            "tanggal_sp2d": p.tanggal_sp2d,
            "jumlah": int(p.jumlah),
            "credit_applied": used,
            "status": PaymentStatus.CREDIT if left else PaymentStatus.MATCHED,
            "unallocated": left,
        },
    )


def _credit_note_mail(
    session: Session, plan: Program, note: CreditNote, entry: dict[str, Any]
) -> None:
    """`credit_applied` to BKAD and BPJS: a credit note now pays invoices, so BKAD pays only the
    rest (without it, BKAD would pay the invoice mail's full amount again)."""
    source = session.get(Invoice, note.source_invoice_id)
    _credit_use_mail(
        session,
        plan,
        entry,
        key=f"credit_note_applied:{note.number}:{_paid_key(entry)}:{entry['used']}",
        event="credit_applied",
        to=(*plan.recipients.bkad, *plan.recipients.bpjs),
        context={
            "credit_note": note.number,
            "source_invoice": source.number if source is not None else "",
            "source_period_label": Period.parse(note.period).label,
            "participants": int(note.participants),
            "credit_amount": int(note.amount),
            "used": entry["used"],
            "credit_left": entry["credit_left"],
        },
    )


def _credit_use_mail(
    session: Session,
    plan: Program,
    entry: dict[str, Any],
    *,
    key: str,
    event: str,
    to: tuple[str, ...],
    context: dict[str, Any],
) -> None:
    """Credit (an overpayment, a credit note) now paying invoices: the invoices it paid and what
    is left of each, cc Disnaker; the template is named after the event."""
    allocations = entry["allocations"]
    queue(
        session,
        key=key,
        event=event,
        program=plan.code,
        period=allocations[0]["period"],
        to=to,
        cc=plan.recipients.disnaker,
        template=event,
        context={
            "program_name": plan.name,
            "regency_name": plan.regency_name,
            "allocations": [
                {k: a[k] for k in ("number", "period_label", "amount", "remaining")}
                for a in allocations
            ],
            **context,
        },
        invoice_id=allocations[0]["invoice_id"] if len(allocations) == 1 else None,
    )


def _paid_key(entry: dict[str, Any]) -> str:
    """The invoices a credit paid, short enough for an outbox key (200 characters in all)."""
    ident = ",".join(str(a["invoice_id"]) for a in entry["allocations"])
    return ident if len(ident) <= 40 else hashlib.sha256(ident.encode()).hexdigest()[:16]


def apply_credits(session: Session, program: str, today: dt.date) -> list[dict[str, Any]]:
    """Credit pays the payer's unpaid invoices, oldest first: overpayments (a `credit` payment with a
    known payer) and credit notes (workers removed from a paid invoice), the oldest credit first.

    Returns one entry per credit that paid something (`source`: `sp2d` | `credit_note`); an
    overpayment's use is announced with a `payment_recorded` message (`credit_applied`), a credit
    note's with a `credit_applied` message. Each invoice's `credit_applied` grows by what it got,
    so its documents show what is still to pay. Called when a month issues invoices (credit waiting
    while a new invoice is due would be paid twice) and by `settle`. Credit is spent once: a source's
    `unallocated`/`unapplied` falls by what it paid, in the same transaction.
    """
    begin_write(session)
    open_payments = (
        Payment.program == program,
        Payment.status == PaymentStatus.CREDIT,
        Payment.unallocated > 0,
        Payment.payer_key.is_not(None),
    )
    open_notes = (CreditNote.program == program, CreditNote.unapplied > 0)
    if not (
        session.scalar(select(Payment.id).where(*open_payments).limit(1))
        or session.scalar(select(CreditNote.id).where(*open_notes).limit(1))
    ):
        return []
    invoices = load_invoices(session, [program], [])  # locks them first (PostgreSQL), then credit
    if not len(invoices):
        return []
    lock = session.get_bind().dialect.name == "postgresql"
    payments_stmt = select(Payment).where(*open_payments)
    notes_stmt = select(CreditNote).where(*open_notes)
    if lock:
        payments_stmt, notes_stmt = payments_stmt.with_for_update(), notes_stmt.with_for_update()
    fresh = {"populate_existing": True}
    sources: list[tuple[dt.date, int, int, Payment | CreditNote]] = [
        (p.tanggal_sp2d, 0, p.id, p)
        for p in session.scalars(payments_stmt.execution_options(**fresh))
    ]
    sources += [
        (n.created_at.date(), 1, n.id, n)
        for n in session.scalars(notes_stmt.execution_options(**fresh))
    ]
    live = oldest_first(invoices.loc[invoices["document_state"].isin(LIVE)]).set_index(
        "id", drop=False
    )
    ledger = Ledger(live)
    plan = known_programs([program]).get(program)
    payment_ids = [c.id for *_, c in sources if isinstance(c, Payment)]
    note_ids = [c.id for *_, c in sources if isinstance(c, CreditNote)]
    existing = set(
        session.execute(
            select(
                PaymentAllocation.payment_id,
                PaymentAllocation.credit_note_id,
                PaymentAllocation.invoice_id,
            ).where(
                or_(
                    PaymentAllocation.payment_id.in_(payment_ids),
                    PaymentAllocation.credit_note_id.in_(note_ids),
                )
            )
        ).tuples()
    )
    applied: list[dict[str, Any]] = []
    touched: set[int] = set()
    for *_, c in sorted(sources, key=lambda s: s[:3]):
        is_payment = isinstance(c, Payment)
        before = int(c.unallocated) if isinstance(c, Payment) else int(c.unapplied)
        paid, left = ledger.allocate(ledger.open_for(program, str(c.payer_key)), before)
        if not paid:
            continue
        source_col = (
            PaymentAllocation.payment_id if is_payment else PaymentAllocation.credit_note_id
        )
        for invoice_id, amount, _ in paid:
            if ((c.id, None) if is_payment else (None, c.id)) + (invoice_id,) in existing:
                session.execute(
                    update(PaymentAllocation)
                    .where(source_col == c.id, PaymentAllocation.invoice_id == invoice_id)
                    .values(amount=PaymentAllocation.amount + amount)
                )
            else:
                session.execute(
                    insert(PaymentAllocation),
                    [{source_col.key: c.id, "invoice_id": invoice_id, "amount": amount}],
                )
            session.execute(
                update(Invoice)
                .where(Invoice.id == invoice_id)
                .values(credit_applied=Invoice.credit_applied + amount)
            )
            touched.add(invoice_id)
        used = before - left
        entry: dict[str, Any] = {
            "source": "sp2d" if is_payment else "credit_note",
            "nomor_sp2d": c.nomor_sp2d if isinstance(c, Payment) else None,
            "credit_note": None if isinstance(c, Payment) else c.number,
            "payer": c.payer_key,
            "used": used,
            "credit_left": left,
            "allocations": [
                {
                    "invoice_id": i,
                    "number": str(live.at[i, "number"]),
                    "period": str(live.at[i, "period"]),
                    "period_label": Period.parse(str(live.at[i, "period"])).label,
                    "amount": a,
                    "remaining": rem,
                }
                for i, a, rem in paid
            ],
        }
        applied.append(entry)
        if isinstance(c, CreditNote):
            c.unapplied = left
            if plan is not None:
                _credit_note_mail(session, plan, c, entry)
            continue
        numbers = ", ".join(str(live.at[i, "number"]) for i, _, _ in paid)
        c.unallocated = left
        c.status = PaymentStatus.CREDIT if left else PaymentStatus.MATCHED
        c.note = ((c.note + " ") if c.note else "") + (
            f"Kredit {rupiah(used)} dipakai untuk tagihan {numbers} pada {tanggal(today)}."
        )
        if plan is not None:
            _credit_mail(session, plan, c, used, entry)
    session.flush()
    refresh_invoices(session, touched)
    return applied


def settle(database_url: str, program: str, today: dt.date | None = None) -> dict[str, Any]:
    """Bring a program's payment state up to date: credit pays new invoices, receipts that waited
    for their SP2D are matched, and every live invoice's state is recomputed (one transaction)."""
    faults.point("payments.settle")
    with session_scope(database_url) as session:
        begin_write(session)
        credits = apply_credits(session, program, today or dt.date.today())
        link_receipts(session, program=program)
        ids = session.scalars(
            select(Invoice.id).where(Invoice.program == program, Invoice.document_state.in_(LIVE))
        ).all()
        changed = refresh_invoices(session, ids)
    return {"credits_applied": credits, "invoices_changed": changed}
