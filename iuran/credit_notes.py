"""Credit notes: workers removed from a paid invoice become credit of its payer.

A paid (or partly paid) invoice is never changed. When a rerun after a data fix no longer bills some
of its workers, what they cost goes on a credit note (`<invoice number>-K1`, `-K2` …, one line per
worker; `uq_credit_line_current` credits a worker once per invoice), named in the paid invoice's
change note. `iuran.payments.credit` spends the notes like an overpayment. Invoicing calls this
module when it records a month; it does not depend on the payments package.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from iuran.db.models import ContributionLine, CreditNote, CreditNoteLine, Invoice
from iuran.money import rupiah

#: The Indonesian note of a credit note (stored on it, shown to BKAD).
KREDIT_PESERTA_KELUAR = (
    "{jumlah_peserta} peserta dikeluarkan dari tagihan {nomor} setelah tagihan itu dibayar; "
    "iuran mereka {jumlah} menjadi kredit {pembayar} untuk tagihan berikutnya."
)

REMOVED_AFTER_PAYMENT = "peserta_dikeluarkan"


def credit_note_number(invoice_number: str, seq: int) -> str:
    """`001/TAG-JKK-JKM/LBK/I/2026-K1`: the first credit note of that invoice."""
    return f"{invoice_number}-K{seq}"


def credit_removed_workers(
    session: Session, cycle_id: int, invoices: Sequence[Invoice], billed: Iterable[int]
) -> list[CreditNote]:
    """Workers no longer billed whose lines stay on a paid (or partly paid) invoice become credit.

    A paid invoice is never changed: what the removed workers cost goes on a credit note of the
    payer, which `apply_credits` spends on the payer's unpaid invoices (a partly paid source
    invoice first: it is the oldest). `invoices`: the payer's live invoices of the period; `billed`:
    the participant ids the payer is billed for now. A worker is credited once per invoice
    (`uq_credit_line_current`), so a rerun writes nothing and a later fix that removes more workers
    credits only those. A credited worker billed again takes the credit back while it is unspent.
    Every paid invoice with credit notes gets a `change_note` naming them. Returns the new notes.
    """
    paid = {inv.id: inv for inv in invoices if inv.payment_state != "unpaid"}
    if not paid:
        return []
    still = {int(i) for i in billed}
    lines = session.execute(
        select(ContributionLine.invoice_id, ContributionLine.participant_id, ContributionLine.total)
        .where(ContributionLine.invoice_id.in_(list(paid)), ContributionLine.is_current)
        .order_by(ContributionLine.invoice_id, ContributionLine.participant_id)
    ).all()
    notes_stmt = select(CreditNote).where(CreditNote.source_invoice_id.in_(list(paid)))
    if session.get_bind().dialect.name == "postgresql":  # `apply_credits` may spend them meanwhile
        notes_stmt = notes_stmt.with_for_update()
    notes = {n.id: n for n in session.scalars(notes_stmt.order_by(CreditNote.id))}
    credited = session.scalars(
        select(CreditNoteLine)
        .where(CreditNoteLine.source_invoice_id.in_(list(paid)), CreditNoteLine.is_current)
        .order_by(CreditNoteLine.credit_note_id.desc(), CreditNoteLine.id)
    ).all()
    spent_back: dict[int, list[int]] = {}  # billed again, but their credit is already spent
    for line in credited:  # newest note first
        if line.participant_id not in still:
            continue
        note = notes[line.credit_note_id]
        if note.unapplied >= line.amount:
            note.unapplied -= line.amount
            note.withdrawn += line.amount
            line.is_current = False
        else:
            spent_back.setdefault(line.source_invoice_id, []).append(int(line.amount))
    covered = {(c.source_invoice_id, c.participant_id) for c in credited}
    fresh: dict[int, list[tuple[int, int]]] = {}
    for invoice_id, participant_id, total in lines:
        if participant_id not in still and (invoice_id, participant_id) not in covered:
            fresh.setdefault(int(invoice_id), []).append((int(participant_id), int(total)))
    written: list[CreditNote] = []
    for invoice_id, gone in fresh.items():
        inv = paid[invoice_id]
        seq = 1 + max((n.seq for n in notes.values() if n.source_invoice_id == inv.id), default=0)
        amount = sum(t for _, t in gone)
        note = CreditNote(
            number=credit_note_number(inv.number, seq),
            program=inv.program,
            payer_key=inv.payer_key,
            period=inv.period,
            source_invoice_id=inv.id,
            seq=seq,
            cycle_id=cycle_id,
            reason=REMOVED_AFTER_PAYMENT,
            participants=len(gone),
            amount=amount,
            unapplied=amount,
            withdrawn=0,
            note=KREDIT_PESERTA_KELUAR.format(
                jumlah_peserta=len(gone),
                nomor=inv.number,
                jumlah=rupiah(amount),
                pembayar=inv.payer_name,
            ),
            created_at=dt.datetime.now(dt.UTC),
        )
        session.add(note)
        session.flush()
        session.execute(
            insert(CreditNoteLine),
            [
                {
                    "credit_note_id": note.id,
                    "source_invoice_id": inv.id,
                    "participant_id": p,
                    "amount": t,
                    "is_current": True,
                }
                for p, t in gone
            ],
        )
        notes[note.id] = note
        written.append(note)
    for inv in paid.values():
        own = sorted((n for n in notes.values() if n.source_invoice_id == inv.id), key=_seq)
        if own:
            current = [
                int(c.amount) for c in credited if c.is_current and c.source_invoice_id == inv.id
            ]
            current += [t for _, t in fresh.get(inv.id, [])]
            inv.change_note = _credit_change_note(own, current, spent_back.get(inv.id, []))
    return written


def credited_invoices(session: Session, invoice_ids: Collection[int]) -> set[int]:
    """Those of these invoices that have workers credited (current credit note lines)."""
    if not invoice_ids:
        return set()
    return set(
        session.scalars(
            select(CreditNoteLine.source_invoice_id)
            .where(
                CreditNoteLine.source_invoice_id.in_(list(invoice_ids)), CreditNoteLine.is_current
            )
            .distinct()
        )
    )


def _seq(note: CreditNote) -> int:
    return note.seq


def _credit_change_note(notes: list[CreditNote], current: list[int], spent_back: list[int]) -> str:
    """What the paid invoice's change note says about its credit notes (no names, no NIKs)."""
    said = []
    if current:
        listed = ", ".join(
            f"{n.number} {rupiah(int(n.amount))} ({n.participants} peserta)"
            for n in notes
            if n.amount > n.withdrawn
        )
        said.append(
            f"{len(current)} peserta tidak lagi ditagih setelah tagihan ini dibayar. Tagihan ini "
            f"tidak diubah: iuran mereka {rupiah(sum(current))} menjadi kredit untuk tagihan "
            f"berikutnya (nota kredit {listed})."
        )
    withdrawn = sum(int(n.withdrawn) for n in notes)
    if withdrawn:
        said.append(f"Kredit {rupiah(withdrawn)} ditarik kembali karena pesertanya ditagih lagi.")
    if spent_back:
        said.append(
            f"{len(spent_back)} peserta ditagih lagi setelah kreditnya ({rupiah(sum(spent_back))}) "
            "terpakai: tagih selisih itu dengan tagihan susulan."
        )
    return " ".join(said)
