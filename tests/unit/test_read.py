"""Reading roster files as village operators send them: each tolerated quirk and each refusal."""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import fsspec
import openpyxl
import pandas as pd
import pytest
import xlwt

from iuran.intake.header import normalize_header
from iuran.rosters import columns, folder, read
from iuran.rosters.columns import CANONICAL, FILE_COLUMNS, ROW_COLUMNS, Collected
from iuran.rosters.folder import list_roster_files
from iuran.rosters.read import collect_rosters, read_roster_file

HEADER = "NIK;Nama Lengkap;Tgl Lahir;JK;Pekerjaan;Kode Desa;Alamat;No HP;Penghasilan"
ROW = "3602011505900001;Budi Santoso;15/05/1990;L;Petani;36.02.01.2002;Kp. Cibeber;0812;1.500.000"


def _xlsx(
    path: Path, rows: list[list[Any]], *, title: str = "Data", merges: tuple[str, ...] = ()
) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    for r in rows:
        ws.append(r)
    for m in merges:
        ws.merge_cells(m)
    wb.save(path)
    return path


def _one(path: Path) -> tuple[pd.DataFrame, columns.FileVerdict]:
    rows, verdict = read_roster_file(str(path), relative_to=str(path.parent))
    assert rows is not None, verdict
    return rows, verdict


def _refused(path: Path) -> columns.FileVerdict:
    rows, verdict = read_roster_file(str(path), relative_to=str(path.parent))
    assert rows is None and verdict.status == "rejected"
    assert verdict.message and "{" not in verdict.message
    return verdict


# --- headers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("NIK", "nik"), ("No. KTP", "nik"), ("No KTP", "nik"), ("Nomor Induk Kependudukan", "nik"),
        ("NIK Peserta", "nik"), ("Nama", "nama"), ("Nama Lengkap", "nama"), ("Nama Peserta", "nama"),
        ("Tgl. Lahir", "tanggal_lahir"), ("Tanggal Lahir (dd/mm/yyyy)", "tanggal_lahir"),
        ("tanggal_lahir", "tanggal_lahir"), ("JK", "jenis_kelamin"), ("L/P", "jenis_kelamin"),
        ("Jenis Kelamin (L/P)", "jenis_kelamin"), ("Pekerjaan", "pekerjaan"), ("Sektor", "pekerjaan"),
        ("Jenis Pekerjaan", "pekerjaan"), ("Kode Desa", "kode_desa"), ("KODE WILAYAH", "kode_desa"),
        ("Kode Kemendagri", "kode_desa"), ("Alamat", "alamat"), ("No. HP", "no_hp"), ("HP", "no_hp"),
        ("Telepon", "no_hp"), ("Penghasilan per Bulan (Rp)", "penghasilan"), ("Upah", "penghasilan"),
        ("TTL", None), ("Tempat, Tanggal Lahir", None), ("Nama Desa", "nama_desa"), ("Nama Ibu", "daftar_nama_ibu"),  # not `nama`: a population-register column (the guard)
    ],
)  # fmt: skip
def test_header_synonyms(text: str, column: str | None) -> None:
    assert columns.SYNONYMS.get(normalize_header(text)) == column


# --- CSV ------------------------------------------------------------------------------------------


def test_csv_semicolon_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "desa.csv"
    path.write_bytes(f"{HEADER}\n{ROW.replace('Budi Santoso', 'José  Café')}\n".encode("cp1252"))
    rows, verdict = _one(path)
    assert verdict.status == "read" and verdict.rows == 1 and verdict.path == "desa.csv"
    assert verdict.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rows.loc[0, "nama"] == "José Café"  # decoded, inner spaces collapsed
    assert rows.loc[0, "nik"] == "3602011505900001"
    assert rows.loc[0, "penghasilan"] == "1.500.000"  # text: validation parses it
    assert (rows.loc[0, "source_file"], rows.loc[0, "source_sheet"], rows.loc[0, "source_row"]) == (
        "desa.csv",
        "",
        2,
    )


