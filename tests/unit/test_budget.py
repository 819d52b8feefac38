"""The pagu's notes: a shortfall is news, no shortfall is none (figures: tests/db/test_budget_db.py)."""

from __future__ import annotations

from iuran.budget import Budget, pagu_notes
from iuran.programs import load_program


def test_no_shortfall_no_note() -> None:
    budget = Budget(100, 10, 90, 0, 10, 5)
    assert pagu_notes(load_program("lebak"), budget) == []
