"""The cycle lease and concurrent runs, on SQLite and PostgreSQL: two runs of one (program, period)
never both bill."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from iuran.db.models import ContributionLine, Cycle, Invoice, Notification
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.locks import CycleBusy, acquire, held, holder_of
from iuran.periods import Period
from iuran.programs import load_program
from tests.pipeline import run

T0 = dt.datetime(2026, 1, 1, 7, 0, tzinfo=dt.UTC)


def test_a_held_cycle_refuses_a_second_run_and_says_who_has_it(database_url: str) -> None:
    first = acquire(database_url, "lebak", "2026-01", "cycle-lebak-2026-01 run-a", now=T0)
    with pytest.raises(CycleBusy) as refused:
        acquire(database_url, "lebak", "2026-01", "run-b", now=T0 + dt.timedelta(minutes=1))
    assert str(refused.value) == (
        "cycle lebak 2026-01 is being run by cycle-lebak-2026-01 run-a since 2026-01-01 07:00:00 UTC"
    )
    # Another period, or another program, is a different cycle.
    acquire(database_url, "lebak", "2026-02", "run-b", now=T0).release()
    acquire(database_url, "lahat", "2026-01", "run-b", now=T0).release()
    # The same holder may take its own lease again (a retried step of one run).
    assert acquire(database_url, "lebak", "2026-01", "cycle-lebak-2026-01 run-a", now=T0).cycle_id
    assert first.release()
    assert holder_of(database_url, "lebak", "2026-01") is None
    acquire(database_url, "lebak", "2026-01", "run-b", now=T0 + dt.timedelta(minutes=2))
    assert holder_of(database_url, "lebak", "2026-01") == ("run-b", T0 + dt.timedelta(minutes=2))


def test_a_stale_lease_is_taken_over_and_its_old_holder_cannot_release_it(
    database_url: str,
) -> None:
    dead = acquire(database_url, "lebak", "2026-01", "run-dead", now=T0)
    with pytest.raises(CycleBusy):
        acquire(
            database_url,
            "lebak",
            "2026-01",
            "run-new",
            now=T0 + dt.timedelta(minutes=14),
            stale_after=dt.timedelta(minutes=15),
        )
    alive = acquire(
        database_url,
        "lebak",
        "2026-01",
        "run-new",
        now=T0 + dt.timedelta(minutes=16),
        stale_after=dt.timedelta(minutes=15),
    )
    assert not dead.renew() and dead.lost
    assert not dead.release()
    assert holder_of(database_url, "lebak", "2026-01") == ("run-new", T0 + dt.timedelta(minutes=16))
    assert alive.release()


def test_of_many_runs_starting_together_exactly_one_gets_the_cycle(database_url: str) -> None:
    acquire(
        database_url, "lebak", "2026-01", "warm-up"
    ).release()  # the row exists: pure UPDATE race
    start = threading.Barrier(6)

    def attempt(i: int) -> str:
        start.wait()
        try:
            acquire(database_url, "lebak", "2026-01", f"run-{i}")
        except CycleBusy:
            return "refused"
        return "won"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(attempt, range(6)))
    assert outcomes.count("won") == 1, outcomes
    # ... and also when the cycle row does not exist yet (the INSERT races too).
    start.reset()
    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(lambda i: _try(database_url, "2026-02", i, start), range(6)))
    assert outcomes.count("won") == 1, outcomes


def _try(url: str, period: str, i: int, start: threading.Barrier) -> str:
    start.wait()
    try:
        acquire(url, "lebak", period, f"run-{i}")
    except CycleBusy:
        return "refused"
    return "won"


def test_held_renews_while_working_and_releases_on_failure(database_url: str) -> None:
    with (
        pytest.raises(RuntimeError, match="render failed"),
        held(
            database_url, "lebak", "2026-01", "run-a", heartbeat=dt.timedelta(seconds=0.2)
        ) as lease,
    ):
        first = holder_of(database_url, "lebak", "2026-01")
        assert first is not None
        time.sleep(1.0)
        later = holder_of(database_url, "lebak", "2026-01")
        assert later is not None and later[1] > first[1]  # renewed by the heartbeat
        assert not lease.lost
        raise RuntimeError("render failed")
    assert holder_of(database_url, "lebak", "2026-01") is None
    with session_scope(database_url) as s:
        assert s.scalar(select(func.count()).select_from(Cycle)) == 1


def _count(url: str, model: type, *where: Any) -> int:
    with session_scope(url) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_two_records_of_one_cycle_at_once_bill_like_a_single_run(
    database_url: str, tmp_path: Path
) -> None:
    """No lease here: the record steps themselves take turns on the cycle row (SELECT … FOR UPDATE on
    PostgreSQL, the write lock on SQLite) and the unique indexes allow one live invoice."""
    lebak = load_program("lebak")
    inbox = tmp_path / "inbox"
    generate_rosters(lebak, Period(2026, 1), inbox, villages=12, per_village=10, seed=7)
    start = threading.Barrier(2)

    def one(i: int) -> dict[str, Any]:
        start.wait()
        return run(database_url, lebak, "2026-01", inbox, tmp_path / f"out{i}", render=False)

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(one, range(2))
    assert sorted([a["status"], b["status"]]) == ["issued", "unchanged"]
    assert _count(database_url, Invoice) == 1
    assert _count(database_url, ContributionLine, ContributionLine.is_current) == 120
    assert _count(database_url, Notification, Notification.event.like("invoice_%")) == 1
    with session_scope(database_url) as s:
        assert s.scalar(select(func.sum(Invoice.total))) == 120 * 16_800
