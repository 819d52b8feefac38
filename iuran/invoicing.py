"""Invoices: one per payer and period, numbered once, revised only when their lines change.

- Numbering: sequential per program and calendar year (`InvoiceCounter`), never reused; a revision
  keeps its number and bumps `revision`.
- An unpaid invoice whose lines change is superseded by a revision; a paid (or partly paid) invoice
  is never changed: added workers go on a supplementary invoice, removed ones on a credit note that
  pays the payer's next invoices (`iuran.credit_notes.credit_removed_workers`).
- An unpaid invoice whose payer has nobody left to bill is cancelled.
- Each new or revised invoice is announced in the transaction that writes it (`queue_invoice_mail`),
  the invoice PDF attached once rendered: to BKAD where the regency pays; where villages pay, to
  each village with an e-mail in the contacts file (`iuran.contacts`), the others named in a
  digest to their kecamatan (if it has a contact) and to BKAD.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from iuran import faults
from iuran.budget import Budget
from iuran.contacts import Contacts, read_contacts
from iuran.credit_notes import credit_removed_workers, credited_invoices
from iuran.db.models import (
    LIVE,
    ContributionLine,
    Cycle,
    DocumentState,
    Invoice,
    InvoiceCounter,
    Notification,
    NotificationStatus,
    PaymentState,
)
from iuran.db.upsert import insert_or_ignore
from iuran.mail.outbox import queue
from iuran.money import rupiah, terbilang
from iuran.nik import isin_text, sorted_joins, text_array
from iuran.periods import Period
from iuran.programs import Program
from iuran.registry import IS_CURRENT, bulk_insert, in_list, read_frame
from iuran.wilayah import villages

HASHED = ["nik", "kode_desa", "pekerjaan", "penghasilan", "jkk", "jkm", "jht", "discount", "total", "rule_id", "discount_id"]  # fmt: skip


@dataclass(frozen=True)
class InvoiceOutcome:
    invoice_id: int
    number: str
    revision: int
    kind: str
    payer_key: str
    action: str  # issued | revised | unchanged | cancelled | supplementary
    total: int
    participants: int
    due_date: str
    pdf: str | None
    change_note: str | None = None
    previous_total: int | None = None
    previous_participants: int | None = None
    credit_applied: int = 0  # the payer's credit that paid it: BKAD pays total − credit_applied

    @property
    def to_pay(self) -> int:
        return self.total - self.credit_applied

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


#: The document type in every invoice number (`001/TAG-JKK-JKM/LBK/I/2026`).
NUMBER_KIND = "TAG-JKK-JKM"


def invoice_number(seq: int, program: Program, period: Period) -> str:
    """`001/TAG-JKK-JKM/LBK/I/2026`: the form Indonesian finance offices file by."""
    return f"{seq:03d}/{NUMBER_KIND}/{program.short}/{period.roman_month}/{period.year}"


def document_stem(number: str, revision: int) -> str:
    return number.replace("/", "-") + (f"-rev{revision}" if revision else "")


def content_hashes(lines: pd.DataFrame) -> pd.Series:
    """payer_key → sha256 of its lines, independent of row order (stored on the invoice: the same
    lines must hash the same in every release)."""
    # Each line as `v1|v2|…`, joined column-wise in Arrow (a row-wise join is ~100 µs a line),
    # then sorted and joined per payer in Arrow too
    fields = lines[HASHED].astype("string").fillna("")
    joined = pc.binary_join_element_wise(*(text_array(fields[c]) for c in HASHED), "|")
    per_payer = sorted_joins(joined, text_array(lines["payer_key"]))
    return pd.Series(
        {payer: hashlib.sha256(text).hexdigest() for payer, text in per_payer.items()},
        name="t",
    ).rename_axis("payer_key")


def next_seqs(session: Session, program: str, year: int, n: int = 1) -> list[int]:
    """The next `n` invoice numbers of a program's year, reserved in one statement (never reused:
    the counter only moves forward, in the transaction that writes the invoices)."""
    if n <= 0:
        return []
    session.execute(
        insert_or_ignore(session, InvoiceCounter, ["program", "year"]).values(
            program=program, year=year, last=0
        )
    )
    last = session.execute(
        update(InvoiceCounter)
        .where(InvoiceCounter.program == program, InvoiceCounter.year == year)
        .values(last=InvoiceCounter.last + n)
        .returning(InvoiceCounter.last)
    ).scalar_one()
    return list(range(last - n + 1, last + 1))


def payer_names(program: Program) -> dict[str, str]:
    """payer_key -> the name an invoice is addressed to: the regency's office, or each village's."""
    if program.payer == "regency":
        return {"kabupaten": program.payer_name}
    v = villages(program.regency, desa_only=program.desa_only)
    return dict(zip(v["kode_desa"], "Pemerintah Desa " + v["nama_desa"], strict=True))


def _describe_change(old: pd.DataFrame, new: pd.DataFrame, old_total: int, new_total: int) -> str:
    added = len(set(new["nik"]) - set(old["nik"]))
    removed = len(set(old["nik"]) - set(new["nik"]))
    both = set(new["nik"]) & set(old["nik"])
    o = old.set_index("nik").loc[sorted(both), ["total", "kode_desa", "pekerjaan"]]
    n = new.set_index("nik").loc[sorted(both), ["total", "kode_desa", "pekerjaan"]]
    changed = int((o.astype("string") != n.astype("string")).any(axis=1).sum())
    parts = []
    if added:
        parts.append(f"{added} peserta ditambahkan")
    if removed:
        parts.append(f"{removed} peserta dikeluarkan")
    if changed:
        parts.append(f"{changed} peserta berubah data/iurannya")
    return (
        "Perbaikan data roster: "
        + (", ".join(parts) or "rincian berubah")
        + f"; total berubah dari {old_total:,} menjadi {new_total:,} rupiah.".replace(",", ".")
    )


def apply_invoices(
    session: Session,
    cycle: Cycle,
    program: Program,
    period: Period,
    lines: pd.DataFrame,
    out_dir: Path,
    payer_names: dict[str, str],
    today: dt.date,
    kept: frozenset[str] = frozenset(),
) -> list[InvoiceOutcome]:
    """Bring the period's invoices in line with `lines` (needs participant_id and payer_key).

    `kept`: payers whose lines are known to be as their invoice holds them (left out of `lines`).
    """
    hashes = content_hashes(lines) if len(lines) else pd.Series(dtype="string")
    live = live_invoices(session, program, period)
    regular = {inv.payer_key: inv for inv in live if inv.kind == "regular"}
    supplements: dict[str, list[Invoice]] = {}
    for inv in live:
        if inv.kind == "supplementary":
            supplements.setdefault(inv.payer_key, []).append(inv)

    old_lines = _current_lines(
        session, program, period, [i.id for i in live if i.payer_key not in kept] if kept else None
    )
    # Paid invoices with credited workers, or with supplements, are checked for credit even when
    # the roster hashes as they were billed (workers back take their credit, supplements' go).
    credited = credited_invoices(
        session, [i.id for i in live if i.payment_state != PaymentState.UNPAID]
    )
    outcomes: list[InvoiceOutcome] = []
    to_write: list[
        tuple[str, pd.DataFrame, Invoice | None, str]
    ] = []  # payer, lines, supersedes, kind

    # Phase 1: decide, and retire what is replaced (before inserting, for the unique indexes).
    # each payer's rows, in their order (one pass, not one comparison of every line per payer); a
    # payer's frame is cut only when needed: a rerun changes a village or two of hundreds
    rows_of = lines.groupby("payer_key", sort=False).indices if len(lines) else {}
    for payer in sorted(set(hashes.index) | set(regular)):
        current = regular.get(payer)
        if current is not None and payer in kept:
            outcomes.append(_outcome(current, "unchanged"))
            continue
        if (
            current is not None
            and payer in hashes.index
            and current.content_hash == hashes[payer]
            and current.id not in credited
            and payer not in supplements
        ):
            outcomes.append(_outcome(current, "unchanged"))
            continue
        new = lines.iloc[rows_of.get(payer, [])]
        if current is None:
            if len(new):
                to_write.append((payer, new, None, "regular"))
            continue
        inv = current
        billed_before = old_lines.loc[old_lines["payer_key"] == payer]
        if inv.payment_state != PaymentState.UNPAID:
            extra = new.loc[~new["nik"].isin(billed_before["nik"])]
            # Workers removed after payment: credit notes, named in the paid invoice's change note.
            credit_removed_workers(
                session, cycle.id, [inv, *supplements.get(payer, [])], new["participant_id"]
            )
            # A supplementary invoice not paid yet is still open: workers removed from it come off
            # it by a revision (or it is cancelled), like any unpaid invoice.
            for sup in supplements.get(payer, []):
                if sup.payment_state != PaymentState.UNPAID:
                    continue
                on_it = old_lines.loc[old_lines["invoice_id"] == sup.id, "nik"]
                if isin_text(on_it, new["nik"]).all():
                    continue
                _retire(session, sup)
                kept = new.loc[isin_text(new["nik"], on_it)]
                if len(kept):
                    to_write.append((payer, kept, sup, "supplementary"))
                else:
                    sup.document_state = DocumentState.CANCELLED
                    outcomes.append(_outcome(sup, "cancelled"))
            if len(extra):
                to_write.append((payer, extra, None, "supplementary"))
            outcomes.append(_outcome(inv, "unchanged"))
            continue
        _retire(session, inv)
        if len(new):
            to_write.append((payer, new, inv, "regular"))
        else:
            inv.document_state = DocumentState.CANCELLED
            outcomes.append(_outcome(inv, "cancelled"))
    session.flush()

    # Phase 2: write the new invoices, then all their lines in one statement.
    fresh = iter(
        next_seqs(session, program.code, period.year, sum(o is None for *_, o, _ in to_write))
    )
    written: list[tuple[Invoice, pd.DataFrame, Invoice | None]] = []
    for payer, new, old, kind in to_write:  # one iteration per payer, never per worker
        total = int(new["total"].sum())
        if old is not None:
            seq, number, revision = old.seq, old.number, old.revision + 1
            note = _describe_change(
                old_lines.loc[old_lines["invoice_id"] == old.id], new, old.total, total
            )
        else:
            seq = next(fresh)
            number, revision, note = invoice_number(seq, program, period), 0, None
        stem = document_stem(number, revision)
        inv = Invoice(
            program=program.code,
            period=str(period),
            year=period.year,
            seq=seq,
            number=number,
            revision=revision,
            kind=kind,
            payer_key=payer,
            payer_name=payer_names.get(payer, payer),
            cycle_id=cycle.id,
            supersedes_id=old.id if old is not None else None,
            document_state=DocumentState.ISSUED,
            payment_state=PaymentState.UNPAID,
            participants=len(new),
            total=total,
            # a regular invoice holds all its payer's lines: their hash is already known
            content_hash=hashes[payer] if kind == "regular" else content_hashes(new).iloc[0],
            issue_date=today,
            due_date=period.due_date,
            pdf_path=str(out_dir / f"{stem}.pdf"),
            xlsx_path=str(out_dir / f"{stem}.xlsx"),
            change_note=note,
        )
        session.add(inv)
        written.append((inv, new, old))
        faults.point("invoices.between_payers")
    session.flush()
    _insert_lines(session, program.code, str(period), [(inv.id, new) for inv, new, _ in written])
    faults.point("invoices.lines_written")
    for inv, _, old in written:
        action = (
            "revised"
            if old is not None
            else ("supplementary" if inv.kind == "supplementary" else "issued")
        )
        outcome = _outcome(inv, action)
        if old is not None:
            outcome = replace(
                outcome, previous_total=old.total, previous_participants=old.participants
            )
        outcomes.append(outcome)
    return sorted(outcomes, key=lambda o: (o.number, o.revision))


def live_invoices(session: Session, program: Program, period: Period) -> list[Invoice]:
    """The invoices of a program's period that count (any payer, regular and supplementary)."""
    return list(
        session.scalars(
            select(Invoice).where(
                Invoice.program == program.code,
                Invoice.period == str(period),
                Invoice.document_state.in_(LIVE),
            )
        )
    )


