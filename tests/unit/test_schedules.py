"""A program's monthly schedule runs within its months only (#16): none after the last month."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from prefect.server.schemas.schedules import RRuleSchedule

from deployments.deploy import cycle_schedule
from iuran.programs import ProgramError, Schedule, load_program, load_programs

UTC = dt.UTC


def _runs(schedule: object, start: dt.datetime) -> list[dt.datetime]:
    """The run times Prefect's server would schedule (its own RRULE reading)."""
    server = RRuleSchedule(rrule=schedule.rrule, timezone=schedule.timezone)  # type: ignore[attr-defined]
    return asyncio.run(server.get_dates(n=500, start=start))


def test_lamandau_runs_twelve_times_in_2025_and_never_after() -> None:
    runs = _runs(cycle_schedule(load_program("lamandau")), dt.datetime(2020, 1, 1, tzinfo=UTC))
    jakarta = ZoneInfo("Asia/Jakarta")
    assert [r.astimezone(jakarta).replace(tzinfo=None) for r in runs] == [
        dt.datetime(2025, m, 1, 7, 0) for m in range(1, 13)
    ]
    assert (
        _runs(cycle_schedule(load_program("lamandau")), dt.datetime(2025, 12, 2, tzinfo=UTC)) == []
    )


@pytest.mark.parametrize("code", sorted(load_programs()))
def test_every_program_runs_once_a_month_within_its_months(code: str) -> None:
    program = load_program(code)
    runs = _runs(cycle_schedule(program), dt.datetime(2020, 1, 1, tzinfo=UTC))
    tz = ZoneInfo(program.schedule.timezone)
    months = [(r.astimezone(tz).year, r.astimezone(tz).month) for r in runs]
    first, last = program.first_period, program.last_period
    assert months[0] == (first.year, first.month) and months[-1] == (last.year, last.month)
    assert len(months) == len(set(months)) == last.index - first.index + 1


def test_cron_fields_keep_their_meaning() -> None:
    lebak = load_program("lebak")
    twice = lebak.model_copy(update={"schedule": Schedule(cron="30 6,18 1-2 */6 *")})
    runs = _runs(cycle_schedule(twice), dt.datetime(2020, 1, 1, tzinfo=UTC))
    local = [r.astimezone(ZoneInfo("Asia/Jakarta")) for r in runs]
    assert [(r.month, r.day, r.hour, r.minute) for r in local] == [
        (m, d, h, 30) for m in (1, 7) for d in (1, 2) for h in (6, 18)
    ]
    mondays = lebak.model_copy(update={"schedule": Schedule(cron="0 7 * 1 1")})
    local = [
        r.astimezone(ZoneInfo("Asia/Jakarta"))
        for r in _runs(cycle_schedule(mondays), dt.datetime(2020, 1, 1, tzinfo=UTC))
    ]
    assert [r.day for r in local] == [5, 12, 19, 26] and {r.weekday() for r in local} == {0}


@pytest.mark.parametrize("cron", ["0 7 1 * 1", "0 7 1 JAN *", "0 25 1 * *", "0 7 1 *"])
def test_a_cron_an_rrule_cannot_say_is_refused_naming_the_program(cron: str) -> None:
    lebak = load_program("lebak")
    with pytest.raises(ProgramError, match=r"program lebak: schedule\.cron"):
        cycle_schedule(lebak.model_copy(update={"schedule": Schedule(cron=cron)}))
