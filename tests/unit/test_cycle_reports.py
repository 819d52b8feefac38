"""The mail that carries the cycle's reports: Disnaker hears what the data-quality table says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from iuran.cycle_reports import ReportPaths, program_villages, queue_report_mail
from iuran.db.models import Notification
from iuran.db.session import session_scope
from iuran.desa import NO_VILLAGE
from iuran.mail.compose import render
from iuran.periods import Period
from iuran.programs import load_program
from iuran.reconcile import REJECTED_COLUMNS, Reconciled
from iuran.reports import TOTAL, data_quality_table
from tests.unit.test_reports import A, B, C, billed_frame, collected_frame, rejected_frame

PERIOD = Period(2026, 2)


def _nik(i: int) -> str:
    return f"36020115059{i:05d}"


def _queued(url: str) -> dict[str, Any]:
    with session_scope(url) as session:
        return session.scalars(
            select(Notification.context).where(Notification.event == "cycle_rejections")
        ).one()


def _queue(
    url: str, tmp_path: Path, files: pd.DataFrame, rejected: pd.DataFrame, billed: pd.DataFrame
) -> None:
    lebak = load_program("lebak")
    decided = Reconciled(
        billed=billed,
        rejected=rejected.iloc[0:0],
        ended=pd.DataFrame({"nik": pd.Series(dtype="string"), "reason": pd.Series(dtype="string")}),
    )
    with session_scope(url) as session:
        queue_report_mail(
            session,
            lebak,
            PERIOD,
            files,
            rejected,
            decided,
            ReportPaths.of(lebak, PERIOD, tmp_path),
        )


def test_disnaker_hears_received_accepted_and_rejected_per_village(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A village that sent 10 rows, 2 of them rejected: "10 / 8 / 2", not "2 of 0"."""
    files = pd.DataFrame(
        {
            "path": [f"{A}.csv"],
            "sha256": ["a"],
            "rows": [10],
            "status": ["read"],
            "code": [None],
            "message": [None],
        }
    )
    rejected = pd.DataFrame(
        [
            (f"{A}.csv", "", 3 + i, A, _nik(i), "Siti", "nik", "NIK_PANJANG", "NIK harus 16 digit")
            for i in range(2)
        ],
        columns=REJECTED_COLUMNS,
    )
    billed = pd.DataFrame(
        {
            "source_file": [f"{A}.csv"] * 8,
            "source_row": range(5, 13),
            "nik": [_nik(10 + i) for i in range(8)],
            "kode_desa": [A] * 8,
            "carried": [False] * 8,
            "category": ["baru"] * 8,
        }
    )
    _queue(sqlite_url, tmp_path, files, rejected, billed)

    context = _queued(sqlite_url)
    name = program_villages(load_program("lebak"))[A]
    assert context["by_village"] == [
        {"kode_desa": A, "nama": name, "received": 10, "accepted": 8, "rejected": 2}
    ]
    _, text, html = render("cycle_rejections", context)
    assert f"{A} {name}: 10 / 8 / 2" in text
    row = html[html.index(f">{A}<") :].split("</tr>")[0]
    assert re.findall(r">([^<>]*)</td>", row) == [A, name, "10", "8", "2"]


def test_the_mail_shows_the_data_quality_table_s_figures(sqlite_url: str, tmp_path: Path) -> None:
    """Several villages, a row placed by its file name, a carried-forward worker: each village with
    rejections, as the attached table counts it."""
    rows, rejected, billed = collected_frame(), rejected_frame(), billed_frame()
    files = pd.DataFrame(
        {
            "path": sorted(set(rows["source_file"])),
            "sha256": "x",
            "rows": 1,
            "status": "read",
            "code": None,
            "message": None,
        }
    )
    _queue(sqlite_url, tmp_path, files, rejected, billed)

    table = data_quality_table(
        rows, rejected, billed, village_names=program_villages(load_program("lebak"))
    )
    table = table.loc[(table["kode_desa"] != TOTAL) & (table["ditolak"] > 0)]
    expected = {
        str(r.kode_desa): [int(r.diterima), int(r.lolos), int(r.ditolak)]
        for r in table.itertuples()
    }
    context = _queued(sqlite_url)
    shown = {
        v["kode_desa"]: [v["received"], v["accepted"], v["rejected"]] for v in context["by_village"]
    }
    assert shown == expected and A in shown and B in shown
    # most rejected first, then in the table's order
    assert [v["kode_desa"] for v in context["by_village"]] == [A, B, C, NO_VILLAGE]
