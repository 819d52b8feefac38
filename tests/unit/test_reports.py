"""Village correction lists and the data-quality table read back as their readers see them: village
operators and Disnaker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from iuran import reports
from iuran.desa import NO_VILLAGE
from iuran.nik import mask
from iuran.periods import Period
from iuran.programs import Program, load_program
from iuran.reconcile import CARRIED_SOURCE, REJECTED_COLUMNS
from iuran.reports import (
    data_quality_table,
    write_data_quality_xlsx,
    write_rejection_reports,
)

HOSTILE = '=HYPERLINK("http://x","klik")'
A, B, C = "36.02.01.2002", "36.02.01.2003", "36.02.01.2004"
NAMES = pd.Series({A: "Cilangkahan", B: "Pagelaran", C: "Sukaraja"})
SIXTEEN = re.compile(r"(?<!\d)\d{16}(?!\d)")


@pytest.fixture(scope="module")
def lebak() -> Program:
    return load_program("lebak")


def _nik(i: int) -> str:
    return f"36020115059{i:05d}"


def rejected_frame() -> pd.DataFrame:
    """Rows in scrambled order: two villages, a row whose code is missing (file names village C), a
    row with a wrong code in a file named by no village, a carried-forward worker."""
    rows = [
        # source_file, sheet, row, kode_desa, nik, nama, column, code, message
        (f"{B}.xlsx", "Sheet1", 9, B, _nik(3), "Budi", "nik", "NIK_PANJANG", "NIK harus 16 digit"),
        (f"{A}.csv", "", 12, A, _nik(2), HOSTILE, "nama", "NAMA_KOSONG", "Nama kosong"),
        (f"{A}.csv", "", 3, A, _nik(1), "Siti", "tanggal_lahir", "TANGGAL_LAHIR_FORMAT", "x"),
        (f"{C}.xlsx", "Data", 5, None, _nik(4), "Tono", "kode_desa", "KODE_DESA_KOSONG", "kosong"),
        ("kiriman.xlsx", "Sheet1", 2, "99.99.99.9999", _nik(5), "Ani", "kode_desa",
         "KODE_DESA_TIDAK_DIKENAL", "tidak dikenal"),
        (f"{B}.xlsx", "Sheet1", 4, B, _nik(6), "Dedi", "nik", "NIK_PANJANG", "NIK harus 16 digit"),
        (CARRIED_SOURCE, "", 0, A, _nik(7), "Wati", "nik", "PESERTA_MENINGGAL", "meninggal"),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=REJECTED_COLUMNS)
    return frame.astype({"source_row": "int64"})


def files_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": [f"{A}.csv", f"sub/{C}.xlsx", "foto.jpg", f"{B}.xlsx"],
            "sha256": ["a", "b", "c", "d"],
            "rows": [2, 0, 0, 2],
            "status": ["read", "rejected", "rejected", "read"],
            "code": [None, "BERKAS_RUSAK", "BERKAS_JENIS", None],
            "message": [None, "=rusak", "Jenis berkas .jpg tidak dapat diproses.", None],
        }
    )


def sheet_values(path: Path, sheet: str) -> list[list[Any]]:
    wb = openpyxl.load_workbook(path)
    return [list(r) for r in wb[sheet].iter_rows(values_only=True)]


def table_part(rows: list[list[Any]]) -> list[list[Any]]:
    """The rows after the `Berkas asal` header of a rejection report."""
    start = next(i for i, r in enumerate(rows) if r and r[0] == "Berkas asal")
    return rows[start + 1 :]


# ------------------------------------------------------------------ village rejection reports


@pytest.fixture
def written(tmp_path: Path, lebak: Program) -> dict[str, Path]:
    return write_rejection_reports(
        rejected_frame(), files_frame(), NAMES, tmp_path, program=lebak, period=Period(2026, 2)
    )


def test_one_report_per_village_plus_one_without_village(
    written: dict[str, Path], tmp_path: Path
) -> None:
    assert set(written) == {A, B, C, reports.TANPA_DESA}
    assert written[A] == tmp_path / f"penolakan-{A}.xlsx"
    assert written[reports.TANPA_DESA].name == "penolakan-tanpa-desa.xlsx"
    assert not list(tmp_path.glob(".*.tmp"))


def test_header_block_names_village_period_program_counts(
    written: dict[str, Path], lebak: Program
) -> None:
    rows = sheet_values(written[B], "Penolakan")
    header = {r[0]: r[1] for r in rows[:10] if r and r[0]}
    assert rows[0][0] == "LAPORAN PENOLAKAN ROSTER PESERTA"
    assert header["Program"] == lebak.name
    assert header["Periode"] == "Februari 2026"
    assert header["Desa"] == f"Pagelaran ({B})"
    assert header["Baris ditolak"] == 2
    assert header["Berkas ditolak"] == 0
    assert header["Per alasan"] == "NIK_PANJANG (2)"


def test_rows_in_file_order_with_masked_nik(written: dict[str, Path]) -> None:
    table = table_part(sheet_values(written[A], "Penolakan"))
    assert [r[0] for r in table] == [f"{A}.csv", f"{A}.csv", "(dibawa dari bulan sebelumnya)"]
    assert [r[2] for r in table] == [3, 12, None]
    assert [r[3] for r in table] == ["Tanggal Lahir", "Nama", "NIK"]  # the operator's labels
    assert [r[4] for r in table] == ["TANGGAL_LAHIR_FORMAT", "NAMA_KOSONG", "PESERTA_MENINGGAL"]
    assert table[0][6] == mask(_nik(1)) == "3602********0001"
    table_b = table_part(sheet_values(written[B], "Penolakan"))
    assert [r[2] for r in table_b] == [4, 9]


def test_no_full_nik_anywhere(written: dict[str, Path]) -> None:
    for path in written.values():
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                for value in row:
                    assert not SIXTEEN.search(str(value)), (path.name, value)


def test_formulas_neutralised(written: dict[str, Path]) -> None:
    ws = openpyxl.load_workbook(written[A])["Penolakan"]
    cells = [c for row in ws.iter_rows() for c in row if c.value == HOSTILE]
    assert cells and all(c.data_type == "s" and c.quotePrefix for c in cells)
    fs = openpyxl.load_workbook(written[C])["Berkas ditolak"]
    cell = next(c for row in fs.iter_rows() for c in row if c.value == "=rusak")
    assert cell.data_type == "s" and cell.quotePrefix


def test_rows_and_files_without_village(written: dict[str, Path]) -> None:
    # the row with an empty code belongs to the village its file is named after
    table_c = table_part(sheet_values(written[C], "Penolakan"))
    assert [r[4] for r in table_c] == ["KODE_DESA_KOSONG"]
    files_c = sheet_values(written[C], "Berkas ditolak")
    assert [f"sub/{C}.xlsx", "BERKAS_RUSAK", "=rusak"] in files_c
    tanpa = table_part(sheet_values(written[reports.TANPA_DESA], "Penolakan"))
    assert [(r[0], r[4]) for r in tanpa] == [("kiriman.xlsx", "KODE_DESA_TIDAK_DIKENAL")]
    files = sheet_values(written[reports.TANPA_DESA], "Berkas ditolak")
    assert ["Berkas", "Kode", "Keterangan"] in files
    assert any(r[0] == "foto.jpg" and r[1] == "BERKAS_JENIS" for r in files)
    assert ["(tidak ada berkas yang ditolak)", None, None] in [
        ([*r, None, None])[:3] for r in sheet_values(written[A], "Berkas ditolak")
    ]


def test_rerun_removes_reports_of_villages_now_clean(tmp_path: Path, lebak: Program) -> None:
    stale = tmp_path / "penolakan-36.02.01.2099.xlsx"
    stale.write_bytes(b"old")
    other = tmp_path / "keep.xlsx"
    other.write_bytes(b"x")
    only_b = rejected_frame().query("kode_desa == @B")
    empty_files = files_frame().iloc[0:0]
    out = write_rejection_reports(
        only_b, empty_files, NAMES, tmp_path, program=lebak, period=Period(2026, 2)
    )
    assert set(out) == {B}
    assert not stale.exists() and other.exists()


def test_nothing_rejected_writes_nothing(tmp_path: Path, lebak: Program) -> None:
    out = write_rejection_reports(
        rejected_frame().iloc[0:0],
        files_frame().iloc[0:0],
        NAMES,
        tmp_path,
        program=lebak,
        period=Period(2026, 2),
    )
    assert out == {} and not list(tmp_path.iterdir())


# ------------------------------------------------------------------------- data quality table


def collected_frame() -> pd.DataFrame:
    """Received roster rows: the rejected ones (carried excluded) plus accepted ones."""
    rej = rejected_frame()
    rej = rej[rej["source_file"] != CARRIED_SOURCE]
    accepted = pd.DataFrame(
        {
            "source_file": [f"{A}.csv"] * 3 + [f"{B}.xlsx"],
            "source_sheet": ["", "", "", "Sheet1"],
            "source_row": [2, 4, 5, 2],
            "kode_desa": ["3602012002", A, A, B],
        }
    )
    cols = ["source_file", "source_sheet", "source_row", "kode_desa"]
    return pd.concat([rej[cols], accepted], ignore_index=True)


def billed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "nik": [_nik(10), _nik(11), _nik(12), _nik(13), _nik(14)],
            "nama": ["Ujang", "Iis", "=1+1", "Asep", "Lama"],
            "tanggal_lahir": pd.to_datetime(["1990-05-15"] * 5),
            "jenis_kelamin": ["L", "P", "L", "L", "P"],
            "kode_desa": [A, A, A, B, C],
            "pekerjaan": ["petani", "nelayan", "ojek", "petani", "buruh"],
            "carried": [False, False, False, False, True],
            "category": ["baru", "lanjutan", "baru", "baru", "lanjutan"],
        }
    )


def test_data_quality_counts_per_village_and_code() -> None:
    t = data_quality_table(collected_frame(), rejected_frame(), billed_frame())
    by = t.set_index("kode_desa")
    assert list(t.columns[:5]) == ["kode_desa", "nama_desa", "diterima", "lolos", "ditolak"]
    assert by.loc[A, ["diterima", "lolos", "ditolak"]].tolist() == [5, 3, 2]
    assert by.loc[B, ["diterima", "lolos", "ditolak"]].tolist() == [3, 1, 2]
    assert by.loc[C, ["diterima", "lolos", "ditolak"]].tolist() == [1, 0, 1]
    assert by.loc[B, "NIK_PANJANG"] == 2 and by.loc[A, "NIK_PANJANG"] == 0
    assert by.loc[A, "nama_desa"] == "Cilangkahan"
    assert "PESERTA_MENINGGAL" not in t.columns  # carried-forward workers are not roster rows
    assert t.columns[5] == "NIK_PANJANG"  # most frequent code first
    assert t["kode_desa"].iloc[-2] == NO_VILLAGE
    total = t.iloc[-1]
    assert total["kode_desa"] == reports.TOTAL
    assert total["diterima"] == 10 and total["lolos"] == 4 and total["ditolak"] == 6
    body = t.iloc[:-1]
    assert (body["diterima"] == body["lolos"] + body["ditolak"]).all()
    codes = t.columns[5:]
    assert (body[codes].sum(axis=1) == body["ditolak"]).all()
    assert all(t[c].dtype == "int64" for c in ["diterima", "lolos", "ditolak", *codes])


def test_data_quality_lists_silent_villages_with_program_names() -> None:
    names = pd.concat([NAMES, pd.Series({"36.02.01.2005": "Malingping Utara"})])
    t = data_quality_table(collected_frame(), rejected_frame(), billed_frame(), village_names=names)
    silent = t.set_index("kode_desa").loc["36.02.01.2005"]
    assert silent["nama_desa"] == "Malingping Utara"
    assert silent[["diterima", "lolos", "ditolak"]].tolist() == [0, 0, 0]
    assert t["kode_desa"].tolist()[:4] == [A, B, C, "36.02.01.2005"]


def test_data_quality_xlsx(tmp_path: Path) -> None:
    t = data_quality_table(collected_frame(), rejected_frame(), billed_frame())
    path = write_data_quality_xlsx(t, tmp_path / "kualitas.xlsx", title="Lebak Februari 2026")
    rows = sheet_values(path, "Kualitas data")
    assert rows[0][0] == "Lebak Februari 2026"
    assert rows[2][:5] == ["Kode desa", "Nama desa", "Baris diterima", "Lolos", "Ditolak"]
    assert rows[-1][0] == "JUMLAH" and rows[-1][2:5] == [10, 4, 6]
    codes = sheet_values(path, "Keterangan kode")
    assert codes[1][:2] == ["NIK_PANJANG", "NIK tidak 16 digit"]


def test_empty_inputs_data_quality() -> None:
    rows = pd.DataFrame({c: pd.Series(dtype="string") for c in ["kode_desa", "source_file"]})
    rejected = rejected_frame().iloc[0:0]
    billed = billed_frame().iloc[0:0]
    t = data_quality_table(rows, rejected, billed, village_names=NAMES)
    assert t["kode_desa"].tolist() == [A, B, C, reports.TOTAL]
    assert t[["diterima", "lolos", "ditolak"]].to_numpy().sum() == 0


def test_niks_issued_outside_the_regency_are_a_warning_per_village(tmp_path: Path) -> None:
    billed = billed_frame()
    billed.loc[[1, 4], "nik"] = ["3601011505900011", "6209011505900012"]  # Pandeglang, Lamandau
    t = data_quality_table(collected_frame(), rejected_frame(), billed, regency="36.02")
    by = t.set_index("kode_desa")
    assert list(t.columns[:6]) == [*reports.QUALITY_COLUMNS]
    assert by.loc[A, "nik_luar_kabupaten"] == 1 and by.loc[B, "nik_luar_kabupaten"] == 0
    assert by.loc[C, "nik_luar_kabupaten"] == 1  # carried forward: still billed, still warned
    assert by.loc[reports.TOTAL, "nik_luar_kabupaten"] == 2
    body = t.iloc[:-1]
    assert (body["diterima"] == body["lolos"] + body["ditolak"]).all()  # a warning, not a refusal
    path = write_data_quality_xlsx(t, tmp_path / "kualitas.xlsx")
    rows = sheet_values(path, "Kualitas data")
    assert rows[0][5] == "Peringatan: NIK luar kabupaten" and rows[-1][5] == 2
    notes = sheet_values(path, "Keterangan kode")
    assert notes[1][0] == "nik_luar_kabupaten" and "Bukan penolakan" in notes[1][2]
    assert (
        "nik_luar_kabupaten"
        not in data_quality_table(collected_frame(), rejected_frame(), billed).columns
    )
