"""A month where villages send what their systems export (issue #15): the project's template, OpenSID's
penduduk export (codes and names), program-bantuan export, import template and printable HTML list,
and Dukcapil's SIAK `.xls`,
as the demo generator writes them (`--format mixed`); every generated worker is billed, once, in
their village, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from iuran.db.models import ContributionLine, Participant
from iuran.db.session import session_scope
from iuran.generate import build_rosters, generate_rosters
from iuran.periods import Period
from iuran.programs import load_program
from tests.pipeline import run

LEBAK = load_program("lebak")
PERIOD = Period(2026, 1)


def test_a_month_of_real_export_layouts_bills_every_worker(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IURAN_OUTBOX", str(tmp_path / "outbox"))
    inbox = tmp_path / "inbox"
    report = generate_rosters(LEBAK, PERIOD, inbox, villages=7, per_village=5, fmt="mixed")
    endings = sorted(p.name.split("_", 1)[-1].rsplit(".", 1)[-1] for p in report.files)
    assert endings == sorted(["csv", "xlsx", "xlsx", "xlsx", "xlsm", "xls", "xls"])  # seven layouts
    summary = run(database_url, LEBAK, str(PERIOD), inbox, tmp_path / "out", render=False)
    assert summary["status"] == "issued"

    want = {
        (nik, kode)
        for r in build_rosters(LEBAK, PERIOD, villages=7, per_village=5)
        for nik, kode in zip(r.columns["nik"], r.columns["kode_desa"], strict=True)
    }
    with session_scope(database_url) as s:
        billed = s.execute(
            select(Participant.nik, ContributionLine.kode_desa)
            .join(Participant, Participant.id == ContributionLine.participant_id)
            .where(
                ContributionLine.program == LEBAK.code,
                ContributionLine.period == str(PERIOD),
                ContributionLine.is_current,
            )
        ).all()
    assert len(billed) == 35
    assert set(billed) == want
