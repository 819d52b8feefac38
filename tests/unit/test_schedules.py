"""A program's monthly schedule runs within its years' months only (#16): over every year, across
the boundary between them, and none after the last month."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from prefect.server.schemas.schedules import RRuleSchedule

from deployments.deploy import cycle_schedules
from iuran.programs import Program, ProgramError, ProgramYear, Schedule, load_program, load_programs

UTC = dt.UTC
JAKARTA = ZoneInfo("Asia/Jakarta")


def _runs(schedules: list[object], start: dt.datetime) -> list[dt.datetime]:
    """The run times Prefect's server would schedule (its own RRULE reading), all schedules."""
    found: list[dt.datetime] = []
    for schedule in schedules:
        server = RRuleSchedule(rrule=schedule.rrule, timezone=schedule.timezone)  # type: ignore[attr-defined]
        found += asyncio.run(server.get_dates(n=500, start=start))
    return sorted(found)


def _local(runs: list[dt.datetime]) -> list[dt.datetime]:
    return [r.astimezone(JAKARTA).replace(tzinfo=None) for r in runs]


def test_lamandau_runs_every_month_of_2024_and_2025_across_the_boundary_and_never_after() -> None:
    lamandau = load_program("lamandau")
    schedules = cycle_schedules(lamandau)
    assert len(schedules) == 1  # consecutive budget years: one RRULE, first month to last
    runs = _local(_runs(schedules, dt.datetime(2020, 1, 1, tzinfo=UTC)))
    assert runs == [dt.datetime(y, m, 1, 7, 0) for y in (2024, 2025) for m in range(1, 13)]
    assert dt.datetime(2025, 12, 1, 7) in runs and dt.datetime(2024, 12, 1, 7) in runs
    assert _runs(schedules, dt.datetime(2025, 12, 2, tzinfo=UTC)) == []


def test_lebak_runs_into_january_2027_under_its_new_budget_year() -> None:
    runs = _local(
        _runs(cycle_schedules(load_program("lebak")), dt.datetime(2026, 11, 2, tzinfo=UTC))
    )
    assert runs[:3] == [
        dt.datetime(2026, 12, 1, 7),
        dt.datetime(2027, 1, 1, 7),
        dt.datetime(2027, 2, 1, 7),
    ]
    assert runs[-1] == dt.datetime(2027, 12, 1, 7) and len(runs) == 13


def test_a_budget_year_that_starts_late_leaves_its_gap_unscheduled() -> None:
    lebak = load_program("lebak")
    late = ProgramYear.model_validate(
        {"tahun": 2027, "months": ["2027-03", "2027-12"], "funding_source": "APBD", "pagu": 1}
    )
    gapped = Program.model_validate(
        lebak.model_dump() | {"years": [lebak.years[0].model_dump(), late.model_dump()]}
    )
    assert gapped.months_text() == "2026-01 to 2026-12, 2027-03 to 2027-12"
    runs = _local(_runs(cycle_schedules(gapped), dt.datetime(2020, 1, 1, tzinfo=UTC)))
    months = [(r.year, r.month) for r in runs]
    assert (2026, 12) in months and (2027, 3) in months
    assert (2027, 1) not in months and (2027, 2) not in months and len(months) == 22


@pytest.mark.parametrize("code", sorted(load_programs()))
def test_every_program_runs_once_a_month_within_its_months(code: str) -> None:
    program = load_program(code)
    runs = _runs(cycle_schedules(program), dt.datetime(2020, 1, 1, tzinfo=UTC))
    tz = ZoneInfo(program.schedule.timezone)
    months = [(r.astimezone(tz).year, r.astimezone(tz).month) for r in runs]
    first, last = program.first_period, program.last_period
    assert months[0] == (first.year, first.month) and months[-1] == (last.year, last.month)
    assert len(months) == len(set(months)) == sum(y.month_count for y in program.years)


def test_cron_fields_keep_their_meaning() -> None:
    lebak = load_program("lebak")
    twice = lebak.model_copy(update={"schedule": Schedule(cron="30 6,18 1-2 */6 *")})
    runs = _runs(cycle_schedules(twice), dt.datetime(2020, 1, 1, tzinfo=UTC))
    local = [r.astimezone(JAKARTA) for r in runs]
    assert [(r.year, r.month, r.day, r.hour, r.minute) for r in local] == [
        (y, m, d, h, 30) for y in (2026, 2027) for m in (1, 7) for d in (1, 2) for h in (6, 18)
    ]
    mondays = lebak.model_copy(update={"schedule": Schedule(cron="0 7 * 1 1")})
    local = [
        r.astimezone(JAKARTA)
        for r in _runs(cycle_schedules(mondays), dt.datetime(2020, 1, 1, tzinfo=UTC))
    ]
    assert [(r.year, r.day) for r in local] == [
        (2026, 5), (2026, 12), (2026, 19), (2026, 26), (2027, 4), (2027, 11), (2027, 18), (2027, 25)
    ]  # fmt: skip
    assert {r.weekday() for r in local} == {0}


@pytest.mark.parametrize("cron", ["0 7 1 * 1", "0 7 1 JAN *", "0 25 1 * *", "0 7 1 *"])
def test_a_cron_an_rrule_cannot_say_is_refused_naming_the_program(cron: str) -> None:
    lebak = load_program("lebak")
    with pytest.raises(ProgramError, match=r"program lebak: schedule\.cron"):
        cycle_schedules(lebak.model_copy(update={"schedule": Schedule(cron=cron)}))