def queue_invoice_mail(
    session: Session,
    program: Program,
    period: Period,
    outcomes: list[InvoiceOutcome],
    budget: Budget,
    extra: list[str] | None = None,
    corrections: Mapping[str, Mapping[str, Any]] | None = None,
) -> int:
    """One message per new or revised invoice where the regency pays. Where villages pay: each
    village with an e-mail in the contacts file receives its own invoice (PDF and detail sheet)
    with its correction list (`corrections`, `iuran.cycle_reports.village_corrections`); the
    villages without one go in a digest to their kecamatan (when it has a contact) and in the
    digest to BKAD, which names them and attaches their invoices."""
    fresh = [o for o in outcomes if o.action in ("issued", "revised", "supplementary")]
    if not fresh:
        return 0
    base: dict[str, Any] = {
        "program_name": program.name,
        "regency_name": program.regency_name,
        "period_label": period.label,
        "budget": budget.as_dict(),
        "payee": program.payee.model_dump(),
    }
    if program.payer == "regency":
        return sum(_queue_group(session, program, period, base, [o], extra) for o in fresh)
    contacts = read_contacts(program)
    desa = villages(program.regency, desa_only=program.desa_only).set_index("kode_desa")
    reached = [o for o in fresh if contacts.emails(o.payer_key)]
    unreached = [o for o in fresh if not contacts.emails(o.payer_key)]
    queued = sum(
        _queue_village(session, program, period, base, o, contacts, desa, corrections or {})
        for o in reached
    )
    kecamatan = desa["kode_kecamatan"].to_dict()
    by_district: dict[str, list[InvoiceOutcome]] = {}
    for o in unreached:
        kec = kecamatan.get(o.payer_key, "")
        if contacts.district_emails(kec):
            by_district.setdefault(kec, []).append(o)
    for kec, group in sorted(by_district.items()):
        queued += _queue_group(
            session, program, period, base, group, [], contacts.district_emails(kec),
            role=f"{kec}:kecamatan",
            recipient_label="Camat " + str(contacts.districts.at[kec, "nama_kecamatan"]),
            unreached=_unreached(group, contacts, desa, kecamatan, by_district),
        )  # fmt: skip
    # BKAD: every village invoice of the month, the unreached ones named and attached
    queued += _queue_group(
        session, program, period, base, fresh, extra,
        attach=unreached,
        unreached=_unreached(unreached, contacts, desa, kecamatan, by_district),
        reached=len(reached),
        contact_note=contacts.note,
        contact_problems=contacts.problems[:50],
    )  # fmt: skip
    return queued


