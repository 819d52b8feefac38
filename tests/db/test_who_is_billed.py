"""Who is billed, and for which months (#16), on SQLite and PostgreSQL: a status takes effect from its
own date; carry-forward and ending follow the source that listed a worker; carried workers pass the
month's rules; targets are not caps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from iuran.db.models import ContributionLine, CreditNote, Membership, Participant
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


def _ended(url: str, program: str) -> dict[str, str]:
    with session_scope(url) as s:
        rows = s.execute(
            select(Participant.nik, Membership.end_reason)
            .join(Membership, Membership.participant_id == Participant.id)
            .where(Membership.program == program, Membership.end_period.is_not(None))
        ).all()
    return {str(n): str(r) for n, r in rows}


def test_an_opd_list_does_not_end_a_silent_villages_workers(
    database_url: str, tmp_path: Path
) -> None:
    """Serang: 36.04.05.2001 sends nothing in October; Dinas Perikanan's list names one new fisherman
    there. The village's five September workers are carried forward, not ended; in November the
    village sends its roster and the OPD is silent: the fisherman is carried."""
    serang = load_program("serang")
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    village = "36.04.05.2001"
    generate_rosters(serang, Period(2024, 9), inbox, villages=2, per_village=5, seed=8, churn=0, xlsx_share=0)  # fmt: skip
    sep = _bill(database_url, serang, "2024-09", inbox, out)
    assert sep["participants"]["billed"] == 10
    five = _billed(database_url, "serang", "2024-09")
    generate_rosters(serang, Period(2024, 10), inbox, villages=3, per_village=5, seed=8, churn=0, xlsx_share=0)  # fmt: skip
    october = inbox / "serang" / "2024-10"
    (october / f"{village}.csv").unlink()  # the village is silent
    third = sorted(october.glob("*.csv"))[-1]
    fisherman = (
        pd.read_csv(third, dtype=str).iloc[:1].assign(kode_desa=village, pekerjaan="nelayan")
    )
    third.unlink()
    (october / "dinas-perikanan").mkdir()
    fisherman.to_csv(october / "dinas-perikanan" / "nelayan.csv", index=False)
    oct_ = _bill(database_url, serang, "2024-10", inbox, out)
    assert oct_["participants"]["billed"] == 11
    assert oct_["participants"]["ended"] == 0 and _ended(database_url, "serang") == {}
    assert five | set(fisherman["nik"]) == _billed(database_url, "serang", "2024-10")
    # November: the village's roster comes back (without the fisherman); the OPD is silent.
    generate_rosters(serang, Period(2024, 11), inbox, villages=2, per_village=5, seed=8, churn=0, xlsx_share=0)  # fmt: skip
    nov = _bill(database_url, serang, "2024-11", inbox, out)
    assert nov["participants"]["ended"] == 0
    assert set(fisherman["nik"]) <= _billed(database_url, "serang", "2024-11")


def test_a_carried_worker_past_the_age_limit_is_not_billed(
    database_url: str, tmp_path: Path
) -> None:
    """Born 10 March 1960, village silent in April 2026: 66 on 1 April, above age_max 65: not billed,
    ended with the age reason; the village's other workers are carried."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(LEBAK, Period(2026, 3), inbox, villages=2, per_village=5, seed=6, churn=0, xlsx_share=0)  # fmt: skip
    path = sorted((inbox / "lebak" / "2026-03").glob("*.csv"))[0]
    roster = pd.read_csv(path, dtype=str)
    old = "3602011003600001"
    roster.loc[0, ["nik", "tanggal_lahir", "jenis_kelamin"]] = [old, "10/03/1960", "L"]
    roster.to_csv(path, index=False)
    mar = _bill(database_url, LEBAK, "2026-03", inbox, out)
    assert mar["participants"]["billed"] == 10 and old in _billed(database_url, "lebak", "2026-03")
    generate_rosters(LEBAK, Period(2026, 4), inbox, villages=2, per_village=5, seed=6, churn=0, xlsx_share=0)  # fmt: skip
    (inbox / "lebak" / "2026-04" / path.name).unlink()  # the village is silent in April
    apr = _bill(database_url, LEBAK, "2026-04", inbox, out)
    assert apr["participants"]["billed"] == 9 and apr["participants"]["carried_forward"] == 4
    assert old not in _billed(database_url, "lebak", "2026-04")
    assert _ended(database_url, "lebak") == {old: "usia_di_atas_batas"}


