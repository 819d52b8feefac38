"""Who is billed, and for which months (#16), on SQLite and PostgreSQL: a status takes effect from its
own date; carry-forward and ending follow the source that listed a worker; carried workers pass the
month's rules; targets are not caps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from iuran.db.models import ContributionLine, CreditNote, Participant
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.payments.sp2d import record_payment
from iuran.periods import Period
from iuran.programs import Program, load_program
from tests.pipeline import run

LEBAK = load_program("lebak")


def _bill(url: str, program: Program, period: str, inbox: Path, out: Path) -> dict[str, Any]:
    return run(url, program, period, inbox, out, render=False)


def _billed(url: str, program: str, period: str) -> set[str]:
    with session_scope(url) as s:
        return set(
            s.scalars(
                select(Participant.nik)
                .join(ContributionLine, ContributionLine.participant_id == Participant.id)
                .where(
                    ContributionLine.program == program,
                    ContributionLine.period == period,
                    ContributionLine.is_current,
                )
            )
        )


def test_the_month_of_death_stays_billed_when_january_is_rerun(
    database_url: str, tmp_path: Path
) -> None:
    """Lebak: died 20 January, February's status list says so; January rerun later for a forgotten
    worker keeps the deceased billed (no credit note); February and on do not bill him."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    for month in (Period(2026, 1), Period(2026, 2)):
        generate_rosters(LEBAK, month, inbox, villages=2, per_village=5, seed=5, churn=0, xlsx_share=0)  # fmt: skip
    jan_file = sorted((inbox / "lebak" / "2026-01").glob("*.csv"))[0]
    full = pd.read_csv(jan_file, dtype=str)
    forgotten = full["nik"].iloc[-1]
    full.iloc[:-1].to_csv(jan_file, index=False)  # the forgotten worker is left out at first
    jan = _bill(database_url, LEBAK, "2026-01", inbox, out)
    assert jan["participants"]["billed"] == 9
    [invoice] = jan["invoices"]
    [p] = record_payment(
        database_url,
        nomor_sp2d="900/SP2D/2026",
        tanggal="14/01/2026",
        jumlah=str(invoice["total"]),
        nomor_tagihan=invoice["number"],
        today=dt.date(2026, 1, 14),
    )["payments"]
    assert p["result"] == "recorded", p
    deceased = full["nik"].iloc[0]
    (inbox / "lebak" / "2026-02" / "bpjs_status.csv").write_text(
        f"nik;status;tanggal meninggal\n{deceased};meninggal;20/01/2026\n"
    )
    feb = _bill(database_url, LEBAK, "2026-02", inbox, out)
    assert feb["rejections"].get("PESERTA_MENINGGAL") == 1
    assert deceased not in _billed(database_url, "lebak", "2026-02")

    full.to_csv(jan_file, index=False)  # January again, with the forgotten worker
    again = _bill(database_url, LEBAK, "2026-01", inbox, out)
    assert again["participants"]["billed"] == 10
    assert "PESERTA_MENINGGAL" not in again["rejections"]
    assert {deceased, forgotten} <= _billed(database_url, "lebak", "2026-01")
    with session_scope(database_url) as s:
        assert s.scalar(select(func.count()).select_from(CreditNote)) == 0
    # February rerun, and March with no status list: still not billed.
    generate_rosters(LEBAK, Period(2026, 3), inbox, villages=2, per_village=5, seed=5, churn=0, xlsx_share=0)  # fmt: skip
    _bill(database_url, LEBAK, "2026-02", inbox, out)
    mar = _bill(database_url, LEBAK, "2026-03", inbox, out)
    assert mar["rejections"].get("PESERTA_MENINGGAL") == 1
    assert deceased not in _billed(database_url, "lebak", "2026-02") | _billed(database_url, "lebak", "2026-03")  # fmt: skip


def test_a_village_above_its_target_is_billed_in_full(database_url: str, tmp_path: Path) -> None:
    """Luwu Timur, "setidaknya 100 pekerja" a village: a village of 120 gets all 120 billed."""
    lutim = load_program("luwu-timur")
    inbox = tmp_path / "inbox"
    generate_rosters(lutim, Period(2025, 5), inbox, villages=1, per_village=120, seed=2, xlsx_share=0)  # fmt: skip
    s = _bill(database_url, lutim, "2025-05", inbox, tmp_path / "out")
    assert s["participants"]["billed"] == 120
    assert "KUOTA_DESA_PENUH" not in s["rejections"]