def test_csv_comma_utf8_bom_title_rows_and_blank_lines(tmp_path: Path) -> None:
    header = HEADER.replace(";", ",")
    row = ROW.replace(";", ",").replace("1.500.000", '"1,500,000"')
    text = f"DAFTAR PEKERJA RENTAN DESA CIBEBER,,,\n\n{header}\n{row}\n\n,,,,,,,,\n{row}\r\n"
    path = tmp_path / "desa.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    rows, verdict = _one(path)
    assert verdict.rows == 2
    assert rows["source_row"].tolist() == [4, 7]  # header on line 3; blank lines still count
    assert rows["penghasilan"].tolist() == ["1,500,000"] * 2
    assert rows["kode_desa"].tolist() == ["36.02.01.2002"] * 2


def test_csv_ragged_rows_fall_back_without_losing_rows(tmp_path: Path) -> None:
    path = tmp_path / "desa.csv"
    path.write_text(f"{HEADER}\n{ROW};extra;more\n3602011505900002;Ani\n", encoding="utf-8")
    rows, _ = _one(path)
    assert rows["nik"].tolist() == ["3602011505900001", "3602011505900002"]
    assert rows["source_row"].tolist() == [2, 3]
    assert rows["tanggal_lahir"].isna().tolist() == [False, True]


def test_csv_keeps_nik_digits_and_trims_nbsp(tmp_path: Path) -> None:
    path = tmp_path / "desa.csv"
    row = ROW.replace("3602011505900001", "\u00a00360201150590001 ").replace(
        "Budi", "Budi\u00a0\u00a0"
    )
    path.write_text(f"{HEADER}\n{row}\n", encoding="utf-8")
    rows, _ = _one(path)
    assert rows.loc[0, "nik"] == "0360201150590001"  # leading zero intact: read as text
    assert rows.loc[0, "nama"] == "Budi Santoso"


def test_csv_utf16_tab_separated(tmp_path: Path) -> None:
    path = tmp_path / "desa.csv"
    path.write_bytes(f"{HEADER}\n{ROW}\n".replace(";", "\t").encode("utf-16"))
    rows, _ = _one(path)
    assert rows.loc[0, "nama"] == "Budi Santoso"


def test_generator_style_headers(tmp_path: Path) -> None:
    path = tmp_path / "desa.csv"
    path.write_text(",".join(CANONICAL) + "\n" + ROW.replace(";", ",") + "\n", encoding="utf-8")
    rows, _ = _one(path)
    assert rows.loc[0, "jenis_kelamin"] == "L" and rows.loc[0, "no_hp"] == "0812"


def test_duplicate_header_keeps_the_first_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "desa.csv"
    path.write_text(f"{HEADER};NIK\n{ROW};9999999999999999\n", encoding="utf-8")
    rows, verdict = _one(path)
    assert rows.loc[0, "nik"] == "3602011505900001"
    assert verdict.message and "NIK ada dua kali" in verdict.message


# --- XLSX -----------------------------------------------------------------------------------------


