"""The issue's scenario (#17) through the monthly-cycle flow: a run killed while it wrote the BPJS
mutation list leaves it claimed; the rerun that takes the stale lease over delivers it at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from flows.monthly_cycle import monthly_cycle
from iuran.db.models import Cycle, Notification, NotificationStatus
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.locks import holder_of
from iuran.mail.compose import outbox_name
from iuran.mail.deliver import CLAIM_LEASE
from iuran.periods import Period
from iuran.programs import load_program

DEAD = "cycle-lebak-2026-01 (killed run) @worker-9:4242"


@pytest.fixture
def lebak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("IURAN_OUTBOX", str(tmp_path / "outbox"))
    inbox = tmp_path / "inbox"
    generate_rosters(
        load_program("lebak"), Period(2026, 1), inbox, villages=4, per_village=8, seed=11
    )
    from iuran.db.session import upgrade

    url = f"sqlite:///{tmp_path / 'iuran.db'}"
    upgrade(url)
    return dict(
        program="lebak", period="2026-01", inbox=str(inbox), db=url, out=str(tmp_path / "out")
    )


def test_the_rerun_after_a_kill_delivers_the_mutation_list_the_dead_run_had_claimed(
    lebak: dict[str, Any], tmp_path: Path
) -> None:
    first = monthly_cycle(**lebak)
    assert first["undelivered"] == []
    now = dt.datetime.now(dt.UTC)
    # As a SIGKILL while the file outbox wrote the list leaves it: claimed by the dead process, no
    # file, and the cycle's lease still naming that process, not renewed for an hour.
    with session_scope(lebak["db"]) as s:
        row = s.scalars(select(Notification).where(Notification.event == "mutation_list")).one()
        key = row.idempotency_key
        s.execute(
            update(Notification)
            .where(Notification.id == row.id)
            .values(
                status=NotificationStatus.SENDING,
                claimed_by="@worker-9:4242",
                next_attempt_at=now + CLAIM_LEASE,
                sent_at=None,
                message_id=None,
            )
        )
        s.execute(update(Cycle).values(locked_by=DEAD, locked_at=now - dt.timedelta(hours=1)))
    (tmp_path / "outbox" / outbox_name(key)).unlink()

    again = monthly_cycle(**lebak)
    assert again["status"] == "unchanged" and again["notifications"]["sent"] == 1
    assert again["undelivered"] == []
    assert (tmp_path / "outbox" / outbox_name(key)).exists()
    with session_scope(lebak["db"]) as s:
        row = s.scalars(select(Notification).where(Notification.event == "mutation_list")).one()
        assert row.status == NotificationStatus.SENT and row.claimed_by is None
    assert holder_of(lebak["db"], "lebak", "2026-01") is None
