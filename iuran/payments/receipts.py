"""Recording BPJS receipts: each row is matched to its SP2D by number, and the amounts must agree.

A receipt that arrives before its SP2D waits (`unmatched`) and is linked when the SP2D is recorded
(`link_receipts`); a receipt whose amount differs from its SP2D is a mismatch and confirms nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from iuran.db.models import Payment, PaymentAllocation, Receipt
from iuran.money import rupiah
from iuran.payments.rules import RECEIPT, message, tanggal, validate_rows
from iuran.payments.state import begin_write, refresh_invoices


def link_receipts(
    session: Session, *, sp2ds: Collection[str] | None = None, program: str | None = None
) -> set[int]:
    """Receipts recorded before their SP2D (status `unmatched`) are matched to it now. Returns the
    invoices whose state may change."""
    stmt = select(Receipt).where(Receipt.status == "unmatched")
    if sp2ds is not None:
        if not sp2ds:
            return set()
        stmt = stmt.where(Receipt.nomor_sp2d.in_(list(sp2ds)))
    if program is not None:
        stmt = stmt.where(or_(Receipt.program == program, Receipt.program.is_(None)))
    waiting = session.scalars(stmt).all()
    if not waiting:
        return set()
    payments = {
        p.nomor_sp2d: p
        for p in session.scalars(
            select(Payment).where(Payment.nomor_sp2d.in_([r.nomor_sp2d for r in waiting]))
        )
    }
    linked: list[int] = []
    for r in waiting:
        p = payments.get(r.nomor_sp2d)
        if p is None:
            continue
        r.payment_id = p.id
        r.status, _, r.note = _receipt_verdict(r.nomor_sp2d, int(r.jumlah), r.program, p)
        linked.append(p.id)
    session.flush()
    return set(
        session.scalars(
            select(PaymentAllocation.invoice_id).where(PaymentAllocation.payment_id.in_(linked))
        )
    )


def _receipt_verdict(
    sp2d: str, received: int, program: str | None, p: Payment
) -> tuple[str, str | None, str]:
    """(status, code or None, message) of a receipt for payment `p`."""
    if program and p.program and p.program != program:
        code = "PENERIMAAN_PROGRAM_LAIN"
        return "mismatch", code, message(code, sp2d=sp2d, program_sp2d=p.program, program=program)
    if received != int(p.jumlah):
        code = "PENERIMAAN_SELISIH"
        return (
            "mismatch",
            code,
            message(
                code,
                sp2d=sp2d,
                diterima=rupiah(received),
                jumlah=rupiah(int(p.jumlah)),
                selisih=rupiah(received - int(p.jumlah)),
            ),
        )
    return "confirmed", None, message("PENERIMAAN_SESUAI")


def apply_receipts(
    session: Session,
    raw: pd.DataFrame,
    *,
    today: dt.date,
    program: str | None = None,
    source: str | None = None,
    import_id: int | None = None,
) -> dict[str, Any]:
    """Record BPJS receipt rows: each is matched to its SP2D by number; the amount must agree."""
    begin_write(session)
    valid, rejected = validate_rows(raw, RECEIPT, today, program)
    valid = valid.sort_values("source_row").reset_index(drop=True)
    sp2ds = list(valid["nomor_sp2d"].astype(str))
    before = {
        r.nomor_sp2d: r
        for r in session.scalars(select(Receipt).where(Receipt.nomor_sp2d.in_(sp2ds)))
    }
    payments = {
        p.nomor_sp2d: p
        for p in session.scalars(select(Payment).where(Payment.nomor_sp2d.in_(sp2ds)))
    }
    results: list[dict[str, Any]] = []
    confirmed_payments: list[int] = []
    seen: dict[str, tuple[int, dt.date]] = {
        r.nomor_sp2d: (int(r.jumlah), r.tanggal_terima) for r in before.values()
    }
    for r in valid.itertuples(index=False):
        sp2d, amount = str(r.nomor_sp2d), int(r.jumlah)
        prog = None if pd.isna(r.program) else str(r.program)
        base = {
            "row": int(r.source_row),
            "nomor_sp2d": sp2d,
            "tanggal": r.tanggal.isoformat(),
            "jumlah": amount,
        }
        if sp2d in seen:
            ref_amount, ref_date = seen[sp2d]
            if (ref_amount, ref_date) == (amount, r.tanggal):
                text_ = message("PENERIMAAN_SUDAH_DICATAT", sp2d=sp2d)
                results.append(
                    base
                    | {
                        "result": "already_recorded",
                        "code": "PENERIMAAN_SUDAH_DICATAT",
                        "message": text_,
                    }
                )
            else:
                results.append(
                    base
                    | {
                        "result": "conflict",
                        "code": "PENERIMAAN_KONFLIK",
                        "message": message(
                            "PENERIMAAN_KONFLIK",
                            sp2d=sp2d,
                            jumlah_lama=rupiah(ref_amount),
                            tanggal_lama=tanggal(ref_date),
                            jumlah=rupiah(amount),
                            tanggal=tanggal(r.tanggal),
                        ),
                    }
                )
            continue
        seen[sp2d] = (amount, r.tanggal)
        p = payments.get(sp2d)
        code: str | None = "PENERIMAAN_TANPA_SP2D"
        if p is None:
            status, note = "unmatched", message("PENERIMAAN_TANPA_SP2D", sp2d=sp2d)
        else:
            status, code, note = _receipt_verdict(sp2d, amount, prog, p)
        session.add(
            Receipt(
                nomor_sp2d=sp2d,
                tanggal_terima=r.tanggal,
                jumlah=amount,
                program=prog or (p.program if p else None),
                payment_id=p.id if p else None,
                status=status,
                note=note,
                import_id=import_id,
                source=source,
                source_row=int(r.source_row),
            )
        )
        if status == "confirmed" and p is not None:
            confirmed_payments.append(p.id)
        results.append(
            base | {"result": "recorded", "status": status, "code": code, "message": note}
        )
    session.flush()
    touched = set(
        session.scalars(
            select(PaymentAllocation.invoice_id).where(
                PaymentAllocation.payment_id.in_(confirmed_payments)
            )
        )
    )
    changed = refresh_invoices(session, touched)
    for r in rejected.itertuples(index=False):
        results.append(
            {
                "row": int(r.source_row),
                "nomor_sp2d": None if pd.isna(r.nomor_sp2d) else str(r.nomor_sp2d),
                "result": "rejected",
                "column": r.column,
                "code": r.code,
                "message": r.message,
            }
        )
    results.sort(key=lambda x: x["row"])
    recorded = [x for x in results if x["result"] == "recorded"]
    summary = {
        "rows": len(results),
        "recorded": len(recorded),
        "confirmed": sum(x["status"] == "confirmed" for x in recorded),
        "mismatch": sum(x["status"] == "mismatch" for x in recorded),
        "unmatched": sum(x["status"] == "unmatched" for x in recorded),
        "already_recorded": sum(x["result"] == "already_recorded" for x in results),
        "conflicts": sum(x["result"] == "conflict" for x in results),
        "rejected": sum(x["result"] == "rejected" for x in results),
        "invoices_confirmed": changed,
    }
    return {"summary": summary, "receipts": results}
