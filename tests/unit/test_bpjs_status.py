"""BPJS's status list read through intake: the usual spellings, XLSX cells, and a file that cannot be
used giving a note, never an error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd

from iuran.bpjs_status import read_status_list
from iuran.intake.refusal import file_message

NIK1, NIK2 = "3602011505900001", "3602014506910002"


def test_no_file_no_notes(tmp_path: Path) -> None:
    status, notes = read_status_list(tmp_path)
    assert status.empty and list(status.columns) == ["nik", "bpjs_status", "tanggal"]
    assert notes == []


def test_csv_with_header_spellings_and_bad_rows(tmp_path: Path) -> None:
    (tmp_path / "bpjs_status.csv").write_text(
        "No. KTP;Status Kepesertaan;Tanggal Meninggal\n"
        f"{NIK1};Meninggal;20/01/2026\n{NIK2}; Pindah PU ;\n123;meninggal;01/01/2026\n"
        f"{NIK1};hilang;01/01/2026\n",
        encoding="utf-8",
    )
    status, notes = read_status_list(tmp_path)
    assert status["nik"].tolist() == [NIK1, NIK2]
    assert status["bpjs_status"].tolist() == ["meninggal", "pindah_pu"]
    assert status["tanggal"].tolist()[0] == pd.Timestamp(2026, 1, 20)
    assert pd.isna(status["tanggal"].tolist()[1])
    assert notes == ["bpjs_status.csv: 2 baris diabaikan (NIK atau status tidak sah)"]


def test_xlsx_with_a_title_row_and_cells_of_every_kind(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Daftar status peserta BPJS Ketenagakerjaan"])
    ws.append(["NIK", "Status", "Tanggal"])
    ws.append([NIK1, "meninggal", dt.datetime(2026, 1, 20)])
    ws.append([float(NIK2), "nonaktif", dt.date(2026, 1, 25)])  # a NIK in a number cell
    wb.save(tmp_path / "bpjs_status.xlsx")
    status, notes = read_status_list(tmp_path)
    assert status["nik"].tolist() == [NIK1, NIK2] and notes == []
    assert status["tanggal"].tolist() == [pd.Timestamp(2026, 1, 20), pd.Timestamp(2026, 1, 25)]


def test_a_file_without_the_columns_gives_a_note(tmp_path: Path) -> None:
    (tmp_path / "bpjs_status.csv").write_text(f"nik,nama\n{NIK1},Budi\n", encoding="utf-8")
    status, notes = read_status_list(tmp_path)
    assert status.empty
    assert notes == [
        "bpjs_status.csv: "
        + file_message("BERKAS_TANPA_HEADER", baris=15, kolom="Status", wajib="NIK, Status")
    ]


def test_a_damaged_or_empty_file_gives_a_note(tmp_path: Path) -> None:
    (tmp_path / "bpjs_status.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    status, notes = read_status_list(tmp_path)
    assert status.empty and notes == [
        "bpjs_status.xlsx: " + file_message("BERKAS_RUSAK", jenis="Excel .xlsx")
    ]
    (tmp_path / "bpjs_status.xlsx").unlink()
    (tmp_path / "bpjs_status.csv").write_bytes(b"")
    status, notes = read_status_list(tmp_path)
    assert status.empty and notes == ["bpjs_status.csv: " + file_message("BERKAS_KOSONG")]
