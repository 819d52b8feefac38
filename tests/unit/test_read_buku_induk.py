"""Buku Induk Penduduk layouts read as a village office prints them into Excel (issue #15): a title
block (`KECAMATAN :`, `DESA :`) instead of a village column, family rows between the people, a
two-row header over a row `-1 ... -12`, `L`/`P` or `Lk`/`Pr`, NIKs ending in a no-break space,
`PETANI / PEKEBUN`, line breaks inside cells; as `.xlsx` and as old Excel `.xls`.

Layout from FORMATS.md "Villages: Disdukcapil exports"; the people are synthetic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import xlwt
from openpyxl import Workbook

from iuran.periods import Period
from iuran.programs import load_program
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import validate_rows

#: (name as written, born, woman, occupation as written, occupation read)
PEOPLE = [
    ("ASEP\nSAEPUDIN", dt.date(1990, 5, 15), False, "PETANI / PEKEBUN", "petani/pekebun"),
    ("SITI AMINAH", dt.date(1985, 11, 2), True, "BURUH HARIAN LEPAS", "buruh harian lepas"),
    ("UJANG SUPRIATNA", dt.date(1978, 1, 30), False, "NELAYAN / PERIKANAN", "nelayan/perikanan"),
    ("ENAH SUNARSIH", dt.date(1970, 7, 9), True, "PETANI / PEKEBUN", "petani/pekebun"),
]
HEADER = [
    "NO", "NIK", "NAMA LENGKAP", "JK", "Tempat dan\nTanggal Lahir", None, "AGAMA", "PENDIDIKAN",
    "PEKERJAAN", "STATUS KAWIN", "SHDK", "KET",
]  # fmt: skip
UNDER = [None, None, None, None, "Tempat Lahir", "Tgl/Bln/Th", None, None, None, None, None, None]


def nik(kecamatan: str, born: dt.date, woman: bool, serial: int) -> str:
    day = born.day + (40 if woman else 0)
    return f"{kecamatan}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def _grid(
    kecamatan: str, desa: str, code: str, *, family: str, short_sex: bool, date_cells: bool
) -> tuple[list[list[object]], list[str]]:
    """The sheet's rows and the NIKs of its people (two families of two)."""
    grid: list[list[object]] = [
        ["BUKU INDUK PENDUDUK"],
        ["PROVINSI : BANTEN"],
        ["KABUPATEN: LEBAK"],
        ["KECAMATAN :", kecamatan],
        [f"DESA : {desa}"],
        [],
        HEADER,
        UNDER,
        [-float(i) for i in range(1, 13)],  # `(1)` ... typed into number cells
    ]
    niks = []
    for i, (nama, born, woman, job, _) in enumerate(PEOPLE, start=1):
        if i % 2:
            kk = f"{code[:6]}0101200{i:03d}"
            grid.append(
                [kk, "KEPALA KELUARGA " + nama.split()[0], "KP. CIBEBER RT 02/08"]
                if family == "columns"
                else [f"No. KK : {kk}", None, None, None, "Alamat : KP. CIBEBER"]
            )
        n = nik(code[:6], born, woman, i)
        niks.append(n)
        sex = ("Pr" if woman else "Lk") if short_sex else ("P" if woman else "L")
        when: object = born if date_cells else born.strftime("%d-%m-%Y")
        grid.append(
            [i, n + "\u00a0", nama, sex, "LEBAK", when, "ISLAM", "SD", job, "KAWIN", "ISTRI", ""]
        )
    return grid, niks


def _xlsx(path: Path, grid: list[list[object]]) -> None:
    book = Workbook()
    sheet = book.active
    for row in grid:
        sheet.append(row)
    sheet.merge_cells("E7:F7")
    book.save(path)


def _xls(path: Path, grid: list[list[object]]) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("BUKU INDUK")
    date = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if isinstance(value, dt.date):
                sheet.write(i, j, value, date)
            elif value is not None:
                sheet.write(i, j, value)
    book.save(str(path))


@pytest.mark.parametrize("write", [_xlsx, _xls], ids=["xlsx", "xls"])
def test_buku_induk_layouts_are_read_as_they_are(tmp_path: Path, write: object) -> None:
    # Pagelaran: one village of that name; Banjarsari: three, told apart by the KECAMATAN line
    first, first_niks = _grid(
        "MALINGPING", "PAGELARAN", "3602012003", family="columns", short_sex=True, date_cells=False
    )
    second, second_niks = _grid(
        "WARUNGGUNUNG", "Banjarsari", "3602152006", family="labels", short_sex=False,
        date_cells=True,
    )  # fmt: skip
    suffix = ".xlsx" if write is _xlsx else ".xls"
    write(tmp_path / f"BUKU INDUK PENDUDUK{suffix}", first)  # type: ignore[operator]
    write(tmp_path / f"buku induk banjarsari{suffix}", second)  # type: ignore[operator]
    collected = collect_rosters(str(tmp_path), regency="36.02", village_limit=10)
    assert collected.files["status"].tolist() == ["read", "read"], collected.files["message"]
    assert collected.files["rows"].tolist() == [4, 4]  # the family rows are not people
    checked = validate_rows(collected.rows, load_program("lebak"), Period(2026, 1))
    assert checked.rejected.empty, checked.rejected[["source_row", "code", "message"]]
    for niks, village in ((first_niks, "36.02.01.2003"), (second_niks, "36.02.15.2006")):
        got = checked.accepted.set_index("nik").loc[niks]
        assert got["nama"].tolist() == [" ".join(p[0].split()) for p in PEOPLE]
        assert [d.date() for d in pd.to_datetime(got["tanggal_lahir"])] == [p[1] for p in PEOPLE]
        assert got["jenis_kelamin"].tolist() == ["P" if p[2] else "L" for p in PEOPLE]
        assert got["pekerjaan"].tolist() == [p[4] for p in PEOPLE]
        assert got["kode_desa"].tolist() == [village] * len(PEOPLE)
    # the rows the operator sees in Excel: header on row 7, its second row 8, numbers 9, the first
    # family row 10, people on 11, 12, family 13, people 14, 15
    rows = checked.accepted.set_index("nik").loc[first_niks, "source_row"].tolist()
    assert rows == [11, 12, 14, 15]


def test_a_person_without_nik_is_still_refused_row_by_row(tmp_path: Path) -> None:
    """Only family rows are skipped: a person whose NIK is blank keeps NIK_KOSONG."""
    grid, _ = _grid(
        "MALINGPING", "PAGELARAN", "3602012003", family="labels", short_sex=True, date_cells=False
    )
    grid[-1][1] = None
    _xlsx(tmp_path / "buku induk.xlsx", grid)
    collected = collect_rosters(str(tmp_path), regency="36.02")
    checked = validate_rows(collected.rows, load_program("lebak"), Period(2026, 1))
    assert checked.rejected[["source_row", "code"]].values.tolist() == [[15, "NIK_KOSONG"]]
    assert len(checked.accepted) == 3
