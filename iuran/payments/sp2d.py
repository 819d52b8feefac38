"""Recording SP2D rows: validate, match, write the payments and allocations, queue the e-mails.

Idempotent by construction: `Payment.nomor_sp2d` is unique, so a re-import inserts nothing and says
"already recorded"; the same SP2D number with another amount or date is a conflict, reported and not
recorded. A payment recorded as unmatched is matched when the same row comes again and now matches.
Everything happens in the caller's transaction with the messages it queues (`mail.queue`), so a
payment and the e-mail announcing it exist together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from iuran import faults, mail
from iuran.db.models import Payment, PaymentAllocation
from iuran.db.session import session_scope
from iuran.db.upsert import insert_or_ignore
from iuran.payments.match import EXISTING_COLUMNS, Matched, match_payments
from iuran.payments.receipts import link_receipts
from iuran.payments.rules import PAYMENT, message, opt, validate_rows
from iuran.payments.state import begin_write, load_invoices, refresh_invoices
from iuran.periods import Period
from iuran.programs import Program, known_programs


def _result_rows(
    matched: Matched, invoices: pd.DataFrame, rejected: pd.DataFrame
) -> list[dict[str, Any]]:
    """The per-row report, in file order."""
    by_id = invoices.set_index("id") if len(invoices) else invoices
    allocs: dict[str, list[dict[str, Any]]] = {}
    for a in matched.allocations.itertuples(index=False):
        inv = by_id.loc[int(a.invoice_id)]
        allocs.setdefault(str(a.nomor_sp2d), []).append(
            {
                "invoice_id": int(a.invoice_id),
                "number": str(inv["number"]),
                "revision": int(inv["revision"]),
                "period": str(inv["period"]),
                "period_label": Period.parse(str(inv["period"])).label,
                "amount": int(a.amount),
                "remaining": int(a.remaining),
            }
        )
    result_of = {
        "record": "recorded",
        "rematch": "recorded",
        "duplicate": "already_recorded",
        "conflict": "conflict",
    }
    out: list[dict[str, Any]] = []
    for r in matched.rows.itertuples(index=False):
        recorded = r.action in ("record", "rematch")
        out.append(
            {
                "row": int(r.source_row),
                "nomor_sp2d": str(r.nomor_sp2d),
                "tanggal": r.tanggal.isoformat(),
                "jumlah": int(r.jumlah),
                "nomor_tagihan": list(r.tagihan or ()),
                "keterangan": opt(r.keterangan),
                "program": opt(r.program),
                "payer": opt(r.payer),
                "result": result_of[str(r.action)],
                "status": opt(r.status) if recorded or r.action == "duplicate" else None,
                "matched_by": opt(r.matched_by),
                "allocations": allocs.get(str(r.nomor_sp2d), []) if recorded else [],
                "unallocated": int(r.unallocated) if recorded else 0,
                "code": opt(r.code),
                "message": opt(r.message),
            }
        )
    for r in rejected.itertuples(index=False):
        out.append(
            {
                "row": int(r.source_row),
                "nomor_sp2d": opt(r.nomor_sp2d),
                "result": "rejected",
                "column": opt(r.column),
                "code": opt(r.code),
                "message": opt(r.message),
            }
        )
    return sorted(out, key=lambda x: x["row"])


def _summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    def count(**where: object) -> int:
        return sum(all(r.get(k) == v for k, v in where.items()) for r in rows)

    recorded = [r for r in rows if r["result"] == "recorded"]
    return {
        "rows": len(rows),
        "recorded": len(recorded),
        "already_recorded": count(result="already_recorded"),
        "conflicts": count(result="conflict"),
        "rejected": count(result="rejected"),
        "matched": sum(r["status"] == "matched" for r in recorded),
        "partial": sum(r["status"] == "partial" for r in recorded),
        "credit": sum(r["status"] == "credit" for r in recorded),
        "unmatched": sum(r["status"] == "unmatched" for r in recorded),
        "amount_recorded": sum(r["jumlah"] for r in recorded),
        "amount_allocated": sum(a["amount"] for r in recorded for a in r["allocations"]),
        "amount_unallocated": sum(r["unallocated"] for r in recorded),
    }


def apply_payments(
    session: Session,
    raw: pd.DataFrame,
    *,
    today: dt.date,
    program: str | None = None,
    source: str | None = None,
    import_id: int | None = None,
) -> dict[str, Any]:
    """Validate, match and record payment rows in the caller's transaction; queue the messages.

    Returns `{"summary": {...}, "payments": [per-row results], "notifications": {"queued": n}}`.
    """
    begin_write(session)
    valid, rejected = validate_rows(raw, PAYMENT, today, program)
    numbers = {n for t in valid["tagihan"] for n in t}
    codes = set(valid["program"].dropna().astype(str))
    plans = known_programs(codes)
    invoices = load_invoices(session, codes, numbers)
    sp2ds = list(valid["nomor_sp2d"].astype(str))
    existing = pd.DataFrame(
        session.execute(
            select(
                Payment.id, Payment.nomor_sp2d, Payment.tanggal_sp2d, Payment.jumlah, Payment.status
            ).where(Payment.nomor_sp2d.in_(sp2ds))
        ).all(),
        columns=EXISTING_COLUMNS,
    )
    payer_kinds = {code: p.payer for code, p in plans.items()}
    matched = match_payments(valid, invoices, existing, payer_kinds)
    rows = matched.rows

    # Record: new payments (a concurrent import of the same SP2D makes the insert a no-op) ...
    ids: dict[str, int] = {}
    for idx in rows.index[rows["action"] == "record"]:
        r = rows.loc[idx]
        new_id = session.execute(
            insert_or_ignore(session, Payment, ["nomor_sp2d"])
            .values(
                nomor_sp2d=str(r.nomor_sp2d),
                tanggal_sp2d=r.tanggal,
                jumlah=int(r.jumlah),
                nomor_tagihan=None if pd.isna(r.nomor_tagihan) else str(r.nomor_tagihan),
                program=opt(r.program),
                payer_key=opt(r.payer),
                keterangan=None if pd.isna(r.keterangan) else str(r.keterangan),
                source=source,
                source_row=int(r.source_row),
                import_id=import_id,
                unallocated=int(r.unallocated),
                status=str(r.status),
                matched_by=opt(r.matched_by),
                note=opt(r.message),
                created_at=dt.datetime.now(dt.UTC),
            )
            .returning(Payment.id)
        ).scalar_one_or_none()
        if new_id is None:  # recorded by a concurrent import since this one read the payments
            rows.loc[idx, ["action", "code", "message"]] = [
                "duplicate",
                "SP2D_SUDAH_DICATAT",
                message("SP2D_SUDAH_DICATAT", sp2d=r.nomor_sp2d),
            ]
        else:
            ids[str(r.nomor_sp2d)] = int(new_id)
        faults.point("payments.between_rows")
    # ... and payments recorded unmatched before that now match.
    for idx in rows.index[rows["action"] == "rematch"]:
        r = rows.loc[idx]
        if r.status == "unmatched":
            rows.loc[idx, "action"] = "duplicate"
            continue
        session.execute(
            update(Payment)
            .where(Payment.id == int(r.payment_id), Payment.status == "unmatched")
            .values(
                program=opt(r.program),
                payer_key=opt(r.payer),
                unallocated=int(r.unallocated),
                status=str(r.status),
                matched_by=opt(r.matched_by),
                note=opt(r.message),
                nomor_tagihan=None if pd.isna(r.nomor_tagihan) else str(r.nomor_tagihan),
            )
        )
        ids[str(r.nomor_sp2d)] = int(r.payment_id)
    allocs = matched.allocations.loc[matched.allocations["nomor_sp2d"].isin(list(ids))]
    if len(allocs):
        session.execute(
            insert(PaymentAllocation),
            [
                {
                    "payment_id": ids[str(a.nomor_sp2d)],
                    "invoice_id": int(a.invoice_id),
                    "amount": int(a.amount),
                }
                for a in allocs.itertuples(index=False)
            ],
        )
    faults.point("payments.allocated")
    touched = set(allocs["invoice_id"].astype(int))
    # A receipt that arrived before its SP2D confirms it now.
    touched |= link_receipts(session, sp2ds=list(ids))
    refresh_invoices(session, touched)
    matched.allocations = allocs.reset_index(drop=True)
    results = _result_rows(matched, invoices, rejected)
    queued = _queue_recorded(session, [r for r in results if r["result"] == "recorded"], plans)
    return {
        "summary": _summary(results),
        "payments": results,
        "notifications": {"queued": queued},
    }


def _queue_recorded(
    session: Session,
    recorded: list[dict[str, Any]],
    plans: Mapping[str, Program],
) -> int:
    """`payment_recorded` to BPJS and BKAD (cc Disnaker) for each recorded payment; an unmatched
    one goes to Disnaker (cc BKAD), who must find out what it pays."""
    missing = {r["program"] for r in recorded if r["program"] and r["program"] not in plans}
    plans = {**plans, **known_programs(missing)}
    queued = 0
    for r in recorded:
        plan = plans.get(r["program"] or "")
        if plan is None:
            continue
        context = {
            "program_name": plan.name,
            "regency_name": plan.regency_name,
            "nomor_sp2d": r["nomor_sp2d"],
            "tanggal_sp2d": r["tanggal"],
            "jumlah": r["jumlah"],
            "status": r["status"],
            "allocations": [
                {k: a[k] for k in ("number", "period_label", "amount", "remaining")}
                for a in r["allocations"]
            ],
            "unallocated": r["unallocated"],
            "keterangan": " ".join(x for x in (r["keterangan"], r["message"]) if x),
        }
        if r["status"] == "unmatched":
            key, to, cc = (
                f"payment_unmatched:{r['nomor_sp2d']}:disnaker",
                plan.recipients.disnaker,
                plan.recipients.bkad,
            )
        else:
            key, to, cc = (
                f"payment_recorded:{r['nomor_sp2d']}:bpjs",
                (*plan.recipients.bpjs, *plan.recipients.bkad),
                plan.recipients.disnaker,
            )
        first = r["allocations"][0] if r["allocations"] else None
        if mail.queue(
            session,
            key=key,
            event="payment_recorded",
            program=plan.code,
            period=first["period"] if first else None,
            to=to,
            cc=cc,
            template="payment_recorded",
            context=context,
            invoice_id=first["invoice_id"] if first and len(r["allocations"]) == 1 else None,
        ):
            queued += 1
    return queued


def record_payment(
    database_url: str,
    *,
    nomor_sp2d: str,
    tanggal: str,
    jumlah: str,
    nomor_tagihan: str | None = None,
    keterangan: str | None = None,
    program: str | None = None,
    payer: str | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """One payment typed in by hand: the same rules as a file row (row number 1)."""
    raw = pd.DataFrame(
        {
            "nomor_sp2d": [nomor_sp2d],
            "tanggal_sp2d": [tanggal],
            "jumlah": [jumlah],
            "nomor_tagihan": [nomor_tagihan],
            "keterangan": [keterangan],
            "payer": [payer],
            "program": [program],
        },
        dtype="string",
    ).assign(source_row=pd.array([1], dtype="int64"))
    with session_scope(database_url) as session:
        result = apply_payments(
            session, raw, today=today or dt.date.today(), program=program, source="manual"
        )
    return {"file": None, "kind": PAYMENT, "status": "read", **result}