def _unreached(
    group: list[InvoiceOutcome],
    contacts: Contacts,
    desa: pd.DataFrame,
    kecamatan: Mapping[str, str],
    by_district: Mapping[str, list[InvoiceOutcome]],
) -> list[dict[str, Any]]:
    """The villages of `group` (not mailed directly) and why: no contact, or no valid e-mail."""
    return [
        {
            "kode_desa": o.payer_key,
            "nama": str(desa["nama_desa"].get(o.payer_key, o.payer_key)),
            "number": o.number,
            "total": o.total,
            "reason": "tidak ada kontak desa"
            if o.payer_key not in contacts.villages.index
            else "tidak ada alamat e-mail yang sah",
            "district": kecamatan.get(o.payer_key, "") in by_district,
        }
        for o in group
    ]


def _queue_group(
    session: Session,
    program: Program,
    period: Period,
    base: dict[str, Any],
    group: list[InvoiceOutcome],
    extra: list[str] | None,
    to: list[str] | None = None,
    *,
    role: str = "bkad",
    attach: list[InvoiceOutcome] | None = None,
    **more: Any,
) -> int:
    """One message about `group` (one invoice, or a digest) to BKAD (cc Disnaker) or `to`;
    its PDFs attached (those of `attach`, when given), at most 20."""
    revised = [o for o in group if o.action == "revised"]
    template = "invoice_revised" if revised and len(group) == 1 else "invoice_issued"
    ident = (
        f"{group[0].number}:r{group[0].revision}"
        if len(group) == 1
        else f"{program.code}:{period}:"
        + hashlib.sha256(",".join(f"{o.number}/r{o.revision}" for o in group).encode()).hexdigest()[
            :16
        ]
    )
    context = base | _invoice_context(group) | more
    attached = group if attach is None else attach
    attachments = [o.pdf for o in attached if o.pdf] if len(attached) <= 20 else []
    attachments += extra or []
    return int(
        queue(
            session,
            key=f"{template}:{ident}:{role}",
            event=template,
            program=program.code,
            period=str(period),
            to=to or list(program.recipients.bkad),
            cc=list(program.recipients.disnaker),
            template=template,
            context=context,
            attachments=attachments,
            invoice_id=group[0].invoice_id if len(group) == 1 else None,
        )
    )