def _capped(
    limit: int | None = None, headcount: int | None = None, policy: str = "warn"
) -> Program:
    y2026, *later = LEBAK.years
    year = y2026.model_copy(update={"workers": headcount})
    update = {"limit_per_village": limit, "years": (year, *later), "pagu_policy": policy}
    return LEBAK.model_copy(update=update)


def test_a_worker_listed_twice_is_resolved_before_the_village_limit_counts(
    database_url: str, tmp_path: Path
) -> None:
    """Two villages of 10 under a limit of 10 a village; in February village A also lists one of B's
    January workers. He stays in B (the village that billed him last month), and A's own ten are all
    billed: the duplicate never pushes out A's tenth worker, and nobody is refused for the limit."""
    program, inbox = _capped(limit=10), tmp_path / "inbox"
    for month in (Period(2026, 1), Period(2026, 2)):
        generate_rosters(program, month, inbox, villages=2, per_village=10, seed=7, churn=0, xlsx_share=0)  # fmt: skip
    assert _bill(database_url, program, "2026-01", inbox, tmp_path / "out")["participants"]["billed"] == 20  # fmt: skip
    feb = inbox / "lebak" / "2026-02"
    a_file, b_file = sorted(feb.glob("*.csv"))
    a, b = pd.read_csv(a_file, dtype=str), pd.read_csv(b_file, dtype=str)
    twice = b.iloc[[0]].assign(kode_desa=a["kode_desa"].iloc[0])
    pd.concat([a, twice]).to_csv(a_file, index=False)  # A lists 11: its own 10 and B's worker

    s = _bill(database_url, program, "2026-02", inbox, tmp_path / "out")
    assert s["participants"]["billed"] == 20
    assert "KUOTA_DESA_PENUH" not in s["rejections"]
    assert s["rejections"].get("NIK_DESA_GANDA") == 1
    with session_scope(database_url) as db:
        village = dict(
            db.execute(
                select(Participant.nik, ContributionLine.kode_desa)
                .join(ContributionLine, ContributionLine.participant_id == Participant.id)
                .where(ContributionLine.period == "2026-02", ContributionLine.is_current)
            ).all()
        )
    assert village[b["nik"].iloc[0]] == b["kode_desa"].iloc[0]  # kept in B
    assert set(a["nik"]) <= set(village)  # all of A's own ten


def test_the_headcount_limit_warns_or_stops_as_the_pagu_policy_says(
    database_url: str, tmp_path: Path
) -> None:
    """A budget year's headcount of 15 with 20 workers sent: `warn` bills 20 with a note, `stop`
    bills 15 and refuses the newest 5 as KUOTA_PROGRAM_PENUH naming the limit."""
    inbox = tmp_path / "inbox"
    generate_rosters(LEBAK, Period(2026, 1), inbox, villages=2, per_village=10, seed=8, churn=0, xlsx_share=0)  # fmt: skip
    warn = _bill(database_url, _capped(headcount=15), "2026-01", inbox, tmp_path / "out")
    assert warn["participants"]["billed"] == 20 and any("15" in n for n in warn["notes"])
    stop = _bill(database_url, _capped(headcount=15, policy="stop"), "2026-01", inbox, tmp_path / "out")  # fmt: skip
    assert stop["participants"]["billed"] == 15
    assert stop["rejections"].get("KUOTA_PROGRAM_PENUH") == 5
