"""The mutation list read back as BPJS sees it: full NIKs as text, formulas neutralised."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from iuran import mutation_list
from iuran.mutation_list import write_mutation_list
from iuran.periods import Period
from iuran.programs import Program, load_program
from tests.unit.test_reports import A, B, _nik, billed_frame


@pytest.fixture(scope="module")
def lebak() -> Program:
    return load_program("lebak")


def test_mutation_list(tmp_path: Path, lebak: Program) -> None:
    ended = pd.DataFrame(
        {
            "nik": [_nik(20), _nik(21), _nik(22)],
            "kode_desa": [B, A, A],
            "reason": ["meninggal", "tidak_di_roster", "pindah_pu"],
        }
    )
    people = pd.DataFrame(
        {
            "nik": [_nik(20), _nik(21), _nik(22), _nik(99)],
            "nama": ["Karta", "=cmd|' /C calc'!A0", "Entin", "Lain"],
            "tanggal_lahir": pd.to_datetime(["1970-01-02", "1980-03-04", "1985-05-06", None]),
            "jenis_kelamin": ["L", "L", "P", "P"],
        }
    )
    path = write_mutation_list(
        billed_frame(), ended, people, lebak, Period(2026, 3), tmp_path / "mutasi.xlsx"
    )
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Penambahan", "Pengurangan"]
    add = wb["Penambahan"]
    assert [c.value for c in add[1]] == list(mutation_list.ADDITION_COLUMNS)
    data = list(add.iter_rows(min_row=2))
    # baru only, by village then name
    assert [r[0].value for r in data] == [_nik(12), _nik(10), _nik(13)]
    assert all(r[0].data_type == "s" and r[0].number_format == "@" for r in data)
    assert data[0][5].value == "Cilangkahan" and data[2][5].value == "Pagelaran"
    assert data[0][2].value == dt.datetime(1990, 5, 15)
    assert {r[7].value for r in data} == {dt.datetime(2026, 3, 1)}
    hostile = data[0][1]
    assert hostile.value == "=1+1" and hostile.data_type == "s" and hostile.quotePrefix

    gone = wb["Pengurangan"]
    assert [c.value for c in gone[1]] == list(mutation_list.TERMINATION_COLUMNS)
    rows = {r[0].value: r for r in gone.iter_rows(min_row=2)}
    assert set(rows) == {_nik(20), _nik(21), _nik(22)}
    assert rows[_nik(20)][7].value == "Meninggal dunia"
    assert rows[_nik(21)][7].value == "Tidak lagi tercantum di roster desa"
    assert rows[_nik(22)][7].value == "Pindah menjadi peserta Penerima Upah"
    assert rows[_nik(22)][1].value == "Entin" and rows[_nik(22)][3].value == "P"
    assert {r[8].value for r in rows.values()} == {dt.datetime(2026, 2, 28)}
    name = rows[_nik(21)][1]
    assert name.data_type == "s" and name.quotePrefix


def test_mutation_list_empty(tmp_path: Path, lebak: Program) -> None:
    billed = billed_frame().assign(category="lanjutan")
    ended = pd.DataFrame({"nik": [], "kode_desa": [], "reason": []}, dtype="string")
    people = pd.DataFrame({"nik": [], "nama": [], "tanggal_lahir": [], "jenis_kelamin": []})
    path = write_mutation_list(billed, ended, people, lebak, Period(2026, 1), tmp_path / "m.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb["Penambahan"].max_row == 1 and wb["Pengurangan"].max_row == 1
