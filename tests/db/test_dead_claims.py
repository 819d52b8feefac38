"""What a dead run leaves behind (#17), on SQLite and PostgreSQL: a run taking over its stale cycle
lease takes over its outbox claims, and every answer lists the messages not delivered yet."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from iuran.config import load_settings
from iuran.db.models import Notification, NotificationStatus
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.locks import CycleBusy, acquire, default_holder, held, process_identity, process_of
from iuran.mail.deliver import _claim, deliver_pending_sync
from iuran.month import PLAIN, run_month
from iuran.periods import Period
from iuran.programs import load_program
from iuran.rerun import inputs_key, recall, remember
from iuran.status import format_status, status_report
from tests.pipeline import TODAY, nothing_delivered, nothing_written, run

PERIOD = Period(2026, 1)
DEAD = "cycle-lebak-2026-01 (dead run) @worker-9:4242"  # what default_holder gives a run
LONG_AGO = dt.timedelta(hours=1)  # far past the cycle lease (15 minutes)


@pytest.fixture
def month(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Lebak January recorded, its messages queued and not delivered yet."""
    monkeypatch.setenv("IURAN_OUTBOX", str(tmp_path / "outbox"))
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    lebak = load_program("lebak")
    generate_rosters(lebak, PERIOD, inbox, villages=6, per_village=10, seed=3)
    summary = run(database_url, lebak, str(PERIOD), inbox, out)
    return {
        "url": database_url,
        "program": lebak,
        "inbox": inbox,
        "out": out,
        "settings": load_settings(database_url, inbox, out),
        "summary": summary,
        "outbox": tmp_path / "outbox",
    }


def _row(url: str, event: str) -> Notification:
    with session_scope(url) as session:
        row = session.scalars(select(Notification).where(Notification.event == event)).one()
        session.expunge(row)
        return row


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_a_run_taking_over_a_dead_runs_lease_sends_what_the_dead_run_had_claimed(
    month: dict,
) -> None:
    url, lebak = month["url"], month["program"]
    listed = _row(url, "mutation_list")
    # The dead run held the cycle and was writing the mutation list when it was killed.
    acquire(url, "lebak", str(PERIOD), DEAD, now=_now() - LONG_AGO)
    assert _claim(url, listed.id, _now(), claimant="@worker-9:4242") is not None

    # Before anyone takes over, every answer says the list is claimed, and until when.
    again = run(url, lebak, str(PERIOD), month["inbox"], month["out"])
    claimed = [w for w in again["undelivered"] if w["event"] == "mutation_list"]
    assert claimed == [
        {
            "event": "mutation_list",
            "period": "2026-01",
            "recipient": "bpjs",
            "state": "claimed",
            "attempts": 0,
            "next_attempt_at": claimed[0]["next_attempt_at"],
            "last_error": None,
        }
    ]
    assert dt.datetime.fromisoformat(claimed[0]["next_attempt_at"]) > _now()
    status = status_report(url, lebak, str(PERIOD), today=TODAY)
    assert any(w["state"] == "claimed" for w in status["undelivered"])
    assert "mutation_list 2026-01 ke bpjs: sedang dikirim" in format_status(status)

    # The rerun takes the stale lease over: the dead run's claim is due again at once, and sent.
    with held(url, "lebak", str(PERIOD), "cycle-lebak-2026-01 (rerun) @worker-1:77"):
        row = _row(url, "mutation_list")
        assert row.status == NotificationStatus.PENDING and row.claimed_by is None
        report = deliver_pending_sync(url, month["settings"])
    assert _row(url, "mutation_list").status == NotificationStatus.SENT
    assert report.sent == len(month["summary"]["undelivered"])  # the list among them
    assert (month["outbox"]).is_dir()
    assert status_report(url, lebak, str(PERIOD), today=TODAY)["undelivered"] == []


