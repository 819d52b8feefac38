"""The money on the paper a finance office signs, on SQLite and PostgreSQL: the detail sheet shows
the income a worker declared beside the income JKK is computed on (the BPU ceiling)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pypdf
import pandas as pd

from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.programs import load_program
from tests.pipeline import run

LEBAK = load_program("lebak")


def _declare(roster: Path, incomes: list[int | None]) -> None:
    frame = pd.read_csv(roster, dtype=str)
    frame["penghasilan"] = [None if i is None else str(i) for i in incomes]
    frame.to_csv(roster, index=False)


def test_the_detail_sheet_shows_declared_and_applied_income(
    database_url: str, tmp_path: Path
) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(LEBAK, Period(2026, 1), inbox, villages=1, per_village=3, seed=4, xlsx_share=0)
    [roster] = sorted((inbox / "lebak" / "2026-01").glob("*.csv"))
    _declare(roster, [25_000_000, 2_500_000, None])
    summary = run(database_url, LEBAK, "2026-01", inbox, out)
    # JKK on Rp20,700,000 (Rp207,000), not Rp250,000
    assert summary["total_due"] == (207_000 + 6_800) + (25_000 + 6_800) + (10_000 + 6_800)
    [path] = sorted(out.rglob("*TAG-JKK-JKM*.xlsx"))
    rows = list(openpyxl.load_workbook(path)["Rincian"].iter_rows(values_only=True))
    header = list(rows[0])
    by_declared = {
        r[header.index("penghasilan_dilaporkan")]: (
            r[header.index("penghasilan")],
            r[header.index("jkk")],
        )
        for r in rows[1:-1]
    }
    assert by_declared == {
        25_000_000: (20_700_000, 207_000),
        2_500_000: (2_500_000, 25_000),
        1_000_000: (1_000_000, 10_000),
    }


def _pdf_text(path: Path) -> str:
    return " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(path).pages).split())


def test_the_invoice_names_the_funding_basis_of_its_discount(
    database_url: str, tmp_path: Path
) -> None:
    lahat = load_program("lahat")
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(lahat, Period(2026, 5), inbox, villages=1, per_village=3, seed=4, xlsx_share=0)
    run(database_url, lahat, "2026-05", inbox, out)
    [path] = sorted(out.rglob("*TAG-JKK-JKM*.pdf"))
    text = _pdf_text(path)
    assert "Dasar diskon" in text
    assert "diskon 50% iuran JKK dan JKM: sumber dana ADD bukan APBN/APBD" in text