def _queue_village(
    session: Session,
    program: Program,
    period: Period,
    base: dict[str, Any],
    o: InvoiceOutcome,
    contacts: Contacts,
    desa: pd.DataFrame,
    corrections: Mapping[str, Mapping[str, Any]],
) -> int:
    """The village's own message: its invoice, detail sheet and correction list. Keyed by the
    invoice's number, revision and the village, so a rerun never mails it twice."""
    nama = str(desa["nama_desa"].get(o.payer_key, o.payer_key))
    head = contacts.signer(o.payer_key, "kepala_desa")
    fix = corrections.get(o.payer_key, {})
    attachments = [o.pdf, str(Path(o.pdf).with_suffix(".xlsx"))] if o.pdf else []
    if fix.get("attachment"):
        attachments.append(str(fix["attachment"]))
    context = (
        base
        | _invoice_context([o])
        | {
            "kode_desa": o.payer_key,
            "nama_desa": nama,
            "recipient_label": f"Kepala Desa {nama}" + (f" (Bapak/Ibu {head})" if head else ""),
            "corrections": list(fix.get("rows", [])),
            "corrections_count": int(fix.get("count", 0)),
            "files_rejected": list(fix.get("files", [])),
        }
    )
    return int(
        queue(
            session,
            key=f"invoice_village:{o.number}:r{o.revision}:{o.payer_key}:desa",
            event="invoice_village",
            program=program.code,
            period=str(period),
            to=contacts.emails(o.payer_key),
            cc=list(program.recipients.disnaker),
            template="invoice_village",
            context=context,
            attachments=attachments,
            invoice_id=o.invoice_id,
        )
    )