def test_a_live_senders_claim_and_other_cycles_claims_are_left_alone(month: dict) -> None:
    url = month["url"]
    listed = _row(url, "mutation_list")
    acquire(url, "lebak", str(PERIOD), DEAD, now=_now())  # alive: renewed just now
    assert _claim(url, listed.id, _now(), claimant="@worker-9:4242") is not None
    with pytest.raises(CycleBusy):
        acquire(url, "lebak", str(PERIOD), "cycle-lebak-2026-01 (rerun) @worker-1:77")
    assert _row(url, "mutation_list").status == NotificationStatus.SENDING
    # The same dead process's lease of another month is taken over: this month's claim stays.
    acquire(url, "lebak", "2026-02", DEAD, now=_now() - LONG_AGO)
    acquire(url, "lebak", "2026-02", "cycle-lebak-2026-02 (rerun) @worker-1:77")
    row = _row(url, "mutation_list")
    assert row.status == NotificationStatus.SENDING and row.claimed_by == "@worker-9:4242"


def test_summary_and_status_list_pending_and_failing_messages_without_a_nik(month: dict) -> None:
    url, lebak = month["url"], month["program"]
    later = dt.datetime(2026, 1, 5, 8, 30, tzinfo=dt.UTC)
    with session_scope(url) as session:
        session.execute(
            update(Notification)
            .where(Notification.event == "mutation_list")
            .values(attempts=2, last_error="421 try later", next_attempt_at=later)
        )
    summary = run(url, lebak, str(PERIOD), month["inbox"], month["out"])
    states = {w["event"]: w["state"] for w in summary["undelivered"]}
    assert states["mutation_list"] == "failing"
    assert "pending" in states.values()  # the invoices' messages, never tried
    failing = next(w for w in summary["undelivered"] if w["event"] == "mutation_list")
    assert failing["next_attempt_at"] == later.isoformat() and failing["attempts"] == 2

    status = status_report(url, lebak, str(PERIOD), today=TODAY)
    assert status["undelivered"] == summary["undelivered"]
    text = format_status(status)
    assert "E-mail belum terkirim:" in text
    assert (
        "mutation_list 2026-01 ke bpjs: gagal sementara, dicoba lagi, 2x dicoba, "
        "percobaan berikut 2026-01-05 08:30 UTC" in text
    )
    assert not re.search(r"\d{16}", text + repr(summary["undelivered"]))


def test_the_unchanged_shortcut_never_hides_an_undelivered_message(month: dict) -> None:
    url, lebak, settings = month["url"], month["program"], month["settings"]
    steps = dataclasses.replace(PLAIN, deliver=nothing_delivered, publish=nothing_written)
    deliver_pending_sync(url, settings)
    first = run_month(steps, settings, lebak, PERIOD, TODAY).summary  # kept for the reruns
    assert first["undelivered"] == []
    folder = month["inbox"] / "lebak" / str(PERIOD)
    key = inputs_key(url, lebak, PERIOD, folder)
    out_dir = month["out"] / "lebak" / str(PERIOD)
    kept = recall(url, lebak, PERIOD, key, out_dir)
    assert kept is not None and kept.summary["undelivered"] == []

    # A kept summary's list is never answered as it was kept: it is read from the outbox.
    stale = first | {"undelivered": [{"event": "mutation_list", "state": "claimed"}]}
    remember(url, lebak, PERIOD, key, stale, kept.villages, kept.inputs)
    kept = recall(url, lebak, PERIOD, key, out_dir)
    assert kept is not None and kept.summary["undelivered"] == []

    # A message of the month not delivered yet: the rerun does not answer `unchanged` without it.
    with session_scope(url) as session:
        session.execute(
            update(Notification)
            .where(Notification.event == "mutation_list")
            .values(status=NotificationStatus.PENDING, attempts=0, next_attempt_at=None)
        )
    again = run_month(steps, settings, lebak, PERIOD, TODAY).summary
    assert [(w["event"], w["state"]) for w in again["undelivered"]] == [
        ("mutation_list", "pending")
    ]


def test_a_lease_holder_always_ends_with_the_process_its_claims_are_named_by() -> None:
    holder = default_holder("x" * 300)
    assert len(holder) <= 100 and holder.endswith(process_identity())
    assert process_of(holder) == process_identity()
    assert process_of("bench") is None  # a holder named by hand releases no claim
