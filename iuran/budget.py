"""The pagu: what the program's year may cost, against what it is billed and on course to be billed.

Each budget year (`ProgramYear`) has its own pagu: billed to date counts every live invoice of the
period's program year up to the period (January of a new year starts again from its own billing),
and the projection repeats the period's regular billing for each month of that year left. A shortfall is news for BKAD (the invoice
and the program report show it) and, under `pagu_policy: stop`, a reason to issue nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from iuran.db.models import LIVE, Invoice
from iuran.money import rupiah
from iuran.periods import Period
from iuran.programs import Program


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


def compute_budget(
    session: Session, program: Program, period: Period, period_total: int, billed_count: int
) -> Budget:
    """Billed to date counts every live invoice of `period`'s program year up to and including
    `period`; the pagu is that year's."""
    year = program.year_of(period)
    billed = session.scalar(
        select(func.coalesce(func.sum(Invoice.total), 0)).where(
            Invoice.program == program.code,
            Invoice.document_state.in_(LIVE),
            Invoice.period >= str(year.first),
            Invoice.period <= str(period),
        )
    )
    billed_to_date = int(billed or 0)
    projected = billed_to_date + period_total * max(0, year.last.index - period.index)
    per_worker = period_total // billed_count if billed_count else 0
    return Budget(
        pagu=year.pagu,
        billed_to_date=billed_to_date,
        projected_year=projected,
        shortfall=max(0, projected - year.pagu),
        months_covered=year.pagu // period_total if period_total else 0,
        headcount_covered=year.pagu // (per_worker * year.month_count) if per_worker else 0,
    )


def pagu_notes(program: Program, budget: Budget) -> list[str]:
    if budget.shortfall <= 0:
        return []
    return [
        f"Proyeksi tagihan setahun {rupiah(budget.projected_year)} melebihi pagu "
        f"{rupiah(budget.pagu)} sebesar {rupiah(budget.shortfall)}; pagu cukup untuk "
        f"{budget.months_covered} bulan pada jumlah peserta sekarang."
    ]
