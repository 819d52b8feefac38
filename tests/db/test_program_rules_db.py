"""Who is billed and for which months (#16), through a whole month on both databases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from iuran.db.models import Participant, Rejection
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.programs import load_program
from tests.pipeline import run


@pytest.fixture
def lebak_inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    generate_rosters(
        load_program("lebak"), Period(2026, 1), inbox, villages=2, per_village=10, seed=16
    )
    return inbox


def _first_roster(inbox: Path) -> tuple[Path, pd.DataFrame]:
    path = sorted((inbox / "lebak" / "2026-01").glob("*.csv"))[0]
    return path, pd.read_csv(path, dtype=str, keep_default_na=False)


def test_civil_servants_wage_employees_office_holders_and_pupils_are_not_billed(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    path, df = _first_roster(lebak_inbox)
    jobs = ["PNS", "TNI AD", "Karyawan Swasta", "Kades", "Pelajar/Mahasiswa", ""]
    df.loc[: len(jobs) - 1, "pekerjaan"] = jobs
    df.to_csv(path, index=False)
    s = run(database_url, load_program("lebak"), "2026-01", lebak_inbox, tmp_path / "out")
    assert s["rows"] == {"received": 20, "accepted": 15, "rejected": 5}
    assert s["participants"]["billed"] == 15 and s["total_due"] == 15 * 16_800
    with session_scope(database_url) as ses:
        refused = ses.execute(select(Rejection.source_row, Rejection.code, Rejection.column)).all()
        billed = set(ses.scalars(select(Participant.nik)))
    assert sorted(refused) == [
        (2, "PEKERJAAN_ASN_TNI_POLRI", "pekerjaan"),
        (3, "PEKERJAAN_ASN_TNI_POLRI", "pekerjaan"),
        (4, "PEKERJAAN_PENERIMA_UPAH", "pekerjaan"),
        (5, "PEKERJAAN_PEJABAT", "pekerjaan"),
        (6, "PEKERJAAN_BUKAN_PEKERJA", "pekerjaan"),
    ]
    assert df.loc[5, "nik"] in billed  # an empty occupation is accepted, as before
    assert not {*df.loc[:4, "nik"]} & billed


def test_a_period_after_the_program_year_is_refused_by_the_command_line_and_the_month(
    database_url: str, tmp_path: Path
) -> None:
    """Lamandau's last program year is 2025 (after 2024): with December billed, January 2026 must
    bill nobody, not the carried-forward workers (the issue reproduced
    `001/TAG-JKK-JKM/LMD/I/2026`); nor a month before its first year."""
    from typer.testing import CliRunner

    from iuran.cli import app
    from iuran.db.models import Invoice
    from iuran.month import OutsideProgram

    lamandau = load_program("lamandau")
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(lamandau, Period(2025, 12), inbox, villages=2, per_village=5, seed=16)
    december = run(database_url, lamandau, "2025-12", inbox, out, render=False)
    assert december["status"] == "issued" and december["participants"]["billed"] == 10

    runner = CliRunner(env={"IURAN_OUTBOX": str(out / "outbox"), "IURAN_SMTP_HOST": None})
    args = ["--program", "lamandau", "--db", database_url, "--inbox", str(inbox), "--out", str(out)]
    refused = runner.invoke(app, ["cycle", *args, "--period", "2026-01"])
    assert refused.exit_code == 2, refused.output
    assert "lamandau 2026-01: outside the program's months (2024-01 to 2025-12)" in refused.output
    # the month's story refuses it too, for the flow, the crash driver and a rerun
    with pytest.raises(OutsideProgram, match="nothing was billed"):
        run(database_url, lamandau, "2026-01", inbox, out, render=False)
    with pytest.raises(OutsideProgram):
        run(database_url, lamandau, "2023-12", inbox, out, render=False)
    with session_scope(database_url) as ses:
        periods = ses.scalars(select(Invoice.period)).all()
    assert set(periods) == {"2025-12"}


def test_a_rounded_number_cell_nik_the_registry_holds_goes_on_being_billed(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    """January's roster typed the NIK as text; February's sheet holds it as a number cell ending
    in 0 (`3.60201150590001E+15`): the registry has that NIK with the same name and birth date."""
    lebak = load_program("lebak")
    path, df = _first_roster(lebak_inbox)
    df.loc[0, "nik"] = df.loc[0, "nik"][:-2] + "10"
    df.to_csv(path, index=False)
    january = run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out", render=False)
    assert january["participants"]["billed"] == 20
    nik = df.loc[0, "nik"]

    february = lebak_inbox / "lebak" / "2026-02"
    february.mkdir()
    for roster in path.parent.glob("*.csv"):
        (february / roster.name).write_bytes(roster.read_bytes())
    rounded = df.copy()
    rounded.loc[0, "nik"] = f"{float(nik):.14E}"  # as iuran.intake.cells.nik_cell writes it
    rounded.loc[1, "nik"] = f"{float(df.loc[1, 'nik'][:-1] + '0'):.14E}"  # nobody the registry has
    rounded.to_csv(february / path.name, index=False)
    s = run(database_url, lebak, "2026-02", lebak_inbox, tmp_path / "out", render=False)
    assert s["participants"]["continuing"] == 19 and s["participants"]["billed"] == 19
    assert s["rejections"] == {"NIK_NOTASI_ILMIAH": 1}
    with session_scope(database_url) as ses:
        [code] = ses.scalars(select(Rejection.code).where(Rejection.source_row == 3)).all()
        assert ses.scalar(select(Participant.nik).where(Participant.nik == nik)) == nik
    assert code == "NIK_NOTASI_ILMIAH"


def test_a_nik_issued_outside_the_regency_is_billed_and_flagged_in_the_data_quality_report(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    import openpyxl

    path, df = _first_roster(lebak_inbox)
    df.loc[0, "nik"] = "3174" + df.loc[0, "nik"][4:]  # first issued in Jakarta Selatan, moved since
    df.to_csv(path, index=False)
    s = run(database_url, load_program("lebak"), "2026-01", lebak_inbox, tmp_path / "out")
    assert s["rows"] == {"received": 20, "accepted": 20, "rejected": 0}
    assert s["participants"]["billed"] == 20
    [report] = (tmp_path / "out" / "lebak" / "2026-01").glob("kualitas-data-*.xlsx")
    sheet = openpyxl.load_workbook(report, read_only=True)["Kualitas data"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = next(r for r in rows if r and r[0] == "Kode desa")
    column = header.index("Peringatan: NIK luar kabupaten")
    with session_scope(database_url) as ses:  # the generator's movers are there too
        outside = [n for n in ses.scalars(select(Participant.nik)) if not n.startswith("3602")]
    village = next(r for r in rows if r and r[0] == df.loc[0, "kode_desa"])
    assert village[column] >= 1 and df.loc[0, "nik"] in outside
    assert rows[-1][0] == "JUMLAH" and rows[-1][column] == len(outside)
