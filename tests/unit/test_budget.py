"""The pagu: billed to date from live invoices, the year projected from this month's regular billing."""

from __future__ import annotations

import datetime as dt

from iuran.budget import Budget, compute_budget, pagu_notes
from iuran.db.models import Cycle, Invoice
from iuran.db.session import session_scope
from iuran.periods import Period
from iuran.programs import load_program


def _invoice(cycle_id: int, period: str, seq: int, total: int, state: str = "issued") -> Invoice:
    return Invoice(
        program="lebak",
        period=period,
        year=2026,
        seq=seq,
        number=f"{seq:03d}/T/{period}",
        revision=0,
        kind="regular",
        payer_key="kabupaten",
        payer_name="BKAD",
        cycle_id=cycle_id,
        document_state=state,
        participants=3450,
        total=total,
        content_hash="x",
        issue_date=dt.date(2026, 1, 5),
        due_date=dt.date(2026, 1, 15),
    )


def test_lebak_s_year_at_january_s_billing_is_short_of_its_pagu(sqlite_url: str) -> None:
    """The README's figures: 3,450 workers at Rp16.800 a month for 12 months exceed Rp670.680.000."""
    lebak = load_program("lebak")
    with session_scope(sqlite_url) as s:
        cycle = Cycle(program="lebak", period="2026-01")
        s.add(cycle)
        s.flush()
        s.add_all(
            [
                _invoice(cycle.id, "2026-01", 1, 57_960_000),
                _invoice(cycle.id, "2026-01", 2, 999, state="superseded"),  # not live
            ]
        )
    with session_scope(sqlite_url) as s:
        budget = compute_budget(s, lebak, Period(2026, 1), 57_960_000, 3450)
    assert budget.as_dict() == {
        "pagu": 670_680_000,
        "billed_to_date": 57_960_000,
        "projected_year": 695_520_000,
        "shortfall": 24_840_000,
        "months_covered": 11,
        "headcount_covered": 3326,
    }
    [note] = pagu_notes(lebak, budget)
    assert "Rp695.520.000" in note and "Rp24.840.000" in note and "11 bulan" in note


def test_no_shortfall_no_note() -> None:
    budget = Budget(100, 10, 90, 0, 10, 5)
    assert pagu_notes(load_program("lebak"), budget) == []
