"""Disnaker's month at the counter: per village received / not yet / refused / billed against the
target, the pagu's position (`iuran.budget`), the cycle's state, and the month's reports served
through the counter only; and, for a village after the cycle, which of its workers are billed.

What a village handed in is the counter's record of it (`roster_upload`, its last upload of the
month); what the cycle made of it is the registry (refused rows in `rejection`, billed workers in
the current `contribution_line`s). A village that sends its roster outside the counter shows as
billed once the cycle has run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from iuran.budget import Budget, compute_budget
from iuran.cycle_reports import ReportPaths, program_villages
from iuran.db.models import (
    LIVE,
    ContributionLine,
    Cycle,
    Invoice,
    Participant,
    Rejection,
    RosterUpload,
)
from iuran.nik import mask_series
from iuran.periods import Period
from iuran.programs import Program
from iuran.status import STATE_LABELS

#: What a village's row says, from the first that holds: billed, file refused whole, handed in, none.
BILLED, REFUSED, RECEIVED, NOT_YET = "ditagih", "berkas ditolak", "diterima", "belum"
#: kind in the URL -> (the ReportPaths field, media type, the roles that may download it)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORTS = {
    "kualitas-data": ("data_quality", XLSX, ("disnaker",)),
    "laporan": ("program_report", "application/pdf", ("disnaker",)),
    "mutasi": ("mutation_list", XLSX, ("bpjs",)),  # full NIKs: BPJS alone
}


@dataclass(frozen=True)
class Month:
    """The board of one (program, period)."""

    period: Period
    villages: pd.DataFrame  # kode_desa, nama_desa, diterima, ditolak, ditagih, kurang, keadaan
    counts: dict[str, int]  # villages per keadaan
    cycle: Cycle | None
    budget: Budget
    billed: int
    total: int


def program_periods(program: Program) -> list[Period]:
    first, last = program.first_period, program.last_period
    return [first.shift(i) for i in range(last.index - first.index + 1)]


def latest_period(session: Session, program: Program, fallback: Period) -> Period:
    """The month of the program's latest cycle, else `fallback` (this month's uploads)."""
    period = session.scalar(select(func.max(Cycle.period)).where(Cycle.program == program.code))
    return Period.parse(period) if period else fallback


def _per_village(session: Session, statement: Any) -> pd.Series:
    return pd.Series(dict(session.execute(statement).tuples().all()), dtype="int64")


def village_rows(session: Session, program: Program, period: Period) -> pd.DataFrame:
    """One row per village of the program: rows handed in (its last upload at the counter),
    refused (by the cycle if it ran, else by that upload), billed, short of the target, and the
    state to show."""
    names = program_villages(program)
    uploads = pd.DataFrame(
        session.execute(
            select(RosterUpload.scope, RosterUpload.stored, RosterUpload.accepted,
                   RosterUpload.rejected)
            .where(RosterUpload.program == program.code, RosterUpload.period == str(period))
            .order_by(RosterUpload.id)
        ).tuples().all(),
        columns=["kode_desa", "stored", "accepted", "rejected"],
    ).drop_duplicates("kode_desa", keep="last").set_index("kode_desa")  # fmt: skip
    cycle_id = select(Cycle.id).where(Cycle.program == program.code, Cycle.period == str(period))
    refused = _per_village(
        session,
        select(Rejection.kode_desa, func.count())
        .where(Rejection.cycle_id.in_(cycle_id.scalar_subquery()))
        .group_by(Rejection.kode_desa),
    )
    billed = _per_village(
        session,
        select(ContributionLine.kode_desa, func.count())
        .where(
            ContributionLine.program == program.code,
            ContributionLine.period == str(period),
            ContributionLine.is_current,
        )
        .group_by(ContributionLine.kode_desa),
    )
    at = names.index
    up = uploads.reindex(at)
    ran = session.scalar(cycle_id) is not None
    table = pd.DataFrame({"kode_desa": at, "nama_desa": names.to_numpy()})
    table["diterima"] = up["accepted"].fillna(0).astype("int64").to_numpy()
    shown_refused = refused.reindex(at) if ran else up["rejected"]
    table["ditolak"] = shown_refused.fillna(0).astype("int64").to_numpy()
    table["ditagih"] = billed.reindex(at).fillna(0).astype("int64").to_numpy()
    target = program.target_per_village
    table["kurang"] = (target - table["ditagih"]).clip(lower=0) if target else 0
    handed = up["accepted"].notna().to_numpy()
    landed = up["stored"].notna().to_numpy()
    state = pd.Series(NOT_YET, index=table.index, dtype="object")
    state[handed & ~landed] = REFUSED
    state[landed] = RECEIVED
    state[table["ditagih"].to_numpy() > 0] = BILLED
    table["keadaan"] = state
    return table


#: the board's filters (`?status=`): what each keeps of `village_rows`
FILTERS = {
    "belum": "belum menyerahkan",
    "ditolak": "ada yang ditolak",
    "kurang": "di bawah target",
}
PER_PAGE = 50


@dataclass(frozen=True)
class Shown:
    """One page of the board's villages: the rows, how many villages the filter keeps, the page
    and how many pages there are."""

    villages: pd.DataFrame
    matching: int
    page: int
    pages: int


def shown_villages(
    villages: pd.DataFrame, status: str | None, page: int, per_page: int = PER_PAGE
) -> Shown:
    """The villages of `village_rows` a filter keeps (`FILTERS`: not handed in; a file or rows
    refused; billed below the target), one page of them; an unknown filter keeps all, a page past
    the last is the last. Lebak's 345 villages are seven pages, not one."""
    keep = {
        "belum": villages["keadaan"].eq(NOT_YET),
        "ditolak": villages["keadaan"].eq(REFUSED) | villages["ditolak"].gt(0),
        "kurang": villages["kurang"].gt(0),
    }.get(status or "")
    kept = villages.loc[keep] if keep is not None else villages
    pages = max(1, -(-len(kept) // per_page))
    page = min(max(page, 1), pages)
    return Shown(kept.iloc[(page - 1) * per_page : page * per_page], len(kept), page, pages)


def month(session: Session, program: Program, period: Period) -> Month:
    villages = village_rows(session, program, period)
    cycle = session.scalar(
        select(Cycle).where(Cycle.program == program.code, Cycle.period == str(period))
    )
    total = int(
        session.scalar(
            select(func.coalesce(func.sum(Invoice.total), 0)).where(
                Invoice.program == program.code,
                Invoice.period == str(period),
                Invoice.document_state.in_(LIVE),
            )
        )
        or 0
    )
    billed = int(villages["ditagih"].sum())
    counts = villages["keadaan"].value_counts()
    return Month(
        period=period,
        villages=villages,
        counts={k: int(counts.get(k, 0)) for k in (BILLED, RECEIVED, REFUSED, NOT_YET)},
        cycle=cycle,
        budget=compute_budget(session, program, period, total, billed),
        billed=billed,
        total=total,
    )


def report(out: Path, program: Program, period: Period, kind: str, role: str) -> Path | None:
    """The month's report `kind` (`REPORTS`) for `role`, when it exists inside the documents
    folder; None otherwise (a download never leaves its folder)."""
    if kind not in REPORTS or role not in REPORTS[kind][2]:
        return None
    folder = out / program.code / str(period)
    path: Path = getattr(ReportPaths.of(program, period, folder), REPORTS[kind][0])
    real, root = os.path.realpath(path), os.path.realpath(out)
    if os.path.commonpath([real, root]) != root or not os.path.isfile(real):
        return None
    return Path(real)


def correction_list(out: Path, program: Program, period: Period, kode_desa: str) -> Path | None:
    """The correction list the month wrote for one village (`penolakan-<kode_desa>.xlsx`: its
    rejected rows with the reasons in Indonesian and masked NIKs, `iuran.reports`), when it exists
    inside the documents folder; None otherwise (nothing to correct, or the cycle has not run)."""
    folder = ReportPaths.of(program, period, out / program.code / str(period)).village_reports
    path = folder / f"penolakan-{kode_desa}.xlsx"
    real, root = os.path.realpath(path), os.path.realpath(out)
    if os.path.commonpath([real, root]) != root or not os.path.isfile(real):
        return None
    return Path(real)


def correction_lists(
    out: Path, program: Program, villages: Sequence[str]
) -> list[tuple[Period, str]]:
    """(month, village) of every correction list the program's months wrote for `villages`, the
    latest month first: what a village operator may download after the cycle."""
    return [
        (period, kode)
        for period in reversed(program_periods(program))
        for kode in villages
        if correction_list(out, program, period, kode) is not None
    ]


def billed_workers(
    session: Session, program: Program, period: Period, villages: Sequence[str]
) -> pd.DataFrame:
    """The workers of `villages` billed for `period` (masked NIK, name, occupation) with their
    invoice's payment state and their BPJS status: what a village may see of its own people."""
    rows = session.execute(
        select(
            ContributionLine.kode_desa, Participant.nik, Participant.nama,
            ContributionLine.pekerjaan, Invoice.number, Invoice.payment_state,
            Participant.bpjs_status,
        )
        .join(Participant, Participant.id == ContributionLine.participant_id)
        .join(Invoice, Invoice.id == ContributionLine.invoice_id)
        .where(
            ContributionLine.program == program.code,
            ContributionLine.period == str(period),
            ContributionLine.is_current,
            ContributionLine.kode_desa.in_(villages),
        )
        .order_by(ContributionLine.kode_desa, Participant.nama)
    ).tuples().all()  # fmt: skip
    frame = pd.DataFrame(
        rows, columns=["kode_desa", "nik", "nama", "pekerjaan", "tagihan", "bayar", "bpjs"]
    )
    frame["nik"] = mask_series(frame["nik"].astype("string"))
    frame["bayar"] = frame["bayar"].map(STATE_LABELS).fillna(frame["bayar"])
    return frame
