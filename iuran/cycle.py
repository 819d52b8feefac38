"""The month's bookkeeping: one database transaction records the registry, the invoices and the outbox.

Whatever the cycle decides is written together or not at all, so a crash leaves either the previous
state or the new one; the side effects (documents, e-mail) then follow records that say what is done.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from iuran import faults, mail
from iuran.cycle_reports import ReportPaths, fingerprint
from iuran.db.models import LIVE, Cycle, Invoice
from iuran.db.session import session_scope
from iuran.invoicing import InvoiceOutcome, apply_invoices, live_invoices
from iuran.money import rupiah, terbilang
from iuran.nik import isin_text
from iuran.periods import Period
from iuran.programs import Program
from iuran.reconcile import Reconciled
from iuran.registry import (
    ensure_participants,
    get_cycle,
    participant_changes,
    participant_ids,
    record_conflicts,
    record_inputs,
    record_memberships,
    record_status_list,
)
from iuran.reports import ALASAN
from iuran.rosters.codes import CODES
from iuran.wilayah import villages


@dataclass(frozen=True)
class Budget:
    pagu: int
    billed_to_date: int
    projected_year: int
    shortfall: int
    months_covered: int
    headcount_covered: int

    def as_dict(self) -> dict[str, int]:
        return {
            "pagu": self.pagu,
            "billed_to_date": self.billed_to_date,
            "projected_year": self.projected_year,
            "shortfall": self.shortfall,
            "months_covered": self.months_covered,
            "headcount_covered": self.headcount_covered,
        }


@dataclass
class Recorded:
    cycle_id: int
    status: str  # issued | revised | unchanged | stopped
    invoices: list[InvoiceOutcome]
    budget: Budget
    total_due: int
    queued: int
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)
    conflicts: int = 0


def payer_names(program: Program) -> dict[str, str]:
    if program.payer == "regency":
        return {"kabupaten": program.payer_name}
    v = villages(program.regency, desa_only=program.desa_only)
    return dict(zip(v["kode_desa"], "Pemerintah Desa " + v["nama_desa"], strict=True))


def compute_budget(
    session: Session, program: Program, period: Period, period_total: int, billed_count: int
) -> Budget:
    """Billed to date counts every live invoice of the program year up to and including `period`."""
    billed = session.scalar(
        select(func.coalesce(func.sum(Invoice.total), 0)).where(
            Invoice.program == program.code,
            Invoice.document_state.in_(LIVE),
            Invoice.period >= str(program.first_period),
            Invoice.period <= str(period),
        )
    )
    billed_to_date = int(billed or 0)
    projected = billed_to_date + period_total * program.months_after(period)
    months_total = program.last_period.index - program.first_period.index + 1
    per_worker = period_total // billed_count if billed_count else 0
    return Budget(
        pagu=program.pagu,
        billed_to_date=billed_to_date,
        projected_year=projected,
        shortfall=max(0, projected - program.pagu),
        months_covered=program.pagu // period_total if period_total else 0,
        headcount_covered=program.pagu // (per_worker * months_total) if per_worker else 0,
    )


def record_cycle(
    database_url: str,
    program: Program,
    period: Period,
    files: pd.DataFrame,
    rejected: pd.DataFrame,
    decided: Reconciled,
    lines: pd.DataFrame,
    out_dir: Path,
    today: dt.date | None = None,
    dry_run: bool = False,
) -> Recorded:
    today = today or dt.date.today()
    with session_scope(database_url) as session:
        cycle = get_cycle(session, program.code, str(period))
        # Two records of one cycle take turns (SELECT … FOR UPDATE; SQLite's write lock already does)
        session.refresh(cycle, with_for_update=True)
        cycle.runs += 1
        cycle.input_hash = None  # an answer kept for reruns is stale until this run completes
        record_inputs(session, cycle, files, rejected)
        faults.point("record.inputs_recorded")
        if decided.status_list is not None:
            record_status_list(session, decided.status_list)
        digests = payer_digests(lines)
        changes = participant_changes(session)
        kept = unchanged_payers(session, cycle, program, period, digests, changes)
        billed = lines.loc[~lines["payer_key"].isin(kept)] if kept else lines
        ids, before = ensure_participants(session, billed)
        billed = billed.assign(participant_id=billed["nik"].map(ids))
        faults.point("record.participants_written")
        kept_invoices = sorted(kept.values())
        conflicts = record_conflicts(session, cycle.id, billed, ids, before, kept_invoices)
        known = pd.concat([ids, participant_ids(session, decided.ended["nik"])])
        known = known[~known.index.duplicated()]
        workers = decided.billed
        if kept:
            workers = workers.loc[isin_text(workers["nik"], billed["nik"])]
        record_memberships(
            session, program, period, workers, decided.ended, known, only_these=bool(kept)
        )
        faults.point("record.memberships_written")
        outcomes = apply_invoices(
            session,
            cycle,
            program,
            period,
            billed,
            out_dir,
            payer_names(program),
            today,
            frozenset(kept),
        )
        live = [o for o in outcomes if o.action != "cancelled"]
        total_due = sum(o.total for o in live)
        # The projection repeats this month's regular billing; a supplementary invoice corrects
        # the past and is counted once, in billed to date.
        regular = [o for o in live if o.kind == "regular"]
        budget = compute_budget(
            session,
            program,
            period,
            sum(o.total for o in regular),
            sum(o.participants for o in regular),
        )
        changed = {o.action for o in outcomes} - {"unchanged"}
        status = (
            "revised"
            if changed & {"revised", "cancelled", "supplementary"}
            else "issued"
            if "issued" in changed
            else "unchanged"
        )
        notes = pagu_notes(program, budget)
        if notes and changed and program.pagu_policy == "stop":
            # Nothing is issued beyond the pagu: the whole month waits for a budget decision.
            cycle_id = cycle.id
            session.rollback()
            notes.append("Tagihan tidak diterbitkan: pagu_policy program ini adalah 'stop'.")
            withheld = [
                o if o.action == "unchanged" else replace(o, action="withheld", pdf=None)
                for o in outcomes
            ]
            return Recorded(cycle_id, "stopped", withheld, budget, total_due, 0, dry_run, notes)
        paths = ReportPaths.of(program, period, out_dir)
        queued = queue_invoice_mail(
            session, program, period, outcomes, budget, extra=[str(paths.program_report)]
        )
        queued += queue_report_mail(session, program, period, files, rejected, decided, paths)
        faults.point("record.mail_queued")
        cycle.status = "issued"
        cycle.recorded = {"participant_changes": changes, "payers": digests}
        if conflicts:
            notes.append(
                f"{conflicts} data peserta (nama/tanggal lahir) berbeda dengan registri: "
                "tetap ditagih, menunggu pemeriksaan (tabel registry_conflict)."
            )
        recorded = Recorded(
            cycle.id, status, outcomes, budget, total_due, queued, dry_run, notes, conflicts
        )
        faults.point("record.before_commit")
        if dry_run:
            session.rollback()
        return recorded


def payer_digests(lines: pd.DataFrame) -> dict[str, str]:
    """payer_key → digest of its rows: every column (names, birth dates, source rows too), any
    row order. ~1 µs a row (pandas' vectorised row hash, one sha256 a payer)."""
    if not len(lines):
        return {}
    columns = sorted(lines.columns)
    rows = pd.util.hash_pandas_object(lines[columns], index=False).to_numpy()
    codes, payers = pd.factorize(lines["payer_key"].astype(str), sort=True)
    order = np.lexsort((rows, codes))
    rows = rows[order]
    bounds = np.searchsorted(codes[order], np.arange(len(payers) + 1))
    head = "\t".join(columns).encode()
    return {
        str(payer): hashlib.sha256(head + rows[a:b].tobytes()).hexdigest()
        for payer, a, b in zip(payers, bounds[:-1], bounds[1:], strict=True)
    }


def unchanged_payers(
    session: Session,
    cycle: Cycle,
    program: Program,
    period: Period,
    digests: dict[str, str],
    changes: int,
) -> dict[str, int]:
    """Payers a rerun need not record again → their invoice id.

    A payer whose rows hash as the last record of this cycle wrote them, while no participant was
    changed since (their names and birth dates are what conflicts were checked against), holds
    what recording it again would write: its participants, conflicts, memberships and lines. Only
    an unpaid regular invoice with no supplement qualifies (paid ones settle credit on every run).
    """
    last = cycle.recorded or {}
    if not digests or last.get("participant_changes") != changes:
        return {}
    same = {p for p, d in (last.get("payers") or {}).items() if digests.get(p) == d}
    if not same:
        return {}
    live = live_invoices(session, program, period)
    supplemented = {i.payer_key for i in live if i.kind == "supplementary"}
    return {
        i.payer_key: i.id
        for i in live
        if i.kind == "regular"
        and i.payer_key in same
        and i.payment_state == "unpaid"
        and i.payer_key not in supplemented
    }


def pagu_notes(program: Program, budget: Budget) -> list[str]:
    if budget.shortfall <= 0:
        return []
    return [
        f"Proyeksi tagihan setahun {rupiah(budget.projected_year)} melebihi pagu "
        f"{rupiah(budget.pagu)} sebesar {rupiah(budget.shortfall)}; pagu cukup untuk "
        f"{budget.months_covered} bulan pada jumlah peserta sekarang."
    ]


def queue_report_mail(
    session: Session,
    program: Program,
    period: Period,
    files: pd.DataFrame,
    rejected: pd.DataFrame,
    decided: Reconciled,
    paths: ReportPaths,
) -> int:
    """The mutation list to BPJS and the roster rejections to Disnaker, once per distinct content."""
    base = {
        "program_name": program.name,
        "regency_name": program.regency_name,
        "period_label": period.label,
    }
    queued = 0
    billed = decided.billed
    additions = int((billed["category"] == "baru").sum())
    if additions or len(decided.ended):
        key = fingerprint(billed.loc[billed["category"] == "baru"], ["nik"]) + fingerprint(
            decided.ended, ["nik", "reason"]
        )
        reasons = decided.ended["reason"].value_counts()
        queued += mail.queue(
            session,
            key=f"mutation_list:{program.code}:{period}:{key}:bpjs",
            event="mutation_list",
            program=program.code,
            period=str(period),
            to=list(program.recipients.bpjs),
            template="mutation_list",
            context=base
            | {
                "additions": additions,
                "terminations": len(decided.ended),
                "active": len(billed),
                "bpjs_office": program.payee.name,
                "terminations_by_reason": [
                    {"reason": str(r), "label": ALASAN.get(str(r), str(r)), "count": int(n)}
                    for r, n in reasons.items()
                ],
            },
            attachments=[str(paths.mutation_list)],
        )
    refused = files.loc[files["status"] == "rejected"] if len(files) else files
    if len(rejected) or len(refused):  # a month where only whole files were refused is news too
        received = int(files["rows"].fillna(0).sum()) if len(files) else 0
        counts = rejected["code"].value_counts()
        by_village = (
            rejected.assign(kode_desa=rejected["kode_desa"].fillna("(tanpa desa)"))
            .groupby("kode_desa")
            .size()
            .sort_values(ascending=False)
        )
        names = villages(program.regency).set_index("kode_desa")["nama_desa"]
        queued += mail.queue(
            session,
            key=f"cycle_rejections:{program.code}:{period}:"
            + (
                fingerprint(rejected, ["source_file", "source_row", "code"])
                if len(rejected)
                else "berkas-" + fingerprint(refused, ["path", "sha256", "code"])
            )
            + ":disnaker",
            event="cycle_rejections",
            program=program.code,
            period=str(period),
            to=list(program.recipients.disnaker),
            template="cycle_rejections",
            context=base
            | {
                "rows_received": received,
                "rows_accepted": received - len(rejected),
                "rows_rejected": len(rejected),
                "by_reason": [
                    {"code": str(c), "message": CODES.get(str(c), str(c)), "count": int(n)}
                    for c, n in counts.items()
                ],
                "by_village": [
                    {
                        "kode_desa": str(k),
                        "nama": str(names.get(k, "")),
                        "received": 0,
                        "rejected": int(n),
                    }
                    for k, n in by_village.head(50).items()
                ],
                "files_rejected": [
                    {"path": f.path, "code": f.code, "message": f.message}
                    for f in refused.itertuples()
                ],
            },
            attachments=[str(paths.data_quality), str(paths.village_reports_zip)],
        )
    return queued


def queue_invoice_mail(
    session: Session,
    program: Program,
    period: Period,
    outcomes: list[InvoiceOutcome],
    budget: Budget,
    extra: list[str] | None = None,
) -> int:
    """One message per new or revised invoice where the regency pays; one digest where villages pay."""
    fresh = [o for o in outcomes if o.action in ("issued", "revised", "supplementary")]
    if not fresh:
        return 0
    to, cc = list(program.recipients.bkad), list(program.recipients.disnaker)
    base: dict[str, Any] = {
        "program_name": program.name,
        "regency_name": program.regency_name,
        "period_label": period.label,
        "budget": budget.as_dict(),
        "payee": program.payee.model_dump(),
    }
    queued = 0
    groups = [[o] for o in fresh] if program.payer == "regency" else [fresh]
    for group in groups:
        revised = [o for o in group if o.action == "revised"]
        template = "invoice_revised" if revised and len(group) == 1 else "invoice_issued"
        ident = (
            f"{group[0].number}:r{group[0].revision}"
            if len(group) == 1
            else f"{program.code}:{period}:"
            + hashlib.sha256(
                ",".join(f"{o.number}/r{o.revision}" for o in group).encode()
            ).hexdigest()[:16]
        )
        total = sum(o.total for o in group)
        context = base | {
            "invoices": [
                {
                    "number": o.number,
                    "revision": o.revision,
                    "kind": o.kind,
                    "payer": o.payer_key,
                    "participants": o.participants,
                    "total": o.total,
                    "total_rupiah": rupiah(o.total),
                    "due_date": o.due_date,
                    "change_note": o.change_note,
                }
                for o in group
            ],
            "total": total,
            "total_rupiah": rupiah(total),
            "total_terbilang": terbilang(total),
            "due_date": group[0].due_date,
            "change_note": group[0].change_note,
            "old_total": group[0].previous_total,
            "old_participants": group[0].previous_participants,
        }
        attachments = [o.pdf for o in group if o.pdf] if len(group) <= 20 else []
        attachments += extra or []
        if mail.queue(
            session,
            key=f"{template}:{ident}:bkad",
            event=template,
            program=program.code,
            period=str(period),
            to=to,
            cc=cc,
            template=template,
            context=context,
            attachments=attachments,
            invoice_id=group[0].invoice_id if len(group) == 1 else None,
        ):
            queued += 1
    return queued


def cycle_row(database_url: str, program: str, period: str) -> Cycle | None:
    with session_scope(database_url) as session:
        return session.scalars(
            select(Cycle).where(Cycle.program == program, Cycle.period == period)
        ).one_or_none()


def needs_rendering(inv: Invoice) -> bool:
    """Not rendered yet, or a file of it is gone (someone may have deleted one)."""
    pdf = Path(inv.pdf_path or "")
    return inv.rendered_at is None or not (pdf.is_file() and pdf.with_suffix(".xlsx").is_file())


#: Threads that render invoice documents (typst releases the GIL while it compiles).
RENDER_THREADS = max(1, min(4, os.cpu_count() or 1))


def render_pending(database_url: str, program: Program, period: Period) -> list[str]:
    """Write the PDF and detail sheet of every live invoice not rendered yet, or whose files are gone
    (a rerun after a crash, or after someone deleted a document, picks up exactly what is missing)."""
    from iuran.db.models import ContributionLine, Participant
    from iuran.documents import (
        InvoiceDocument,
        VillageSummary,
        sweep_temps,
        write_invoice_files,
    )

    written: list[str] = []
    with session_scope(database_url) as session:
        pending = [i for i in live_invoices(session, program, period) if needs_rendering(i)]
        if not pending:
            return written
        result = session.execute(
            select(
                ContributionLine.invoice_id,
                Participant.nik,
                Participant.nama,
                Participant.tanggal_lahir,
                Participant.jenis_kelamin,
                ContributionLine.kode_desa,
                ContributionLine.pekerjaan,
                ContributionLine.penghasilan,
                ContributionLine.jkk,
                ContributionLine.jkm,
                ContributionLine.jht,
                ContributionLine.discount,
                ContributionLine.total,
                ContributionLine.rule_id,
            )
            .join(Participant, Participant.id == ContributionLine.participant_id)
            .where(ContributionLine.invoice_id.in_([i.id for i in pending]))
            .order_by(ContributionLine.invoice_id, ContributionLine.kode_desa, Participant.nama)
        )
        all_lines = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        names = villages(program.regency).set_index("kode_desa")
        all_lines["nama_desa"] = all_lines["kode_desa"].map(names["nama_desa"]).fillna("")
        all_lines["nama_kecamatan"] = all_lines["kode_desa"].map(names["nama_kecamatan"]).fillna("")
        # Grouped once for all invoices: a groupby per invoice costs ~10 ms, as much as its PDF.
        at = all_lines.groupby("invoice_id", sort=False).indices
        detail = all_lines.drop(columns="invoice_id")
        parts = ["jkk", "jkm", "jht", "discount"]
        sums = all_lines.groupby("invoice_id")[parts].sum().astype("int64").to_dict("index")
        village_rows = (
            all_lines.groupby(
                ["invoice_id", "kode_desa", "nama_desa", "nama_kecamatan"], sort=True
            )["total"]
            .agg(["size", "sum"])
            .reset_index()
        )
        summaries: dict[int, list[VillageSummary]] = {}
        for r in village_rows.itertuples():
            summaries.setdefault(int(r.invoice_id), []).append(
                VillageSummary(r.kode_desa, r.nama_desa, r.nama_kecamatan, int(r.size), int(r.sum))
            )
        budget = compute_budget(
            session,
            program,
            period,
            sum(i.total for i in pending if i.kind == "regular"),
            sum(i.participants for i in pending if i.kind == "regular"),
        )
        docs: list[tuple[Invoice, InvoiceDocument]] = []
        for inv in pending:
            lines = detail.iloc[at.get(inv.id, [])].reset_index(drop=True)
            totals = sums.get(inv.id, dict.fromkeys(parts, 0))
            doc = InvoiceDocument(
                number=inv.number,
                revision=inv.revision,
                kind=inv.kind,
                program_name=program.name,
                regency_name=program.regency_name,
                funding_source=program.funding_source,
                payer_name=inv.payer_name,
                period_label=period.label,
                issue_date=inv.issue_date,
                due_date=inv.due_date,
                total=inv.total,
                participants=inv.participants,
                jkk_total=int(totals["jkk"]),
                jkm_total=int(totals["jkm"]),
                jht_total=int(totals["jht"]),
                discount_total=int(totals["discount"]),
                villages=tuple(summaries.get(inv.id, ())),
                lines=lines,
                payee=program.payee,
                signatory=program.signatory,
                budget=budget.as_dict() if program.payer == "regency" else None,
                change_note=inv.change_note,
            )
            docs.append((inv, doc))

        for folder in {Path(inv.pdf_path or "").parent for inv, _ in docs}:
            folder.mkdir(parents=True, exist_ok=True)
            sweep_temps(folder)

        def write(item: tuple[Invoice, InvoiceDocument]) -> Path:
            inv, doc = item
            pdf = Path(inv.pdf_path or "")
            write_invoice_files(doc, pdf.parent, pdf.stem, sweep=False)
            return pdf

        # typst compiles with the GIL released: a second thread renders ~1.4x as many invoices
        with ThreadPoolExecutor(max_workers=RENDER_THREADS) as pool:
            for (inv, _), pdf in zip(docs, pool.map(write, docs), strict=True):
                faults.point("documents.written")
                inv.rendered_at = dt.datetime.now(dt.UTC)
                written.append(str(pdf))
                faults.point("documents.marked")
        faults.point("documents.before_commit")
    return written