def test_xlsx_as_operators_fill_it(tmp_path: Path) -> None:
    rows_in: list[list[Any]] = [
        ["DAFTAR PEKERJA RENTAN"],
        ["Desa Cibeber, Kecamatan Malingping"],
        [],
        [
            "No",
            "No. KTP",
            "Nama Peserta",
            "Tempat, Tanggal Lahir",
            None,
            "L/P",
            "Kode Wilayah",
            "Upah",
        ],
        [None, None, None, "Tempat", "Tanggal", None, None, None],
        [1, 2, 3, 4, 5, 6, 7, 8],
        [
            1,
            3602011505900001,
            " Ani  Rahayu\u00a0",
            "Lebak",
            dt.date(1990, 5, 15),
            "P",
            3602012002,
            1500000,
        ],
        [2, "3602015505900003", "Ina", "Lebak", 33008, "P", "36.02.01.2002", None],
        [3, 3602011505900010, "Eko", "Lebak", dt.datetime(1990, 5, 15, 0, 0), "L", None, 1500000.5],
        [4, 9201011505900001, "Ucok", "Lebak", "15/05/1990", "L", None, None],
        [5, None, None, None, None, None, None, None],  # pre-numbered template row
    ]
    path = _xlsx(tmp_path / "desa.xlsx", rows_in, merges=("A1:H1", "D4:E4", "A4:A5", "B4:B5"))
    rows, verdict = _one(path)
    assert verdict.rows == 4
    assert rows["source_sheet"].unique().tolist() == ["Data"]
    assert rows["source_row"].tolist() == [7, 8, 9, 10]
    assert rows["nik"].tolist() == [
        "3602011505900001",  # 16 significant digits: stored exactly
        "3602015505900003",
        "3.60201150590001E+15",  # ends in 0: Excel may have dropped the 16th digit
        "9.20101150590000E+15",  # beyond a float's exact range
    ]
    assert rows["nama"].tolist()[:2] == ["Ani Rahayu", "Ina"]
    assert rows["tanggal_lahir"].tolist() == ["1990-05-15", "33008", "1990-05-15", "15/05/1990"]
    assert rows["kode_desa"].tolist()[:2] == ["3602012002", "36.02.01.2002"]
    assert (
        rows["penghasilan"].tolist()[0] == "1500000"
        and rows["penghasilan"].tolist()[2] == "1500000.5"
    )
    assert rows.dtypes[CANONICAL].eq("string").all()


def test_xlsx_skips_a_sheet_without_header(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    guide = wb.active
    assert guide is not None
    guide.title = "Petunjuk"
    guide.append(["Kolom", "Wajib", "Keterangan"])
    guide.append(["nik", "Ya", "16 digit"])
    data = wb.create_sheet("Peserta")
    data.append(HEADER.split(";"))
    data.append(ROW.split(";"))
    wb.save(tmp_path / "desa.xlsx")
    rows, _ = _one(tmp_path / "desa.xlsx")
    assert rows["source_sheet"].tolist() == ["Peserta"]
    assert rows["source_row"].tolist() == [2]


def test_xlsx_renamed_to_csv_is_still_read(tmp_path: Path) -> None:
    _xlsx(tmp_path / "x.xlsx", [HEADER.split(";"), ROW.split(";")])
    (tmp_path / "x.xlsx").rename(tmp_path / "desa.csv")
    rows, _ = _one(tmp_path / "desa.csv")
    assert rows.loc[0, "nama"] == "Budi Santoso"


def test_csv_layouts_do_not_share_options(tmp_path: Path) -> None:
    """Options are cached per (lines skipped, width, separator): each file still gets its own."""
    header = ["NIK", "Nama", "Tgl Lahir", "JK", "Kode Desa"]
    row = ["3602011505900001", "Budi", "15/05/1990", "L", "36.02.01.2002"]
    (tmp_path / "a.csv").write_text(";".join(header) + "\n" + ";".join(row) + "\n")
    (tmp_path / "b.csv").write_text(
        "DAFTAR\n\n" + ",".join([*header, "Alamat"]) + "\n" + ",".join([*row, "Kp. X"]) + "\n"
    )
    (tmp_path / "c.csv").write_text("\t".join(header) + "\n" + "\t".join(row) + "\n" * 3)
    got = collect_rosters(str(tmp_path)).rows
    assert got["source_file"].tolist() == ["a.csv", "b.csv", "c.csv"]
    assert got["source_row"].tolist() == [2, 4, 2]
    assert got["alamat"].tolist()[1] == "Kp. X"
    assert got["kode_desa"].tolist() == ["36.02.01.2002"] * 3


# --- refusals -------------------------------------------------------------------------------------


def test_empty_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"")
    (tmp_path / "b.csv").write_text(f"{HEADER}\n;;;;;;;;\n", encoding="utf-8")
    _xlsx(tmp_path / "c.xlsx", [])
    _xlsx(tmp_path / "d.xlsx", [HEADER.split(";")])
    for name in ("a.csv", "b.csv", "c.xlsx", "d.xlsx"):
        assert _refused(tmp_path / name).code == "BERKAS_KOSONG", name


