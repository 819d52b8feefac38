"""The pagu on both backends: billed to date from live invoices, the year projected from this
month's regular billing."""

from __future__ import annotations

from iuran.budget import compute_budget, pagu_notes
from iuran.db.session import session_scope
from iuran.periods import Period
from iuran.programs import load_program
from tests.db.test_reports_db import invoice, lebak_january


def test_lebak_s_year_at_january_s_billing_is_short_of_its_pagu(database_url: str) -> None:
    """The README's figures: 3,450 workers at Rp16.800 a month for 12 months exceed Rp670.680.000."""
    lebak = load_program("lebak")
    with session_scope(database_url) as s:
        cycle = lebak_january(s)
        s.add_all(
            [
                invoice(cycle, "2026-01", 57_960_000, 1, participants=3450),
                invoice(cycle, "2026-01", 999, 2, state="superseded"),  # not live: not billed
            ]
        )
    with session_scope(database_url) as s:
        budget = compute_budget(s, lebak, Period(2026, 1), 57_960_000, 3450)
    assert budget.pagu == lebak.year_of(Period(2026, 1)).pagu == 670_680_000
    assert (budget.billed_to_date, budget.projected_year, budget.shortfall) == (
        57_960_000,
        695_520_000,
        24_840_000,
    )
    assert (budget.months_covered, budget.headcount_covered) == (11, 3326)
    [note] = pagu_notes(lebak, budget)
    assert "Rp695.520.000" in note and "Rp24.840.000" in note and "11 bulan" in note