def _invoice_context(group: list[InvoiceOutcome]) -> dict[str, Any]:
    """What every invoice message tells of its invoices: each one, the total, credit, to pay."""
    total = sum(o.total for o in group)
    credit = sum(o.credit_applied for o in group)
    return {
        "invoices": [
            {
                "number": o.number,
                "revision": o.revision,
                "kind": o.kind,
                "payer": o.payer_key,
                "participants": o.participants,
                "total": o.total,
                "total_rupiah": rupiah(o.total),
                "credit_applied": o.credit_applied,
                "to_pay": o.to_pay,
                "due_date": o.due_date,
                "change_note": o.change_note,
            }
            for o in group
        ],
        "total": total,
        "total_rupiah": rupiah(total),
        "total_terbilang": terbilang(total),
        "credit_applied": credit,
        "to_pay": total - credit,
        "to_pay_terbilang": terbilang(total - credit),
        "due_date": group[0].due_date,
        "change_note": group[0].change_note,
        "old_total": group[0].previous_total,
        "old_participants": group[0].previous_participants,
    }


def _outcome(inv: Invoice, action: str) -> InvoiceOutcome:
    return InvoiceOutcome(
        invoice_id=inv.id,
        number=inv.number,
        revision=inv.revision,
        kind=inv.kind,
        payer_key=inv.payer_key,
        action=action,
        total=inv.total,
        participants=inv.participants,
        due_date=inv.due_date.isoformat(),
        pdf=inv.pdf_path,
        change_note=inv.change_note,
        credit_applied=int(inv.credit_applied or 0),
    )


