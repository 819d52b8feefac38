"""Where a program stands: invoices with their document and payment state, payments, credit notes,
receipts, lapse risk and undeliverable e-mail (`iuran status`).

Payment state is stored per invoice as unpaid | partial | paid | confirmed (`iuran.payments`); overdue
is derived here from the due date and the day asked about, so a rerun on another day never has to
rewrite anything. Lapse: BPU participation becomes non-active after `LAPSE_AFTER` consecutive unpaid
months; a payer (the regency, or each village where villages pay) with `LAPSE_AFTER - 1` consecutive
past-due unpaid months gets the lapse warning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, cast

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from iuran.claims import BENEFIT_LABELS, VILLAGE_COLUMNS, program_benefits, top_villages
from iuran.db.models import (
    LIVE,
    ClaimType,
    CreditNote,
    DocumentState,
    Invoice,
    Notification,
    NotificationStatus,
    Payment,
    PaymentAllocation,
    PaymentState,
    PaymentStatus,
    Receipt,
    ReceiptStatus,
)
from iuran.db.session import session_scope
from iuran.mail.outbox import recipient_roles, undelivered
from iuran.money import angka, rupiah
from iuran.periods import Period
from iuran.programs import Program

LAPSE_AFTER = 3  # BPU: non-active after 3 consecutive unpaid months (DOMAIN.md)
OPEN_STATES = (PaymentState.UNPAID, PaymentState.PARTIAL)
OVERDUE = "overdue"  # shown for an open state past the due date; never stored
TOP_VILLAGES = 20  # villages listed under what the program bought; the others summed in one line

STATE_LABELS = {
    PaymentState.UNPAID: "belum dibayar",
    PaymentState.PARTIAL: "dibayar sebagian",
    PaymentState.PAID: "lunas",
    PaymentState.CONFIRMED: "lunas, diterima BPJS",
    OVERDUE: "lewat jatuh tempo",
}
PAYMENT_LABELS = {
    PaymentStatus.MATCHED: "cocok",
    PaymentStatus.PARTIAL: "sebagian",
    PaymentStatus.CREDIT: "lebih bayar",
    PaymentStatus.UNMATCHED: "belum cocok",
}
RECEIPT_LABELS = {
    ReceiptStatus.CONFIRMED: "sesuai",
    ReceiptStatus.MISMATCH: "selisih",
    ReceiptStatus.UNMATCHED: "tanpa SP2D",
}
DOCUMENT_LABELS = {
    DocumentState.DRAFT: "draf",
    DocumentState.ISSUED: "terbit",
    DocumentState.SUPERSEDED: "diganti revisi",
    DocumentState.CANCELLED: "dibatalkan",
}

INVOICE_COLUMNS = ["id", "number", "revision", "kind", "period", "payer_key", "payer_name",
                   "participants", "total", "paid", "payment_state", "document_state", "issue_date",
                   "due_date", "pdf_path", "rendered_at"]  # fmt: skip


def payment_state(inv: Invoice | Mapping[str, Any], today: dt.date) -> str:
    """The state to show: the stored one, or `overdue` when unpaid or partly paid after the due date."""
    state = inv["payment_state"] if isinstance(inv, Mapping) else inv.payment_state
    due = inv["due_date"] if isinstance(inv, Mapping) else inv.due_date
    return OVERDUE if state in OPEN_STATES and today > due else str(state)


def display_states(invoices: pd.DataFrame, today: dt.date) -> pd.Series:
    """`payment_state` for a whole frame (columns payment_state, due_date)."""
    late = invoices["payment_state"].isin(OPEN_STATES) & (
        pd.to_datetime(invoices["due_date"]).dt.date < today
    )
    return invoices["payment_state"].astype(str).mask(late, OVERDUE)


def load_invoices(
    session: Session, program: str, period: str | None = None, live_only: bool = True
) -> pd.DataFrame:
    """INVOICE_COLUMNS of a program (one period, or all), oldest first."""
    stmt = select(*(getattr(Invoice, c) for c in INVOICE_COLUMNS)).where(Invoice.program == program)
    if period is not None:
        stmt = stmt.where(Invoice.period == period)
    if live_only:
        stmt = stmt.where(Invoice.document_state.in_(LIVE))
    rows = session.execute(
        stmt.order_by(Invoice.period, Invoice.number, Invoice.revision, Invoice.id)
    ).all()
    frame = pd.DataFrame(rows, columns=INVOICE_COLUMNS)
    ints = ["id", "revision", "participants", "total", "paid"]
    return frame.astype(dict.fromkeys(ints, "int64"))


def unpaid_streaks(invoices: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    """Consecutive unpaid months per payer, counted back from the payer's latest past-due period.

    A period is unpaid when the payer's live invoices for it (regular and supplementary) still have
    something outstanding after their due date; a paid period, a gap or a period not yet due ends
    the count. Returns payer_key, payer_name, streak, periods (oldest first), latest_period,
    outstanding (over the streak), participants (of the latest period), one row per payer with a
    past-due period.
    """
    columns = ["payer_key", "payer_name", "streak", "periods", "latest_period", "outstanding",
               "participants"]  # fmt: skip
    live = invoices.loc[invoices["document_state"].isin(LIVE)]
    if not len(live):
        return pd.DataFrame(columns=columns)
    per = (
        live.assign(
            outstanding=live["total"] - live["paid"],
            due=pd.to_datetime(live["due_date"]).dt.date,
        )
        .groupby(["payer_key", "period"], as_index=False)
        .agg(
            payer_name=("payer_name", "first"),
            outstanding=("outstanding", "sum"),
            participants=("participants", "sum"),
            due=("due", "max"),
        )
    )
    per = per.loc[per["due"] < today]
    if not len(per):
        return pd.DataFrame(columns=columns)
    per["index"] = per["period"].map(lambda p: Period.parse(p).index)
    per = per.sort_values(["payer_key", "index"], ascending=[True, False]).reset_index(drop=True)
    k = per.groupby("payer_key").cumcount()
    latest = per.groupby("payer_key")["index"].transform("first")
    hit = (per["outstanding"] > 0) & (per["index"] == latest - k)
    per["run"] = hit.astype(int).groupby(per["payer_key"]).cumprod().astype(bool)
    in_run = per.loc[per["run"]]
    grouped = in_run.groupby("payer_key")
    out = pd.DataFrame(
        {
            "streak": grouped.size(),
            "periods": grouped["period"].agg(lambda s: sorted(s)),
            "outstanding": grouped["outstanding"].sum(),
        }
    )
    heads = per.groupby("payer_key").first()
    result = heads[["payer_name", "period", "participants"]].rename(
        columns={"period": "latest_period"}
    )
    result = result.join(out, how="left")
    result["streak"] = result["streak"].fillna(0).astype("int64")
    result["outstanding"] = result["outstanding"].fillna(0).astype("int64")
    result["periods"] = result["periods"].map(lambda v: v if isinstance(v, list) else [])
    return result.reset_index()[columns]


def lapse_state(streak: int) -> str:
    """`aman` | `tertunggak` | `peringatan` (one more month and it lapses) | `nonaktif`."""
    if streak >= LAPSE_AFTER:
        return "nonaktif"
    if streak == LAPSE_AFTER - 1:
        return "peringatan"
    return "tertunggak" if streak else "aman"


def _allocations(
    session: Session, source: InstrumentedAttribute[int | None], ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    """source id (a payment's or a credit note's) -> the invoices it paid, oldest due first."""
    allocs: dict[int, list[dict[str, Any]]] = {}
    for sid, number, revision, period, amount in session.execute(
        select(source, Invoice.number, Invoice.revision, Invoice.period, PaymentAllocation.amount)
        .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
        .where(source.in_(ids))
        .order_by(Invoice.due_date, Invoice.number)
    ):
        allocs.setdefault(cast(int, sid), []).append(
            {"number": number, "revision": revision, "period": period, "amount": int(amount)}
        )
    return allocs


def _payments(
    session: Session, program: str, invoice_ids: list[int] | None
) -> list[dict[str, Any]]:
    """Payments of the program (or those paying `invoice_ids`), with allocations and receipt."""
    stmt = select(Payment)
    if invoice_ids is None:
        stmt = stmt.where(Payment.program == program)
    else:
        paying = select(PaymentAllocation.payment_id).where(
            PaymentAllocation.invoice_id.in_(invoice_ids)
        )
        stmt = stmt.where(Payment.id.in_(paying))
    payments = session.scalars(stmt.order_by(Payment.tanggal_sp2d, Payment.id)).all()
    ids = [p.id for p in payments]
    allocs = _allocations(session, PaymentAllocation.payment_id, ids)
    receipts = {
        r.payment_id: r for r in session.scalars(select(Receipt).where(Receipt.payment_id.in_(ids)))
    }
    out = []
    for p in payments:
        r = receipts.get(p.id)
        out.append(
            {
                "nomor_sp2d": p.nomor_sp2d,
                "tanggal_sp2d": p.tanggal_sp2d.isoformat(),
                "jumlah": int(p.jumlah),
                "status": p.status,
                "matched_by": p.matched_by,
                "payer": p.payer_key,
                "unallocated": int(p.unallocated),
                "allocations": allocs.get(p.id, []),
                "receipt": None
                if r is None
                else {
                    "status": r.status,
                    "tanggal_terima": r.tanggal_terima.isoformat(),
                    "jumlah": int(r.jumlah),
                    "note": r.note,
                },
                "note": p.note,
                "source": p.source,
            }
        )
    return out


def _credit_notes(
    session: Session, program: str, invoice_ids: list[int] | None
) -> list[dict[str, Any]]:
    """Credit notes of the program (or those from or paying `invoice_ids`), with what they paid."""
    stmt = select(CreditNote, Invoice.number, Invoice.revision).join(
        Invoice, Invoice.id == CreditNote.source_invoice_id
    )
    if invoice_ids is None:
        stmt = stmt.where(CreditNote.program == program)
    else:
        paying = select(PaymentAllocation.credit_note_id).where(
            PaymentAllocation.invoice_id.in_(invoice_ids)
        )
        stmt = stmt.where(CreditNote.source_invoice_id.in_(invoice_ids) | CreditNote.id.in_(paying))
    notes = session.execute(stmt.order_by(CreditNote.created_at, CreditNote.id)).all()
    allocs = _allocations(session, PaymentAllocation.credit_note_id, [n.id for n, _, _ in notes])
    return [
        {
            "number": n.number,
            "source_invoice": number,
            "source_revision": revision,
            "period": n.period,
            "payer": n.payer_key,
            "reason": n.reason,
            "participants": n.participants,
            "amount": int(n.amount),
            "applied": sum(a["amount"] for a in allocs.get(n.id, [])),
            "unapplied": int(n.unapplied),
            "withdrawn": int(n.withdrawn),
            "allocations": allocs.get(n.id, []),
            "note": n.note,
            "created_at": n.created_at.isoformat() if n.created_at else None,
        }
        for n, number, revision in notes
    ]


def status_report(
    database_url: str, program: Program, period: str | None = None, today: dt.date | None = None
) -> dict[str, Any]:
    """The JSON-able status of a program (one period, or the whole program)."""
    today = today or dt.date.today()
    if period is not None:
        period = str(Period.parse(period))
    with session_scope(database_url) as session:
        all_docs = load_invoices(session, program.code, period, live_only=False)
        live_all = load_invoices(session, program.code)
        streaks = unpaid_streaks(live_all, today)
        live = all_docs.loc[all_docs["document_state"].isin(LIVE)]
        scope = None if period is None else [int(i) for i in live["id"]]
        payments = _payments(session, program.code, scope)
        credit_notes = _credit_notes(session, program.code, scope)
        by_credit_note = dict(
            session.execute(
                select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount))
                .where(
                    PaymentAllocation.invoice_id.in_([int(i) for i in all_docs["id"]]),
                    PaymentAllocation.credit_note_id.is_not(None),
                )
                .group_by(PaymentAllocation.invoice_id)
            )
            .tuples()
            .all()
        )
        benefits = program_benefits(session, program).as_dict()  # the program to date
        receipts = session.scalars(
            select(Receipt)
            .where(Receipt.program == program.code, Receipt.status != ReceiptStatus.CONFIRMED)
            .order_by(Receipt.tanggal_terima, Receipt.id)
        ).all()
        counts = dict(
            session.execute(
                select(Notification.status, func.count())
                .where(Notification.program == program.code)
                .group_by(Notification.status)
            ).all()
        )
        failed = session.scalars(
            select(Notification)
            .where(
                Notification.program == program.code,
                Notification.status == NotificationStatus.FAILED,
            )
            .order_by(Notification.created_at, Notification.id)
        ).all()
        waiting = undelivered(session, program.code, period, recipient_roles(program.recipients))
        failed_rows = [
            {
                "key": n.idempotency_key,
                "event": n.event,
                "period": n.period,
                "to": list(n.to_addrs),
                "attempts": n.attempts,
                "last_error": n.last_error,
                "created_at": n.created_at.isoformat() if n.created_at else None,
            }
            for n in failed
        ]
        receipt_rows = [
            {
                "nomor_sp2d": r.nomor_sp2d,
                "tanggal_terima": r.tanggal_terima.isoformat(),
                "jumlah": int(r.jumlah),
                "status": r.status,
                "note": r.note,
            }
            for r in receipts
        ]

    docs = all_docs.copy()
    docs["outstanding"] = (docs["total"] - docs["paid"]).where(docs["document_state"].isin(LIVE), 0)
    docs["state"] = display_states(docs, today).where(docs["document_state"].isin(LIVE), "-")
    due = pd.to_datetime(docs["due_date"]).dt.date
    invoices = [
        {
            "number": r.number,
            "revision": int(r.revision),
            "kind": r.kind,
            "period": r.period,
            "payer": r.payer_key,
            "payer_name": r.payer_name,
            "participants": int(r.participants),
            "total": int(r.total),
            "paid": int(r.paid),
            "paid_by_credit_note": int(by_credit_note.get(int(r.id), 0)),
            "outstanding": int(r.outstanding),
            "issue_date": r.issue_date.isoformat(),
            "due_date": r.due_date.isoformat(),
            "document_state": r.document_state,
            "rendered": r.rendered_at is not None,
            "pdf": r.pdf_path,
            "payment_state": r.payment_state,
            "state": r.state,
            "days_overdue": max(0, (today - d).days) if r.state == OVERDUE else 0,
        }
        for r, d in zip(docs.itertuples(index=False), due, strict=True)
    ]
    live_rows = [i for i in invoices if i["document_state"] in LIVE]
    lapse = [
        {
            "payer": s.payer_key,
            "payer_name": s.payer_name,
            "unpaid_months": int(s.streak),
            "periods": list(s.periods),
            "outstanding": int(s.outstanding),
            "participants": int(s.participants),
            "state": lapse_state(int(s.streak)),
        }
        for s in streaks.itertuples(index=False)
        if s.streak > 0
    ]
    overpaid = sum(p["unallocated"] for p in payments if p["status"] == PaymentStatus.CREDIT)
    credited = sum(n["unapplied"] for n in credit_notes)
    return {
        "program": program.code,
        "program_name": program.name,
        "period": period,
        "today": today.isoformat(),
        "totals": {
            "invoices": len(live_rows),
            "billed": sum(i["total"] for i in live_rows),
            "paid": sum(i["paid"] for i in live_rows),
            "outstanding": sum(i["outstanding"] for i in live_rows),
            "overdue": sum(i["outstanding"] for i in live_rows if i["state"] == OVERDUE),
            "credit": overpaid + credited,  # not yet spent: overpayments and credit notes
            "credit_overpaid": overpaid,
            "credit_notes": credited,
            "unmatched": sum(
                p["unallocated"] for p in payments if p["status"] == PaymentStatus.UNMATCHED
            ),
        },
        "invoices": invoices,
        "payments": payments,
        "credit_notes": credit_notes,
        "receipts": receipt_rows,
        "lapse": lapse,
        "notifications": {s.value: int(counts.get(s, 0)) for s in NotificationStatus},
        "failed_notifications": failed_rows,
        "undelivered": waiting,
        "benefits": benefits,
    }


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_status(report: dict[str, Any]) -> str:
    """The report as text for people: totals, an invoice table, payments, and what needs action."""
    t = report["totals"]
    scope = f"bulan {Period.parse(report['period']).label}" if report["period"] else "semua bulan"
    out = [
        f"{report['program_name']} ({report['program']}), {scope}, per {report['today']}",
        f"  tagihan {t['invoices']}: {rupiah(t['billed'])}, dibayar {rupiah(t['paid'])}, "
        f"sisa {rupiah(t['outstanding'])} (lewat jatuh tempo {rupiah(t['overdue'])})",
    ]
    if t["credit"] or t["unmatched"]:
        out.append(
            f"  kredit {rupiah(t['credit'])} (lebih bayar {rupiah(t['credit_overpaid'])}, nota "
            f"kredit {rupiah(t['credit_notes'])}), belum cocok {rupiah(t['unmatched'])}"
        )
    out.append("")
    rows = [
        [
            i["number"],
            str(i["revision"]),
            i["period"],
            i["payer"],
            angka(i["total"]),
            angka(i["paid"]),
            angka(i["outstanding"]),
            i["due_date"],
            DOCUMENT_LABELS.get(i["document_state"], i["document_state"])
            + ("" if i["rendered"] or i["document_state"] not in LIVE else " (PDF belum)"),
            STATE_LABELS.get(i["state"], i["state"])
            + (f" {i['days_overdue']} hari" if i["state"] == OVERDUE else ""),
        ]
        for i in report["invoices"]
    ]
    headers = ["Nomor", "Rev", "Bulan", "Pembayar", "Tagihan", "Dibayar", "Sisa", "Jatuh tempo",
               "Dokumen", "Pembayaran"]  # fmt: skip
    out.extend(_table(headers, rows, {4, 5, 6}) if rows else ["(belum ada tagihan)"])
    if report["payments"]:
        out += ["", "Pembayaran (SP2D):"]
        for p in report["payments"]:
            paid = ", ".join(f"{a['number']} {rupiah(a['amount'])}" for a in p["allocations"])
            receipt = p["receipt"]
            confirmed = (
                f", penerimaan BPJS: {RECEIPT_LABELS.get(receipt['status'], receipt['status'])}"
                if receipt
                else ""
            )
            extra = f", belum teralokasi {rupiah(p['unallocated'])}" if p["unallocated"] else ""
            label = PAYMENT_LABELS.get(p["status"], p["status"])
            out.append(
                f"  {p['nomor_sp2d']} {p['tanggal_sp2d']} {rupiah(p['jumlah'])}: {label}"
                f"{extra}{confirmed}{' -> ' + paid if paid else ''}"
            )
            if p["status"] in (PaymentStatus.UNMATCHED, PaymentStatus.CREDIT) and p["note"]:
                out.append(f"    {p['note']}")
    if report["credit_notes"]:
        out += ["", "Nota kredit (peserta dikeluarkan setelah tagihan dibayar):"]
        for c in report["credit_notes"]:
            paid = ", ".join(f"{a['number']} {rupiah(a['amount'])}" for a in c["allocations"])
            left = f", sisa kredit {rupiah(c['unapplied'])}" if c["unapplied"] else ""
            back = f", ditarik kembali {rupiah(c['withdrawn'])}" if c["withdrawn"] else ""
            out.append(
                f"  {c['number']} dari {c['source_invoice']}: {c['participants']} peserta, "
                f"{rupiah(c['amount'])}{left}{back}{' -> ' + paid if paid else ''}"
            )
    out += ["", *benefit_lines(report["benefits"])]
    warnings = []
    for lapse in report["lapse"]:
        if lapse["state"] in ("peringatan", "nonaktif"):
            warnings.append(
                f"{lapse['payer_name']}: {lapse['unpaid_months']} bulan berturut-turut belum dibayar "
                f"({', '.join(lapse['periods'])}): "
                + (
                    "kepesertaan NONAKTIF"
                    if lapse["state"] == "nonaktif"
                    else "nonaktif bila bulan berikutnya juga tidak dibayar"
                )
            )
    for r in report["receipts"]:
        label = RECEIPT_LABELS.get(r["status"], r["status"])
        warnings.append(f"Penerimaan BPJS SP2D {r['nomor_sp2d']} ({label}): {r['note']}")
    for n in report["failed_notifications"]:
        warnings.append(f"E-mail gagal {n['key']} ke {', '.join(n['to'])}: {n['last_error']}")
    if warnings:
        out += ["", "Perlu tindakan:"] + [f"  - {w}" for w in warnings]
    if report["undelivered"]:
        out += ["", "E-mail belum terkirim:", *undelivered_lines(report["undelivered"])]
    n = report["notifications"]
    out += [
        "",
        f"E-mail: {n['sent']} terkirim, {n['pending'] + n['sending']} menunggu, {n['failed']} gagal",
    ]
    return "\n".join(out)


def benefit_lines(benefits: dict[str, Any], top: int = TOP_VILLAGES) -> list[str]:
    """What the program bought, to date: premiums paid beside the benefits BPJS paid its workers, per
    type and per village (`iuran.claims.Benefits`: the `top` villages, the rest summed in one line);
    counts and sums only."""
    out = ["Manfaat program s.d. hari ini:", f"  {benefits['sentence']}"]
    for t in benefits["by_type"]:
        if t["claims"]:
            out.append(f"  {t['label']}: {angka(t['claims'])} {t['noun']}, {rupiah(t['nilai'])}")
    villages = top_villages(pd.DataFrame(benefits["villages"], columns=VILLAGE_COLUMNS), top)
    rows = [
        [str(v["kode_desa"]), str(v["nama_desa"]), rupiah(int(v["premi"])),
         *(angka(int(v[str(j)])) for j in ClaimType), rupiah(int(v["nilai"]))]
        for _, v in villages.iterrows()
    ]  # fmt: skip
    if rows:
        headers = ["Kode desa", "Desa", "Premi dibayar", *(BENEFIT_LABELS[j] for j in ClaimType),
                   "Manfaat"]  # fmt: skip
        out += [f"  {line}" for line in _table(headers, rows, {2, 3, 4, 5, 6})]
    return out


UNDELIVERED_LABELS = {
    "pending": "menunggu",
    "claimed": "sedang dikirim",
    "failing": "gagal sementara, dicoba lagi",
}


def undelivered_lines(waiting: list[dict[str, Any]]) -> list[str]:
    """One line per message not delivered yet: event, recipient, state and next attempt (UTC)."""
    out = []
    for w in waiting:
        when = w["next_attempt_at"]
        nxt = f"percobaan berikut {when[:16].replace('T', ' ')} UTC" if when else "segera"
        tried = f", {w['attempts']}x dicoba" if w["attempts"] else ""
        out.append(
            f"  - {w['event']}{' ' + w['period'] if w['period'] else ''} ke {w['recipient']}: "
            f"{UNDELIVERED_LABELS.get(w['state'], w['state'])}{tried}, {nxt}"
        )
    return out


__all__ = [
    "LAPSE_AFTER",
    "display_states",
    "format_status",
    "lapse_state",
    "load_invoices",
    "payment_state",
    "status_report",
    "undelivered_lines",
    "unpaid_streaks",
]