def test_corrupt_and_wrong_types(tmp_path: Path) -> None:
    (tmp_path / "a.xlsx").write_bytes(b"this is not a workbook")
    (tmp_path / "b.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 100)  # a truncated zip
    with zipfile.ZipFile(tmp_path / "c.xlsx", "w") as z:
        z.writestr("word/document.xml", "<w/>")  # a Word file renamed
    (tmp_path / "d.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "e.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    (tmp_path / "f.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    (tmp_path / "g.csv").write_bytes(b"\x00\x01\x02binary\x00")
    codes = {n: _refused(tmp_path / n).code for n in sorted(p.name for p in tmp_path.iterdir())}
    assert codes == {
        "a.xlsx": "BERKAS_RUSAK",
        "b.xlsx": "BERKAS_RUSAK",
        "c.xlsx": "BERKAS_JENIS",
        "d.pdf": "BERKAS_JENIS",
        "e.xls": "BERKAS_RUSAK",  # an OLE header and nothing else: a damaged .xls
        "f.xlsx": "BERKAS_RUSAK",  # the same, renamed
        "g.csv": "BERKAS_RUSAK",
    }


def test_old_excel_xls_is_read_like_xlsx(tmp_path: Path) -> None:
    """An Excel 97-2003 workbook (`.xls`, as Dukcapil's SIAK exports): listed, read, the same rows
    as the same sheet saved as .xlsx; a date cell is a date, a number cell a number."""
    book = xlwt.Workbook()
    sheet = book.add_sheet("Data")
    for j, value in enumerate(HEADER.split(";")):
        sheet.write(0, j, value)
    row: list[Any] = ROW.split(";")
    row[2] = dt.date(1990, 5, 15)
    for j, value in enumerate(row):
        style = xlwt.easyxf(num_format_str="dd/mm/yyyy") if j == 2 else xlwt.Style.default_style
        sheet.write(1, j, value, style)
    book.save(str(tmp_path / "a.xls"))
    assert list_roster_files(str(tmp_path)) == [str(tmp_path / "a.xls")]
    rows, verdict = read_roster_file(str(tmp_path / "a.xls"), relative_to=str(tmp_path))
    assert verdict.status == "read" and rows is not None
    assert rows.iloc[0][["nik", "nama", "tanggal_lahir", "kode_desa", "source_sheet"]].tolist() == [
        "3602011505900001", "Budi Santoso", "1990-05-15", "36.02.01.2002", "Data",
    ]  # fmt: skip
    assert rows.iloc[0]["source_row"] == 2


def test_no_header_lists_missing_columns(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("NIK;Nama;Alamat;JK\n1;2;3;L\n", encoding="utf-8")
    first = _refused(tmp_path / "a.csv")
    assert first.code == "BERKAS_TANPA_HEADER"
    assert "NIK, Nama, Tanggal Lahir, Jenis Kelamin, Kode Desa" in (first.message or "")
    second = _refused(tmp_path / "b.csv")
    assert second.code == "BERKAS_TANPA_HEADER"
    assert "ditemukan: Tanggal Lahir." in (second.message or "")  # the village may be in the name


def test_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.csv").write_text(f"{HEADER}\n" + f"{ROW}\n" * 30, encoding="utf-8")
    _xlsx(tmp_path / "b.xlsx", [HEADER.split(";")] + [ROW.split(";")] * 30)
    limits = read.LIMITS
    monkeypatch.setattr(read, "LIMITS", replace(limits, max_rows=10))
    assert _refused(tmp_path / "a.csv").code == "BERKAS_TERLALU_BESAR"
    assert _refused(tmp_path / "b.xlsx").code == "BERKAS_TERLALU_BESAR"
    monkeypatch.setattr(read, "LIMITS", replace(limits, max_bytes=100))
    big = _refused(tmp_path / "a.csv")
    assert big.code == "BERKAS_TERLALU_BESAR"
    assert big.sha256 == hashlib.sha256((tmp_path / "a.csv").read_bytes()).hexdigest()
    monkeypatch.setattr(read, "LIMITS", replace(limits, max_columns=5))
    assert _refused(tmp_path / "a.csv").code == "BERKAS_TERLALU_BESAR"


def test_a_file_grown_after_it_was_listed_is_refused_not_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing's size can be older than the file: never more than the limit is read."""
    path = tmp_path / "a.csv"
    path.write_text(f"{HEADER}\n" + f"{ROW}\n" * 30, encoding="utf-8")
    monkeypatch.setattr(read, "LIMITS", replace(read.LIMITS, max_bytes=200))
    fs, p = folder.filesystem(str(path))
    table, verdict = read._read(fs, p, "a.csv", size=150)  # as listed before it grew
    assert table is None and verdict.code == "BERKAS_TERLALU_BESAR"
    assert verdict.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


# --- folders --------------------------------------------------------------------------------------


def _inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    (inbox / "kec").mkdir(parents=True)
    (inbox / "b.CSV").write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    _xlsx(inbox / "a.XLSX", [HEADER.split(";"), ROW.split(";")])
    (inbox / "kec" / "c.csv").write_text(f"{HEADER}\n{ROW}\n{ROW}\n", encoding="utf-8")
    (inbox / "c copy.csv").write_bytes((inbox / "kec" / "c.csv").read_bytes())
    (inbox / "rusak.xlsx").write_bytes(b"garbage")
    (inbox / "scan.pdf").write_bytes(b"%PDF-1.4")
    for ignored in ("~$a.xlsx", ".hidden.csv", "bpjs_status.csv", "BPJS_STATUS.xlsx", "Thumbs.db"):
        (inbox / ignored).write_bytes(b"x")
    (inbox / ".git").mkdir()
    (inbox / ".git" / "x.csv").write_bytes(b"x")
    return inbox


def test_list_roster_files(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    names = [Path(p).relative_to(inbox).as_posix() for p in list_roster_files(str(inbox))]
    assert names == ["a.XLSX", "b.CSV", "c copy.csv", "kec/c.csv", "rusak.xlsx"]


def test_collect_never_stops_on_a_bad_file(tmp_path: Path) -> None:
    got = collect_rosters(str(_inbox(tmp_path)))
    assert isinstance(got, Collected)
    assert list(got.files.columns) == FILE_COLUMNS
    files = got.files.set_index("path")
    assert files["status"].to_dict() == {
        "a.XLSX": "read",
        "b.CSV": "read",
        "c copy.csv": "read",
        "kec/c.csv": "read",
        "rusak.xlsx": "rejected",
        "scan.pdf": "rejected",
    }
    assert files["rows"].to_dict() == {
        "a.XLSX": 1, "b.CSV": 1, "c copy.csv": 2, "kec/c.csv": 2, "rusak.xlsx": 0, "scan.pdf": 0,
    }  # fmt: skip
    assert "c copy.csv" in str(files.loc["kec/c.csv", "message"])  # same bytes, said once
    assert list(got.rows.columns) == [*ROW_COLUMNS, "source_file", "source_sheet", "source_row"]
    assert got.rows["source_row"].dtype == "int64"
    assert got.rows["source_file"].value_counts().to_dict() == {
        "c copy.csv": 2, "kec/c.csv": 2, "a.XLSX": 1, "b.CSV": 1,
    }  # fmt: skip
    assert got.rows.loc[got.rows["source_file"] == "a.XLSX", "source_sheet"].tolist() == ["Data"]


def test_collect_empty_and_missing_folders(tmp_path: Path) -> None:
    got = collect_rosters(str(tmp_path))
    assert got.rows.empty and got.files.empty
    assert list(got.rows.columns) == [*ROW_COLUMNS, "source_file", "source_sheet", "source_row"]
    with pytest.raises(FileNotFoundError):
        collect_rosters(str(tmp_path / "nope"))


def test_collect_from_an_fsspec_url() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/iuran-test/inbox/a.csv", f"{HEADER}\n{ROW}\n".encode())
    try:
        assert list_roster_files("memory://iuran-test/inbox") == [
            "memory:///iuran-test/inbox/a.csv"
        ]
        got = collect_rosters("memory://iuran-test/inbox")
        assert got.files["path"].tolist() == ["a.csv"]
        assert got.rows["nama"].tolist() == ["Budi Santoso"]
    finally:
        fs.rm("/iuran-test", recursive=True)