def _retire(session: Session, inv: Invoice) -> None:
    """Superseded: its lines stop being current, and BKAD never receives its pending e-mail."""
    inv.document_state = DocumentState.SUPERSEDED
    session.execute(
        update(ContributionLine)
        .where(ContributionLine.invoice_id == inv.id)
        .values(is_current=False)
    )
    session.execute(
        update(Notification)
        .where(Notification.invoice_id == inv.id, Notification.status == NotificationStatus.PENDING)
        .values(
            status=NotificationStatus.CANCELLED, last_error="invoice superseded before delivery"
        )
    )


def _current_lines(
    session: Session, program: Program, period: Period, invoices: list[int] | None = None
) -> pd.DataFrame:
    """The period's current lines (of these invoices only, if given)."""
    from iuran.db.models import Participant

    conn = session.connection()
    query = (
        select(
            ContributionLine.invoice_id,
            Invoice.payer_key,
            Participant.nik,
            ContributionLine.kode_desa,
            ContributionLine.pekerjaan,
            ContributionLine.total,
        )
        .join(Invoice, Invoice.id == ContributionLine.invoice_id)
        .join(Participant, Participant.id == ContributionLine.participant_id)
        .where(
            ContributionLine.program == program.code,
            ContributionLine.period == str(period),
            IS_CURRENT,
        )
    )
    if invoices is not None:
        query = query.where(in_list(conn, ContributionLine.invoice_id, invoices))
    return read_frame(conn, query)


LINE_FIELDS = ["participant_id", "kode_desa", "pekerjaan", "category", "penghasilan_dilaporkan", "penghasilan", "jkk", "jkm", "jht", "discount", "total", "rule_id", "discount_id"]  # fmt: skip


_INT_FIELDS = (
    "participant_id",
    "penghasilan_dilaporkan",
    "penghasilan",
    "jkk",
    "jkm",
    "jht",
    "discount",
    "total",
)


def _insert_lines(
    session: Session, program: str, period: str, lines_of: list[tuple[int, pd.DataFrame]]
) -> None:
    """Every new invoice's lines in one insert, in participant order: each of the table's indexes
    then grows at its end instead of at random."""
    if not lines_of:
        return
    lines = pd.concat(
        [new[LINE_FIELDS].assign(invoice_id=inv_id) for inv_id, new in lines_of], ignore_index=True
    )
    lines = lines.iloc[np.argsort(lines["participant_id"].to_numpy(), kind="stable")]
    # Column by column, then one tuple a line: a frame's to_dict and a loop over it cost ~3x more.
    columns: dict[str, list[object]] = {}
    for c in ["invoice_id", *LINE_FIELDS]:
        if c in _INT_FIELDS or c == "invoice_id":  # never missing: priced lines
            columns[c] = lines[c].to_numpy(dtype="int64").tolist()
        else:
            columns[c] = lines[c].to_numpy(dtype=object, na_value=None).tolist()
    columns["pekerjaan"] = [v or "" for v in columns["pekerjaan"]]
    bulk_insert(
        session,
        cast(Table, ContributionLine.__table__),
        ["program", "period", "is_current", "invoice_id", *LINE_FIELDS],
        [(program, period, True, *values) for values in zip(*columns.values(), strict=True)],
    )
