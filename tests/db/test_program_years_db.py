"""A budget year ends; the program goes on (#16): December and January of consecutive program years
billed for the same workers, through the whole month on both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
from sqlalchemy import select

from iuran.db.models import Membership, Participant
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.program_report import monthly_billed
from iuran.programs import Program, load_program
from tests.pipeline import run

PAGU_2027 = 700_000_000  # set apart from 2026's so the test sees which year's pagu it reads


def _lebak_2026_2027() -> Program:
    """Lebak's file (2026, then 2027 under a new APBD), its 2027 pagu made different from 2026's."""
    lebak = load_program("lebak")
    y2026, y2027 = lebak.years
    assert (y2026.tahun, y2027.tahun) == (2026, 2027)
    return lebak.model_copy(update={"years": (y2026, y2027.model_copy(update={"pagu": PAGU_2027}))})


def _month(inbox: Path, source: Path, period: str, leave_out: dict[str, int]) -> None:
    """The rosters of `source` as `period`'s, each village's row `leave_out[kode]` removed."""
    folder = inbox / "lebak" / period
    folder.mkdir(parents=True)
    for path in sorted(source.glob("*.csv")):
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if path.stem in leave_out:
            df = df.drop(index=leave_out[path.stem])
        df.to_csv(folder / path.name, index=False)


def _sheet(path: Path, name: str) -> list[tuple[object, ...]]:
    return list(openpyxl.load_workbook(path)[name].iter_rows(min_row=2, values_only=True))


def test_december_and_january_of_consecutive_program_years_continue_the_same_workers(
    database_url: str, tmp_path: Path
) -> None:
    lebak = _lebak_2026_2027()
    made, inbox, out = tmp_path / "made", tmp_path / "inbox", tmp_path / "out"
    generate_rosters(
        lebak, Period(2026, 12), made, villages=3, per_village=6, seed=16, churn=0, xlsx_share=0
    )
    source = made / "lebak" / "2026-12"
    first = sorted(source.glob("*.csv"))[0]
    roster = pd.read_csv(first, dtype=str, keep_default_na=False)
    leaver, joiner = roster.loc[0, "nik"], roster.loc[5, "nik"]
    # December: everyone but the joiner; January: everyone but the leaver (one real change)
    _month(inbox, source, "2026-12", {first.stem: 5})
    _month(inbox, source, "2027-01", {first.stem: 0})

    december = run(database_url, lebak, "2026-12", inbox, out)
    assert december["status"] == "issued" and december["participants"]["billed"] == 17
    [dec_invoice] = december["invoices"]
    assert dec_invoice["number"] == "001/TAG-JKK-JKM/LBK/XII/2026"
    assert december["budget"]["pagu"] == 670_680_000

    january = run(database_url, lebak, "2027-01", inbox, out)
    p = january["participants"]
    assert (p["billed"], p["continuing"], p["new"], p["ended"]) == (17, 16, 1, 1)
    assert p["carried_forward"] == 0
    [jan_invoice] = january["invoices"]
    # invoice numbers run per calendar year, as before: the new year starts again at 001
    assert jan_invoice["number"] == "001/TAG-JKK-JKM/LBK/I/2027"
    assert jan_invoice["total"] == 17 * 16_800

    # BPJS's mutation list names the real change and nobody else: no false ending, no re-registration
    mutations = out / "lebak" / "2027-01" / "mutasi-lebak-2027-01.xlsx"
    added, ended = _sheet(mutations, "Penambahan"), _sheet(mutations, "Pengurangan")
    assert [(r[0], r[7]) for r in added] == [(joiner, dt.datetime(2027, 1, 1))]
    assert [(r[0], r[6], r[8]) for r in ended] == [
        (leaver, "tidak_di_roster", dt.datetime(2026, 12, 31))
    ]

    # the budget is 2027's: its pagu, billed to date from January only, twelve months projected
    budget = january["budget"]
    assert budget["pagu"] == PAGU_2027
    assert budget["billed_to_date"] == 17 * 16_800
    assert budget["projected_year"] == 12 * 17 * 16_800
    assert budget["headcount_covered"] == PAGU_2027 // (16_800 * 12)
    with session_scope(database_url) as s:
        series = monthly_billed(s, lebak, Period(2027, 1))
        spans = {
            nik: (first_p, last_p)
            for nik, first_p, last_p in s.execute(
                select(Participant.nik, Membership.first_period, Membership.last_period)
                .join(Participant, Participant.id == Membership.participant_id)
                .where(Membership.program == "lebak")
            ).all()
        }
    assert series[0] == ("Jan 2027", 17 * 16_800, False) and len(series) == 12
    assert series[-1] == ("Des 2027", 17 * 16_800, True)
    # a continuing worker's membership runs on from December into January
    stayer = roster.loc[1, "nik"]
    assert spans[stayer] == ("2026-12", "2027-01")
    assert spans[leaver] == ("2026-12", "2026-12") and spans[joiner] == ("2027-01", "2027-01")
