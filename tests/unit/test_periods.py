import datetime as dt

import pytest

from iuran.periods import Period, is_working_day, next_working_day


def test_parse_and_format() -> None:
    p = Period.parse("2026-01")
    assert (p.year, p.month, str(p), p.label, p.roman_month) == (
        2026,
        1,
        "2026-01",
        "Januari 2026",
        "I",
    )
    assert Period.parse("2026-12").roman_month == "XII"


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-01", "2026/01", "", "2026-00"])
def test_parse_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        Period.parse(bad)


def test_shift_across_years() -> None:
    assert Period(2026, 1).shift(-1) == Period(2025, 12)
    assert Period(2025, 12).shift(1) == Period(2026, 1)
    assert Period(2026, 3).shift(12) == Period(2027, 3)


def test_due_date_on_a_working_15th() -> None:
    assert Period(2026, 1).due_date == dt.date(2026, 1, 15)  # Thursday


def test_due_date_moves_past_a_weekend() -> None:
    assert dt.date(2026, 3, 15).weekday() == 6
    assert Period(2026, 3).due_date == dt.date(2026, 3, 16)
    assert dt.date(2025, 11, 15).weekday() == 5
    assert Period(2025, 11).due_date == dt.date(2025, 11, 17)


def test_due_date_moves_past_a_public_holiday() -> None:
    # 2026-08-15 is a Saturday, the 17th is Independence Day: the next working day is the 18th.
    assert not is_working_day(dt.date(2026, 8, 17))
    assert Period(2026, 8).due_date == dt.date(2026, 8, 18)


def test_next_working_day_is_identity_on_working_days() -> None:
    d = dt.date(2026, 1, 14)
    assert next_working_day(d) == d
