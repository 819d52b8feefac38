"""The unchanged-rerun shortcut's key and recall, on SQLite and PostgreSQL (triggers included)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, update

from iuran.config import load_settings
from iuran.db.models import ContributionLine, Cycle, Notification, Participant
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.mail.deliver import deliver_pending_sync
from iuran.periods import Period
from iuran.programs import Program, load_program
from iuran.rerun import inputs_key, recall, remember
from tests.pipeline import run

PERIOD = Period(2026, 1)
VILLAGES = pd.DataFrame(
    {"received": [10, 11], "accepted": [10, 9], "rejected": [0, 2]},
    index=pd.Index(["36.02.01.2001", "36.02.01.2002"], name="kode_desa"),
)


@pytest.fixture
def month(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Lebak January billed, rendered and mailed (file outbox), its answer remembered."""
    monkeypatch.setenv("IURAN_OUTBOX", str(tmp_path / "outbox"))
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    lebak = load_program("lebak")
    generate_rosters(lebak, PERIOD, inbox, villages=6, per_village=10, seed=3)
    summary = run(database_url, lebak, str(PERIOD), inbox, out)
    deliver_pending_sync(database_url, load_settings(database_url, inbox, out))
    folder = inbox / "lebak" / str(PERIOD)
    key = inputs_key(database_url, lebak, PERIOD, folder)
    remember(database_url, lebak, PERIOD, key, summary, VILLAGES, "roster-hash")
    return {
        "url": database_url,
        "program": lebak,
        "folder": folder,
        "out": out / "lebak" / str(PERIOD),
        "key": key,
        "summary": summary,
    }


def _key(m: dict, program: Program | None = None) -> str:
    return inputs_key(m["url"], program or m["program"], PERIOD, m["folder"])


def test_same_inputs_same_key_and_the_answer_is_recalled_as_unchanged(month: dict) -> None:
    assert _key(month) == month["key"]
    kept = recall(month["url"], month["program"], PERIOD, month["key"], month["out"])
    assert kept is not None and kept.inputs == "roster-hash"
    pd.testing.assert_frame_equal(kept.villages, VILLAGES)  # the artifacts' table, as it was
    s = month["summary"]
    assert kept.summary["status"] == "unchanged"
    assert kept.summary["notifications"] == {"queued": 0, "sent": 0}
    assert [i["status"] for i in kept.summary["invoices"]] == ["unchanged"] * len(s["invoices"])
    assert kept.summary["total_due"] == s["total_due"] and kept.summary["budget"] == s["budget"]
    assert [i["due_date"] for i in kept.summary["invoices"]] == [
        i["due_date"] for i in s["invoices"]
    ]


def test_a_changed_roster_file_changes_the_key(month: dict) -> None:
    path = sorted(month["folder"].glob("*.csv"))[0]
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert _key(month) != month["key"]


def test_a_new_status_list_changes_the_key(month: dict) -> None:
    (month["folder"] / "bpjs_status.csv").write_text("nik,status\n", encoding="utf-8")
    assert _key(month) != month["key"]


def test_a_changed_program_file_changes_the_key(month: dict) -> None:
    changed = month["program"].model_copy(update={"limit_per_village": 9})
    assert _key(month, changed) != month["key"]


def test_an_update_of_a_participant_anywhere_changes_the_key(month: dict) -> None:
    """The trigger of migration 0005 records an UPDATE that leaves no count behind."""
    with session_scope(month["url"]) as s:
        pid = s.scalars(select(Participant.id).limit(1)).one()
        s.execute(update(Participant).where(Participant.id == pid).values(bpjs_status="meninggal"))
    assert _key(month) != month["key"]


def _lahat(month: dict, tmp_path: Path) -> None:
    lahat = load_program("lahat")  # its months include PERIOD
    inbox = tmp_path / "inbox-lahat"
    generate_rosters(lahat, PERIOD, inbox, villages=2, per_village=5, seed=5)
    run(month["url"], lahat, str(PERIOD), inbox, tmp_path / "out-lahat", render=False)


def test_another_programs_line_made_not_current_changes_the_key(
    month: dict, tmp_path: Path
) -> None:
    """A trigger of migration 0005 counts an UPDATE, which leaves no count of rows behind."""
    _lahat(month, tmp_path)
    before = _key(month)
    with session_scope(month["url"]) as s:
        lid = s.scalars(
            select(ContributionLine.id).where(ContributionLine.program == "lahat").limit(1)
        ).one()
        s.execute(
            update(ContributionLine).where(ContributionLine.id == lid).values(is_current=False)
        )
    assert _key(month) != before


def test_the_months_own_lines_are_output_not_input(month: dict) -> None:
    """Only this program's runs write its month (and they clear the kept answer while they do)."""
    with session_scope(month["url"]) as s:
        s.execute(update(ContributionLine).values(jkk=ContributionLine.jkk))
    assert _key(month) == month["key"]


def test_another_programs_line_in_the_month_changes_the_key(month: dict, tmp_path: Path) -> None:
    """Double funding: another program billing the same month can change this one's decisions."""
    _lahat(month, tmp_path)
    assert _key(month) != month["key"]


def test_recall_refuses_when_work_is_left(month: dict) -> None:
    url, lebak, key, out = month["url"], month["program"], month["key"], month["out"]
    sheet = Path(month["summary"]["invoices"][0]["pdf"]).with_suffix(".xlsx")
    sheet.unlink()
    assert recall(url, lebak, PERIOD, key, out) is None  # a document to write again
    run(url, lebak, str(PERIOD), month["folder"].parents[1], out.parents[1])
    assert sheet.is_file()  # the full rerun wrote it again
    with session_scope(url) as s:
        s.execute(update(Cycle).values(input_hash=key))
        s.execute(update(Notification).values(status="pending"))
    assert recall(url, lebak, PERIOD, key, out) is None  # an e-mail not sent yet
    with session_scope(url) as s:
        s.execute(update(Notification).values(status="sent"))
    assert recall(url, lebak, PERIOD, key, out) is not None
    assert recall(url, lebak, PERIOD, "another key", out) is None


def test_recording_a_run_forgets_the_kept_answer(month: dict) -> None:
    """A run that records anything may crash before it completes: its key must not match until then."""
    url, lebak = month["url"], month["program"]
    run(url, lebak, str(PERIOD), month["folder"].parents[1], month["out"].parents[1])
    with session_scope(url) as s:
        assert s.scalars(select(Cycle.input_hash)).one() is None
    assert recall(url, lebak, PERIOD, month["key"], month["out"]) is None


def test_a_status_list_sent_again_unchanged_writes_nothing(month: dict) -> None:
    """BPJS's list is resent every month: only news may touch the registry (and the key)."""
    import pandas as pd

    url, lebak, folder = month["url"], month["program"], month["folder"]
    nik = pd.read_csv(sorted(folder.glob("*.csv"))[0], dtype=str)["nik"].iloc[0]
    (folder / "bpjs_status.csv").write_text(f"nik;status;tanggal\n{nik};meninggal;20/01/2026\n")
    run(url, lebak, str(PERIOD), folder.parents[1], month["out"].parents[1])
    with session_scope(url) as s:
        assert s.scalar(select(Participant.bpjs_status).where(Participant.nik == nik)) == (
            "meninggal"
        )
    key = _key(month)
    run(url, lebak, str(PERIOD), folder.parents[1], month["out"].parents[1])
    assert _key(month) == key
