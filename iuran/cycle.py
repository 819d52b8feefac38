"""The month's bookkeeping: one database transaction records the registry, the invoices and the outbox.

Whatever the cycle decides is written together or not at all, so a crash leaves either the previous
state or the new one; the side effects (documents, e-mail) then follow records that say what is done.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from iuran import faults
from iuran.budget import Budget, compute_budget, pagu_notes
from iuran.cycle_reports import ReportPaths, queue_report_mail, village_corrections
from iuran.db.models import Cycle, CycleStatus, Invoice, PaymentState
from iuran.db.session import session_scope
from iuran.invoicing import (
    InvoiceOutcome,
    apply_invoices,
    live_invoices,
    payer_names,
    queue_invoice_mail,
)
from iuran.nik import isin_text
from iuran.payments.credit import apply_credits
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
    record_sources,
    record_status_list,
)


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
        record_sources(session, program, period, decided.billed)  # which lists named whom
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
        outcomes = spend_credit_at_issue(session, program, outcomes, today)
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
        corrections = (  # each paying village's own rejected rows go with its invoice
            village_corrections(program, rejected, files, paths)
            if program.payer == "village"
            else {}
        )
        queued = queue_invoice_mail(
            session, program, period, outcomes, budget, [str(paths.program_report)], corrections
        )
        queued += queue_report_mail(session, program, period, files, rejected, decided, paths)
        faults.point("record.mail_queued")
        cycle.status = CycleStatus.ISSUED
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


def spend_credit_at_issue(
    session: Session, program: Program, outcomes: list[InvoiceOutcome], today: dt.date
) -> list[InvoiceOutcome]:
    """The payers' open credit (credit notes, overpayments) pays their invoices as they are issued,
    so a supplementary invoice never asks BKAD for money its own credit note already covers. The
    outcomes then carry each invoice's credit; the invoice mail and PDF show what is left to pay.
    `apply_credits` spends each credit once, so a rerun applies nothing again."""
    if not any(o.action in ("issued", "revised", "supplementary") for o in outcomes):
        return outcomes
    apply_credits(session, program.code, today)
    ids = [o.invoice_id for o in outcomes]
    rows = session.execute(select(Invoice.id, Invoice.credit_applied).where(Invoice.id.in_(ids)))
    credit = {int(i): int(c or 0) for i, c in rows.tuples()}
    return [replace(o, credit_applied=credit.get(o.invoice_id, 0)) for o in outcomes]


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
        and i.payment_state == PaymentState.UNPAID
        and i.payer_key not in supplemented
    }
